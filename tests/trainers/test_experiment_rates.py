"""`florenz experiment --lr-sweep`: the grid's rate per size comes from the sweep, chosen without the unseen outcome."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest

from trainers.experiment import _check_grid_rates, chosen_learning_rates
from trainers.report import lr_sweep_table


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)


def _sweep_row(preset, lr, seen_ce, translation_ce, unseen_ce, seed=0, t=0):
    return {"experiment": "lr_sweep", "preset": preset, "seen_samples": 6144, "seed": seed, "learning_rate": lr,
            "lm_languages": t, "ce_seen_caption": seen_ce, "ce_translation": translation_ce,
            "ce_unseen_caption": unseen_ce}  # fmt: skip


def test_the_sweep_picks_by_trained_distributions_never_by_the_unseen_outcome(tmp_path):
    rows = [
        _sweep_row("scenes-xs", 1e-3, 1.5, 1.7, 5.0),  # best unseen CE: must not be picked for it
        _sweep_row("scenes-xs", 2e-3, 1.2, 1.4, 6.0),
        _sweep_row("scenes-l", 4e-4, 1.0, 1.0, 6.0),
        _sweep_row("scenes-l", 8e-4, 0.9, 1.2, 6.0),  # lower seen CE but higher mean with translation
        _sweep_row("scenes-l", 4e-4, 1.0, 1.0, 6.0, seed=1),
        _sweep_row("scenes-l", 4e-4, 1.0, 1.0, 6.0, t=6),  # each T level gets its own rate
        _sweep_row("scenes-l", 8e-4, 0.8, 0.9, 6.0, t=6),
    ]
    _write(tmp_path / "lr_sweep" / "runs.csv", rows)
    picked = {("scenes-xs", 0): 2e-3, ("scenes-l", 0): 4e-4, ("scenes-l", 6): 8e-4}
    assert chosen_learning_rates(tmp_path) == picked
    _write(
        tmp_path / "runs.csv", [{"experiment": "grid", "preset": "scenes-xs", "learning_rate": 1e-3, "lm_languages": 0}]
    )
    table = lr_sweep_table(tmp_path)
    assert "| scenes-xs | scratch | 6144 | 0.002 | 1 | 1.200 | 1.400 | 6.000 | ✓ |  |" in table
    assert "| scenes-xs | scratch | 6144 | 0.001 | 1 | 1.500 | 1.700 | 5.000 |  | ✓ |" in table
    assert "| scenes-l | scratch | 6144 | 0.0004 | 2 | 1.000 | 1.000 | 6.000 | ✓ |  |" in table
    assert "| scenes-l | lm6 | 6144 | 0.0008 | 1 | 0.800 | 0.900 | 6.000 | ✓ |  |" in table


def test_a_grid_trained_at_other_rates_is_not_extended_at_the_swept_ones(tmp_path):
    table = tmp_path / "runs.csv"
    _write(table, [{"experiment": "grid", "preset": "scenes-xs", "learning_rate": 1e-3, "lm_languages": 0},
                   {"experiment": "grid", "preset": "scenes-xs", "learning_rate": 4e-3, "lm_languages": 6},
                   {"experiment": "nano", "preset": "scenes-nano", "learning_rate": 3e-4}])  # fmt: skip
    # Same rates (per T level); nano is not the grid.
    _check_grid_rates(table, {("scenes-xs", 0): 1.0000001e-3, ("scenes-xs", 6): 4e-3, ("scenes-nano", 0): 1e-2})
    with pytest.raises(ValueError, match=r"scenes-xs', 6.*use a new --out"):
        _check_grid_rates(table, {("scenes-xs", 0): 1e-3, ("scenes-xs", 6): 1e-3})


def test_no_sweep_means_no_choice(tmp_path):
    with pytest.raises(ValueError, match="run the sweep first"):
        chosen_learning_rates(tmp_path)


def _fake_sweep(optimum: dict, tried: list):
    """A stand-in for `run_sweep` whose seen and translation CE are a parabola in log2(rate) with its minimum at
    `optimum[(preset, T level)]` (rates above 16× the optimum diverge: NaN)."""

    def run_sweep(out, presets, samples, seeds, learning_rates, lm_languages, **_):
        rows = pd.read_csv(out / "runs.csv").to_dict("records") if (out / "runs.csv").exists() else []
        for preset, lr, k in itertools.product(presets, learning_rates, lm_languages):
            tried.append((preset, k, lr))
            ce = 1 + math.log2(lr / optimum[preset, k]) ** 2 if lr < 16 * optimum[preset, k] else math.nan
            rows.append({**_sweep_row(preset, lr, ce, ce, 6.0, t=k), "seen_samples": samples[0]})
        _write(out / "runs.csv", rows)

    return run_sweep


def test_the_sweep_extends_its_range_until_the_best_rate_is_bracketed(tmp_path, monkeypatch):
    from trainers import experiment
    from trainers.scenes_presets import learning_rate_for

    rule = learning_rate_for("scenes-xs")
    plan = experiment.ExperimentPlan("test", ("scenes-xs",), (64,), (0,), (), 0, (), lr_samples=64,
                                     lr_factors=(2.0, 4.0), lr_max_rates=4, lm_languages=(0, 6))  # fmt: skip
    optimum = {("scenes-xs", 0): 4 * rule, ("scenes-xs", 6): 0.25 * rule}  # bracketed at once; beyond the cap
    tried = []
    monkeypatch.setattr(experiment, "_prepare", lambda *_: (plan, tmp_path, {}))
    monkeypatch.setattr(experiment, "run_sweep", _fake_sweep(optimum, tried))
    experiment.run_lr_sweep("test", tmp_path)
    factors = {k: sorted({round(lr / rule, 3) for p, t, lr in tried if t == k}) for k in (0, 6)}
    assert factors[0] == [2.0, 4.0, 8.0]  # 4× best of 2×/4× at the top edge: one step up shows 8× is worse
    assert factors[6] == [0.5, 1.0, 2.0, 4.0]  # walks down to the cap of 4 rates and stops there
    picked = experiment.chosen_learning_rates(tmp_path)
    assert picked == pytest.approx(
        {("scenes-xs", 0): 4 * rule, ("scenes-xs", 6): 0.5 * rule}, rel=1e-5
    )  # rates have 8 decimals
    table = lr_sweep_table(tmp_path)
    assert "picked at an edge of the tried range (the optimum may lie beyond): scenes-xs T=lm6." in table


def test_a_diverged_rate_is_the_worst_not_a_missing_one(tmp_path):
    rows = [_sweep_row("scenes-xs", 1e-3, 1.5, 1.7, 5.0), _sweep_row("scenes-xs", 4e-3, math.nan, math.nan, 9.0)]
    _write(tmp_path / "lr_sweep" / "runs.csv", rows)
    assert chosen_learning_rates(tmp_path) == {("scenes-xs", 0): 1e-3}
