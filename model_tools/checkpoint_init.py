"""`florenz model init`: a complete, loadable model + processor folder for a preset.

Tiny presets get random weights and tokenizers trained on a small built-in multilingual text (prompts, prefixes and
sentences in all six languages); `florenz-nano` gets the real Gemma-3 270M decoder and its tokenizer. The paper
presets need the upstream Florence-2 / Gemma-2 checkpoints and tokenizers: build them with `florenz model convert`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from modeling_florenz.configuration_florenz import FLORENZ_PRESETS, FlorenzConfig
from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration
from modeling_florenz.processing_florenz import (
    LANGUAGE_PREFIXES,
    LANGUAGES,
    TASKS,
    FlorenzProcessor,
    build_prompt,
    florenz_image_processor,
)

from .model_card import base_models, build_model_card
from .model_folder import check_image_size, write_model_folder
from .tokenizer_training import train_decoder_tokenizer, train_encoder_tokenizer

INITIALISABLE_PRESETS = ("tiny-bart", "tiny-gemma2", "tiny-gemma3", "florenz-nano")
_DEFAULT_IMAGE_SIZE = {"florenz-nano": 224}


def default_image_size(preset: str) -> int:
    """The image side an initialisable preset's processor gets unless one is asked for (64 px for the tiny ones)."""
    return _DEFAULT_IMAGE_SIZE.get(preset, 64)


# A few sentences per language, so that tiny tokenizers cover every script the processor may meet.
SAMPLE_SENTENCES = {
    "en": ["A red circle is to the left of a blue square.", "Two small green stars above a large yellow heart."],
    "de": [
        "Ein roter Kreis ist links von einem blauen Quadrat.",
        "Zwei kleine grüne Sterne über einem großen gelben Herz.",
    ],
    "fr": [
        "Un cercle rouge est à gauche d'un carré bleu.",
        "Deux petites étoiles vertes au-dessus d'un grand cœur jaune.",
    ],
    "es": [
        "Un círculo rojo está a la izquierda de un cuadrado azul.",
        "Dos estrellas verdes pequeñas sobre un corazón amarillo grande.",
    ],
    "ru": ["Красный круг слева от синего квадрата.", "Две маленькие зелёные звезды над большим жёлтым сердцем."],
    "zh": ["一个红色的圆在一个蓝色的正方形左边。", "两颗绿色的小星星在一个黄色的大心形上面。"],
}


def builtin_texts() -> list[str]:
    """Prompts of every task × language, the language prefixes and the sample sentences."""
    sentences = [s for group in SAMPLE_SENTENCES.values() for s in group]
    prompts = [
        build_prompt(task, language, sentences[0] if task == "translate" else None)
        for task in TASKS
        for language in LANGUAGES
    ]
    return prompts + list(LANGUAGE_PREFIXES.values()) + sentences


def prompt_token_budget(config: FlorenzConfig, image_size: int) -> int:
    """Encoder positions left for the prompt after the `(S / total stride)² + 1` image tokens of S-px images."""
    stride = math.prod(config.vision_config.patch_stride)
    return config.encoder_config.max_position_embeddings - ((image_size // stride) ** 2 + 1)


def limit_prompts(model: FlorenzForConditionalGeneration, processor: FlorenzProcessor) -> FlorenzProcessor:
    """Record the model's prompt budget on the processor (saved with it), so over-long prompts are cut or refused
    there instead of overrunning the encoder's position table."""
    budget = prompt_token_budget(model.config, processor.image_size)
    processor.max_prompt_length = budget if budget >= 2 else None
    return processor


def build_model_and_processor(
    preset: str, seed: int = 0, image_size: int | None = None
) -> tuple[FlorenzForConditionalGeneration, FlorenzProcessor]:
    """Model (random init, or real Gemma-3 decoder for nano) and its processor for an initialisable preset."""
    if preset not in INITIALISABLE_PRESETS:
        hint = " (paper presets come from `florenz model convert`)" if preset in FLORENZ_PRESETS else ""
        raise ValueError(f"cannot initialise preset {preset!r}{hint}; allowed: {list(INITIALISABLE_PRESETS)}")
    image_size = image_size or default_image_size(preset)
    check_image_size(image_size)
    texts = builtin_texts()
    encoder_vocab = FLORENZ_PRESETS[preset]["encoder"]["vocab_size"]
    encoder_tokenizer = train_encoder_tokenizer(texts, vocab_size=encoder_vocab)
    torch.manual_seed(seed)
    if preset == "florenz-nano":
        from .gemma3_gguf import load_gemma3_270m, load_gemma3_decoder_into, load_gemma3_tokenizer

        tokenizer = load_gemma3_tokenizer()
        model = FlorenzForConditionalGeneration(FlorenzConfig.from_preset(preset))
        load_gemma3_decoder_into(model, load_gemma3_270m())
    else:
        text_vocab = FLORENZ_PRESETS[preset]["text"]["vocab_size"]
        tokenizer = train_decoder_tokenizer(texts, vocab_size=text_vocab)
        model = FlorenzForConditionalGeneration(FlorenzConfig.from_preset(preset))
    model.config.image_size = image_size
    processor = FlorenzProcessor(florenz_image_processor(image_size), tokenizer, encoder_tokenizer)
    return model, limit_prompts(model, processor)


def init_checkpoint(preset: str, out: str | os.PathLike, seed: int = 0, image_size: int | None = None) -> Path:
    image_size = image_size or default_image_size(preset)
    if preset == "florenz-nano":
        summary = (
            f"`florenz model init florenz-nano` (seed {seed}): the real Gemma-3 270M decoder (from the bundled "
            "Q4_K_M GGUF) with randomly initialised vision tower, encoder and cross-attention; not trained."
        )
    else:
        summary = f"`florenz model init {preset}` (seed {seed}): random weights for tests and plumbing; not trained."
    return write_model_folder(
        out,
        image_size,
        lambda: build_model_and_processor(preset, seed, image_size),
        lambda: build_model_card(
            model_id=str(out), summary=summary, preset=preset, base_model=base_models(preset=preset)
        ),
    )[0]
