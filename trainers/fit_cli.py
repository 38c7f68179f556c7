"""`florenz fit RUNS.csv --out DIR`: scaling-law fits (fit.json) and figures from a sweep's runs table."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from dataset_builder.atomic import write_text_atomic


def _summary_line(name: str, entry: dict) -> str:
    parts = [name]
    for law, keys in (
        ("compute_law", ("alpha1",)),
        ("factor_law", ("beta1", "beta2", "beta3")),
        ("chinchilla", ("alpha", "beta")),
    ):
        fields = entry.get(law, {})
        values = [f"{key}={fields[key]:.3f}" for key in keys if isinstance(fields.get(key), float)]
        parts.append(f"{law}: {' '.join(values) if values else fields.get('note', 'n/a')}")
    return " | ".join(parts)


def run_fit(runs_csv: str | os.PathLike, out_dir: str | os.PathLike, n_bootstrap: int = 200, seed: int = 0) -> Path:
    """Fits all laws, writes `fit.json` and the figures to `out_dir`; returns the fit.json path."""
    from .plots import write_plots
    from .scaling_laws import fit_runs, load_runs

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


def _fit(args: argparse.Namespace) -> int:
    path = run_fit(args.runs, args.out, n_bootstrap=args.bootstrap, seed=args.seed)
    document = json.loads(path.read_text(encoding="utf-8"))
    for name, entry in document.items():
        if isinstance(entry, dict) and name not in ("meta",):
            print(_summary_line(name, entry))
    for name, where in document["meta"]["plots"].items():
        print(f"{name}: {where}")
    print(f"wrote {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    fit = subparsers.add_parser(
        "fit",
        help="fit scaling laws to a sweep's runs.csv (fit.json + plots)",
        description="Fit the compute law, the factor law (P, S, T) and the Chinchilla form to each CE group of a "
        "runs.csv written by `florenz sweep`; writes fit.json, compute_law.png, params_law.png and emergence.png.",
    )
    fit.add_argument("runs", metavar="RUNS.csv")
    fit.add_argument("--out", required=True, help="output folder (created if missing)")
    fit.add_argument("--bootstrap", type=int, default=200, help="bootstrap replicates for the Chinchilla CIs")
    fit.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling")
    fit.set_defaults(func=_fit)
