"""Model presets for the CPU scaling sweep on Florenz-Scenes (data, not code paths).

`scenes-xs` … `scenes-xl` use the BART decoder kind, `…-gemma` the Gemma-3 decoder kind with gated cross-attention;
both start from scratch and use small BPE tokenizers trained on the corpus text of all six languages. `scenes-nano`
is `florenz-nano` (the real Gemma-3 270M decoder and its tokenizer) and `scenes-nano-scratch` its randomly
initialised twin (same shapes, same Gemma tokenizer): the pair spans the "initial multilinguality" axis T.

Vision: 96 px images by default (`SCENES_IMAGE_SIZE`; a run's `image_size` replaces it) and a DaViT whose last stage keeps stride 1 (strides 4·2·2·1 = 16) → a 6×6 grid, 37 image
tokens, so that shape recognition is not the bottleneck. No pretrained vision tower exists
offline: with `vision_pretraining_steps` (as the experiment plans set it) one DaViT per seed, shared by every grid size,
is first pretrained on scene attributes and then frozen as in the paper, and each size's projector learns with the
captioner; otherwise the vision side trains with the rest (`train_vision`).
Decoders trained from scratch train everything else (freeze policy "all"); both members of the nano pair keep the
paper's policy (only cross-attention, gates, their norms and the embeddings learn inside Gemma), so the pair differs
in the values of the frozen decoder weights only — pretrained or random.

The rule lr = 1e-3 · (128 / d)^0.75 (a width scaling that keeps the widest sizes from training too hot at the small
sizes' rate; docs/architecture.md lists the measurement behind it) is the unit of `florenz experiment`'s learning-rate
sweep, which picks the grid's rate per (size, T level) from data; the nano pair uses 3e-4.
"""

from __future__ import annotations

import copy
from typing import Any

from modeling_florenz.configuration_florenz import ENCODER_TOKEN_IDS, FLORENZ_PRESETS, FlorenzConfig

SCENES_IMAGE_SIZE = 96
_STRIDES = [4, 2, 2, 1]

# name -> width, encoder/decoder layers, heads, vision stage widths
# One DaViT for every grid size (stage widths): the sizes differ in their language model only, as the paper's sizes
# share a pretrained Florence-2 tower; each size's projector maps the tower's width to its own.
SHARED_VISION = [16, 32, 64, 96]
SHARED_TOWER = "scenes-shared"
_SIZES: dict[str, dict[str, Any]] = {
    "scenes-xs": {"d": 32, "enc": 1, "dec": 1, "heads": 2, "vision": SHARED_VISION},
    "scenes-s": {"d": 64, "enc": 2, "dec": 2, "heads": 4, "vision": SHARED_VISION},
    "scenes-m": {"d": 128, "enc": 2, "dec": 2, "heads": 4, "vision": SHARED_VISION},
    "scenes-l": {"d": 192, "enc": 3, "dec": 3, "heads": 6, "vision": SHARED_VISION},
    "scenes-xl": {"d": 256, "enc": 4, "dec": 4, "heads": 8, "vision": SHARED_VISION},
}
_NO_DROPOUT = {"dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0}
# Decoder kinds are the tiny model presets' (model type, Gemma token ids, …) at Scenes sizes.
_BART_TEMPLATE = FLORENZ_PRESETS["tiny-bart"]["text"]
_GEMMA_TEMPLATE = FLORENZ_PRESETS["tiny-gemma3"]["text"]
_START_ID = {"decoder_start_token_id": FlorenzConfig.decoder_start_token_id}


def _vision(widths: list[int], projection_dim: int) -> dict[str, Any]:
    heads = [max(1, w // 16) for w in widths]
    return {
        "embed_dim": widths,
        "num_heads": heads,
        "num_groups": heads,
        "depths": [1, 1, 1, 1],
        "patch_stride": _STRIDES,
        "window_size": 6,
        "drop_path_rate": 0.0,
        "projection_dim": projection_dim,
    }


def _encoder(size: dict[str, Any]) -> dict[str, Any]:
    d = size["d"]
    return {
        "d_model": d,
        "encoder_layers": size["enc"],
        "decoder_layers": 0,
        "encoder_attention_heads": size["heads"],
        "encoder_ffn_dim": 4 * d,
        "max_position_embeddings": 256,
        "scale_embedding": True,
        **_NO_DROPOUT,
    }


def _bart_decoder(size: dict[str, Any]) -> dict[str, Any]:
    d = size["d"]
    return {
        **_BART_TEMPLATE,
        "d_model": d,
        "decoder_layers": size["dec"],
        "decoder_attention_heads": size["heads"],
        "decoder_ffn_dim": 4 * d,
        "max_position_embeddings": 256,
        "scale_embedding": True,
        **_NO_DROPOUT,
        **_START_ID,
    }


def _gemma_decoder(size: dict[str, Any]) -> dict[str, Any]:
    d, heads = size["d"], size["heads"]
    return {
        **{key: value for key, value in _GEMMA_TEMPLATE.items() if key != "rope_parameters"},
        "hidden_size": d,
        "intermediate_size": 4 * d,
        "num_hidden_layers": size["dec"],
        "num_attention_heads": heads,
        "num_key_value_heads": max(1, heads // 2),
        "head_dim": d // heads,
        "query_pre_attn_scalar": d // heads,
        "sliding_window": 512,
        "layer_types": ["full_attention"] * size["dec"],
        "max_position_embeddings": 256,
        **_START_ID,
    }


def _build_presets() -> dict[str, dict[str, Any]]:
    presets: dict[str, dict[str, Any]] = {}
    for name, size in _SIZES.items():
        parts = {"vision": _vision(size["vision"], size["d"]), "encoder": _encoder(size)}
        scratch = {
            "decoder_init": "scratch",
            "tokenizer": "scenes",
            "freeze_policy": "all",
            "width": size["d"],
            "vision_tower": SHARED_TOWER,
        }
        presets[name] = {**parts, "text": _bart_decoder(size), **scratch}
        presets[f"{name}-gemma"] = {**parts, "text": _gemma_decoder(size), **scratch}
    nano = copy.deepcopy(FLORENZ_PRESETS["florenz-nano"])
    nano["vision"] = {**nano["vision"], "patch_stride": _STRIDES, "window_size": 6}
    width = nano["text"]["hidden_size"]
    presets["scenes-nano"] = {
        **nano,
        "decoder_init": "pretrained",
        "tokenizer": "gemma3",
        "freeze_policy": "paper",
        "width": width,
    }
    presets["scenes-nano-scratch"] = {
        **copy.deepcopy(nano),
        "decoder_init": "scratch",
        "tokenizer": "gemma3",
        "freeze_policy": "paper",
        "width": width,
        "vision_tower": "scenes-nano",
    }
    return presets


SCENES_PRESETS = _build_presets()


def learning_rate_for(name: str) -> float:
    """The per-size learning rate rule of the module docstring."""
    preset = SCENES_PRESETS[name]
    if preset["tokenizer"] == "gemma3":  # the nano pair: one rate, as both train the same parameters
        return 3e-4
    return 1e-3 * (128 / preset["width"]) ** 0.75


def vision_tower_name(name: str) -> str:
    """Whose pretrained vision tower a preset uses: every grid size the shared one, the scratch nano twin
    scenes-nano's, so sizes differ in their language model only and the nano pair only in its decoder."""
    return SCENES_PRESETS.get(name, {}).get("vision_tower", name)


def scenes_config(name: str, encoder_vocab_size: int, text_vocab_size: int | None = None) -> FlorenzConfig:
    """The FlorenzConfig of a Scenes preset with vocabularies sized to its tokenizers."""
    if name not in SCENES_PRESETS:
        raise ValueError(f"unknown Scenes preset {name!r}; allowed: {sorted(SCENES_PRESETS)}")
    preset = copy.deepcopy(SCENES_PRESETS[name])
    preset["encoder"]["vocab_size"] = encoder_vocab_size
    if text_vocab_size is not None:
        preset["text"]["vocab_size"] = text_vocab_size
    encoder = {**preset["encoder"], **ENCODER_TOKEN_IDS}
    return FlorenzConfig(vision_config=preset["vision"], encoder_config=encoder, text_config=preset["text"])
