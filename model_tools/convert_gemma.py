"""Florence-2 encoder side + a pretrained Gemma decoder → Florenz with gated cross-attention in every layer.

Not Hub remote code. Florence-2-large + Gemma-2-2B/9B give the 3.5B/11.2B models; a Florence-2-shaped encoder +
Gemma-3 (a safetensors folder, a GGUF file, or the bundled 270M GGUF) gives nano. Gemma weights are a prefix rename
(`model.*` → `model.decoder.*`); only the inserted cross-attention is new: its norms are copied from
each layer's `post_attention_layernorm` and its gates start at 0, so the decoder computes exactly what the source Gemma
computed. The Florence-2 decoder, `lm_head` and shared embedding are dropped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .convert_florence2 import (
    DEFAULT_IMAGE_SIZE,
    Florence2Source,
    decoder_token_ids,
    florence2_native_to_florenz,
    load_into,
    load_safetensors,
    load_tokenizer,
    read_config,
    require_tokenizer_files,
    safetensors_keys,
)
from .model_folder import write_model_folder

GEMMA_DECODER_TYPES = {"gemma2": "Gemma-2", "gemma3_text": "Gemma-3"}
BUNDLED_GEMMA3 = "bundled"
# Bookkeeping fields of a saved config that describe the file, not the architecture.
_CONFIG_NOISE = (
    "architectures",
    "auto_map",
    "dtype",
    "torch_dtype",
    "transformers_version",
    "_name_or_path",
    "quantization_config",
)
_NEW_DECODER_PARAMS = ("encoder_attn", "post_encoder_attention_layernorm")


def gemma2_to_florenz_decoder(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`Gemma2ForCausalLM` (and `Gemma3ForCausalLM`, same layout) keys → Florenz decoder keys: `model.*` →
    `model.decoder.*`. `lm_head.weight` is dropped because Florenz ties it to the embedding; an untied head that
    differs from the embedding cannot be represented and is an error."""
    converted, unknown = {}, []
    for key, tensor in state_dict.items():
        if key.startswith("model."):
            converted["model.decoder." + key.removeprefix("model.")] = tensor
        elif key != "lm_head.weight":
            unknown.append(key)
    if unknown:
        raise ValueError(
            f"{len(unknown)} keys are not Gemma causal-LM keys (model.* / lm_head.weight), e.g. {unknown[:5]}"
        )
    head, embedding = state_dict.get("lm_head.weight"), state_dict.get("model.embed_tokens.weight")
    if head is not None and (embedding is None or not torch.equal(head, embedding)):
        raise ValueError(
            "the Gemma lm_head differs from model.embed_tokens; Florenz ties them, so it cannot be converted"
        )
    return converted


def gemma_text_config(config: dict[str, Any], expected: str) -> dict[str, Any]:
    """Decoder kwargs from a Gemma `config.json` / `to_dict()`, checked to be the expected `model_type`."""
    model_type = config.get("model_type")
    if model_type != expected:
        hint = (
            " (multimodal Gemma-3 checkpoints are not supported; use the text-only Gemma3ForCausalLM)"
            if model_type == "gemma3"
            else ""
        )
        raise ValueError(
            f"expected a {GEMMA_DECODER_TYPES[expected]} checkpoint (model_type {expected!r}), got {model_type!r}{hint}"
        )
    return {key: value for key, value in config.items() if key not in _CONFIG_NOISE}


class GemmaFolderSource:
    """A local Gemma causal-LM folder (config.json + safetensors + tokenizer), validated before weights are read."""

    def __init__(self, folder: str | os.PathLike, expected: str):
        self.folder = Path(folder)
        self.text = gemma_text_config(read_config(self.folder), expected)
        keys = safetensors_keys(self.folder)
        if "model.embed_tokens.weight" not in keys:
            raise ValueError(f"{self.folder} has no model.embed_tokens.weight; expected a Gemma causal-LM checkpoint")
        require_tokenizer_files(self.folder, GEMMA_DECODER_TYPES[expected])

    def load(self) -> tuple[dict[str, torch.Tensor], Any]:
        return load_safetensors(self.folder), load_tokenizer(self.folder)


def _causal_lm_parts(model, tokenizer) -> tuple[dict[str, Any], dict[str, torch.Tensor], Any]:
    return model.config.to_dict(), model.state_dict(), tokenizer


def _gemma_loader(gemma: str | os.PathLike, decoder: str):
    """Validate the Gemma source cheaply and return a function that loads (config, state, tokenizer).

    Any decoder comes from a safetensors folder; Gemma-3 also from a `.gguf` file or the bundled 270M GGUF.
    """
    from .gemma3_gguf import load_gemma3_270m, load_gemma3_tokenizer, load_gguf_causal_lm

    if decoder not in GEMMA_DECODER_TYPES:
        raise ValueError(f"unknown Gemma decoder {decoder!r}; allowed: {list(GEMMA_DECODER_TYPES)}")
    gguf_allowed = decoder == "gemma3_text"
    allowed = f"a .gguf file, a safetensors folder or {BUNDLED_GEMMA3!r}" if gguf_allowed else "a safetensors folder"
    path = Path(gemma)
    if gguf_allowed and str(gemma) == BUNDLED_GEMMA3:
        return lambda: _causal_lm_parts(load_gemma3_270m(), load_gemma3_tokenizer())
    if path.is_file():
        if not gguf_allowed or path.suffix != ".gguf":
            raise ValueError(f"{GEMMA_DECODER_TYPES[decoder]} source {path} is not a .gguf file; allowed: {allowed}")
        return lambda: _causal_lm_parts(*load_gguf_causal_lm(path))
    if path.is_dir():
        source = GemmaFolderSource(path, decoder)
        return lambda: (source.text, *source.load())
    raise ValueError(f"{GEMMA_DECODER_TYPES[decoder]} source {gemma} does not exist; allowed: {allowed}")


def build_florenz_with_gemma_decoder(
    florence2: Florence2Source,
    text_config: dict[str, Any],
    gemma_state: dict[str, torch.Tensor],
    gemma_tokenizer,
    image_size: int = DEFAULT_IMAGE_SIZE,
    seed: int = 0,
):
    """(model, processor): Florence-2 vision + projector + BART encoder, Gemma decoder with identity cross-attention.

    The new cross-attention projections keep the seeded normal(0, 0.02) init; the encoder vocabulary is the source's.
    """
    from modeling_florenz.configuration_florenz import FlorenzConfig
    from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration
    from modeling_florenz.processing_florenz import FlorenzProcessor, florenz_image_processor

    image_processor = florenz_image_processor(image_size)
    if len(gemma_tokenizer) > text_config["vocab_size"]:
        raise ValueError(
            f"the Gemma tokenizer has {len(gemma_tokenizer)} ids but the decoder only {text_config['vocab_size']} rows"
        )
    ids = decoder_token_ids(gemma_tokenizer)
    config = FlorenzConfig(
        vision_config=florence2.vision, encoder_config=florence2.encoder_config(), text_config=text_config, **ids
    )
    state = florence2_native_to_florenz(florence2.state_dict(), include_decoder=False)
    state.update(gemma2_to_florenz_decoder(gemma_state))
    torch.manual_seed(seed)
    model = FlorenzForConditionalGeneration(config)
    model.eval()
    load_into(
        model,
        state,
        lambda key: (
            key == "lm_head.weight" or (key.startswith("model.decoder.") and any(m in key for m in _NEW_DECODER_PARAMS))
        ),
    )
    model.init_cross_attention_from_decoder()
    model.tie_weights()
    from .checkpoint_init import limit_prompts

    processor = limit_prompts(model, FlorenzProcessor(image_processor, gemma_tokenizer, florence2.tokenizer()))
    return model, processor


def convert_gemma_decoder(
    florence2_dir: str | os.PathLike,
    gemma: str | os.PathLike,
    out: str | os.PathLike,
    decoder: str = "gemma2",
    layout: str = "auto",
    image_size: int = DEFAULT_IMAGE_SIZE,
    seed: int = 0,
) -> Path:
    """Florence-2 encoder side + a pretrained Gemma decoder → a Florenz folder (model + processor).

    `decoder="gemma2"`: Florence-2-large + Gemma-2-2B/9B folders give the 3.5B/11.2B models. `decoder="gemma3_text"`:
    a Florence-2-shaped encoder + a Gemma-3 text decoder (folder, `.gguf` file or "bundled" 270M) gives nano.
    """

    def build():
        florence2 = Florence2Source(florence2_dir, layout)
        config, gemma_state, tokenizer = _gemma_loader(gemma, decoder)()
        text_config = gemma_text_config(config, decoder)
        return build_florenz_with_gemma_decoder(florence2, text_config, gemma_state, tokenizer, image_size, seed)

    from .model_card import base_models, build_model_card

    parts = "the Gemma-3 decoder" if decoder == "gemma3_text" else "the decoder"
    card = lambda: build_model_card(
        model_id=str(out),
        summary=f"Converted from `{Path(florence2_dir).name}` (vision tower, projector, encoder) and {parts} "
        f"`{Path(gemma).name}` with new gated cross-attention; not trained after conversion.",
        base_model=base_models(florence2_dir, gemma),
    )
    return write_model_folder(out, image_size, build, card)[0]


__all__ = [
    "BUNDLED_GEMMA3",
    "build_florenz_with_gemma_decoder",
    "convert_gemma_decoder",
    "gemma2_to_florenz_decoder",
    "gemma_text_config",
]
