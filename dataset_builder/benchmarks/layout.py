"""Reading the official benchmark layouts: text files (gzip or plain), image folders, up-front validation.

Every check runs before any image is decoded, so a broken download fails in seconds with the file and the expected
count in the message, not hours into an evaluation.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from datasets import Dataset, Features, Image, List, Value

# Columns of every generation benchmark row; CoMMuTE adds its pair columns.
GENERATION_FEATURES = Features(
    {
        "id": Value("string"),
        "image": Image(),
        "task": Value("string"),
        "language": Value("string"),
        "split": Value("string"),
        "source": Value("string"),
        "references": List(Value("string")),
    }
)


class BenchmarkLayoutError(ValueError):
    """A benchmark folder does not have the official layout (missing file, count mismatch, unreadable line)."""


def text_file(base: Path) -> Path:
    """`base.gz` or `base` (Multi30K ships gzip; sacreBLEU's tarball and user copies are plain)."""
    for candidate in (base.with_name(base.name + ".gz"), base):
        if candidate.is_file():
            return candidate
    raise BenchmarkLayoutError(f"missing file {base}.gz (or plain {base.name})")


def read_lines(path: Path, strip: bool = True) -> list[str]:
    """UTF-8 lines of a gzip or plain file; a missing final newline is fine. `strip=False` keeps edge spaces."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as err:
        raise BenchmarkLayoutError(
            f"cannot read {path} as UTF-8 text ({'gzip' if opener is gzip.open else 'plain'}): {err}"
        ) from err
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    return [line.strip() for line in lines] if strip else lines


def check_count(path: Path, actual: int, expected: int, why: str) -> None:
    if actual != expected:
        raise BenchmarkLayoutError(f"{path} has {actual} lines, expected {expected} ({why})")


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise BenchmarkLayoutError(f"missing folder {path} ({what})")
    return path


def check_images(paths: Sequence[Path], listed_in: Path | str) -> None:
    """Every image file must exist; the message names how many are missing and the first few."""
    missing = [p for p in paths if not p.is_file()]
    if missing:
        first = ", ".join(str(p) for p in missing[:3])
        raise BenchmarkLayoutError(
            f"{len(missing)} of {len(paths)} images listed in {listed_in} are missing (first: {first})"
        )


def to_dataset(rows: Sequence[Mapping[str, Any]], features: Features = GENERATION_FEATURES) -> Dataset:
    """Rows with `image` = a file path → `datasets.Dataset` with a lazily decoded `Image` feature."""
    columns = {name: [row[name] for row in rows] for name in features}
    return Dataset.from_dict(columns, features=features)


def load_parquet_copy(source: str, required: Sequence[str], language: str | None = None, split: str | None = None):
    """A user's own parquet copy (a local folder or a cached Hub dataset repo) with the loader's columns.

    The copy must hold at least the `required` columns (what `push_to_hub` of a loader's Dataset writes); rows are
    filtered to `language`/`split` when the copy has those columns.
    """
    from datasets import load_dataset

    try:
        loaded = load_dataset(source)
    except Exception as err:  # datasets raises several types for a missing or malformed repo
        raise BenchmarkLayoutError(f"cannot load the parquet copy {source!r}: {err}") from err
    dataset = loaded[next(iter(loaded))] if len(loaded) == 1 else None
    if dataset is None:
        if split and split in loaded:
            dataset = loaded[split]
        else:
            raise BenchmarkLayoutError(
                f"parquet copy {source!r} has splits {sorted(loaded)}; name one of them with --split"
            )
    missing = [name for name in required if name not in dataset.column_names]
    if missing:
        raise BenchmarkLayoutError(
            f"parquet copy {source!r} lacks columns {missing}; expected at least {list(required)}, "
            f"got {dataset.column_names}"
        )
    if language is not None and "language" in dataset.column_names:
        dataset = dataset.filter(lambda value: value == language, input_columns="language")
    if split is not None and "split" in dataset.column_names:
        dataset = dataset.filter(lambda value: value == split, input_columns="split")
    if not len(dataset):
        raise BenchmarkLayoutError(f"parquet copy {source!r} has no rows for language={language!r}, split={split!r}")
    return dataset.cast_column("image", Image())
