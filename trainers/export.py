"""Export the experiment's best model as a Hub-ready folder (`<out>/best-model/`) with a model card of its results.

"Best" is the largest model (most parameters) among the runs that use the image on unseen-language captions
(shuffled-image CE gap above `GROUNDED_GAP`, the grounding definition of the fits), and among that model's runs the one
with the lowest unseen-caption CE. When no run is grounded the lowest unseen-caption CE overall is exported and the
card says so: the demo then shows a model that describes language, not pictures.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

from dataset_builder.atomic import atomic_folder
from dataset_builder.release import MANIFEST_NAME
from model_tools.model_card import base_models, build_model_card, card_metadata, write_model_card

from .run import FINAL_DIR
from .runs_table import RUNS_CSV, read_runs
from .scaling_laws import GAP_COLUMNS, GROUNDED_GAP

BEST_MODEL_DIR = "best-model"


def _number(row: dict[str, str], column: str) -> float:
    try:
        value = float(row.get(column) or "nan")
    except ValueError:
        return math.nan
    return value


def select_best_run(rows: list[dict[str, str]]) -> tuple[dict[str, str], bool]:
    """(row of the best run, whether it is grounded) — see the module docstring for the rule."""
    # CE per token is comparable only within the grid (the nano pair counts Gemma tokens).
    rows = [r for r in rows if r.get("experiment", "grid") == "grid" and math.isfinite(_number(r, "ce_unseen_caption"))]
    if not rows:
        raise ValueError("runs.csv has no run with a finite ce_unseen_caption; nothing to export")
    grounded = [r for r in rows if _number(r, GAP_COLUMNS["unseen"]) > GROUNDED_GAP]
    pool = grounded or rows
    if grounded:
        largest = max(_number(r, "params") for r in grounded)
        pool = [r for r in grounded if _number(r, "params") == largest]
    return min(pool, key=lambda r: _number(r, "ce_unseen_caption")), bool(grounded)


def export_best_model(out: str | os.PathLike) -> Path:
    """Copy the best run's final model of the sweep in `out` to `out/best-model/` with its card; returns the folder.

    The folder is assembled next to its destination and swapped in, so a re-run replaces it whole.
    """
    out = Path(out)
    row, grounded = select_best_run(read_runs(out / RUNS_CSV, as_text=True).to_dict("records"))
    source = out / "runs" / row["run_id"] / FINAL_DIR
    if not (source / "config.json").exists():
        raise FileNotFoundError(f"the best run's model folder {source} is missing (config.json not found)")
    info = card_metadata(source) or _release_coverage(out)
    preset = row.get("preset") or info.get("preset")
    gap = _number(row, GAP_COLUMNS["unseen"])
    why = (
        f"the largest model whose unseen-language captions use the image (shuffled-image CE gap {gap:.3f} > "
        f"{GROUNDED_GAP} nats/token), its run with the lowest unseen-caption CE"
        if grounded
        else f"no run used the image (every shuffled-image CE gap ≤ {GROUNDED_GAP} nats/token), so this is the run "
        "with the lowest unseen-caption CE: its captions describe language, not the picture"
    )
    summary = f"The best model of the Florenz-Scenes scaling experiment, run `{row['run_id']}`: {why}."
    training = {**info.get("training", {}), "run_id": row["run_id"], "parameters": int(_number(row, "params"))}
    destination = out / BEST_MODEL_DIR
    with atomic_folder(destination) as staging:
        shutil.copytree(source, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns("training_args.bin"))
        card = build_model_card(
            model_id=str(destination),
            summary=summary,
            preset=preset,
            base_model=base_models(preset=preset),
            caption_languages=info.get("caption_languages", ()),
            translation_languages=info.get("translation_languages", ()),
            training=training,
            results=row,
        )
        write_model_card(staging, card)
    return destination


def _release_coverage(out: Path) -> dict[str, list[str]]:
    """Coverage from the experiment's corpus manifest, for run folders saved before they carried a card."""
    manifest = out / "scenes" / MANIFEST_NAME
    if not manifest.exists():
        raise FileNotFoundError(f"neither the run's model card nor {manifest} says which languages it was trained on")
    parameters = json.loads(manifest.read_text(encoding="utf-8"))["parameters"]["scenes_config"]
    return {"caption_languages": parameters["caption_langs"], "translation_languages": parameters["translation_langs"]}
