"""Vision-tower pretraining for the Scenes presets: it learns, caches once, and touches only the vision side."""

from __future__ import annotations

import pytest
import torch

from dataset_builder.corpus import ScenesConfig
from model_tools.checkpoint_init import build_model_and_processor
from trainers.vision_pretraining import VISION_PREFIXES, load_or_pretrain_vision, pretrain_vision

CORPUS = ScenesConfig(image_size=64)


def test_attribute_loss_falls_below_chance():
    torch.manual_seed(0)
    model, processor = build_model_and_processor("tiny-bart", image_size=64)
    # multi-hot BCE of an untrained head is ln 2 ≈ 0.693 per label
    assert pretrain_vision(model, processor, CORPUS, steps=40, batch_size=16) < 0.6
    with pytest.raises(ValueError, match="positive"):
        pretrain_vision(model, processor, CORPUS, steps=0)


def test_pretrained_tower_is_cached_and_only_vision_weights_change(tmp_path):
    cache = tmp_path / "vision" / "tiny__seed0.safetensors"
    first, processor = build_model_and_processor("tiny-bart", image_size=64, seed=0)
    before = {k: v.clone() for k, v in first.state_dict().items()}
    load_or_pretrain_vision(first, processor, CORPUS, steps=3, cache=cache)
    after = first.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(VISION_PREFIXES) for k in changed)
    assert cache.exists()

    second, _ = build_model_and_processor("tiny-bart", image_size=64, seed=1)
    load_or_pretrain_vision(second, processor, CORPUS, steps=3, cache=cache)  # loads, does not retrain
    for name, value in second.state_dict().items():
        if name.startswith("model.vision_tower."):  # the tower is shared; each model keeps its own projector
            assert torch.equal(value, after[name]), name


def test_all_grid_sizes_share_one_tower_and_the_nano_pair_shares_its_own():
    from trainers.scenes_presets import SCENES_PRESETS, SHARED_TOWER, vision_tower_name

    nano, scratch = SCENES_PRESETS["scenes-nano"], SCENES_PRESETS["scenes-nano-scratch"]
    assert vision_tower_name("scenes-nano-scratch") == "scenes-nano"
    assert (scratch["vision"], scratch["encoder"]) == (nano["vision"], nano["encoder"])  # the tower fits both
    grid = [name for name in SCENES_PRESETS if not name.startswith("scenes-nano")]
    assert {vision_tower_name(name) for name in grid} == {SHARED_TOWER}
    widths = {tuple(SCENES_PRESETS[name]["vision"]["embed_dim"]) for name in grid}
    assert len(widths) == 1  # one tower architecture, so one cached tower loads into every size
    for own in ("scenes-nano", "tiny-bart"):  # tiny-bart: not a Scenes preset
        assert vision_tower_name(own) == own


def test_pretraining_touches_the_tower_only():
    cache_model, processor = build_model_and_processor("tiny-bart", image_size=64, seed=0)
    before = {k: v.clone() for k, v in cache_model.state_dict().items()}
    pretrain_vision(cache_model, processor, CORPUS, steps=2, batch_size=4)
    changed = {k for k, v in cache_model.state_dict().items() if not torch.equal(before[k], v)}
    assert changed and all(k.startswith("model.vision_tower.") for k in changed)
