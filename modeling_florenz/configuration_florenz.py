"""Florenz configuration: Florence-2 DaViT vision tower + BART text encoder + a decoder speaking the Gemma vocabulary.

Hub remote code: flat file, imports only torch/transformers/stdlib.
"""

from __future__ import annotations

import copy
from typing import Any

from transformers import AutoConfig
from transformers.configuration_utils import PreTrainedConfig, SubConfigSpec
from transformers.models.florence2.configuration_florence2 import Florence2VisionConfig

# The decoder kinds `FlorenzModel` can build, named by their text_config.model_type.
DECODER_KINDS = ("bart", "gemma2", "gemma3_text")

# Parameter-name prefixes of the vision tower and its projector: the part Florenz keeps frozen.
VISION_PREFIXES = ("model.vision_tower.", "model.multi_modal_projector.")

# Final logit soft-cap the original code hard-codes for BART decoders (Gemma-2 style, 30·tanh(z/30)).
BART_FINAL_LOGIT_SOFTCAPPING = 30.0

_DAVIT_BASE = {
    "embed_dim": [128, 256, 512, 1024],
    "num_heads": [4, 8, 16, 32],
    "num_groups": [4, 8, 16, 32],
    "depths": [1, 1, 9, 1],
    "window_size": 12,
    "drop_path_rate": 0.1,
}
_DAVIT_LARGE = {
    "embed_dim": [256, 512, 1024, 2048],
    "num_heads": [8, 16, 32, 64],
    "num_groups": [8, 16, 32, 64],
    "depths": [1, 1, 9, 1],
    "window_size": 12,
    "drop_path_rate": 0.1,
}
_BART_BASE = {
    "d_model": 768,
    "encoder_layers": 6,
    "decoder_layers": 6,
    "encoder_attention_heads": 12,
    "decoder_attention_heads": 12,
    "encoder_ffn_dim": 3072,
    "decoder_ffn_dim": 3072,
    "max_position_embeddings": 1024,
    "dropout": 0.1,
    "attention_dropout": 0.1,
    "activation_dropout": 0.1,
    "scale_embedding": False,
}
_BART_LARGE = {
    **_BART_BASE,
    "d_model": 1024,
    "encoder_layers": 12,
    "decoder_layers": 12,
    "encoder_attention_heads": 16,
    "decoder_attention_heads": 16,
    "encoder_ffn_dim": 4096,
    "decoder_ffn_dim": 4096,
    "max_position_embeddings": 4096,
}
# Encoder side always uses the Florence-2 BART tokenizer ids.
ENCODER_TOKEN_IDS = {"pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "decoder_start_token_id": 2}
# Decoder side always uses Gemma ids.
_DECODER_IDS = {"pad_token_id": 0, "eos_token_id": 1, "bos_token_id": 2}
_GEMMA2_COMMON = {
    "model_type": "gemma2",
    "vocab_size": 256000,
    "head_dim": 256,
    "query_pre_attn_scalar": 256,
    "sliding_window": 4096,
    "attn_logit_softcapping": 50.0,
    "final_logit_softcapping": 30.0,
    "rms_norm_eps": 1e-6,
    "max_position_embeddings": 8192,
    **_DECODER_IDS,
}
_GEMMA3_270M = {
    "model_type": "gemma3_text",
    "vocab_size": 262144,
    "hidden_size": 640,
    "intermediate_size": 2048,
    "num_hidden_layers": 18,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "head_dim": 256,
    "query_pre_attn_scalar": 256,
    "sliding_window": 512,
    "layer_types": (["sliding_attention"] * 5 + ["full_attention"]) * 3,
    "rope_parameters": {
        "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
        "full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
    },
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "hidden_activation": "gelu_pytorch_tanh",
    "attn_logit_softcapping": None,
    "final_logit_softcapping": None,
    **_DECODER_IDS,
}
_TINY_VISION = {
    "embed_dim": [16, 32, 48, 64],
    "num_heads": [1, 2, 3, 4],
    "num_groups": [1, 2, 3, 4],
    "depths": [1, 1, 1, 1],
    "window_size": 2,
    "drop_path_rate": 0.0,
    "projection_dim": 32,
}
_TINY_ENCODER = {
    "d_model": 32,
    "encoder_layers": 2,
    "encoder_attention_heads": 4,
    "encoder_ffn_dim": 64,
    "decoder_layers": 0,
    "max_position_embeddings": 128,
    "vocab_size": 512,
    "dropout": 0.0,
    "attention_dropout": 0.0,
    "activation_dropout": 0.0,
}
_TINY_GEMMA = {
    "vocab_size": 512,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "query_pre_attn_scalar": 8,
    "sliding_window": 4,
    "max_position_embeddings": 256,
    **_DECODER_IDS,
}

# Named presets: pure data. "vision" -> Florence2VisionConfig kwargs, "encoder" -> BartConfig kwargs,
# "text" -> decoder config kwargs (model_type selects the decoder kind).
FLORENZ_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "florenz-0.4b": {
        "vision": {**_DAVIT_BASE, "projection_dim": 768},
        "encoder": {**_BART_BASE, "vocab_size": 51328},
        "text": {"model_type": "bart", **_BART_BASE, "vocab_size": 257024, **_DECODER_IDS},
    },
    "florenz-1.0b": {
        "vision": {**_DAVIT_LARGE, "projection_dim": 1024},
        "encoder": {**_BART_LARGE, "vocab_size": 51328},
        "text": {"model_type": "bart", **_BART_LARGE, "vocab_size": 257024, **_DECODER_IDS},
    },
    "florenz-3.5b": {
        "vision": {**_DAVIT_LARGE, "projection_dim": 1024},
        "encoder": {**_BART_LARGE, "vocab_size": 51289},
        "text": {
            **_GEMMA2_COMMON,
            "hidden_size": 2304,
            "intermediate_size": 9216,
            "num_hidden_layers": 26,
            "num_attention_heads": 8,
            "num_key_value_heads": 4,
        },
    },
    "florenz-11.2b": {
        "vision": {**_DAVIT_LARGE, "projection_dim": 1024},
        "encoder": {**_BART_LARGE, "vocab_size": 51289},
        "text": {
            **_GEMMA2_COMMON,
            "hidden_size": 3584,
            "intermediate_size": 14336,
            "num_hidden_layers": 42,
            "num_attention_heads": 16,
            "num_key_value_heads": 8,
        },
    },
    "florenz-nano": {
        "vision": {
            "embed_dim": [64, 128, 192, 256],
            "num_heads": [2, 4, 6, 8],
            "num_groups": [2, 4, 6, 8],
            "depths": [1, 1, 2, 1],
            "window_size": 12,
            "drop_path_rate": 0.0,
            "projection_dim": 256,
        },
        "encoder": {
            **_BART_BASE,
            "d_model": 256,
            "encoder_layers": 4,
            "decoder_layers": 0,
            "encoder_attention_heads": 4,
            "encoder_ffn_dim": 1024,
            "vocab_size": 8192,
        },
        "text": _GEMMA3_270M,
    },
    "tiny-bart": {
        "vision": _TINY_VISION,
        "encoder": _TINY_ENCODER,
        "text": {
            "model_type": "bart",
            "d_model": 32,
            "encoder_layers": 0,
            "decoder_layers": 2,
            "decoder_attention_heads": 4,
            "decoder_ffn_dim": 64,
            "max_position_embeddings": 128,
            "vocab_size": 512,
            "dropout": 0.0,
            "attention_dropout": 0.0,
            "activation_dropout": 0.0,
            **_DECODER_IDS,
        },
    },
    "tiny-gemma2": {
        "vision": _TINY_VISION,
        "encoder": _TINY_ENCODER,
        "text": {
            "model_type": "gemma2",
            **_TINY_GEMMA,
            "attn_logit_softcapping": 50.0,
            "final_logit_softcapping": 30.0,
        },
    },
    "tiny-gemma3": {
        "vision": _TINY_VISION,
        "encoder": _TINY_ENCODER,
        "text": {
            "model_type": "gemma3_text",
            **_TINY_GEMMA,
            "num_hidden_layers": 3,
            "num_key_value_heads": 1,
            "layer_types": ["sliding_attention", "sliding_attention", "full_attention"],
            "rope_parameters": {
                "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                "full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
            },
        },
    },
}


class FlorenzConfig(PreTrainedConfig):
    r"""
    Composite configuration of a Florenz encoder-decoder VLM.

    vision_config (`Florence2VisionConfig` or `dict`): DaViT backbone; `projection_dim` must equal the encoder width.
    encoder_config (`BartConfig` or `dict`): the BART text encoder (only its encoder half is built).
    text_config (`BartConfig`, `Gemma2Config`, `Gemma3TextConfig` or `dict`): the decoder. Named `text_config` so that
        `get_text_config(decoder=True)` (generation caches, vocab size, Trainer token alignment) reads the decoder.
    final_logit_softcapping (`float`, *optional*): soft-cap of the output logits. BART decoders default to 30 (as the
        original code hard-codes); Gemma decoders always use their `text_config.final_logit_softcapping`.
    image_size (`int`, *optional*): side of the square images `forward` accepts (the processor's size); `None`
        accepts any square size. Change it together with the processor's size to train or run at another size.
    """

    model_type = "florenz"
    sub_configs_defaults = {
        "vision_config": Florence2VisionConfig,
        "encoder_config": SubConfigSpec(config_class=AutoConfig, model_type="bart"),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="bart"),
    }

    vision_config: dict | PreTrainedConfig | None = None
    encoder_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    final_logit_softcapping: float | None = None
    image_size: int | None = None
    initializer_range: float = 0.02
    pad_token_id: int = 0
    eos_token_id: int = 1
    bos_token_id: int = 2
    decoder_start_token_id: int = 1
    is_encoder_decoder: bool = True
    tie_word_embeddings: bool = True

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.image_size is not None and (
            isinstance(self.image_size, bool) or not isinstance(self.image_size, int) or self.image_size < 32
        ):
            raise ValueError(
                f"image_size must be None or an int >= 32 (the vision tower's total stride), got {self.image_size!r}"
            )
        kind = self.text_config.model_type
        if kind not in DECODER_KINDS:
            raise ValueError(
                f"text_config.model_type={kind!r} is not a supported Florenz decoder; allowed: {list(DECODER_KINDS)}"
            )
        if self.vision_config.projection_dim != self.encoder_config.d_model:
            raise ValueError(
                f"vision_config.projection_dim ({self.vision_config.projection_dim}) must equal "
                f"encoder_config.d_model ({self.encoder_config.d_model}): image tokens enter the BART encoder directly"
            )
        if kind == "bart":
            if self.text_config.d_model != self.encoder_config.d_model:
                raise ValueError(
                    f"BART decoder width text_config.d_model ({self.text_config.d_model}) must equal "
                    f"encoder_config.d_model ({self.encoder_config.d_model})"
                )
            if self.final_logit_softcapping is None:
                self.final_logit_softcapping = BART_FINAL_LOGIT_SOFTCAPPING
        else:
            self.text_config.cross_attention_hidden_size = self.encoder_config.d_model
            self.final_logit_softcapping = self.text_config.final_logit_softcapping

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> FlorenzConfig:
        """A saved config must hold all three sub-configs: a missing one would silently become a default-sized
        BART or DaViT and fail later with an unrelated width mismatch (or not at all)."""
        missing = [key for key in ("vision_config", "encoder_config", "text_config") if config_dict.get(key) is None]
        if missing:
            raise ValueError(
                f"config.json has no {', '.join(missing)}; a Florenz config needs vision_config, encoder_config "
                "and text_config (the decoder)"
            )
        return super().from_dict(config_dict, **kwargs)

    @property
    def decoder_kind(self) -> str:
        """ "bart", "gemma2" or "gemma3_text": which decoder stack `FlorenzModel` builds."""
        return self.text_config.model_type

    @classmethod
    def from_preset(
        cls,
        name: str,
        text_vocab_size: int | None = None,
        encoder_vocab_size: int | None = None,
        **kwargs: Any,
    ) -> FlorenzConfig:
        """Build a named preset (see `FLORENZ_PRESETS`); vocab sizes may be overridden to match tokenizers."""
        if name not in FLORENZ_PRESETS:
            raise ValueError(f"unknown Florenz preset {name!r}; allowed: {sorted(FLORENZ_PRESETS)}")
        preset = copy.deepcopy(FLORENZ_PRESETS[name])
        encoder = {**preset["encoder"], **ENCODER_TOKEN_IDS}
        text = preset["text"]
        if encoder_vocab_size is not None:
            encoder["vocab_size"] = int(encoder_vocab_size)
        if text_vocab_size is not None:
            text["vocab_size"] = int(text_vocab_size)
        return cls(vision_config=preset["vision"], encoder_config=encoder, text_config=text, **kwargs)


__all__ = ["FLORENZ_PRESETS", "FlorenzConfig"]
