"""A pretrained vision tower for the from-scratch Scenes presets, standing in for Florence-2's pretrained DaViT.

Florenz freezes a *pretrained* DaViT. Scenes presets have none, and trained from scratch together with
the captioner their DaViT collapses to image-independent features within ~50 steps: captions are then written from
the language prior alone (shuffled-image CE gap 0). A few hundred steps of multi-label attribute prediction
(colours, shapes and sizes present in the scene graph; no language involved) give features the captioner can read;
the tower is then frozen as in the paper. Its compute is not counted in C, as Florence-2's pre-training is not.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from dataset_builder.atomic import atomic_path
from dataset_builder.corpus import ScenesConfig, make_row
from dataset_builder.scenes import COLOURS, SHAPES, SIZES
from modeling_florenz.configuration_florenz import VISION_PREFIXES


def _targets(scene: str) -> torch.Tensor:
    objects = json.loads(scene)["objects"]
    target = torch.zeros(len(COLOURS) + len(SHAPES) + len(SIZES))
    for obj in objects:
        target[COLOURS.index(obj["colour"])] = 1
        target[len(COLOURS) + SHAPES.index(obj["shape"])] = 1
        target[len(COLOURS) + len(SHAPES) + SIZES.index(obj["size"])] = 1
    return target


def pretrain_vision(
    model, processor, corpus: ScenesConfig, steps: int, batch_size: int = 32, lr: float = 1e-3
) -> float:
    """Train vision tower + projector on attribute prediction from training images; returns the last loss."""
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    encoder = model.get_encoder()
    head = torch.nn.Linear(model.config.encoder_config.d_model, len(COLOURS) + len(SHAPES) + len(SIZES))
    params = [p for name, p in model.named_parameters() if name.startswith(VISION_PREFIXES)]
    optimizer = torch.optim.AdamW([*params, *head.parameters()], lr=lr)
    key = corpus.train_keys()[0]  # images depend only on (seed, split, index), not on the key
    model.train()
    loss = torch.tensor(float("nan"))  # returned as a float; steps > 0 always overwrite it
    for step in range(steps):
        rows = [make_row(corpus, "train", key, index) for index in range(step * batch_size, (step + 1) * batch_size)]
        pixels = processor(images=[row["image"] for row in rows], task="caption", language="en")["pixel_values"]
        features = encoder.get_image_features(pixels.to(next(model.parameters()).dtype)).max(dim=1).values
        targets = torch.stack([_targets(row["scene"]) for row in rows])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(features), targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return loss.item()


def load_or_pretrain_vision(model, processor, corpus: ScenesConfig, steps: int, cache: str | Path) -> None:
    """Pretrain once per (tower, seed) and reuse the saved tower: every budget of a size shares the same vision."""
    cache = Path(cache)
    if cache.exists():
        state = load_file(cache)
        missing = model.load_state_dict(state, strict=False)
        if any(k.startswith(VISION_PREFIXES) for k in missing.missing_keys):
            raise ValueError(f"{cache} does not hold this model's vision tower")
        return
    pretrain_vision(model, processor, corpus, steps)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if k.startswith(VISION_PREFIXES)}
    with atomic_path(cache) as tmp:
        save_file(state, tmp)
