"""Compute accounting: forward FLOPs, trainable share, C = S·F·(1 + P_t/P)."""

from __future__ import annotations

import pytest

from model_tools.checkpoint_init import build_model_and_processor
from trainers.compute import forward_flops_per_sample, parameter_counts, training_compute


def test_compute_accounting_counts_flops_and_trainable_share():
    model, _ = build_model_and_processor("tiny-bart")
    flops_short = forward_flops_per_sample(model, 8, 8, 64)
    flops_long = forward_flops_per_sample(model, 32, 32, 64)
    assert 0 < flops_short < flops_long
    total, trainable = parameter_counts(model)
    assert total == trainable
    model.apply_freeze_policy("paper")
    total_frozen, trainable_frozen = parameter_counts(model)
    assert total_frozen == total and trainable_frozen < total
    assert training_compute(10, 100, 4, 1) == pytest.approx(10 * 100 * 1.25)
    with pytest.raises(ValueError):
        training_compute(10, 100, 4, 5)
