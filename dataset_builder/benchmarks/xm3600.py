"""Crossmodal-3600 (google.github.io/crossmodal-3600): 3,600 images, native captions in 36 languages.

Layout under the data root::

    xm3600/captions.jsonl      one object per image: "image/key", "image/locale", and per language
                               {"caption": [...], "caption/tokenized": [...], "caption/tokenized/lowercase": [...]}
    xm3600/images/<key>.jpg

All raw `caption` strings of a language are the references (about two per image, a variable number).
"""

from __future__ import annotations

import json
from pathlib import Path

from .layout import BenchmarkLayoutError, check_images, read_lines, require_dir, to_dataset

PAPER_LANGUAGES = ("en", "de", "fr", "es", "ru", "zh")
OFFICIAL_IMAGES = 3600


def available(root: str | Path) -> list[str]:
    """Languages of the first record of captions.jsonl (every official record has all 36); [] without the file."""
    path = Path(root) / "xm3600" / "captions.jsonl"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        try:
            record = json.loads(handle.readline())
        except json.JSONDecodeError as err:
            raise BenchmarkLayoutError(f"{path} line 1: not JSON ({err})") from err
    return [key for key, value in record.items() if isinstance(value, dict) and "caption" in value]


def load_xm3600(root: str | Path, language: str, check_image_files: bool = True):
    """Captioning rows: one per image, every raw caption of `language` as a reference."""
    root = Path(root)
    folder = require_dir(root / "xm3600", "Crossmodal-3600: captions.jsonl and images/")
    path = folder / "captions.jsonl"
    if not path.is_file():
        raise BenchmarkLayoutError(f"missing file {path} (unzip web-data/captions.zip)")
    rows = []
    for number, line in enumerate(read_lines(path), start=1):
        if not line:
            continue
        try:
            record = json.loads(line)
            key = record["image/key"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise BenchmarkLayoutError(f"{path} line {number}: not an XM3600 record with 'image/key' ({err})") from err
        captions = (record.get(language) or {}).get("caption")
        if not captions or not all(isinstance(c, str) for c in captions):
            raise BenchmarkLayoutError(
                f"{path} line {number} (image {key}): no '{language}' → 'caption' list; languages present: "
                f"{sorted(k for k in record if '/' not in k)}"
            )
        rows.append(
            {
                "id": key,
                "image": str(folder / "images" / f"{key}.jpg"),
                "task": "caption",
                "language": language,
                "split": "test",
                "source": "",
                "references": list(captions),
            }
        )
    if not rows:
        raise BenchmarkLayoutError(f"{path} holds no records (the official file has {OFFICIAL_IMAGES})")
    if check_image_files:
        check_images([Path(row["image"]) for row in rows], path)
    return to_dataset(rows)
