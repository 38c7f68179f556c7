"""FlorenzPretrainConfig validation and defaults."""

from __future__ import annotations

import pytest

from trainers.config import FlorenzPretrainConfig


def test_config_rejects_bad_values(tmp_path):
    with pytest.raises(ValueError, match="balancing"):
        FlorenzPretrainConfig(output_dir=str(tmp_path), balancing="nope", use_cpu=True)
    with pytest.raises(ValueError, match="freeze_policy"):
        FlorenzPretrainConfig(output_dir=str(tmp_path), freeze_policy="nope", use_cpu=True)
    with pytest.raises(ValueError, match="multiple of the global batch"):
        FlorenzPretrainConfig(output_dir=str(tmp_path), seen_samples=100, per_device_train_batch_size=32, use_cpu=True)
    config = FlorenzPretrainConfig(
        output_dir=str(tmp_path), seen_samples=96, per_device_train_batch_size=32, use_cpu=True
    )
    assert config.max_steps == 3
    assert (config.learning_rate, config.weight_decay, config.lr_scheduler_type) == (1e-4, 0.01, "cosine")
