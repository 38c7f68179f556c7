"""Example inputs for the demo, rendered from Florenz-Scenes: PNGs plus `examples.json` naming what goes with them.

The Space ships the rendered folder (`florenz release --space`); a local demo renders it at start-up. Images come
from the test split of the single-object corpus the quick experiment trains on, so they look like its training data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dataset_builder.corpus import ScenesConfig, make_row

EXAMPLES_JSON = "examples.json"
EXAMPLE_CORPUS = ScenesConfig(image_size=96, max_objects=1, detailed_share=0.0, multi_sentence_share=0.0)
_PAIR_SEARCH = 400  # disambiguation rows scanned for two images sharing one English sentence


def _save(row: dict[str, Any], folder: Path, name: str) -> str:
    row["image"].save(folder / name)
    return name


def _disambiguation_pair(language: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two test rows with the same English source whose correct translations differ (one pronoun per gender)."""
    seen: dict[str, dict[str, Any]] = {}
    for index in range(_PAIR_SEARCH):
        row = make_row(EXAMPLE_CORPUS, "test", f"disambiguation-{language}", index)
        other = seen.get(row["source"])
        if other is not None and other["target"] == row["target_incorrect"]:
            return other, row
        seen.setdefault(row["source"], row)
    raise ValueError(f"no disambiguation pair for {language} among the first {_PAIR_SEARCH} rows")


def write_examples(folder: str | os.PathLike, count: int = 3) -> Path:
    """Render `count` caption and translation examples and one disambiguation pair per language (fr, de)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec: dict[str, list[dict[str, Any]]] = {"caption": [], "translate": [], "disambiguate": []}
    for index in range(count):
        row = make_row(EXAMPLE_CORPUS, "test", "caption-fr", index)
        spec["caption"].append({"image": _save(row, folder, f"caption-{index}.png"), "language": "fr"})
    for index, language in enumerate(("fr", "de", "zh")[:count]):
        row = make_row(EXAMPLE_CORPUS, "test", f"translation-{language}", index)
        image = _save(row, folder, f"translate-{index}.png")
        spec["translate"].append({"image": image, "text": row["source"], "language": language})
    for language in ("fr", "de"):
        first, second = _disambiguation_pair(language)
        spec["disambiguate"].append(
            {
                "image": _save(first, folder, f"disambiguate-{language}-a.png"),
                "second_image": _save(second, folder, f"disambiguate-{language}-b.png"),
                "sentence": first["source"],
                "language": language,
                "candidate_a": first["target"],
                "candidate_b": first["target_incorrect"],
            }
        )
    (folder / EXAMPLES_JSON).write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return folder
