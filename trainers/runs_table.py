"""`runs.csv`: one row per finished sweep run, the hand-off between training and fitting.

The file is rewritten atomically on every append (temp file + rename), so an interrupted sweep never leaves a
half-written table; columns are the union of all rows' keys, required columns first.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from dataset_builder.atomic import write_text_atomic

REQUIRED_COLUMNS = (
    "run_id",
    "preset",
    "decoder_kind",
    "decoder_init",
    "seed",
    "params",
    "trainable_params",
    "seen_samples",
    "flops_per_sample",
    "compute",
    "ce_seen_caption",
    "ce_unseen_caption",
    "ce_translation",
    "wall_seconds",
)


def read_runs(path: str | os.PathLike) -> list[dict[str, str]]:
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def append_run(path: str | os.PathLike, row: dict[str, object]) -> None:
    """Add `row` (replacing an earlier row with the same run_id) and rewrite the table atomically."""
    missing = [column for column in REQUIRED_COLUMNS if column not in row]
    if missing:
        raise ValueError(f"run row lacks required columns {missing}")
    path = Path(path)
    rows = [r for r in read_runs(path) if r["run_id"] != str(row["run_id"])] + [{k: str(v) for k, v in row.items()}]
    extra = sorted({key for r in rows for key in r} - set(REQUIRED_COLUMNS))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=[*REQUIRED_COLUMNS, *extra], restval="")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, text.getvalue())


def completed_run_ids(path: str | os.PathLike) -> set[str]:
    return {row["run_id"] for row in read_runs(path)}
