"""The report's sentences come from the numbers in runs.csv and fit.json."""

from __future__ import annotations

import pandas as pd

from trainers.report import disambiguation_table, emergence_table, grounding_summary, shape_comparison


def _grid(gaps: dict[str, float]) -> pd.DataFrame:
    params = {"scenes-xs": 2e5, "scenes-s": 7e5, "scenes-l": 4.6e6}
    rows = []
    for preset, gap in gaps.items():
        for seen in (4096, 16384):
            for seed in (0, 1):
                rows.append(
                    {
                        "preset": preset,
                        "params": params[preset],
                        "seen_samples": seen,
                        "seed": seed,
                        "ce_gap_seen": 2 * gap if seen == 16384 else -1e-7,
                        "ce_gap_unseen": gap if seen == 16384 else -1e-7,
                        "bleu_seen_noprefix": 10.0,
                    }
                )
    return pd.DataFrame(rows)


def test_grounding_summary_lists_sizes_smallest_first_at_their_largest_budget():
    grid = _grid({"scenes-l": 0.4, "scenes-xs": 0.0001, "scenes-s": 0.02})
    text = grounding_summary(grid)
    assert "seen/unseen" in text
    assert "scenes-xs 0.000/0.000 (seeds: 0.000/0.000, 0.000/0.000), scenes-s 0.040/0.020 (seeds:" in text
    assert "scenes-l 0.800/0.400 (seeds: 0.800/0.400, 0.800/0.400)" in text


def test_shape_comparison_says_not_significant_when_an_interval_crosses_zero():
    grid = _grid({"scenes-xs": 0.01, "scenes-l": 0.4})
    law = {"alpha1": -0.05, "alpha1_ci": [-0.1, -0.01], "alpha1_boot_ci": [-0.12, 0.02], "n": 4}
    law["alpha1_significance"] = "not significant"
    factor = {"beta1": -0.1, "beta1_ci": [-0.2, 0.1], "beta1_significance": "not significant", "n": 8}
    factor.update({"beta2": -0.2, "beta2_ci": [-0.3, -0.1], "beta2_significance": "significant"})
    text = shape_comparison(grid, {"unseen_caption": {"compute_law": law, "factor_law": factor}})
    assert "α1 = -0.050 (OLS 95% CI [-0.100, -0.010], seed-bootstrap 95% CI [-0.120, 0.020], n = 4" in text
    assert "paper −0.15): not significant." in text
    assert "Which of size and samples matters more is not established by these intervals." in text
    assert "matters more here" not in text


def test_disambiguation_table_pools_seeds_with_a_wilson_interval():
    runs = pd.DataFrame(
        {
            "preset": ["scenes-l"] * 2, "seen_samples": [4096] * 2, "seed": [0, 1],
            "acc_disambiguation-fr": [0.75, 0.25], "acc_shuffled_disambiguation-fr": [0.5, 0.5],
            "n_disambiguation-fr": [100, 100],
        }
    )  # fmt: skip
    row = disambiguation_table(runs).splitlines()[-1]
    assert row.startswith("| scenes-l | 4096 | fr | 0.500 [0.43, 0.57] | 0.500 [0.43, 0.57] | 200 |")


def test_emergence_table_shows_the_gap_beside_the_generation_metrics():
    table = emergence_table(_grid({"scenes-l": 0.4}))
    header, _, row = table.splitlines()
    assert header.split(" | ")[2:4] == ["grounding gap seen", "grounding gap unseen"]
    assert row.startswith("| scenes-l | 16384 | 0.800 | 0.400 | 10.000 |")


def test_emergence_table_without_generation_metrics_says_so():
    grid = _grid({"scenes-l": 0.4}).drop(columns=["bleu_seen_noprefix"])
    assert emergence_table(grid) == "No generation metrics in runs.csv."


def test_shape_comparison_gives_the_prefix_effect_per_t_level_of_the_largest_size():
    """Two T levels share the largest size's parameter count: each gets its own numbers, never their pooled mean."""
    grid = _grid({"scenes-xs": 0.0, "scenes-l": 0.4})
    twin = grid[grid.preset == "scenes-l"].assign(preset="scenes-l T=lm6")
    grid = pd.concat([grid.assign(preset=grid.preset + " T=scratch"), twin], ignore_index=True)
    is_lm = grid.preset == "scenes-l T=lm6"
    grid = grid.assign(
        bleu_unseen_noprefix=is_lm.map({True: 3.0, False: 1.0}),
        bleu_unseen_prefix=is_lm.map({True: 0.5, False: 0.25}),
    )
    text = shape_comparison(grid, {})
    assert "(scenes-l T=lm6 at S=16384, 2 seeds) the language prefix changes unseen-caption BLEU by -2.50" in text
    assert "(scenes-l T=scratch at S=16384, 2 seeds) the language prefix changes unseen-caption BLEU by -0.75" in text
