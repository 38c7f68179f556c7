"""Florence-2 encoder side + a pretrained Gemma decoder → Florenz with gated cross-attention in every layer.

Not Hub remote code. Florence-2-large + Gemma-2-2B/9B give the 3.5B/11.2B models; a Florence-2-shaped encoder +
Gemma-3 (a safetensors folder, a GGUF file, or the bundled 270M GGUF) gives nano. Gemma weights are a prefix rename
(`model.*` → `model.decoder.*`, stack notes §2); only the inserted cross-attention is new: its norms are copied from
each layer's `post_attention_layernorm` and its gates start at 0, so the decoder computes exactly what the source Gemma
computed (reference §1.4). The Florence-2 decoder, `lm_head` and shared embedding are dropped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .convert_florence2 import (
    DEFAULT_IMAGE_SIZE,
    Florence2Source,
    check_image_size,
    check_output_folder,
    decoder_token_ids,
    florence2_native_to_florenz,
    load_into,
    load_safetensors,
    load_tokenizer,
    read_config,
    require_tokenizer_files,
    safetensors_keys,
)

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


def load_gemma3_gguf(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor], Any]:
    """(config dict, fp32 state dict, tokenizer) of a Gemma-3 GGUF file, dequantised by transformers (stack notes §9)."""
    from transformers import AutoTokenizer, Gemma3ForCausalLM

    path = Path(path)
    model = Gemma3ForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    tokenizer.padding_side = "right"
    return model.config.to_dict(), model.state_dict(), tokenizer


def _gemma3_loader(gemma3: str | os.PathLike):
    """Validate the `--gemma3` argument cheaply and return a function that loads (config, state, tokenizer)."""
    if str(gemma3) == BUNDLED_GEMMA3:
        from .gemma3_gguf import load_gemma3_270m, load_gemma3_tokenizer

        def bundled():
            model = load_gemma3_270m()
            return model.config.to_dict(), model.state_dict(), load_gemma3_tokenizer()

        return bundled
    path = Path(gemma3)
    if path.is_file():
        if path.suffix != ".gguf":
            raise ValueError(
                f"--gemma3 file {path} is not a .gguf file; allowed: a .gguf file, a folder or {BUNDLED_GEMMA3!r}"
            )
        return lambda: load_gemma3_gguf(path)
    if path.is_dir():
        source = GemmaFolderSource(path, "gemma3_text")
        return lambda: (source.text, *source.load())
    raise ValueError(
        f"--gemma3 {gemma3} does not exist; allowed: a .gguf file, a safetensors folder or {BUNDLED_GEMMA3!r}"
    )


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


def convert_florence_gemma2(
    florence2_dir: str | os.PathLike,
    gemma2_dir: str | os.PathLike,
    out: str | os.PathLike,
    layout: str = "auto",
    image_size: int = DEFAULT_IMAGE_SIZE,
    seed: int = 0,
) -> Path:
    """Florence-2(-large) + Gemma-2(-2B/9B) folders → a Florenz 3.5B/11.2B-style folder (model + processor)."""
    from .checkpoint_init import save_model_and_processor
    from .model_card import base_models, build_model_card

    check_output_folder(out)
    check_image_size(image_size)
    florence2 = Florence2Source(florence2_dir, layout)
    gemma = GemmaFolderSource(gemma2_dir, "gemma2")
    gemma_state, tokenizer = gemma.load()
    model, processor = build_florenz_with_gemma_decoder(florence2, gemma.text, gemma_state, tokenizer, image_size, seed)
    card = build_model_card(
        model_id=str(out),
        summary=f"Converted from `{Path(florence2_dir).name}` (vision tower, projector, encoder) and "
        f"`{Path(gemma2_dir).name}` (decoder) with new gated cross-attention; not trained after conversion.",
        base_model=base_models(florence2_dir, gemma2_dir),
    )
    return save_model_and_processor(model, processor, out, card)


def convert_nano(
    florence2_dir: str | os.PathLike,
    gemma3: str | os.PathLike,
    out: str | os.PathLike,
    layout: str = "auto",
    image_size: int = DEFAULT_IMAGE_SIZE,
    seed: int = 0,
) -> Path:
    """Florence-2-shaped encoder + Gemma-3 text decoder (folder, `.gguf` file or "bundled" 270M) → nano-style folder."""
    from .checkpoint_init import save_model_and_processor
    from .model_card import base_models, build_model_card

    check_output_folder(out)
    check_image_size(image_size)
    florence2 = Florence2Source(florence2_dir, layout)
    load = _gemma3_loader(gemma3)
    config, gemma_state, tokenizer = load()
    text_config = gemma_text_config(config, "gemma3_text")
    model, processor = build_florenz_with_gemma_decoder(
        florence2, text_config, gemma_state, tokenizer, image_size, seed
    )
    card = build_model_card(
        model_id=str(out),
        summary=f"Converted from `{Path(florence2_dir).name}` (vision tower, projector, encoder) and the Gemma-3 "
        f"decoder `{Path(gemma3).name}` with new gated cross-attention; not trained after conversion.",
        base_model=base_models(florence2_dir, gemma3),
    )
    return save_model_and_processor(model, processor, out, card)


__all__ = [
    "BUNDLED_GEMMA3",
    "build_florenz_with_gemma_decoder",
    "convert_florence_gemma2",
    "convert_nano",
    "gemma2_to_florenz_decoder",
    "gemma_text_config",
    "load_gemma3_gguf",
]
