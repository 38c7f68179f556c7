"""Scaling-law fits of a sweep's runs table, written to a folder: `fit.json` and the figures."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dataset_builder.atomic import write_text_atomic

from .plots import write_plots
from .scaling_laws import fit_runs, load_runs


def run_fit(runs_csv: str | os.PathLike, out_dir: str | os.PathLike, n_bootstrap: int = 200, seed: int = 0) -> Path:
    """Fits all laws, writes `fit.json` and the figures to `out_dir`; returns the fit.json path."""
    runs_csv = Path(runs_csv)
    if not runs_csv.is_file():
        raise FileNotFoundError(f"runs table {runs_csv} does not exist")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fit = fit_runs(load_runs(runs_csv), n_bootstrap=n_bootstrap, seed=seed)
    plots = write_plots(fit, out_dir)
    document = fit.to_json()
    document["meta"]["runs_csv"] = str(runs_csv)
    document["meta"]["plots"] = plots
    return write_text_atomic(out_dir / "fit.json", json.dumps(document, indent=2, allow_nan=False) + "\n")
