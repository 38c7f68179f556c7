"""Writing a model folder (model + processor): the one path of `florenz model init` and every converter.

Bad output folders and image sizes are refused before any weight is read; the folder appears complete or not at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard

from dataset_builder.atomic import atomic_path
from modeling_florenz.modeling_florenz import write_checksums

from .model_card import write_model_card

# What the README's generate calls use; saved in every model folder's generation_config.json, so that a bare
# `generate()` and the image-text-to-text pipeline decode the way the model is documented (not 21 greedy tokens).
GENERATION_DEFAULTS = {"num_beams": 4, "max_new_tokens": 32, "early_stopping": True}


def set_generation_defaults(model) -> None:
    """Write `GENERATION_DEFAULTS` into the model's generation config (token ids stay as the model set them)."""
    model.generation_config.update(**GENERATION_DEFAULTS)


def check_output_folder(out: str | os.PathLike) -> Path:
    """`out` as a Path, refused when it is a file or a non-empty folder (a model folder is never merged into)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"output folder {out} is not empty; choose a new or empty folder")
    return out


def check_image_size(image_size: int) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 32:
        raise ValueError(f"image_size must be an int >= 32 (the DaViT backbone's total stride), got {image_size!r}")


def save_model_and_processor(model, processor, out: str | os.PathLike, card: ModelCard | None = None) -> Path:
    """Save both (with the generation defaults) and the model card into `out` atomically: written to a hidden sibling
    folder, then renamed into place."""
    out = check_output_folder(out)
    if getattr(model.config, "image_size", None) is None:  # forward() then checks pixel sizes against it
        model.config.image_size = processor_image_size(processor)
    with atomic_path(out) as tmp:
        set_generation_defaults(model)
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        if card is not None:
            write_model_card(tmp, card)
        write_checksums(tmp)  # last, so that `florenz model verify` covers every file
    return out


def processor_image_size(processor) -> int | None:
    """The square side the processor resizes to, or None when it is not a fixed square."""
    size = getattr(processor.image_processor, "size", None)
    height, width = (getattr(size, "height", None), getattr(size, "width", None)) if size is not None else (None, None)
    if isinstance(size, dict):
        height, width = size.get("height"), size.get("width")
    return height if height is not None and height == width else None


def write_model_folder(
    out: str | os.PathLike,
    image_size: int,
    build: Callable[[], tuple[Any, ...]],
    card: Callable[..., ModelCard],
) -> tuple:
    """Check `out` and `image_size`, then `build()` → (model, processor, *extra) and save with the card
    `card(*extra)`; returns (out, *extra)."""
    check_output_folder(out)
    check_image_size(image_size)
    model, processor, *extra = build()
    return save_model_and_processor(model, processor, out, card(*extra)), *extra
