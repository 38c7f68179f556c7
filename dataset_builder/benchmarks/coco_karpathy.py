"""COCO with the Karpathy splits (`dataset_coco.json` of caption_datasets.zip).

Layout under the data root::

    coco/annotations/coco_karpathy.json     (or coco/annotations/dataset_coco.json)
    coco/train2014/  coco/val2014/          images; the folder is taken from the file name

Splits: train 82,783, restval 30,504, val 5,000, test 5,000 images; every `raw` sentence of an image is a reference.
"""

from __future__ import annotations

import json
from pathlib import Path

from .layout import BenchmarkLayoutError, check_images, require_dir, to_dataset

SPLITS = ("train", "restval", "val", "test")
OFFICIAL_IMAGES = {"train": 82783, "restval": 30504, "val": 5000, "test": 5000}
ANNOTATION_NAMES = ("coco_karpathy.json", "dataset_coco.json")


def annotation_file(root: str | Path) -> Path:
    folder = require_dir(Path(root) / "coco" / "annotations", "COCO Karpathy annotations")
    for name in ANNOTATION_NAMES:
        if (folder / name).is_file():
            return folder / name
    raise BenchmarkLayoutError(f"missing file {folder / ANNOTATION_NAMES[0]} (or {ANNOTATION_NAMES[1]})")


def image_path(root: Path, filename: str) -> Path:
    return root / "coco" / ("train2014" if "train2014" in filename else "val2014") / filename


def read_images(root: str | Path, splits: tuple[str, ...]) -> list[dict]:
    """The annotation records of `splits`, validated (schema, non-empty sentences)."""
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ValueError(f"unknown COCO Karpathy split(s) {unknown}; allowed: {', '.join(SPLITS)}")
    path = annotation_file(root)
    try:
        images = json.loads(path.read_text(encoding="utf-8"))["images"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise BenchmarkLayoutError(f"{path} is not a Karpathy split file with an 'images' list ({err})") from err
    chosen = []
    for number, image in enumerate(images):
        if not isinstance(image, dict) or "split" not in image or "filename" not in image:
            raise BenchmarkLayoutError(f"{path} images[{number}] lacks 'split'/'filename'")
        if image["split"] in splits:
            if not image.get("sentences") or not all("raw" in s for s in image["sentences"]):
                raise BenchmarkLayoutError(f"{path} images[{number}] ({image['filename']}) has no raw sentences")
            chosen.append(image)
    if not chosen:
        expected = ", ".join(f"{s} {OFFICIAL_IMAGES[s]}" for s in splits)
        raise BenchmarkLayoutError(f"{path} has no images in split(s) {list(splits)} (official: {expected})")
    return chosen


def load_coco_karpathy(root: str | Path, split: str = "test", check_image_files: bool = True):
    """Captioning rows (English): one per image with all its raw sentences (some images have more than 5)."""
    root = Path(root)
    images = read_images(root, (split,))
    rows = [
        {
            "id": str(image.get("cocoid", image["filename"])),
            "image": str(image_path(root, image["filename"])),
            "task": "caption",
            "language": "en",
            "split": split,
            "source": "",
            "references": [s["raw"].strip() for s in image["sentences"]],
        }
        for image in images
    ]
    if check_image_files:
        check_images([Path(row["image"]) for row in rows], annotation_file(root))
    return to_dataset(rows)
