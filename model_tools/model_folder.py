"""Writing a model folder (model + processor): the one path of `florenz model init` and every converter.

Bad output folders and image sizes are refused before any weight is read; the folder appears complete or not at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dataset_builder.atomic import atomic_path


def check_output_folder(out: str | os.PathLike) -> Path:
    """`out` as a Path, refused when it is a file or a non-empty folder (a model folder is never merged into)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"output folder {out} is not empty; choose a new or empty folder")
    return out


def check_image_size(image_size: int) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 32:
        raise ValueError(f"image_size must be an int >= 32 (the DaViT backbone's total stride), got {image_size!r}")


def save_model_and_processor(model, processor, out: str | os.PathLike) -> Path:
    """Save both into `out` atomically: written to a hidden sibling folder, then renamed into place."""
    out = check_output_folder(out)
    with atomic_path(out) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
    return out


def write_model_folder(out: str | os.PathLike, image_size: int, build: Callable[[], tuple[Any, ...]]) -> tuple:
    """Check `out` and `image_size`, then `build()` → (model, processor, *extra) and save; returns (out, *extra)."""
    check_output_folder(out)
    check_image_size(image_size)
    model, processor, *extra = build()
    return save_model_and_processor(model, processor, out), *extra
