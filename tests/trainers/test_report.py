"""The report's sentences come from the numbers in runs.csv and fit.json."""

from __future__ import annotations

import pandas as pd

from trainers.report import emergence_table, grounding_summary


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
    law = {"beta1": 1.5, "beta2": 0.8, "n": 4, "grounded_threshold": 0.05, "left_out_ungrounded": 2}
    fit = {"grounding_gap_unseen": {"factor_law": law}}
    text = grounding_summary(grid, fit)
    assert "seen/unseen" in text
    assert "scenes-xs 0.000/0.000 (seeds: 0.000/0.000, 0.000/0.000), scenes-s 0.040/0.020 (seeds:" in text
    assert "scenes-l 0.800/0.400 (seeds: 0.800/0.400, 0.800/0.400)" in text
    assert "over the 4 configurations whose mean gap exceeds 0.05 nats/token (2 ungrounded ones left out)" in text
    assert "P^1.50" in text and "S^0.80" in text


def test_grounding_summary_says_why_the_gap_law_is_missing():
    text = grounding_summary(_grid({"scenes-xs": 0.0}), {"grounding_gap_unseen": {"note": "0 of 2 are positive"}})
    assert text.endswith("Its law was not fitted: 0 of 2 are positive.")


def test_emergence_table_shows_the_gap_beside_the_generation_metrics():
    table = emergence_table(_grid({"scenes-l": 0.4}))
    header, _, row = table.splitlines()
    assert header.split(" | ")[2:4] == ["grounding gap seen", "grounding gap unseen"]
    assert row.startswith("| scenes-l | 16384 | 0.800 | 0.400 | 10.000 |")


def test_emergence_table_without_generation_metrics_says_so():
    grid = _grid({"scenes-l": 0.4}).drop(columns=["bleu_seen_noprefix"])
    assert emergence_table(grid) == "No generation metrics in runs.csv."
