"""`florenz fit RUNS.csv --out DIR`: scaling-law fits (fit.json) and figures from a sweep's runs table."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
from pathlib import Path


def _write_json(document: dict, path: Path) -> None:
    """Atomic write: a crashed fit never leaves a truncated fit.json behind."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fit-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, allow_nan=False)
        handle.write("\n")
    os.replace(tmp, path)


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
    from dataset_builder.release import ensure_writable

    from .plots import write_plots
    from .scaling_laws import fit_runs, load_runs

    runs_csv = Path(runs_csv)
    if not runs_csv.is_file():
        raise FileNotFoundError(f"runs table {runs_csv} does not exist")
    out_dir = Path(out_dir)
    ensure_writable(out_dir, "--out")
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
    path = out_dir / "fit.json"
    _write_json(document, path)
    return path


def _fit(args: argparse.Namespace) -> int:
    where = {}
    for item in args.where or []:
        column, sep, value = item.partition("=")
        if not sep or not column:
            raise ValueError(f"--where {item!r}; expected COLUMN=VALUE")
        where[column] = value
    path = run_fit(args.runs, args.out, n_bootstrap=args.bootstrap, seed=args.seed, where=where)
    document = json.loads(path.read_text(encoding="utf-8"))
    for name, entry in document.items():
        if isinstance(entry, dict) and name not in ("meta",):
            print(_summary_line(name, entry))
    for name, where in document["meta"]["plots"].items():
        print(f"{name}: {path.parent / where if (path.parent / where).is_file() else where}")
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
    fit.add_argument("--bootstrap", type=int, default=200, help="bootstrap replicates (seed clusters, Chinchilla)")
    fit.add_argument(
        "--where", action="append", metavar="COLUMN=VALUE", help="fit only these runs, e.g. experiment=grid; repeat"
    )
    fit.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling")
    fit.set_defaults(func=_fit)
