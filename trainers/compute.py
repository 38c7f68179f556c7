"""Compute bookkeeping for the scaling study: C = S · F · (1 + P_t / P), the paper's compute.

F is the forward FLOPs of one sample at the training lengths and image size, measured with
`torch.utils.flop_counter` (real FLOPs, i.e. 2 per multiply-add; upstream's fvcore counted MACs). The factor
(1 + P_t/P) approximates the backward pass, which only costs weight gradients for trainable parameters.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode


@torch.no_grad()
def forward_flops_per_sample(model: torch.nn.Module, encoder_length: int, decoder_length: int, image_size: int) -> int:
    """Forward FLOPs for one sample: image of `image_size`², `encoder_length` prompt tokens, `decoder_length` targets."""
    if min(encoder_length, decoder_length, image_size) <= 0:
        raise ValueError(
            f"lengths and image size must be positive, got encoder_length={encoder_length}, "
            f"decoder_length={decoder_length}, image_size={image_size}"
        )
    param = next(model.parameters())
    inputs = {
        "input_ids": torch.full((1, encoder_length), 3, dtype=torch.long, device=param.device),
        "attention_mask": torch.ones(1, encoder_length, dtype=torch.long, device=param.device),
        "pixel_values": torch.zeros(1, 3, image_size, image_size, dtype=param.dtype, device=param.device),
        "decoder_input_ids": torch.full((1, decoder_length), 3, dtype=torch.long, device=param.device),
    }
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            model(**inputs, use_cache=False)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def parameter_counts(model: torch.nn.Module) -> tuple[int, int]:
    """(P, P_t): all parameters and those that receive gradients (tied weights counted once)."""
    unique = {id(p): p for p in model.parameters()}.values()
    total = sum(p.numel() for p in unique)
    trainable = sum(p.numel() for p in unique if p.requires_grad)
    return total, trainable


def training_compute(seen_samples: int, flops_per_sample: int, params: int, trainable_params: int) -> float:
    """C = S · F · (1 + P_t / P)."""
    if params <= 0 or not 0 <= trainable_params <= params:
        raise ValueError(f"need 0 <= trainable_params <= params and params > 0, got {trainable_params}, {params}")
    return float(seen_samples) * float(flops_per_sample) * (1.0 + trainable_params / params)
