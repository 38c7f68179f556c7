"""Scaling-law figures for `florenz fit`: compute law with Pareto staircase, CE vs params with CI/PI bands, emergence.

Figures are drawn on bare `matplotlib.figure.Figure` objects (Agg canvas), so importing this module never switches the
global pyplot backend of the caller.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from dataset_builder.atomic import atomic_path

from .scaling_laws import GAP_GROUP, GROUPS, ScalingFit, pareto_frontier

_TITLES = {
    "seen_caption": "seen captioning",
    "unseen_caption": "unseen captioning",
    "translation": "translation",
    GAP_GROUP: "unseen grounding gap",
}
# (column stem, axis label) of the prefix / no-prefix emergence metrics.
EMERGENCE_METRICS = (
    ("bleu_unseen", "BLEU (unseen captions)"),
    ("cider_unseen", "CIDEr (unseen captions)"),
    ("lang_share_unseen", "target-language share"),
)
_INIT_STYLE = {1.0: ("o", "scratch"), 2.0: ("s", "pretrained")}


def _save(figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")


def _figure(n_panels: int):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.6 * n_panels, 4.0))
    return figure, figure.subplots(1, n_panels, squeeze=False)[0]


def _log_x(ax) -> None:
    """Log x axis labelled at decades only (minor labels collide over the narrow ranges of small sweeps)."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())


def _t_label(t: float) -> str:
    return _INIT_STYLE.get(float(t), ("^", f"T={t:g}"))[1]


def plot_compute_law(fit: ScalingFit, path: Path) -> None:
    """CE vs training compute per group: all configurations, the Pareto staircase and the fitted compute law."""
    figure, axes = _figure(len(GROUPS))
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
            ax.scatter(
                subset["compute"],
                subset[target],
                marker=marker,
                c=np.log10(subset["params"]),
                cmap="viridis",
                s=28,
                label=label,
                zorder=3,
            )
        frontier = data[pareto_frontier(data["compute"].to_numpy(), data[target].to_numpy())]
        steps_x = [*frontier["compute"], data["compute"].max()]
        steps_y = [*frontier[target], frontier[target].iloc[-1]]
        ax.step(steps_x, steps_y, where="post", color="black", lw=1.2, label="Pareto frontier")
        if group.compute_fit is not None:
            grid = np.geomspace(data["compute"].min(), data["compute"].max(), 100)
            entry = group.entry["compute_law"]
            ax.plot(
                grid,
                group.compute_fit.predict(C=grid)["mean"],
                color="tab:red",
                lw=1.5,
                label=f"{entry['alpha0']:.3g}·C^{entry['alpha1']:.3f}",
            )
        else:
            ax.text(0.02, 0.02, group.entry["compute_law"]["note"], transform=ax.transAxes, fontsize=7)
        ax.legend(fontsize=7)
    _save(figure, path)


def _params_law_panels(fit: ScalingFit) -> list[str]:
    return [name for name in (*GROUPS, GAP_GROUP) if name in fit.groups and "factor_law" in fit.groups[name].entry]


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
        ax.legend(fontsize=7)
    _save(figure, path)


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


def plot_emergence(fit: ScalingFit, path: Path) -> None:
    """Unseen-caption quality with and without the decoder prefix vs params, at the largest S."""
    metrics = emergence_metrics(fit.table)
    if not metrics:
        raise ValueError("no prefix/no-prefix emergence columns (e.g. bleu_unseen_prefix + bleu_unseen_noprefix)")
    figure, axes = _figure(len(metrics))
    s_max = fit.table["seen_samples"].max()
    data = fit.table[fit.table["seen_samples"] == s_max].sort_values("params")
    for ax, (stem, label) in zip(axes, metrics):
        _log_x(ax)
        ax.set(xlabel="parameters P", ylabel=label)
        ax.set_title(f"{label} at S = {s_max:.3g}")
        for t, subset in data.groupby("T"):
            for kind, style in (("prefix", "-"), ("noprefix", ":")):
                column = f"{stem}_{kind}"
                std = subset.get(f"{column}_std", pd.Series(0.0, index=subset.index)).fillna(0)
                ax.errorbar(
                    subset["params"],
                    subset[column],
                    yerr=std,
                    ls=style,
                    marker="o",
                    capsize=3,
                    label=f"{_t_label(t)}, {kind.replace('noprefix', 'no prefix')}",
                )
        ax.legend(fontsize=7)
    _save(figure, path)


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
