"""A pretrained vision tower for the from-scratch Scenes presets, standing in for Florence-2's pretrained DaViT.

One tower per seed serves every grid size (`scenes_presets.vision_tower_name`), so "size" means the language model
only and not also a better vision tower; each size's projector (tower width → model width) is the adapter that
learns with the captioner.

Florenz freezes a *pretrained* DaViT (reference §5). Scenes presets have none, and trained from scratch together with
the captioner their DaViT collapses to image-independent features within ~50 steps: captions are then written from
the language prior alone (shuffled-image CE gap 0). A few hundred steps of multi-label attribute prediction
(colours, shapes and sizes present in the scene graph; no language involved) give features the captioner can read;
the tower is then frozen as in the paper. Its compute is not counted in the paper's C (Florence-2's pre-training is not
either) but is reported next to it (`pretraining_compute`), so fits can be checked with all compute included.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from dataset_builder.corpus import ScenesConfig, make_row
from dataset_builder.scenes import COLOURS, SHAPES, SIZES

VISION_PREFIXES = ("model.vision_tower.", "model.multi_modal_projector.")
TOWER_PREFIX = "model.vision_tower."


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
    """Train the vision tower on attribute prediction from training images (a linear head on its max-pooled
    features, discarded afterwards); returns the last loss. The projector is left as it is."""
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    tower = model.get_encoder().vision_tower
    dtype = next(model.parameters()).dtype
    key = corpus.train_keys()[0]  # images depend only on (seed, split, index), not on the key

    def features(rows) -> torch.Tensor:
        pixels = processor(images=[row["image"] for row in rows], task="caption", language="en")["pixel_values"]
        hidden = tower(pixels.to(dtype)).last_hidden_state  # (batch, channels, height, width)
        return hidden.flatten(2).max(dim=2).values

    with torch.no_grad():
        width = features([make_row(corpus, "train", key, 0)]).shape[-1]
    head = torch.nn.Linear(width, len(COLOURS) + len(SHAPES) + len(SIZES))
    params = [p for name, p in model.named_parameters() if name.startswith(TOWER_PREFIX)]
    optimizer = torch.optim.AdamW([*params, *head.parameters()], lr=lr)
    model.train()
    loss = torch.tensor(float("nan"))  # returned as a float; steps > 0 always overwrite it
    for step in range(steps):
        rows = [make_row(corpus, "train", key, index) for index in range(step * batch_size, (step + 1) * batch_size)]
        targets = torch.stack([_targets(row["scene"]) for row in rows])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(features(rows)), targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return loss.item()


@torch.no_grad()
def pretraining_compute(model, image_size: int, steps: int, batch_size: int = 32) -> float:
    """FLOPs of `pretrain_vision`: steps · batch · 3 · forward FLOPs of the tower (backward ≈ 2× forward)."""
    from torch.utils.flop_counter import FlopCounterMode

    if steps <= 0:
        return 0.0
    param = next(model.parameters())
    pixels = torch.zeros(1, 3, image_size, image_size, dtype=param.dtype, device=param.device)
    with FlopCounterMode(display=False) as counter:
        model.get_encoder().vision_tower(pixels)
    return 3.0 * steps * batch_size * counter.get_total_flops()


def load_or_pretrain_vision(model, processor, corpus: ScenesConfig, steps: int, cache: str | Path) -> None:
    """Pretrain once per (tower, seed) and reuse the saved tower: every size and budget of a seed sees the same one."""
    cache = Path(cache)
    if cache.exists():
        state = load_file(cache)
        missing = model.load_state_dict(state, strict=False)
        if any(k.startswith(TOWER_PREFIX) for k in missing.missing_keys):
            raise ValueError(f"{cache} does not hold this model's vision tower")
        return
    pretrain_vision(model, processor, corpus, steps)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if k.startswith(TOWER_PREFIX)}
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    save_file(state, tmp)
    tmp.replace(cache)
