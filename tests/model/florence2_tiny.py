"""Tiny Florence-2 checkpoints in the native (transformers) and original (Microsoft remote-code) layouts.

The original twin is written by an explicit, independent rename (the per-key lists of transformers'
`convert_florence2_original_pytorch_to_hf.py`, inverted), not by the converter's own table.
"""

from __future__ import annotations

import re

import torch

IMAGE = 64  # tiny DaViT: total stride 32 → 2×2 map → 1 + 4 image tokens
NUM_IMAGE_TOKENS = 5
VISION = {
    "embed_dim": [16, 32, 48, 64],
    "num_heads": [1, 2, 3, 4],
    "num_groups": [1, 2, 3, 4],
    "depths": [1, 2, 1, 1],
    "window_size": 2,
    "drop_path_rate": 0.0,
    "projection_dim": 32,
}
BART = {
    "d_model": 32,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 64,
    "decoder_ffn_dim": 64,
    "max_position_embeddings": 128,
    "dropout": 0.1,
}
TEXTS = [
    "The target language is English. What does the image describe?",
    "A red circle is to the left of a blue square. Ein roter Kreis. Un cercle rouge.",
    "Two small green stars above a large yellow heart. На картинке изображен синий квадрат.",
] * 4


def bart_tokenizer():
    from transformers import AddedToken

    from model_tools.tokenizer_training import train_encoder_tokenizer

    tokenizer = train_encoder_tokenizer(TEXTS, 400)
    tokenizer.add_tokens(AddedToken("<image>", special=True, normalized=False), special_tokens=True)
    return tokenizer


# Native → original, written independently of the converter (transformers' converter lists, inverted).
_VISION_RENAMES = [
    (r"convs\.(\d+)\.conv\.", r"convs.\1.proj."),
    (r"(spatial|channel)_block\.conv([12])\.", r"\1_block.conv\2.fn.dw."),
    (r"spatial_block\.norm1\.", "spatial_block.window_attn.norm."),
    (r"spatial_block\.window_attn\.(qkv|proj)\.", r"spatial_block.window_attn.fn.\1."),
    (r"channel_block\.norm1\.", "channel_block.channel_attn.norm."),
    (r"channel_block\.channel_attn\.(qkv|proj)\.", r"channel_block.channel_attn.fn.\1."),
    (r"(spatial|channel)_block\.norm2\.", r"\1_block.ffn.norm."),
    (r"(spatial|channel)_block\.ffn\.(fc[12])\.", r"\1_block.ffn.fn.net.\2."),
]
_PROJECTOR = {
    "model.multi_modal_projector.image_proj_norm.weight": "image_proj_norm.weight",
    "model.multi_modal_projector.image_proj_norm.bias": "image_proj_norm.bias",
    "model.multi_modal_projector.image_position_embed.row_embeddings.weight": "image_pos_embed.row_embeddings.weight",
    "model.multi_modal_projector.image_position_embed.column_embeddings.weight": "image_pos_embed.column_embeddings.weight",
    "model.multi_modal_projector.visual_temporal_embed.pos_idx_to_embed": "visual_temporal_embed.pos_idx_to_embed",
}


def twin_state(native: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    original = {}
    for key, tensor in native.items():
        if key.startswith("model.vision_tower."):
            new = key.removeprefix("model.")
            for pattern, repl in _VISION_RENAMES:
                new = re.sub(pattern, repl, new)
        elif key == "model.multi_modal_projector.image_projection.weight":
            new, tensor = "image_projection", tensor.t()
        elif key in _PROJECTOR:
            new = _PROJECTOR[key]
        elif key.startswith("model.language_model."):
            new = "language_model.model." + key.removeprefix("model.language_model.")
        else:
            raise AssertionError(f"unexpected native key {key}")
        original[new] = tensor.clone().contiguous()
    shared = native["model.language_model.shared.weight"]
    original["language_model.lm_head.weight"] = shared.clone()
    original["language_model.final_logits_bias"] = torch.zeros(1, shared.shape[0])
    return original


def twin_config(native_config: dict) -> dict:
    vision, text = native_config["vision_config"], native_config["text_config"]
    return {
        "model_type": "florence2",
        "architectures": ["Florence2ForConditionalGeneration"],
        "auto_map": {
            "AutoConfig": "configuration_florence2.Florence2Config",
            "AutoModelForCausalLM": "modeling_florence2.Florence2ForConditionalGeneration",
        },
        "projection_dim": vision["projection_dim"],
        "vocab_size": text["vocab_size"],
        "vision_config": {
            "model_type": "davit",
            "dim_embed": vision["embed_dim"],
            "num_heads": vision["num_heads"],
            "num_groups": vision["num_groups"],
            "depths": vision["depths"],
            "window_size": vision["window_size"],
            "drop_path_rate": vision["drop_path_rate"],
            "patch_size": vision["patch_size"],
            "patch_stride": vision["patch_stride"],
            "patch_padding": vision["patch_padding"],
            "patch_prenorm": vision["patch_prenorm"],
            "projection_dim": vision["projection_dim"],
            "enable_checkpoint": False,
            "visual_temporal_embedding": {
                "type": "COSINE",
                "max_temporal_embeddings": vision["max_temporal_embeddings"],
            },
            "image_pos_embed": {"type": "learned_abs_2d", "max_pos_embeddings": vision["max_position_embeddings"]},
            "image_feature_source": ["spatial_avg_pool", "temporal_avg_pool"],
        },
        "text_config": {
            **text,
            "model_type": "florence2_language",
            "add_bias_logits": False,
            "normalize_before": False,
        },
    }
