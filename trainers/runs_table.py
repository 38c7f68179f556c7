"""`runs.csv`: one row per finished sweep run, the hand-off between training and fitting.

This module owns the table: its file name, the run id, the CE group and column names, the one writer and the one
reader. The file is rewritten atomically on every append, so an interrupted sweep never leaves a half-written table;
columns are the union of all rows' keys, required columns first.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from dataset_builder.atomic import write_text_atomic

RUNS_CSV = "runs.csv"
# Mean CE groups of every run: captions in covered languages, captions in translation-only languages, translations.
CE_GROUPS = ("seen_caption", "unseen_caption", "translation")
CAPTION_GROUPS = ("seen_caption", "unseen_caption")


def ce_column(group: str) -> str:
    """The column of a group's mean CE (nats/token), e.g. `ce_unseen_caption`."""
    return f"ce_{group}"


def gap_column(group: str) -> str:
    """The column of a caption group's grounding gap (shuffled-image CE − CE), e.g. `ce_gap_unseen`."""
    return f"ce_gap_{group.removesuffix('_caption')}"


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
    *(ce_column(group) for group in CE_GROUPS),
    "wall_seconds",
)


def run_id(preset: str, seen_samples: int, seed: int, learning_rate: float | None = None, lm_languages: int = 0) -> str:
    base = f"{preset}__S{seen_samples}__seed{seed}"
    base += f"__lm{lm_languages}" if lm_languages else ""
    return base if learning_rate is None else f"{base}__lr{learning_rate:g}"


def read_runs(path: str | os.PathLike, *, as_text: bool = False) -> pd.DataFrame:
    """The table at `path` (no file: no rows). `as_text` keeps every cell as written; otherwise numbers are parsed."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=list(REQUIRED_COLUMNS), dtype=str)
    if as_text:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.read_csv(path)


def append_run(path: str | os.PathLike, row: dict[str, object]) -> None:
    """Add `row` (replacing an earlier row with the same run_id) and rewrite the table atomically."""
    missing = [column for column in REQUIRED_COLUMNS if column not in row]
    if missing:
        raise ValueError(f"run row lacks required columns {missing}")
    table = read_runs(path, as_text=True)
    new = pd.DataFrame([{key: str(value) for key, value in row.items()}])
    kept = table[table["run_id"] != str(row["run_id"])]
    table = new if kept.empty else pd.concat([kept, new], ignore_index=True).fillna("")
    extra = sorted(set(table.columns) - set(REQUIRED_COLUMNS))
    write_text_atomic(path, table[[*REQUIRED_COLUMNS, *extra]].to_csv(index=False))


def completed_run_ids(path: str | os.PathLike) -> set[str]:
    return set(read_runs(path, as_text=True)["run_id"])


def t_levels(runs: pd.DataFrame) -> pd.Series:
    """The T level (`lm_languages`) of each row; tables written before T levels existed hold scratch decoders only."""
    if "lm_languages" not in runs:
        return pd.Series(0, index=runs.index)
    return runs["lm_languages"].fillna(0).astype(int)


# What picks a rate in a learning-rate sweep: CE on the trained distributions, never the unseen-caption outcome.
LR_CRITERION = ("ce_seen_caption", "ce_translation")


def lr_sweep_score(runs: pd.DataFrame) -> pd.Series:
    """The mean of `LR_CRITERION` per row; a diverged run (NaN CE) scores +inf, the worst, rather than missing."""
    return runs[list(LR_CRITERION)].mean(axis=1, skipna=False).fillna(math.inf)
