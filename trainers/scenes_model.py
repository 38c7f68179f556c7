"""Build (model, processor) for a Scenes sweep preset, with tokenizers trained once on the corpus text."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import AutoTokenizer

from dataset_builder.corpus import ScenesConfig, make_row
from model_tools.checkpoint_init import limit_prompts
from model_tools.tokenizer_training import train_decoder_tokenizer, train_encoder_tokenizer
from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration
from modeling_florenz.processing_florenz import FlorenzProcessor, florenz_image_processor

from .scenes_presets import SCENES_IMAGE_SIZE, SCENES_PRESETS, scenes_config

ENCODER_VOCAB = 1024
DECODER_VOCAB = 2048
TOKENIZER_ROWS_PER_KEY = 300


def corpus_texts(config: ScenesConfig, rows_per_key: int = TOKENIZER_ROWS_PER_KEY) -> tuple[list[str], list[str]]:
    """(encoder texts, decoder texts) from the *training* split only: no unseen-caption text leaks in."""
    encoder_texts, decoder_texts = [], []
    for key in config.train_keys():
        for index in range(rows_per_key):
            row = make_row(config, "train", key, index)
            encoder_texts.append(row["prompt"])
            decoder_texts.append(row["target"])
            if row["source"]:
                decoder_texts.append(row["source"])
    return encoder_texts, decoder_texts


def scenes_tokenizers(config: ScenesConfig, cache_dir: str | os.PathLike):
    """Encoder and decoder BPE tokenizers for the Scenes presets, trained once and cached in `cache_dir`."""
    cache_dir = Path(cache_dir)
    encoder_dir, decoder_dir = cache_dir / "encoder", cache_dir / "decoder"
    if not (encoder_dir / "tokenizer_config.json").exists() or not (decoder_dir / "tokenizer_config.json").exists():
        encoder_texts, decoder_texts = corpus_texts(config)
        train_encoder_tokenizer(encoder_texts, ENCODER_VOCAB).save_pretrained(encoder_dir)
        train_decoder_tokenizer(decoder_texts, DECODER_VOCAB).save_pretrained(decoder_dir)
    return AutoTokenizer.from_pretrained(encoder_dir), AutoTokenizer.from_pretrained(decoder_dir)


def build_scenes_model(
    preset: str, config: ScenesConfig, tokenizer_dir: str | os.PathLike, seed: int
) -> tuple[FlorenzForConditionalGeneration, FlorenzProcessor]:
    """A freshly initialised model for `preset`; `scenes-nano` loads the real Gemma-3 270M decoder."""
    if preset not in SCENES_PRESETS:
        raise ValueError(f"unknown Scenes preset {preset!r}; allowed: {sorted(SCENES_PRESETS)}")
    spec = SCENES_PRESETS[preset]
    encoder_tokenizer, decoder_tokenizer = scenes_tokenizers(config, tokenizer_dir)
    if spec["tokenizer"] == "gemma3":
        from model_tools.gemma3_gguf import load_gemma3_tokenizer

        decoder_tokenizer = load_gemma3_tokenizer()
        text_vocab = None  # the preset's Gemma-3 vocabulary
    else:
        text_vocab = len(decoder_tokenizer)
    torch.manual_seed(seed)
    model = FlorenzForConditionalGeneration(scenes_config(preset, len(encoder_tokenizer), text_vocab))
    if spec["decoder_init"] == "pretrained":
        from model_tools.gemma3_gguf import load_gemma3_270m, load_gemma3_decoder_into

        load_gemma3_decoder_into(model, load_gemma3_270m())
    processor = FlorenzProcessor(florenz_image_processor(SCENES_IMAGE_SIZE), decoder_tokenizer, encoder_tokenizer)
    return model, limit_prompts(model, processor)
