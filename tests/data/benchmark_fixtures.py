"""Tiny benchmark folders in the official layouts, written with our own sentences (not copied from the datasets).

Quirks covered: gzip and plain task-1 files, edge spaces, `#n` suffixes on mscoco image names (COCO train2014 and
val2014), task-2 captions 1..5, CoMMuTE line pairs with swapped targets plus one non-swap pair, mixed image
extensions, a kept trailing space and no final newline, XM3600 records with a variable number of captions,
COCO Karpathy images with more than five sentences and a `raw` ending in a space.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from PIL import Image

EN = ["A red circle is on the left.", "Two green stars are above a heart.", "A blue square.", "A small yellow heart."]
DE = [
    "Ein roter Kreis ist links.",
    "Zwei grüne Sterne sind über einem Herz.",
    "Ein blaues Quadrat.",
    "Ein kleines gelbes Herz.",
]
FR = [
    "Un cercle rouge est à gauche.",
    "Deux étoiles vertes sont au-dessus d'un cœur.",
    "Un carré bleu.",
    "Un petit cœur jaune.",
]
COLOURS = [(220, 30, 30), (30, 180, 60), (40, 60, 220), (230, 210, 40), (150, 60, 200), (250, 140, 20)]
# CoMMuTE en-fr: pairs (0,1), (2,3), (6,7) swap their targets; (4,5) and (8,9) are non-swap pairs like the official
# lines 23-24 (other sentences) and 99-100 (a "!" differs).
COMMUTE_SRC = [
    "It is big.",
    "It is big.",
    "It is red.",
    "It is red.",
    "I like it.",
    "I love it.",
    "It is small.",
    "It is small.",
    "It is big!",
    "It is big!",
]
COMMUTE_CORRECT = [
    "Il est grand.",
    "Elle est grande.",
    "Il est rouge.",
    "Elle est rouge. ",
    "Je l'aime.",
    "Je l'adore.",
    "Il est petit.",
    "Elle est petite.",
    "Il est grand !",
    "Elle est grande !",
]
COMMUTE_INCORRECT = [
    "Elle est grande.",
    "Il est grand.",
    "Elle est rouge. ",
    "Il est rouge.",
    "Je l'adore.",
    "Je l'aime.",
    "Elle est petite.",
    "Il est petit.",
    "Elle est grande !",
    "Il est grand.",
]
COMMUTE_IMAGES = ["a1.jpeg", "a2.png", "b1.jpg", "b2.jpeg", "c1.png", "c2.jpg", "d1.jpg", "d2.png", "e1.png", "e2.jpeg"]


def _image(path: Path, colour_index: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 40), COLOURS[colour_index % len(COLOURS)]).save(path)


def _lines(path: Path, lines: list[str], gz: bool = True, final_newline: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + ("\n" if final_newline else "")
    if gz:
        with gzip.open(path.with_name(path.name + ".gz"), "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def write_multi30k(root: Path) -> None:
    task1 = root / "multi30k" / "data" / "task1"
    flickr = [f"10000{i}.jpg" for i in range(4)]
    for split, names, gz in (("train", flickr, True), ("test_2016_flickr", flickr, True)):
        _lines(task1 / "image_splits" / f"{split}.txt", names, gz=False)
        _lines(task1 / "raw" / f"{split}.en", [f" {s}" if i == 1 else s for i, s in enumerate(EN)], gz=gz)
        _lines(task1 / "raw" / f"{split}.de", DE, gz=gz)
        _lines(task1 / "raw" / f"{split}.fr", FR, gz=gz)
    for i, name in enumerate(flickr):
        _image(root / "multi30k" / "flickr30k-images" / name, i)
    # test_2017_flickr as plain files (sacreBLEU's tarball layout) with <id>_<secret> names.
    names = [f"{4000 + i}_ab{i}c.jpg" for i in range(3)]
    _lines(task1 / "image_splits" / "test_2017_flickr.txt", names, gz=False)
    for lang, lines in (("en", EN[:3]), ("de", DE[:3]), ("fr", FR[:3])):
        _lines(task1 / "raw" / f"test_2017_flickr.{lang}", lines, gz=False)
    for i, name in enumerate(names):
        _image(root / "multi30k" / "task1_test_2017" / name, i + 1)
    mscoco = ["COCO_train2014_000000000011.jpg#101", "COCO_val2014_000000000012.jpg#202"]
    _lines(task1 / "image_splits" / "test_2017_mscoco.txt", mscoco, gz=False)
    for lang, lines in (("en", EN[2:]), ("de", DE[2:]), ("fr", FR[2:])):
        _lines(task1 / "raw" / f"test_2017_mscoco.{lang}", lines)
    _image(root / "coco" / "train2014" / "COCO_train2014_000000000011.jpg", 4)
    _image(root / "coco" / "val2014" / "COCO_val2014_000000000012.jpg", 5)
    task2 = root / "multi30k" / "data" / "task2"
    for split in ("train", "test_2016"):
        _lines(task2 / "image_splits" / f"{split}_images.txt", flickr, gz=False)
        for n in range(1, 6):
            _lines(task2 / "raw" / f"{split}.{n}.en", [f"{s[:-1]} number {n}." for s in EN])
            _lines(task2 / "raw" / f"{split}.{n}.de", [f"{s[:-1]} Nummer {n}." for s in DE])


def write_commute(root: Path) -> None:
    folder = root / "CoMMuTE" / "CoMMuTE" / "en-fr"
    _lines(folder / "src.en", COMMUTE_SRC, gz=False, final_newline=False)
    _lines(folder / "correct.fr", COMMUTE_CORRECT, gz=False, final_newline=False)
    _lines(folder / "incorrect.fr", COMMUTE_INCORRECT, gz=False, final_newline=False)
    _lines(folder / "img.order", COMMUTE_IMAGES, gz=False, final_newline=False)
    for i, name in enumerate(COMMUTE_IMAGES):
        _image(root / "CoMMuTE" / "images" / name, i)


def write_xm3600(root: Path) -> None:
    records = []
    captions = {
        "en": [
            ["A red circle.", "A round red shape."],
            ["Two green stars."],
            ["A blue square.", "Blue box.", "A square."],
        ],
        "fr": [["Un cercle rouge."], ["Deux étoiles vertes.", "Des étoiles."], ["Un carré bleu."]],
        "zh": [["一个红色的圆。"], ["两颗绿色的星星。"], ["一个蓝色的正方形。", "蓝色方块。"]],
    }
    for i in range(3):
        key = f"{i:016x}"
        record = {"image/key": key, "image/locale": "en"}
        for lang, per_image in captions.items():
            refs = per_image[i]
            record[lang] = {
                "caption": refs,
                "caption/tokenized": refs,
                "caption/tokenized/lowercase": [r.lower() for r in refs],
            }
        records.append(json.dumps(record, ensure_ascii=False))
        _image(root / "xm3600" / "images" / f"{key}.jpg", i)
    _lines(root / "xm3600" / "captions.jsonl", records, gz=False)


def write_coco(root: Path) -> None:
    def image(index: int, split: str, folder: str, sentences: list[str]) -> dict:
        filename = f"COCO_{folder}_{index:012d}.jpg"
        _image(root / "coco" / folder / filename, index)
        return {
            "filepath": folder,
            "filename": filename,
            "imgid": index,
            "split": split,
            "sentences": [
                {"tokens": s.lower().split(), "raw": s, "imgid": index, "sentid": index * 10 + k}
                for k, s in enumerate(sentences)
            ],
            "cocoid": index,
        }

    images = [
        image(
            1, "test", "val2014", ["A red circle. ", "A circle.", "Red round.", "A red disc.", "Circle.", "A red ring."]
        ),
        image(2, "test", "val2014", ["Two green stars.", "Stars.", "Green stars.", "Two stars.", "A pair of stars."]),
        image(3, "train", "train2014", ["A blue square.", "A square."]),
        image(4, "restval", "val2014", ["A yellow heart."]),
        image(5, "val", "val2014", ["A purple star."]),
    ]
    # The Multi30K test_2017_mscoco image COCO_train2014_000000000011.jpg, listed as a Karpathy train image.
    leaked = image(11, "train", "train2014", ["A leaked test image."])
    path = root / "coco" / "annotations" / "coco_karpathy.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": [*images, leaked], "dataset": "coco"}), encoding="utf-8")


def write_all(root: Path) -> Path:
    write_multi30k(root)
    write_commute(root)
    write_xm3600(root)
    write_coco(root)
    return root
