"""The paper authors' released checkpoints (`caption-via-translation` remote-code layout) → a Hub-native Florenz folder.

Not Hub remote code. The authors' folders hold a `config.json` with `model_type: "florence2"` whose `text_config`
(`florence2_language`) either describes Florence-2's BART decoder re-vocabularised to Gemma ids
(`use_encoder_tokenizer: true`, separate `encoder_vocab_size`; the 0.4B/1.0B models) or carries a `gemma_config`
(a Gemma-2 decoder with a gated cross-attention block in every layer; the 3.5B/11.2B models). Weights use
Microsoft's original Florence-2 names for the vision tower, projector and BART encoder
(`vision_tower.*`, `image_projection`, `language_model.model.encoder.*`), the decoder lives under
`language_model.model.decoder.*` and the tied head under `language_model.lm_head.weight`. Their cross-attention names
(`encoder_attn.{q,k,v,o}_proj`, `encoder_attn_gate`, `post_encoder_attention_layernorm`) are Florenz's, so the
conversion is a rename plus config translation; every tensor must be used and every Florenz weight provided.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from .convert_florence2 import (
    DEFAULT_IMAGE_SIZE,
    florence2_original_to_native,
    florence2_towers,
    load_tokenizer,
    read_config,
    require_tokenizer_files,
)
from .model_folder import check_image_size, check_output_folder

DTYPES = {"auto": None, "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# Gemma-2 fields of the authors' `gemma_config` that define the decoder; the rest are generation/runtime leftovers.
_GEMMA2_FIELDS = (
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "hidden_activation",
    "max_position_embeddings",
    "initializer_range",
    "rms_norm_eps",
    "attention_bias",
    "attention_dropout",
    "query_pre_attn_scalar",
    "sliding_window",
    "final_logit_softcapping",
    "attn_logit_softcapping",
)
# Decoding settings of the source `text_config` that carry over to the generation config.
_GENERATION_FIELDS = ("no_repeat_ngram_size", "early_stopping", "forced_bos_token_id", "forced_eos_token_id")
# Gemma-side ids every released model uses (decoder starts with <eos>).
_DECODER_IDS = {"pad_token_id": 0, "eos_token_id": 1, "bos_token_id": 2, "decoder_start_token_id": 1}
_ENCODER_IDS = {"pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "decoder_start_token_id": 2}


def authors_kind(config: dict[str, Any]) -> str:
    """ "bart" or "gemma2" from an authors' `config.json`; ValueError for anything else."""
    text = config.get("text_config")
    if config.get("model_type") != "florence2" or not isinstance(text, dict):
        raise ValueError(
            "not a caption-via-translation checkpoint: config.json needs model_type 'florence2' and a text_config, "
            f"got model_type {config.get('model_type')!r}"
        )
    if text.get("gemma_config"):
        every = text["gemma_config"].get("encoder_attn_every_x_layers", 1)
        if every != 1:
            raise ValueError(
                f"gemma_config.encoder_attn_every_x_layers={every}; Florenz has cross-attention in every layer (1)"
            )
        return "gemma2"
    if not text.get("use_encoder_tokenizer"):
        raise ValueError(
            "text_config has neither a gemma_config nor use_encoder_tokenizer=true: this is a plain Florence-2 "
            "checkpoint; convert it with `florenz model convert florence2`"
        )
    return "bart"


def florenz_config_dict(config: dict[str, Any], image_size: int) -> dict[str, Any]:
    """FlorenzConfig kwargs of an authors' `config.json` (vision and encoder from the Florence-2 fields)."""
    kind = authors_kind(config)
    text = config["text_config"]
    vision, bart = florence2_towers(config, "original")
    encoder = {**bart, **_ENCODER_IDS, "vocab_size": text.get("encoder_vocab_size", config.get("encoder_vocab_size"))}
    if encoder["vocab_size"] is None:
        raise ValueError("config.json has no encoder_vocab_size (text_config or top level)")
    if kind == "bart":
        decoder = {**bart, "model_type": "bart", "vocab_size": text["vocab_size"], "encoder_layers": 0, **_DECODER_IDS}
    else:
        gemma = text["gemma_config"]
        missing = [name for name in ("hidden_size", "num_hidden_layers", "vocab_size") if name not in gemma]
        if missing:
            raise ValueError(f"text_config.gemma_config lacks {missing}")
        width = gemma.get("encoder_hidden_size", bart["d_model"])
        if width != bart["d_model"]:
            raise ValueError(
                f"gemma_config.encoder_hidden_size ({width}) must equal the encoder d_model ({bart['d_model']})"
            )
        decoder = {name: gemma[name] for name in _GEMMA2_FIELDS if name in gemma}
        decoder.update(
            model_type="gemma2",
            rope_parameters={"rope_type": "default", "rope_theta": float(gemma.get("rope_theta", 10000.0))},
            # the authors' layers slide on even indices, as Gemma-2 does
            layer_types=[
                "sliding_attention" if i % 2 == 0 else "full_attention" for i in range(gemma["num_hidden_layers"])
            ],
            **{key: value for key, value in _DECODER_IDS.items() if key != "decoder_start_token_id"},
        )
    return {
        "vision_config": vision,
        "encoder_config": encoder,
        "text_config": decoder,
        "image_size": image_size,
        **_DECODER_IDS,
    }


def read_authors_weights(folder: str | os.PathLike) -> dict[str, torch.Tensor]:
    """All tensors of `model.safetensors`, sharded safetensors, `pytorch_model.bin` or sharded `.bin` (read with
    `weights_only=True`, so no pickled code runs)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    candidates = (
        ("model.safetensors", "model.safetensors.index.json", load_file),
        ("pytorch_model.bin", "pytorch_model.bin.index.json", _load_bin),
    )
    for single, index, loader in candidates:
        if (folder / single).is_file():
            return dict(loader(folder / single))
        if (folder / index).is_file():
            shards = sorted(set(json.loads((folder / index).read_text())["weight_map"].values()))
            absent = [name for name in shards if not (folder / name).is_file()]
            if absent:
                raise ValueError(f"{folder / index} names shards that are missing: {absent}")
            state: dict[str, torch.Tensor] = {}
            for name in shards:
                state.update(loader(folder / name))
            return state
    found = sorted(path.name for path in folder.iterdir())[:10]
    raise ValueError(
        f"{folder} has no model.safetensors, pytorch_model.bin or their .index.json shards (found {found})"
    )


def _load_bin(path: Path) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict")
    return state


def authors_to_florenz(state: dict[str, torch.Tensor], kind: str) -> dict[str, torch.Tensor]:
    """Authors' keys → Florenz keys. The tied head is dropped after checking it equals the decoder embedding."""
    state = dict(state)
    head = state.pop("language_model.lm_head.weight", None)
    embedding = state.get("language_model.model.decoder.embed_tokens.weight")
    if head is not None and (embedding is None or not torch.equal(head, embedding)):
        raise ValueError(
            "language_model.lm_head.weight differs from language_model.model.decoder.embed_tokens.weight; "
            "Florenz ties them, so this checkpoint cannot be represented"
        )
    foreign = [key for key in state if key.startswith("language_model.model.shared")]
    if foreign:
        raise ValueError(
            f"unexpected shared BART embedding {foreign}: the authors' models keep separate encoder/decoder embeddings"
        )
    converted = {}
    for key, tensor in florence2_original_to_native(state).items():
        if key.startswith(("model.vision_tower.", "model.multi_modal_projector.")):
            converted[key] = tensor
        elif key.startswith("model.language_model.encoder."):
            converted["model.encoder." + key.removeprefix("model.language_model.encoder.")] = tensor
        elif key.startswith("model.language_model.decoder."):
            converted["model.decoder." + key.removeprefix("model.language_model.decoder.")] = tensor
        else:
            raise ValueError(f"unexpected key {key!r} in a caption-via-translation {kind} checkpoint")
    return converted


def load_exactly(model, converted: dict[str, torch.Tensor]) -> None:
    """Copy every tensor into `model`; a missing, unexpected or mis-shaped key is a ValueError naming it."""
    own = model.state_dict()
    unexpected = sorted(set(converted) - set(own))
    missing = sorted(key for key in own if key not in converted and key != "lm_head.weight")
    mismatched = sorted(
        f"{key} {tuple(converted[key].shape)} vs {tuple(own[key].shape)}"
        for key in set(converted) & set(own)
        if converted[key].shape != own[key].shape
    )
    if unexpected or missing or mismatched:
        raise ValueError(
            f"the checkpoint does not fit the Florenz model built from its config: missing={missing[:8]}, "
            f"unexpected={unexpected[:8]}, mismatched shapes={mismatched[:4]}"
        )
    with torch.no_grad():
        for key, tensor in converted.items():
            own[key].copy_(tensor)
    model.tie_weights()


def _source_dtype(state: dict[str, torch.Tensor]) -> torch.dtype:
    counts = Counter(tensor.dtype for tensor in state.values() if tensor.is_floating_point())
    return counts.most_common(1)[0][0] if counts else torch.float32


def _default_image_size(folder: Path) -> int:
    path = folder / "preprocessor_config.json"
    if path.is_file():
        size = json.loads(path.read_text()).get("size") or {}
        if isinstance(size, dict) and size.get("height") and size.get("height") == size.get("width"):
            return int(size["height"])
    return DEFAULT_IMAGE_SIZE


def card_summary(source: str, kind: str, config: dict[str, Any]) -> str:
    """What the model card says about the source checkpoint."""
    decoder = (
        "Florence-2's BART decoder over the Gemma-2 vocabulary"
        if kind == "bart"
        else "Gemma-2 with gated cross-attention in every layer"
    )
    return (
        f"Converted with `florenz model convert caption-via-translation` from `{source}`, a checkpoint released by the "
        "authors of *Scaling Laws for Conditional Emergence of Multilingual Image Captioning via Generalization from "
        f"Translation* (code: `spravil/caption-via-translation`); decoder: {decoder}. The weights are the source's, "
        f"renamed to the Hub-native Florenz layout (encoder vocabulary {config['encoder_config']['vocab_size']}, "
        f"decoder vocabulary {config['text_config']['vocab_size']}, image size {config['image_size']})."
    )


def convert_caption_via_translation(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    encoder_tokenizer: str | os.PathLike,
    decoder_tokenizer: str | os.PathLike,
    image_size: int | None = None,
    dtype: str = "auto",
    source_name: str | None = None,
) -> Path:
    """Write a Florenz folder (weights, config, both tokenizers, processor, generation config, model card)."""
    from modeling_florenz.configuration_florenz import FlorenzConfig
    from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration
    from modeling_florenz.processing_florenz import FlorenzProcessor, florenz_image_processor

    from .model_card import build_model_card
    from .model_folder import save_model_and_processor

    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; allowed: {list(DTYPES)}")
    check_output_folder(out)
    checkpoint = Path(checkpoint)
    config = read_config(checkpoint)
    kind = authors_kind(config)
    image_size = _default_image_size(checkpoint) if image_size is None else image_size
    check_image_size(image_size)
    require_tokenizer_files(encoder_tokenizer, "encoder (Florence-2) tokenizer")
    require_tokenizer_files(decoder_tokenizer, "decoder (Gemma-2) tokenizer")
    kwargs = florenz_config_dict(config, image_size)
    encoder_tok, decoder_tok = load_tokenizer(encoder_tokenizer), load_tokenizer(decoder_tokenizer)
    for tokenizer, what, rows in (
        (encoder_tok, "encoder", kwargs["encoder_config"]["vocab_size"]),
        (decoder_tok, "decoder", kwargs["text_config"]["vocab_size"]),
    ):
        if len(tokenizer) > rows:
            raise ValueError(
                f"the {what} tokenizer has {len(tokenizer)} ids but the checkpoint only {rows} {what} rows"
            )

    state = read_authors_weights(checkpoint)
    target_dtype = DTYPES[dtype] or _source_dtype(state)
    converted = authors_to_florenz(state, kind)
    del state
    florenz_config = FlorenzConfig(**kwargs)
    model = FlorenzForConditionalGeneration(florenz_config).eval()
    load_exactly(model, converted)
    model.to(target_dtype)
    model.config.dtype = target_dtype
    text = config["text_config"]
    model.generation_config.update(**{name: text[name] for name in _GENERATION_FIELDS if text.get(name) is not None})
    processor = FlorenzProcessor(florenz_image_processor(image_size), decoder_tok, encoder_tok)
    card = build_model_card(model_id=str(out), summary=card_summary(source_name or checkpoint.name, kind, kwargs))
    return save_model_and_processor(model, processor, out, card)


__all__ = [
    "DTYPES",
    "authors_kind",
    "authors_to_florenz",
    "convert_caption_via_translation",
    "florenz_config_dict",
    "read_authors_weights",
]
