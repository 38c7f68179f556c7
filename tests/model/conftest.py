"""Shared fixtures of the model tests: tiny Florence-2 checkpoints in both layouts and a tiny Gemma tokenizer."""

from __future__ import annotations

import json

import pytest
import torch
from florence2_tiny import BART, TEXTS, VISION, bart_tokenizer, twin_config, twin_state
from safetensors.torch import load_file, save_file


@pytest.fixture(scope="module")
def native_dir(tmp_path_factory):
    """A tiny Florence2ForConditionalGeneration + BART tokenizer with `<image>`, saved in the native layout."""
    from transformers import Florence2Config, Florence2ForConditionalGeneration

    tokenizer = bart_tokenizer()
    image_id = tokenizer.convert_tokens_to_ids("<image>")
    config = Florence2Config(
        vision_config=VISION,
        text_config={"model_type": "bart", **BART, "vocab_size": len(tokenizer)},
        image_token_id=image_id,
    )
    torch.manual_seed(0)
    model = Florence2ForConditionalGeneration(config)
    with torch.no_grad():  # make the otherwise constant norms and projector bias informative
        for name, param in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                param.add_(0.1 * torch.randn_like(param))
    folder = tmp_path_factory.mktemp("florence2-native")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def original_dir(native_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("florence2-original")
    save_file(twin_state(load_file(native_dir / "model.safetensors")), folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps(twin_config(json.loads((native_dir / "config.json").read_text()))))
    bart_tokenizer().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def gemma_tokenizer_dir(tmp_path_factory):
    from model_tools.tokenizer_training import train_decoder_tokenizer

    folder = tmp_path_factory.mktemp("gemma-tokenizer")
    train_decoder_tokenizer(TEXTS, 380).save_pretrained(folder)
    return folder
