"""Scaling-law fits for the Florenz sweep: `runs.csv` → seed means → compute law, factor law, Chinchilla law → fit.json.

Three laws per CE group (seen captioning, unseen captioning, translation):

* compute law (paper Eq. 1): CE = α0 · C^α1, OLS in log10 space on the Pareto frontier of (C, CE);
* factor law (paper v2): CE = β0 · P^β1 · S^β2 · T^β3, OLS in log10 space on all configurations, where
  T = 1 + initial multilinguality of the decoder (see `T_DEFINITION`);
* Chinchilla form L = E + A/P^α + B/S^β, Huber loss on log residuals with L-BFGS-B from the best points of a grid of
  initialisations and bootstrap CIs (Hoffmann et al. 2022, Approach 3, with the loss scaled so that the optimiser does
  not stop early — the failure Besiroglu et al. 2024 found in the original fit).

Seeds are averaged per configuration (preset, decoder, S) before fitting; their spread is reported alongside. Besides
the OLS intervals, the compute and factor laws get a cluster bootstrap over seeds: whole seeds are resampled (runs of
one seed share data order and the frozen vision tower, so they are not independent), seed means recomputed, and the
Pareto selection redone inside every resample, so the interval includes the uncertainty of choosing the frontier
after seeing the CE. A law that cannot be fitted from the given runs is reported as `{"note": why}` instead of numbers.

Only comparable runs are pooled: CE is per token, so runs with different tokenizers (vocabularies) or decoder
families measure different quantities; `fit_runs` refuses such a table (`check_comparable`), and `comparable_groups`
splits it into fittable groups. No law is fitted on a subset chosen by its outcome: the grounding gap is reported as
a table of grounded fractions per configuration (`grounded_fractions`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

GROUPS: dict[str, str] = {
    "seen_caption": "ce_seen_caption",
    "unseen_caption": "ce_unseen_caption",
    "translation": "ce_translation",
}
GAP_COLUMNS = {"seen": "ce_gap_seen", "unseen": "ce_gap_unseen"}
# Nats/token; a descriptive line for the grounded-fraction table, never a filter for a fit. Below it the shuffled-image
# CE differs from the right-image CE by eval-set noise: the ungrounded quick runs measured -0.006 … 0.012.
GROUNDED_GAP = 0.05
# The columns the fit reads; the sweep writes more (see trainers/runs_table.py), all of which are kept.
REQUIRED_COLUMNS = ("preset", "decoder_init", "seed", "params", "seen_samples", "compute", *GROUPS.values())
# Runs are comparable only within one value of each of these (CE per token depends on the tokenizer).
COMPARABLE_COLUMNS = ("experiment", "tokenizer", "vocab_size", "decoder_kind")
ALL_COMPUTE_COLUMN = "compute_all"
CONFIG_COLUMNS = ("preset", "decoder_kind", "decoder_init", "seen_samples")
DECODER_INIT_MULTILINGUALITY = {"pretrained": 1.0, "scratch": 0.0}
T_DEFINITION = (
    "T = 1 + m, where m in [0, 1] is the initial multilinguality of the decoder: the `initial_multilinguality` column "
    "(k/6 for a Scenes decoder first pretrained as a text-only LM on translation-distribution sentences of k of the six "
    "languages; 1 for the multilingual Gemma decoder, 0 for a scratch one), or, for tables without it, m = 1 for "
    "decoder_init='pretrained' and m = 0 for decoder_init='scratch'. The shift by 1 keeps log T defined at m = 0."
)
COMPUTE_DEFINITION = "C = S * F * (1 + P_t / P) training FLOPs (runs.csv `compute`, trainers/compute.py)"
HUBER_DELTA = 1e-3
MIN_CHINCHILLA_POINTS = 5
# Hoffmann et al.'s initialisation grid for (e, a, b, alpha, beta) with E = exp(e), A = exp(a), B = exp(b).
_CHINCHILLA_GRID = (
    np.arange(-1.0, 1.01, 0.5),
    np.arange(0.0, 25.1, 5.0),
    np.arange(0.0, 25.1, 5.0),
    np.arange(0.0, 2.01, 0.5),
    np.arange(0.0, 2.01, 0.5),
)
_THETA_NAMES = ("E", "A", "B", "alpha", "beta")  # fitted as log E, log A, log B, alpha, beta
_CHINCHILLA_BOUNDS = [(-20.0, 10.0), (-20.0, 60.0), (-20.0, 60.0), (1e-4, 4.0), (1e-4, 4.0)]


# --------------------------------------------------------------------------------------------------------- runs.csv


def load_runs(path: str | os.PathLike) -> pd.DataFrame:
    """Reads and validates `runs.csv` (see `validate_runs`)."""
    return validate_runs(pd.read_csv(path))


# Upper bounds far beyond any real run; larger values are typos or overflowed numbers and would overflow the fits.
MAX_CE = 1_000.0  # nats/token
MAX_COUNT = 1e18  # parameters, seen samples
MAX_COMPUTE = 1e40  # FLOPs
_SHOWN_ROWS = 8


def _rows(mask: pd.Series) -> str:
    """CSV line numbers (header = line 1) of the rows in `mask`, at most a few."""
    lines = [int(i) + 2 for i in mask.index[mask.to_numpy()]]
    shown = ", ".join(map(str, lines[:_SHOWN_ROWS]))
    return f"line{'s' if len(lines) > 1 else ''} {shown}" + (
        f" (+{len(lines) - _SHOWN_ROWS} more)" if len(lines) > _SHOWN_ROWS else ""
    )


def _numeric(runs: pd.DataFrame, column: str) -> pd.Series:
    """The column as floats; text that is not a number is an error naming its lines (empty cells stay NaN)."""
    raw = runs[column]
    values = pd.to_numeric(raw, errors="coerce")
    text = raw.notna() & values.isna()
    if text.any():
        example = str(raw[text].iloc[0])[:40]
        raise ValueError(f"column {column!r} holds non-numeric values ({example!r} on {_rows(text)}); numbers only")
    return values.astype(float)


def _check_range(
    column: str, values: pd.Series, low: float, high: float, missing_ok: bool, inclusive_low=False
) -> None:
    present = values.notna()
    if not missing_ok and (~present).any():
        raise ValueError(f"column {column!r} is empty on {_rows(~present)}; every run needs it")
    above = values > low if not inclusive_low else values >= low
    bad = present & ~(above & (values <= high))
    if bad.any():
        bound = f"{'≥' if inclusive_low else '>'} {low:g} and ≤ {high:g}"
        raise ValueError(
            f"column {column!r} has {float(values[bad].iloc[0])!r} on {_rows(bad)}; allowed: finite numbers {bound}"
        )


def validate_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Checks columns, values and uniqueness before any fit, and adds the numeric `T` column (`T_DEFINITION`).

    Refused: non-numeric text in numeric columns; params/seen_samples/compute that are missing, ≤ 0, infinite or
    beyond `MAX_COUNT`/`MAX_COMPUTE`; CE values that are ≤ 0, infinite or beyond `MAX_CE` (an empty CE means "not
    measured" and leaves the run out of that group); non-integer seeds; two rows of the same configuration and seed.
    """
    missing = [column for column in REQUIRED_COLUMNS if column not in runs.columns]
    if missing:
        raise ValueError(f"runs table lacks required columns {missing}; required are {list(REQUIRED_COLUMNS)}")
    if "tokenizer" not in runs.columns and "vocab_size" not in runs.columns:
        raise ValueError(
            "runs table has neither a 'tokenizer' nor a 'vocab_size' column; CE per token is only comparable within "
            "one tokenizer, so the fitter needs one of them"
        )
    if runs.empty:
        raise ValueError("runs table has no rows")
    runs = runs.reset_index(drop=True).copy()
    for column, high in (("params", MAX_COUNT), ("seen_samples", MAX_COUNT), ("compute", MAX_COMPUTE)):
        runs[column] = _numeric(runs, column)
        _check_range(column, runs[column], 0.0, high, missing_ok=False)
    for column in [c for c in runs.columns if c.startswith(("ce_", "bleu_", "cider_", "lang_share_"))]:
        runs[column] = _numeric(runs, column)
        if column.startswith("ce_gap_"):  # a difference of two CEs: any sign
            _check_range(column, runs[column], -MAX_CE, MAX_CE, missing_ok=True, inclusive_low=True)
        elif column.startswith("ce_"):
            _check_range(column, runs[column], 0.0, MAX_CE, missing_ok=True)
        else:
            _check_range(column, runs[column], 0.0, 1e6, missing_ok=True, inclusive_low=True)
    seeds = _numeric(runs, "seed")
    not_integer = ~(np.isfinite(seeds) & (seeds == seeds.round()))
    if not_integer.any():
        raise ValueError(
            f"column 'seed' must hold integers; found {float(seeds[not_integer].iloc[0])!r} on {_rows(not_integer)}"
        )
    runs["seed"] = seeds.astype(int)
    keys = [column for column in CONFIG_COLUMNS if column in runs.columns] + ["seed"]
    duplicated = runs.duplicated(subset=keys, keep=False)
    if "run_id" in runs.columns:
        duplicated |= runs.duplicated(subset=["run_id"], keep=False)
    if duplicated.any():
        raise ValueError(
            f"runs table repeats a run (same run_id or same {', '.join(keys)}) on {_rows(duplicated)}; "
            "each run may appear once (a repeat would count as an extra seed)"
        )
    if "initial_multilinguality" in runs.columns:
        m = pd.to_numeric(runs["initial_multilinguality"], errors="coerce")
        if not m.between(0, 1).all():
            raise ValueError("column 'initial_multilinguality' must hold numbers in [0, 1]")
    else:
        unknown = sorted(set(runs["decoder_init"].astype(str)) - set(DECODER_INIT_MULTILINGUALITY))
        if unknown:
            raise ValueError(f"decoder_init values {unknown} not allowed; use {sorted(DECODER_INIT_MULTILINGUALITY)}")
        m = runs["decoder_init"].astype(str).map(DECODER_INIT_MULTILINGUALITY)
    runs["T"] = 1.0 + m.astype(float)
    return runs


def check_comparable(runs: pd.DataFrame) -> None:
    """Raise a ValueError naming the column when `runs` mixes experiments, tokenizers or decoder families."""
    for column in COMPARABLE_COLUMNS:
        if column in runs.columns:
            values = sorted(runs[column].astype(str).unique())
            if len(values) > 1:
                raise ValueError(
                    f"runs mix {column} values {values}: CE per token and the scaling axes are not comparable across "
                    f"them, so they cannot be pooled in one fit; fit each group separately (`comparable_groups`, or "
                    f"`florenz fit --where {column}=VALUE`)"
                )


def comparable_groups(runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Split `runs` into groups that share every `COMPARABLE_COLUMNS` value, labelled like "experiment=grid, …"."""
    keys = [column for column in COMPARABLE_COLUMNS if column in runs.columns]
    if not keys:
        return {"all": runs}
    return {
        ", ".join(f"{k}={v}" for k, v in zip(keys, values if isinstance(values, tuple) else (values,))): frame
        for values, frame in runs.groupby(keys, sort=True, dropna=False)
    }


def seed_means(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration: the mean of every numeric column over seeds, `<col>_std` and `n_seeds`."""
    keys = [column for column in CONFIG_COLUMNS if column in runs.columns]
    numeric = [c for c in runs.select_dtypes("number").columns if c not in keys and c != "seed"]
    grouped = runs.groupby(keys, sort=True, dropna=False)
    table = grouped[numeric].mean()
    spread = grouped[numeric].std(ddof=1).add_suffix("_std")
    table = pd.concat([table, spread, grouped.size().rename("n_seeds")], axis=1)
    return table.copy().reset_index()  # the copy consolidates the ~150 columns before reset_index inserts the keys


def pareto_frontier(compute: np.ndarray, ce: np.ndarray) -> np.ndarray:
    """Boolean mask of the points whose CE is lower than that of every point with less compute.

    Among points with equal compute only the lowest CE can be on the frontier (a tie is not an improvement).
    """
    compute, ce = np.asarray(compute, dtype=float), np.asarray(ce, dtype=float)
    order = np.lexsort((ce, compute))
    mask = np.zeros(len(compute), dtype=bool)
    best = math.inf
    previous_compute = None
    for i in order:
        if compute[i] != previous_compute and ce[i] < best:
            mask[i] = True
        if compute[i] != previous_compute:
            previous_compute = compute[i]
        best = min(best, ce[i])
    return mask


# ------------------------------------------------------------------------------------------------- log-space OLS


@dataclass
class LogLinearFit:
    """OLS of log10(y) on log10 of the regressors, i.e. y = 10^b0 · Π x_i^b_i, with CIs and prediction intervals."""

    regressors: tuple[str, ...]
    result: Any  # statsmodels RegressionResults

    @property
    def n(self) -> int:
        return int(self.result.nobs)

    def coefficient(self, name: str) -> float:
        return float(self.result.params[self._index(name)])

    def ci(self, name: str, alpha: float = 0.05) -> list[float]:
        low, high = self.result.conf_int(alpha)[self._index(name)]
        return [float(low), float(high)]

    def pvalue(self, name: str) -> float:
        return float(self.result.pvalues[self._index(name)])

    def predict(self, alpha: float = 0.05, **regressors: np.ndarray) -> pd.DataFrame:
        """Mean prediction with `alpha`-level confidence and prediction intervals, back in y units."""
        if not regressors:
            raise ValueError(f"give the regressors {list(self.regressors)} as arrays")
        n = len(np.atleast_1d(next(iter(regressors.values()))))
        columns = [np.log10(np.asarray(regressors[name], dtype=float)) for name in self.regressors]
        design = np.column_stack([np.ones(n), *columns])
        frame = self.result.get_prediction(design).summary_frame(alpha=alpha)
        return pd.DataFrame(
            {
                "mean": 10 ** frame["mean"].to_numpy(),
                "ci_lower": 10 ** frame["mean_ci_lower"].to_numpy(),
                "ci_upper": 10 ** frame["mean_ci_upper"].to_numpy(),
                "pi_lower": 10 ** frame["obs_ci_lower"].to_numpy(),
                "pi_upper": 10 ** frame["obs_ci_upper"].to_numpy(),
            }
        )

    def _index(self, name: str) -> int:
        return 0 if name == "const" else 1 + self.regressors.index(name)


def fit_log_linear(y: np.ndarray, **regressors: np.ndarray) -> LogLinearFit:
    """Fits log10(y) = b0 + Σ b_i log10(x_i); needs positive values and at least one residual degree of freedom."""
    import statsmodels.api as sm

    y = np.asarray(y, dtype=float)
    if np.any(~(y > 0)) or any(np.any(~(np.asarray(x, dtype=float) > 0)) for x in regressors.values()):
        raise ValueError("log-space fit needs positive, finite values")
    if len(y) < len(regressors) + 2:
        raise ValueError(f"need at least {len(regressors) + 2} points for {len(regressors) + 1} coefficients with CIs")
    design = np.column_stack([np.ones(len(y)), *[np.log10(np.asarray(x, dtype=float)) for x in regressors.values()]])
    return LogLinearFit(tuple(regressors), sm.OLS(np.log10(y), design).fit())


def compute_law(compute: np.ndarray, ce: np.ndarray) -> tuple[dict[str, Any], LogLinearFit | None]:
    """CE = α0 · C^α1 on the Pareto frontier: (fit.json entry, fit or None when not fittable)."""
    frontier = pareto_frontier(compute, ce)
    n = int(frontier.sum())
    if n < 3:
        return {"note": f"{n} Pareto-frontier point(s); need at least 3 for a fit with CIs", "n": n}, None
    fit = fit_log_linear(np.asarray(ce)[frontier], C=np.asarray(compute)[frontier])
    const_ci = fit.ci("const")
    entry = {
        "alpha0": 10 ** fit.coefficient("const"),
        "alpha0_ci": [10 ** const_ci[0], 10 ** const_ci[1]],
        "log10_alpha0": fit.coefficient("const"),
        "log10_alpha0_ci": const_ci,
        "alpha1": fit.coefficient("C"),
        "alpha1_ci": fit.ci("C"),
        "alpha1_p": fit.pvalue("C"),
        "r2": float(fit.result.rsquared),
        "n": n,
        "n_points": len(frontier),
    }
    return entry, fit


def seed_bootstrap(runs: pd.DataFrame, statistic, n_bootstrap: int, seed: int) -> tuple[list[dict[str, float]], int]:
    """`statistic(seed_means_table)` on `n_bootstrap` cluster resamples of whole seeds (with replacement); returns
    the replicate dicts that were computable and the number of seed clusters."""
    clusters = sorted(runs["seed"].unique())
    numeric = ["params", "seen_samples", "T", *GROUPS.values(), "compute", ALL_COMPUTE_COLUMN]
    keep = [c for c in dict.fromkeys((*CONFIG_COLUMNS, "seed", *numeric)) if c in runs.columns]
    runs = runs[keep]  # seed means of the ~150 metric columns would dominate the cost of every replicate
    rng = np.random.default_rng(seed)
    replicates = []
    for _ in range(n_bootstrap):
        drawn = rng.choice(clusters, size=len(clusters), replace=True)
        sample = pd.concat([runs[runs["seed"] == c] for c in drawn], ignore_index=True)
        value = statistic(seed_means(sample))
        if value:
            replicates.append(value)
    return replicates, len(clusters)


def bootstrap_cis(replicates: list[dict[str, float]], names: tuple[str, ...]) -> dict[str, Any]:
    """2.5/97.5 percentiles per name over the replicates that have it."""
    result: dict[str, Any] = {}
    for name in names:
        values = [r[name] for r in replicates if r.get(name) is not None]
        result[f"{name}_boot_ci"] = np.percentile(values, [2.5, 97.5]).tolist() if values else None
    return result


def significance(*cis: list[float] | None) -> str:
    """ "significant" only when every given 95% interval excludes 0; "not significant" when any crosses it."""
    known = [ci for ci in cis if ci is not None and None not in ci]
    if not known:
        return "no interval"
    return "not significant" if any(low <= 0 <= high for low, high in known) else "significant"


_FACTORS = {"P": ("beta1", "params"), "S": ("beta2", "seen_samples"), "T": ("beta3", "T")}


def factor_law(table: pd.DataFrame, target: str) -> tuple[dict[str, Any], LogLinearFit | None]:
    """CE = β0 · P^β1 · S^β2 · T^β3 on all configurations; constant or collinear factors are left out with a note."""
    data = table[table[target].notna()]
    entry: dict[str, Any] = {}
    used: dict[str, np.ndarray] = {}
    for name, (beta, column) in _FACTORS.items():
        values = data[column].to_numpy(dtype=float)
        if len(np.unique(values)) < 2:
            entry[beta], entry[f"{beta}_ci"] = None, None
            entry[f"{beta}_note"] = f"{name} is constant in these runs"
        else:
            used[name] = values
    if used:
        design = np.column_stack([np.ones(len(data)), *[np.log10(v) for v in used.values()]])
        if np.linalg.matrix_rank(design) < design.shape[1] and "T" in used:
            del used["T"]
            entry["beta3"], entry["beta3_ci"] = None, None
            entry["beta3_note"] = "T is collinear with P/S in these runs (each size has a single decoder init)"
    y = data[target].to_numpy(dtype=float)
    try:
        fit = fit_log_linear(y, **used)
    except ValueError as err:
        return {"note": f"factor law not fitted: {err}", "n": len(y)}, None
    const_ci = fit.ci("const")
    entry.update(
        {
            "beta0": 10 ** fit.coefficient("const"),
            "beta0_ci": [10 ** const_ci[0], 10 ** const_ci[1]],
            "log10_beta0": fit.coefficient("const"),
            "log10_beta0_ci": const_ci,
        }
    )
    for name in used:
        beta = _FACTORS[name][0]
        entry.update({beta: fit.coefficient(name), f"{beta}_ci": fit.ci(name), f"{beta}_p": fit.pvalue(name)})
    entry.update({"r2": float(fit.result.rsquared), "resid_std_log10": float(np.sqrt(fit.result.scale)), "n": fit.n})
    return {key: entry[key] for key in sorted(entry, key=_factor_key_order)}, fit


def _factor_key_order(key: str) -> tuple[int, str]:
    return (0, key) if key.startswith(("beta", "log10")) else (1, key)


# ------------------------------------------------------------------------------------------------------ Chinchilla


def _chinchilla_objective(theta: np.ndarray, log_p: np.ndarray, log_s: np.ndarray, log_y: np.ndarray):
    """Σ Huber_δ(log L̂ − log L) / δ² and its gradient; the 1/δ² scale keeps L-BFGS tolerances meaningful."""
    e, a, b, alpha, beta = theta
    terms = np.stack([a - alpha * log_p, b - beta * log_s, np.full_like(log_p, e)])
    top = terms.max(axis=0)
    weights = np.exp(terms - top)
    total = weights.sum(axis=0)
    residual = top + np.log(total) - log_y
    weights /= total
    small = np.abs(residual) <= HUBER_DELTA
    loss = np.where(small, 0.5 * residual**2, HUBER_DELTA * (np.abs(residual) - 0.5 * HUBER_DELTA))
    d_residual = np.where(small, residual, HUBER_DELTA * np.sign(residual)) / HUBER_DELTA**2
    grad = np.array(
        [
            np.sum(d_residual * weights[2]),
            np.sum(d_residual * weights[0]),
            np.sum(d_residual * weights[1]),
            -np.sum(d_residual * weights[0] * log_p),
            -np.sum(d_residual * weights[1] * log_s),
        ]
    )
    return float(loss.sum() / HUBER_DELTA**2), grad


def _grid_starts(log_p: np.ndarray, log_s: np.ndarray, log_y: np.ndarray, k: int) -> np.ndarray:
    """The `k` grid points with the lowest objective (evaluating the full grid is cheap; optimising from it is not)."""
    grid = np.stack(np.meshgrid(*_CHINCHILLA_GRID, indexing="ij"), axis=-1).reshape(-1, 5)
    e, a, b, alpha, beta = (grid[:, i : i + 1] for i in range(5))
    terms = np.stack([a - alpha * log_p, b - beta * log_s, np.broadcast_to(e, (len(grid), len(log_p)))])
    residual = np.logaddexp.reduce(terms, axis=0) - log_y
    absolute = np.abs(residual)
    loss = np.where(absolute <= HUBER_DELTA, 0.5 * residual**2, HUBER_DELTA * (absolute - 0.5 * HUBER_DELTA)).sum(1)
    return grid[np.argsort(loss)[:k]]


def _minimise_chinchilla(log_p, log_s, log_y, starts: np.ndarray) -> tuple[np.ndarray, float, bool, int]:
    """(best θ, its objective, whether that run converged, number of converged runs)."""
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    best, n_converged = None, 0
    # scipy's L-BFGS-B calls BLAS on 5-vectors; multi-threaded BLAS makes that ~15x slower on a busy machine.
    with threadpool_limits(limits=1, user_api="blas"):
        for start in starts:
            result = minimize(
                _chinchilla_objective,
                start,
                args=(log_p, log_s, log_y),
                jac=True,
                method="L-BFGS-B",
                bounds=_CHINCHILLA_BOUNDS,
                options={"maxiter": 5000, "ftol": 1e-12, "gtol": 1e-8},
            )
            n_converged += bool(result.success)
            if best is None or result.fun < best.fun:
                best = result
    return best.x, float(best.fun), bool(best.success), n_converged


def chinchilla_law(
    params: np.ndarray,
    seen_samples: np.ndarray,
    ce: np.ndarray,
    n_bootstrap: int = 200,
    seed: int = 0,
    n_starts: int = 32,
) -> dict[str, Any]:
    """L = E + A/P^α + B/S^β by Huber(δ=1e-3) on log residuals, L-BFGS-B from the `n_starts` best grid points.

    Bootstrap: configurations are resampled with replacement `n_bootstrap` times (seeded); each replicate is refitted
    from the full-data optimum and the best grid point of that replicate; CIs are the 2.5/97.5 percentiles.
    """
    log_p, log_s, log_y = np.log(params), np.log(seen_samples), np.log(ce)
    n_distinct = len(set(zip(params.tolist(), seen_samples.tolist())))
    if n_distinct < MIN_CHINCHILLA_POINTS or len(np.unique(params)) < 2 or len(np.unique(seen_samples)) < 2:
        return {
            "note": f"{n_distinct} distinct (P, S) configurations; the Chinchilla form needs at least "
            f"{MIN_CHINCHILLA_POINTS} spanning at least 2 sizes and 2 sample counts",
            "n": len(ce),
        }
    starts = _grid_starts(log_p, log_s, log_y, n_starts)
    theta, loss, converged, n_converged = _minimise_chinchilla(log_p, log_s, log_y, starts)
    entry: dict[str, Any] = dict(zip(("E", "A", "B"), np.exp(theta[:3]).tolist()))
    entry.update({"alpha": float(theta[3]), "beta": float(theta[4])})
    entry.update(
        {
            "loss": loss,
            "converged": converged,
            "n_starts": len(starts),
            "n_starts_converged": n_converged,
            # A parameter on its bound means the optimum lies outside the searched region: read the fit with care.
            "at_bound": [
                name
                for name, value, (low, high) in zip(_THETA_NAMES, theta, _CHINCHILLA_BOUNDS)
                if np.isclose(value, low) or np.isclose(value, high)
            ],
            "n": len(ce),
        }
    )
    if n_bootstrap > 0:
        entry.update(_chinchilla_bootstrap(log_p, log_s, log_y, theta, n_bootstrap, seed))
    else:
        entry.update({f"{name}_ci": None for name in _THETA_NAMES})
        entry["bootstrap_note"] = "n_bootstrap = 0: no confidence intervals"
    return entry


def _chinchilla_bootstrap(log_p, log_s, log_y, theta, n_bootstrap: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    samples, n_converged = [], 0
    for _ in range(n_bootstrap):
        index = rng.integers(0, len(log_y), len(log_y))
        if len(set(zip(log_p[index], log_s[index]))) < MIN_CHINCHILLA_POINTS:
            continue
        p, s, y = log_p[index], log_s[index], log_y[index]
        starts = np.vstack([theta, _grid_starts(p, s, y, 1)])
        replicate, _, converged, _ = _minimise_chinchilla(p, s, y, starts)
        samples.append(replicate)
        n_converged += converged
    if not samples:
        return {"bootstrap_note": "no bootstrap replicate had enough distinct configurations"}
    samples = np.array(samples)
    values = {"E": np.exp(samples[:, 0]), "A": np.exp(samples[:, 1]), "B": np.exp(samples[:, 2])}
    values.update({"alpha": samples[:, 3], "beta": samples[:, 4]})
    result: dict[str, Any] = {f"{name}_ci": np.percentile(v, [2.5, 97.5]).tolist() for name, v in values.items()}
    result.update({"n_bootstrap": len(samples), "bootstrap_converged": n_converged, "bootstrap_seed": seed})
    return result


# -------------------------------------------------------------------------------------------------------- all laws


@dataclass
class GroupFit:
    """Fits of one CE group; the LogLinearFit objects are kept for plotting bands."""

    target: str
    entry: dict[str, Any] = field(default_factory=dict)
    compute_fit: LogLinearFit | None = None
    factor_fit: LogLinearFit | None = None


@dataclass
class ScalingFit:
    """All fits of a sweep: the seed-mean table they were fitted on, per-group fits and the JSON document."""

    table: pd.DataFrame
    groups: dict[str, GroupFit]
    meta: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {name: group.entry for name, group in self.groups.items()}
        document.update({"T_definition": T_DEFINITION, "compute_definition": COMPUTE_DEFINITION, "meta": self.meta})
        return _json_safe(document)


def _compute_statistic(target: str, compute_column: str):
    def statistic(table: pd.DataFrame) -> dict[str, float] | None:
        data = table[table[target].notna()]
        entry, fit = compute_law(data[compute_column].to_numpy(), data[target].to_numpy())
        return {"alpha1": entry["alpha1"]} if fit is not None else None

    return statistic


def _factor_statistic(target: str):
    def statistic(table: pd.DataFrame) -> dict[str, float] | None:
        entry, fit = factor_law(table, target)
        return {b: entry.get(b) for b in ("beta1", "beta2", "beta3")} if fit is not None else None

    return statistic


def _with_bootstrap(entry: dict[str, Any], runs, statistic, names, n_bootstrap: int, seed: int) -> None:
    if n_bootstrap <= 0 or "note" in entry:
        return
    replicates, clusters = seed_bootstrap(runs, statistic, n_bootstrap, seed)
    entry.update(bootstrap_cis(replicates, names))
    entry.update({"n_bootstrap": len(replicates), "bootstrap_clusters": clusters})
    if clusters < 3:
        entry["bootstrap_note"] = f"{clusters} seed cluster(s): the bootstrap has few distinct resamples"
    for name in names:
        if entry.get(name) is not None:
            entry[f"{name}_significance"] = significance(entry.get(f"{name}_ci"), entry.get(f"{name}_boot_ci"))


def fit_runs(
    runs: pd.DataFrame, n_bootstrap: int = 200, seed: int = 0, chinchilla_bootstrap: int | None = None
) -> ScalingFit:
    """Fits every law to every CE group of a validated runs table (`validate_runs`) of comparable runs.

    n_bootstrap: seed-cluster resamples for the compute and factor laws; chinchilla_bootstrap: configuration
    resamples for the Chinchilla form (default: n_bootstrap; each costs L-BFGS runs)."""
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    chinchilla_bootstrap = n_bootstrap if chinchilla_bootstrap is None else chinchilla_bootstrap
    check_comparable(runs)
    table = seed_means(runs)
    groups: dict[str, GroupFit] = {}
    compute_columns = {"compute_law": "compute"}
    if ALL_COMPUTE_COLUMN in table.columns and table[ALL_COMPUTE_COLUMN].notna().all():
        compute_columns["compute_law_all_compute"] = ALL_COMPUTE_COLUMN
    for name, target in GROUPS.items():
        data = table[table[target].notna()]
        group = GroupFit(target)
        if data.empty:
            group.entry = {"note": f"no runs with a value in {target!r}"}
            groups[name] = group
            continue
        for law, column in compute_columns.items():
            entry, fit = compute_law(data[column].to_numpy(), data[target].to_numpy())
            entry["compute_column"] = column
            statistic = _compute_statistic(target, column)
            _with_bootstrap(entry, runs, statistic, ("alpha1",), n_bootstrap, seed)
            group.entry[law] = entry
            if law == "compute_law":
                group.compute_fit = fit
        group.entry["factor_law"], group.factor_fit = factor_law(table, target)
        _with_bootstrap(
            group.entry["factor_law"], runs, _factor_statistic(target), ("beta1", "beta2", "beta3"), n_bootstrap, seed
        )
        if group.factor_fit is not None:
            group.entry["factor_law"]["predictions_at_max_S"] = _predictions_at_max_s(group.factor_fit, data)
        group.entry["chinchilla"] = _chinchilla_for(data, target, chinchilla_bootstrap, seed)
        group.entry["seed_spread"] = _seed_spread(data, target)
        groups[name] = group
    meta = {
        "n_runs": len(runs),
        "n_configurations": len(table),
        "seeds_per_configuration": [int(table["n_seeds"].min()), int(table["n_seeds"].max())],
        "fit_space": "log10 for compute and factor laws; natural log residuals for chinchilla",
        "pooled": {c: sorted(runs[c].astype(str).unique()) for c in COMPARABLE_COLUMNS if c in runs.columns},
        "grounded_fractions": grounded_fractions(runs),
        "skipped": [] if GAP_COLUMNS["unseen"] in runs.columns else ["grounded_fractions: no 'ce_gap_unseen' column"],
    }
    return ScalingFit(table, groups, meta)


def grounded_fractions(runs: pd.DataFrame, threshold: float = GROUNDED_GAP) -> list[dict[str, Any]]:
    """Per configuration: how many seeds have a shuffled-image CE gap above `threshold`, and the mean gap."""
    present = {name: column for name, column in GAP_COLUMNS.items() if column in runs.columns}
    if not present:
        return []
    rows = []
    keys = ["preset", "decoder_init", "seen_samples"] if "decoder_init" in runs.columns else ["preset", "seen_samples"]
    for values, frame in runs.groupby(keys, sort=True):
        preset, seen = values[0], values[-1]
        row: dict[str, Any] = {"preset": preset, "S": int(seen), "params": float(frame["params"].iloc[0])}
        if len(keys) == 3:
            row["decoder_init"] = values[1]
        row["n_seeds"] = len(frame)
        for name, column in present.items():
            gaps = pd.to_numeric(frame[column], errors="coerce")
            row[f"grounded_{name}"] = int((gaps > threshold).sum())
            row[f"mean_gap_{name}"] = float(gaps.mean())
        rows.append(row)
    return sorted(rows, key=lambda r: (r["params"], r["S"]))


def _predictions_at_max_s(fit: LogLinearFit, data: pd.DataFrame) -> list[dict[str, Any]]:
    """Factor-law mean with 95% CI and PI at every (P, T) of the largest S: the numbers behind params_law.png."""
    at_s = data[data["seen_samples"] == data["seen_samples"].max()][["params", "seen_samples", "T"]].drop_duplicates()
    band = fit.predict(P=at_s["params"].to_numpy(), S=at_s["seen_samples"].to_numpy(), T=at_s["T"].to_numpy())
    return [
        {
            "P": float(p),
            "S": float(s),
            "T": float(t),
            "mean": float(row["mean"]),
            "ci": [float(row["ci_lower"]), float(row["ci_upper"])],
            "pi": [float(row["pi_lower"]), float(row["pi_upper"])],
        }
        for (p, s, t), (_, row) in zip(at_s.itertuples(index=False), band.iterrows())
    ]


def _chinchilla_for(data: pd.DataFrame, target: str, n_bootstrap: int, seed: int) -> dict[str, Any]:
    """The Chinchilla form has no T term, so with mixed decoder inits it is fitted on the most common T only."""
    t_values = data["T"].value_counts()
    subset = data
    note = None
    if len(t_values) > 1:
        t_keep = max(t_values.index, key=lambda t: (t_values[t], t))
        subset = data[data["T"] == t_keep]
        note = f"fitted on the runs with T = {t_keep:g} only (the form has no T term)"
    entry = chinchilla_law(
        subset["params"].to_numpy(dtype=float),
        subset["seen_samples"].to_numpy(dtype=float),
        subset[target].to_numpy(dtype=float),
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    if note:
        entry["subset_note"] = note
    return entry


def _seed_spread(data: pd.DataFrame, target: str) -> dict[str, Any]:
    std = data[f"{target}_std"]
    return {
        "n_seeds": [int(data["n_seeds"].min()), int(data["n_seeds"].max())],
        "mean_std": float(std.mean()) if std.notna().any() else None,
        "max_std": float(std.max()) if std.notna().any() else None,
    }


def _json_safe(value: Any) -> Any:
    """Plain-JSON copy: numpy scalars → Python, NaN/inf → None."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    return value
