"""Scaling-law fits of a sweep's runs table, written to a folder: `fit.json` and the figures."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from dataset_builder.atomic import write_text_atomic
from dataset_builder.release import ensure_writable

from .plots import write_plots
from .scaling_laws import fit_runs, load_runs


def select_runs(runs, where: dict[str, str] | None):
    """The rows whose columns equal every `where` value (compared as text); a clear error for unknown columns."""
    for column, value in (where or {}).items():
        if column not in runs.columns:
            raise ValueError(f"--where column {column!r} is not in runs.csv; columns: {sorted(runs.columns)}")
        runs = runs[runs[column].astype(str) == str(value)]
    if runs.empty:
        raise ValueError(f"no runs match {where}")
    return runs


def run_fit(
    runs_csv: str | os.PathLike,
    out_dir: str | os.PathLike,
    n_bootstrap: int = 200,
    seed: int = 0,
    where: dict[str, str] | None = None,
) -> Path:
    """Fits all laws to the runs selected by `where`, writes `fit.json` and the figures to `out_dir`; returns the
    fit.json path. The selection must hold comparable runs only (one tokenizer, decoder family and experiment)."""
    runs_csv = Path(runs_csv)
    if not runs_csv.is_file():
        raise FileNotFoundError(f"runs table {runs_csv} does not exist")
    out_dir = ensure_writable(out_dir, "--out")
    runs = select_runs(load_runs(runs_csv), where)
    fit = fit_runs(runs, n_bootstrap=n_bootstrap, seed=seed)
    plots = write_plots(fit, out_dir)
    document = fit.to_json()
    # Name and content hash, not the local path: fit.json is meant to be published with the results.
    document["meta"]["runs_csv"] = {"name": runs_csv.name, "sha256": hashlib.sha256(runs_csv.read_bytes()).hexdigest()}
    document["meta"]["where"] = where or {}
    # Figures are written next to fit.json: record their file names, not local paths.
    document["meta"]["plots"] = {
        name: Path(location).name if Path(location).is_file() else location for name, location in plots.items()
    }
    return write_text_atomic(out_dir / "fit.json", json.dumps(document, indent=2, allow_nan=False) + "\n")
