"""What the scaling figures show: colour bar, legend, CI band and readable ticks on compute_law.png; size tick labels,
error bars inside the metric's range and no panel of numerical noise on emergence.png."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection

from trainers.plots import plot_compute_law, plot_emergence
from trainers.scaling_laws import GROUPS, GroupFit, ScalingFit, compute_law, seed_means, validate_runs

SIZES = (2e5, 5e5, 1.2e6, 3e6)


def _runs() -> pd.DataFrame:
    """A 4 sizes × 4 budgets × 2 inits × 2 seeds sweep with CEs in a narrow range (under a decade, like a real
    sweep) and unseen-caption metrics whose seed spread exceeds their mean at the small sizes."""
    rng = np.random.default_rng(0)
    rows = []
    for params in SIZES:
        for t, init in ((1.0, "scratch"), (2.0, "pretrained")):
            for samples in (4e3, 8e3, 1.6e4, 3.2e4):
                for seed in range(2):
                    grows = params > 1e6
                    rows.append(
                        {
                            "run_id": f"{params:g}-{init}-{samples:g}-{seed}",
                            "preset": f"p{params:g}-{init}",
                            "decoder_kind": "bart",
                            "tokenizer": "scenes-bpe",
                            "vocab_size": 1024,
                            "experiment": "grid",
                            "decoder_init": init,
                            "seed": seed,
                            "params": params,
                            "trainable_params": params,
                            "seen_samples": samples,
                            "flops_per_sample": 6 * params,
                            "compute": samples * 6 * params * 2,
                            "wall_seconds": 1.0,
                            **{
                                column: scale * params**-0.05 * samples**-0.1 * t**-0.2 * np.exp(rng.normal(0, 0.02))
                                for column, scale in (
                                    ("ce_seen_caption", 9.0),
                                    ("ce_unseen_caption", 12.0),
                                    ("ce_translation", 10.0),
                                )
                            },
                            "bleu_unseen_prefix": rng.uniform(0, 3) + 15 * grows,
                            "bleu_unseen_noprefix": rng.uniform(0, 2) + 8 * grows,
                            "cider_unseen_prefix": rng.uniform(0, 1e-98),  # CIDEr of unrelated text
                            "cider_unseen_noprefix": rng.uniform(0, 1e-98),
                            "lang_share_unseen_prefix": min(1.0, 0.9 + rng.uniform(0, 0.2)),
                            "lang_share_unseen_noprefix": rng.uniform(0, 0.5),
                        }
                    )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def fit():
    """The part of `fit_runs` the two figures read (seed means + compute laws), without its slow Chinchilla fits."""
    table = seed_means(validate_runs(_runs()))
    groups = {}
    for name, target in GROUPS.items():
        group = GroupFit(target)
        group.entry["compute_law"], group.compute_fit = compute_law(
            table["compute"].to_numpy(), table[target].to_numpy()
        )
        groups[name] = group
    return ScalingFit(table, groups, {})


def _visible_tick_labels(ax, which: str) -> list[str]:
    axis = getattr(ax, f"{which}axis")
    low, high = sorted(getattr(ax, f"get_{which}lim")())
    return [tick.label1.get_text() for tick in axis.get_major_ticks() if low <= tick.get_loc() <= high]


def test_compute_law_has_colour_bar_legend_ci_band_and_readable_ticks(fit, tmp_path):
    figure = plot_compute_law(fit, tmp_path / "compute_law.png")
    panels, colour_bar = figure.axes[:3], figure.axes[3:]
    assert len(colour_bar) == 1 and colour_bar[0].get_ylabel() == "parameters P"
    assert [label.get_text() for label in colour_bar[0].get_yticklabels()] == ["200k", "500k", "1.2M", "3M"]
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend == [
        "scratch runs (colour: P)",
        "pretrained runs (colour: P)",
        "Pareto frontier",
        "compute law fitted on the frontier",
        "95% CI of the law",
    ]
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    boxes = [ax.get_tightbbox(canvas.get_renderer()) for ax in panels]
    for left, right in itertools.pairwise(boxes):
        assert left.x1 <= right.x0  # panels, labels included, do not overlap
    for ax in panels:
        assert any(isinstance(c, PolyCollection) for c in ax.collections)  # the CI band
        y_labels = _visible_tick_labels(ax, "y")
        assert len(y_labels) >= 2 and all(y_labels)
        assert not any("10^" in label or "×" in label for label in y_labels), y_labels
        assert all(_visible_tick_labels(ax, "x"))
        assert "C$^{-0." in ax.get_title()


def test_emergence_clips_error_bars_labels_sizes_and_omits_noise(fit, tmp_path):
    figure = plot_emergence(fit, tmp_path / "emergence.png")
    titles = [ax.get_title() for ax in figure.axes]
    assert len(titles) == 2 and not any("CIDEr" in title for title in titles)
    assert "CIDEr (unseen captions): 0 for every run" in figure.get_suptitle()
    ranges = {"BLEU": (0.0, 100.0), "target-language share": (0.0, 1.0)}
    for ax in figure.axes:
        low, high = next(bounds for name, bounds in ranges.items() if ax.get_title().startswith(name))
        assert _visible_tick_labels(ax, "x") == ["200k", "500k", "1.2M", "3M"]
        clipped = 0
        for container in ax.containers:
            mean = np.asarray(container.lines[0].get_ydata(), dtype=float)
            for segment in container.lines[2][0].get_segments():
                bottom, top = sorted(segment[:, 1])
                assert low <= bottom and top <= high + 1e-12
            clipped += int(np.any(mean - _std_of(fit, ax, container) < low))
        assert ax.get_ylim()[0] == low
    assert clipped  # the data has spreads larger than the mean: the test exercises clipping


def _std_of(fit, ax, container) -> np.ndarray:
    """The unclipped seed spread of the series a container draws (found by its legend label)."""
    stem = "bleu_unseen" if ax.get_title().startswith("BLEU") else "lang_share_unseen"
    init, kind = container.get_label().split(", ")
    column = f"{stem}_{'noprefix' if kind == 'no prefix' else 'prefix'}_std"
    table = fit.table[(fit.table["seen_samples"] == fit.table["seen_samples"].max())]
    return table[table["T"] == (2.0 if init == "pretrained" else 1.0)].sort_values("params")[column].to_numpy()


def test_emergence_keeps_a_real_cider_panel(fit, tmp_path):
    table = fit.table.copy()
    for kind in ("prefix", "noprefix"):
        table[f"cider_unseen_{kind}"] = np.linspace(0.05, 0.6, len(table))  # only the figure's table is read
    fit = ScalingFit(table, fit.groups, fit.meta)
    figure = plot_emergence(fit, tmp_path / "emergence.png")
    assert [ax.get_title().split(" at ")[0] for ax in figure.axes] == [
        "BLEU (unseen captions)",
        "CIDEr (unseen captions)",
        "target-language share",
    ]
    assert figure.get_suptitle() == ""
