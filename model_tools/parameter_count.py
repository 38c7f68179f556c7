"""Parameter totals of Florenz presets, counted on the meta device (no memory, 11.2B in seconds)."""

from __future__ import annotations

from typing import Any

import torch

from modeling_florenz.configuration_florenz import FlorenzConfig
from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration


def count_parameters(preset: str | FlorenzConfig, policy: str = "paper", **overrides: Any) -> dict[str, int]:
    """`{"total_params", "trainable_params"}` of a preset (or config) under a freeze policy; tied weights count once."""
    config = preset if isinstance(preset, FlorenzConfig) else FlorenzConfig.from_preset(preset, **overrides)
    with torch.device("meta"):
        model = FlorenzForConditionalGeneration(config)
    return model.apply_freeze_policy(policy)
