"""Multi30K (github.com/multi30k/dataset): task 1 translation en→de/fr and task 2 captioning en/de.

Layout under the data root (the repository cloned as `multi30k/`, images beside it)::

    multi30k/data/task1/raw/<split>.<lang>[.gz]          one sentence per line, line-aligned with the image list
    multi30k/data/task1/image_splits/<split>.txt
    multi30k/data/task2/raw/<split>.<n>.<lang>[.gz]      n = 1..5 independent captions per image
    multi30k/data/task2/image_splits/<split>_images.txt
    multi30k/flickr30k-images/  multi30k/task1_test_2017/  multi30k/task1_test_2018/
    coco/train2014/  coco/val2014/                       images of test_2017_mscoco
"""

from __future__ import annotations

from pathlib import Path

from .layout import (
    BenchmarkLayoutError,
    check_count,
    check_images,
    read_lines,
    require_dir,
    text_file,
    to_dataset,
)

TASK1_SPLITS = ("train", "val", "test_2016_flickr", "test_2017_flickr", "test_2018_flickr", "test_2017_mscoco")
TASK1_TEST_SPLITS = ("test_2016_flickr", "test_2017_flickr", "test_2018_flickr", "test_2017_mscoco")
TASK1_LANGUAGES = ("de", "fr", "cs")
TASK2_SPLITS = ("train", "val", "test_2016")
TASK2_LANGUAGES = ("en", "de")
# Line counts of the official files; other counts (a Scenes export, a subset) are fine as long as files agree.
OFFICIAL_LINES = {
    "train": 29000,
    "val": 1014,
    "test_2016_flickr": 1000,
    "test_2017_flickr": 1000,
    "test_2018_flickr": 1071,
    "test_2017_mscoco": 461,
    "test_2016": 1000,
}
_FLICKR_FOLDERS = {"test_2017_flickr": "task1_test_2017", "test_2018_flickr": "task1_test_2018"}


def image_path(root: Path, split: str, name: str) -> Path:
    """Where an image-list entry lives: COCO 2014 for mscoco names (`#n` suffix dropped), else a Flickr folder."""
    name = name.split("#", 1)[0]
    if name.startswith("COCO_"):
        folder = "train2014" if name.startswith("COCO_train2014_") else "val2014"
        return root / "coco" / folder / name
    return root / "multi30k" / _FLICKR_FOLDERS.get(split, "flickr30k-images") / name


_TASKS = {  # task → (splits, languages, what the language is, image list file)
    1: (TASK1_SPLITS, TASK1_LANGUAGES, "target", "{split}.txt"),
    2: (TASK2_SPLITS, TASK2_LANGUAGES, "caption", "{split}_images.txt"),
}


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown Multi30K {what} {value!r}; allowed: {', '.join(allowed)}")


def _available(root: str | Path, task: int) -> list[str]:
    splits, _, _, list_name = _TASKS[task]
    folder = Path(root) / "multi30k" / "data" / f"task{task}" / "image_splits"
    return [split for split in splits if (folder / list_name.format(split=split)).is_file()]


def _open_split(root: Path, task: int, split: str, language: str) -> tuple[Path, Path, list[Path]]:
    """Check the split and language names; (the task's data folder, the split's image list, its image paths)."""
    splits, languages, role, list_name = _TASKS[task]
    _check_choice(split, splits, f"task {task} split")
    _check_choice(language, languages, f"task {task} {role} language")
    data = require_dir(root / "multi30k" / "data" / f"task{task}", f"the multi30k/dataset repository's data/task{task}")
    image_list = data / "image_splits" / list_name.format(split=split)
    if not image_list.is_file():
        raise BenchmarkLayoutError(f"missing file {image_list} (task {task} image list of {split})")
    return data, image_list, [image_path(root, split, name) for name in read_lines(image_list)]


def _aligned_lines(base: Path, count: int, why: str) -> list[str]:
    """The lines of `base[.gz]`, which must be one per image of the split."""
    path = text_file(base)
    lines = read_lines(path)
    check_count(path, len(lines), count, why)
    return lines


def _split_dataset(
    image_list: Path,
    paths: list[Path],
    check_image_files: bool,
    task: str,
    language: str,
    split: str,
    sources: list[str],
    references: list[list[str]],
):
    """One row per listed image (after checking the image files exist, when asked)."""
    if check_image_files:
        check_images(paths, image_list)
    rows = [
        {
            "id": f"{split}/{i}",
            "image": str(path),
            "task": task,
            "language": language,
            "split": split,
            "source": source,
            "references": refs,
        }
        for i, (path, source, refs) in enumerate(zip(paths, sources, references))
    ]
    return to_dataset(rows)


def task1_available(root: str | Path) -> list[str]:
    """Task 1 splits whose image list exists (the evaluator's default when no split is named)."""
    return _available(root, 1)


def load_task1(root: str | Path, split: str, language: str, check_image_files: bool = True):
    """Translation rows (`source` = English, `references` = [target]) of one task-1 split and target language."""
    root = Path(root)
    data, image_list, paths = _open_split(root, 1, split, language)
    why = f"one per image in {image_list.name}; the official file has {OFFICIAL_LINES[split]}"
    sources = _aligned_lines(data / "raw" / f"{split}.en", len(paths), why)
    targets = _aligned_lines(data / "raw" / f"{split}.{language}", len(paths), why)
    references = [[target] for target in targets]
    return _split_dataset(image_list, paths, check_image_files, "translate", language, split, sources, references)


def task2_available(root: str | Path) -> list[str]:
    return _available(root, 2)


def load_task2(root: str | Path, split: str, language: str, check_image_files: bool = True):
    """Captioning rows with every reference of the image (`<split>.1.<lang>` … `<split>.N.<lang>`, officially 5)."""
    root = Path(root)
    data, image_list, paths = _open_split(root, 2, split, language)
    raw = data / "raw"
    why = f"one caption per image in {image_list.name}"
    streams, n = [], 1
    while any((raw / f"{split}.{n}.{language}{ext}").is_file() for ext in (".gz", "")):
        streams.append(_aligned_lines(raw / f"{split}.{n}.{language}", len(paths), why))
        n += 1
    if not streams:
        raise BenchmarkLayoutError(f"missing file {raw / f'{split}.1.{language}'}.gz (task 2 captions 1..5)")
    later = sorted(raw.glob(f"{split}.*.{language}*"))
    numbered = {p.name.split(".")[1] for p in later if p.name.split(".")[1].isdigit()}
    if any(int(k) > len(streams) for k in numbered):
        raise BenchmarkLayoutError(
            f"task 2 caption files of {split}.{language} must be numbered 1..N without gaps; "
            f"found {sorted(numbered, key=int)} but {split}.{len(streams) + 1}.{language} is missing"
        )
    references = [list(captions) for captions in zip(*streams)]
    sources = [""] * len(paths)
    return _split_dataset(image_list, paths, check_image_files, "caption", language, split, sources, references)


def mscoco_test_images(root: str | Path) -> frozenset[str]:
    """COCO file names of task 1 test_2017_mscoco (without `#n`): these must never enter COCO training data."""
    path = Path(root) / "multi30k" / "data" / "task1" / "image_splits" / "test_2017_mscoco.txt"
    return frozenset(name.split("#", 1)[0] for name in read_lines(path)) if path.is_file() else frozenset()
