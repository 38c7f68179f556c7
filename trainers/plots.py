"""Scaling-law figures for `florenz fit`: compute law with Pareto staircase, CE vs params with CI/PI bands, emergence.

Figures are drawn on bare `matplotlib.figure.Figure` objects (Agg canvas), so importing this module never switches the
global pyplot backend of the caller.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .scaling_laws import GROUPS, ScalingFit, pareto_frontier

_TITLES = {
    "seen_caption": "seen captioning",
    "unseen_caption": "unseen captioning",
    "translation": "translation",
}
# (column stem, axis label) of the prefix / no-prefix emergence metrics.
EMERGENCE_METRICS = (
    ("bleu_unseen", "BLEU (unseen captions)"),
    ("cider_unseen", "CIDEr (unseen captions)"),
    ("lang_share_unseen", "target-language share"),
)
_INIT_STYLE = {1.0: ("o", "scratch"), 2.0: ("s", "pretrained")}


def _save(figure, path: Path) -> None:
    """Atomic PNG write (temp file in the same folder, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".png")
    os.close(fd)
    try:
        figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# Emergence metrics and their valid ranges: error bars are clipped to them (no negative BLEU or share).
METRIC_RANGES = {"bleu_unseen": (0.0, 100.0), "cider_unseen": (0.0, np.inf), "lang_share_unseen": (0.0, 1.0)}
# Below this a generation metric is 0 up to floating-point noise (CIDEr of unrelated text comes out near 1e-98).
NOISE_FLOOR = 1e-6


def _figure(n_panels: int, width: float = 4.6):
    from matplotlib.figure import Figure

    # constrained layout keeps each panel's axis labels clear of its neighbours
    figure = Figure(figsize=(width * n_panels, 4.0), layout="constrained")
    return figure, figure.subplots(1, n_panels, squeeze=False)[0]


def _plain_number(value: float, _position: float | None = None) -> str:
    """Tick text without a "×10⁰": 0.6, 1, 1.5, 20, 3e+05."""
    return f"{value:g}"


def _scientific(value: float, _position: float | None = None) -> str:
    """Tick text for large spans: 2×10¹¹ written as mathtext."""
    exponent = int(np.floor(np.log10(value)))
    mantissa = value / 10**exponent
    head = "" if np.isclose(mantissa, 1) else f"{mantissa:g}×"
    return f"${head}10^{{{exponent}}}$"


def _log_axis(axis, values: np.ndarray, plain: bool = True) -> None:
    """Log axis with labelled ticks only where they cannot collide: at 1, 1.5, 2, 3, 5, 7 × 10^k over less than a
    decade, 1, 2, 5 × 10^k over less than two, decades otherwise; minor ticks unlabelled (matplotlib's default
    labels them over narrow ranges, "7.3×10⁰", and they collide). `plain` writes 0.7, 1.5 instead of 10^k."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    span = np.log10(values.max() / values.min()) if values.size else 0.0
    subs = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if span < 1 else (1.0, 2.0, 5.0) if span < 2 else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(_plain_number if plain else _scientific))
    axis.set_minor_formatter(NullFormatter())


def _log_x(ax) -> None:
    """Log x axis labelled at decades only (minor labels collide over the narrow ranges of small sweeps)."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())


def _count(value: float) -> str:
    """Parameter count as a tick label: 200k, 1.2M, 3.5B."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:g}"


def _size_axis(ax, sizes: np.ndarray) -> None:
    """Log parameter axis with a labelled tick at every model size of the sweep (and no other labels)."""
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.set_xscale("log")
    sizes = np.unique(sizes)
    ax.set_xticks(sizes, [_count(size) for size in sizes])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _t_label(t: float) -> str:
    return _INIT_STYLE.get(float(t), ("^", f"T={t:g}"))[1]


def plot_compute_law(fit: ScalingFit, path: Path):
    """CE vs training compute per group: all configurations coloured by size, the Pareto staircase and the fitted
    compute law (coefficients in the panel title) with its 95% confidence band. Returns the figure."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import NullLocator

    figure, axes = _figure(len(GROUPS), width=4.4)
    params = fit.table["params"]
    norm = LogNorm(params.min(), params.max() if params.max() > params.min() else params.min() * 1.01)
    markers: dict[str, str] = {}
    for ax, (name, target) in zip(axes, GROUPS.items()):
        group = fit.groups[name]
        data = fit.table[fit.table[target].notna()].sort_values("compute")
        ax.set(xscale="log", yscale="log", xlabel="training compute C (FLOPs)", ylabel=f"CE ({target})")
        ax.set_title(_TITLES[name])
        if data.empty:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center")
            continue
        for t, subset in data.groupby("T"):
            marker, label = _INIT_STYLE.get(float(t), ("^", _t_label(t)))
            markers[label] = marker
            ax.scatter(
                subset["compute"], subset[target], marker=marker, c=subset["params"], cmap="viridis", norm=norm,
                s=28, zorder=3,
            )  # fmt: skip
        frontier = data[pareto_frontier(data["compute"].to_numpy(), data[target].to_numpy())]
        steps_x = [*frontier["compute"], data["compute"].max()]
        steps_y = [*frontier[target], frontier[target].iloc[-1]]
        ax.step(steps_x, steps_y, where="post", color="black", lw=1.2)
        if group.compute_fit is not None:
            grid = np.geomspace(data["compute"].min(), data["compute"].max(), 100)
            entry = group.entry["compute_law"]
            band = group.compute_fit.predict(C=grid)
            ax.plot(grid, band["mean"], color="tab:red", lw=1.5)
            ax.fill_between(grid, band["ci_lower"], band["ci_upper"], color="tab:red", alpha=0.2, lw=0)
            ax.set_title(f"{_TITLES[name]}: CE = {entry['alpha0']:.3g}·C$^{{{entry['alpha1']:.3f}}}$")
        else:
            ax.text(0.02, 0.02, group.entry["compute_law"]["note"], transform=ax.transAxes, fontsize=7)
        _log_axis(ax.yaxis, data[target].to_numpy())
        _log_axis(ax.xaxis, data["compute"].to_numpy(), plain=False)
    colour_bar = figure.colorbar(ScalarMappable(norm=norm, cmap="viridis"), ax=list(axes), pad=0.01)
    colour_bar.set_label("parameters P")
    sizes = np.unique(params)
    colour_bar.set_ticks(sizes, labels=[_count(size) for size in sizes])
    colour_bar.ax.yaxis.set_minor_locator(NullLocator())
    handles = [
        *(
            Line2D([], [], marker=m, ls="", color="grey", label=f"{label} runs (colour: P)")
            for label, m in markers.items()
        ),
        Line2D([], [], color="black", lw=1.2, label="Pareto frontier"),
        Line2D([], [], color="tab:red", lw=1.5, label="compute law fitted on the frontier"),
        Patch(color="tab:red", alpha=0.2, label="95% CI of the law"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    _save(figure, path)
    return figure


def _params_law_panels(fit: ScalingFit) -> list[str]:
    return [name for name in GROUPS if name in fit.groups and "factor_law" in fit.groups[name].entry]


def plot_params_law(fit: ScalingFit, path: Path) -> None:
    """CE vs params at the largest S with the factor law's 95% CI and PI bands (dashed beyond the largest model)."""
    panels = _params_law_panels(fit)
    if not panels:
        raise ValueError("no group has a factor-law entry to plot")
    figure, axes = _figure(len(panels))
    s_max = fit.table["seen_samples"].max()
    at_s = fit.table[fit.table["seen_samples"] == s_max]
    for ax, name in zip(axes, panels):
        group = fit.groups[name]
        target = group.target
        _log_x(ax)
        ax.set(yscale="log", xlabel="parameters P", ylabel=target)
        ax.set_title(f"{_TITLES[name]} at S = {s_max:.3g}")
        data = at_s[at_s[target].notna()]
        for t, subset in data.groupby("T"):
            marker, label = _INIT_STYLE.get(float(t), ("^", _t_label(t)))
            points = ax.errorbar(
                subset["params"],
                subset[target],
                yerr=subset[f"{target}_std"].fillna(0),
                fmt=marker,
                capsize=3,
                label=label,
                zorder=3,
            )
            color = points[0].get_color()
            if group.factor_fit is None:
                continue
            p_max = data["params"].max()
            grid = np.geomspace(data["params"].min() / 1.5, p_max * 4, 120)
            band = group.factor_fit.predict(P=grid, S=np.full_like(grid, s_max), T=np.full_like(grid, t))
            inside = grid <= p_max
            ax.plot(grid[inside], band["mean"][inside], lw=1.5, color=color)
            ax.plot(grid[~inside], band["mean"][~inside], lw=1.5, ls="--", color=color)
            ax.fill_between(grid, band["ci_lower"], band["ci_upper"], color=color, alpha=0.3, label=f"95% CI ({label})")
            ax.fill_between(
                grid, band["pi_lower"], band["pi_upper"], color=color, alpha=0.12, label=f"95% PI ({label})"
            )
        if group.factor_fit is None:
            ax.text(0.02, 0.02, group.entry["factor_law"]["note"], transform=ax.transAxes, fontsize=7)
        if not data.empty:
            _log_axis(ax.yaxis, data[target].to_numpy())
        ax.legend(fontsize=7)
    _save(figure, path)


def _denoised(values: pd.Series) -> pd.Series:
    return values.where(values.abs() >= NOISE_FLOOR, 0.0)


def emergence_metrics(table: pd.DataFrame) -> list[tuple[str, str]]:
    """The (stem, label) pairs whose prefix and no-prefix columns both exist and hold values."""
    return [
        (stem, label)
        for stem, label in EMERGENCE_METRICS
        if all(
            f"{stem}_{kind}" in table.columns and table[f"{stem}_{kind}"].notna().any()
            for kind in ("prefix", "noprefix")
        )
    ]


def _all_zero(table: pd.DataFrame, stem: str) -> bool:
    return all((_denoised(table[f"{stem}_{kind}"].dropna()) == 0).all() for kind in ("prefix", "noprefix"))


def plot_emergence(fit: ScalingFit, path: Path):
    """Unseen-caption quality with and without the decoder prefix vs params, at the largest S. Metrics that are 0
    for every run (up to floating-point noise) get no panel, only a note. Returns the figure."""
    metrics = emergence_metrics(fit.table)
    if not metrics:
        raise ValueError("no prefix/no-prefix emergence columns (e.g. bleu_unseen_prefix + bleu_unseen_noprefix)")
    s_max = fit.table["seen_samples"].max()
    data = fit.table[fit.table["seen_samples"] == s_max].sort_values("params")
    zero = [label for stem, label in metrics if _all_zero(data, stem)]
    panels = [(stem, label) for stem, label in metrics if label not in zero]
    figure, axes = _figure(max(len(panels), 1))
    for ax, (stem, label) in zip(axes, panels):
        low, high = METRIC_RANGES[stem]
        _size_axis(ax, data["params"].to_numpy())
        ax.set(xlabel="parameters P", ylabel=label)
        ax.set_title(f"{label} at S = {s_max:.3g}")
        for t, subset in data.groupby("T"):
            for kind, style in (("prefix", "-"), ("noprefix", ":")):
                column = f"{stem}_{kind}"
                mean = _denoised(subset[column])
                std = subset.get(f"{column}_std", pd.Series(0.0, index=subset.index)).fillna(0)
                # ± one seed standard deviation, cut at the metric's range
                below = np.minimum(std, (mean - low).clip(lower=0))
                above = np.minimum(std, (high - mean).clip(lower=0))
                ax.errorbar(
                    subset["params"], mean, yerr=[below, above], ls=style, marker="o", capsize=3,
                    label=f"{_t_label(t)}, {kind.replace('noprefix', 'no prefix')}",
                )  # fmt: skip
        ax.set_ylim(bottom=low)
        if np.isfinite(high) and high == 1.0:
            ax.set_ylim(top=1.05)
    if panels:
        handles, labels = axes[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8)
    if zero:
        note = f"{' and '.join(zero)}: 0 for every run at S = {s_max:.3g} (no panel)"
        if panels:
            figure.suptitle(note, fontsize=8)
        else:
            axes[0].set_axis_off()
            axes[0].text(0.5, 0.5, note, ha="center", va="center", transform=axes[0].transAxes)
    _save(figure, path)
    return figure


def write_plots(fit: ScalingFit, out_dir: str | os.PathLike) -> dict[str, str]:
    """Writes compute_law.png, params_law.png and (when its columns exist) emergence.png.

    Returns {figure name: path} for written figures and {figure name: "skipped: why"} for the others.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    plot_compute_law(fit, out_dir / "compute_law.png")
    written["compute_law"] = str(out_dir / "compute_law.png")
    if _params_law_panels(fit):
        plot_params_law(fit, out_dir / "params_law.png")
        written["params_law"] = str(out_dir / "params_law.png")
    else:
        written["params_law"] = "skipped: no CE group has values"
    if emergence_metrics(fit.table):
        plot_emergence(fit, out_dir / "emergence.png")
        written["emergence"] = str(out_dir / "emergence.png")
    else:
        written["emergence"] = "skipped: runs.csv has no *_unseen_prefix / *_unseen_noprefix columns"
    return written
