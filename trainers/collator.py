"""Batch rows of the Florenz corpus into model inputs with the Florenz processor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transformers import BatchFeature


@dataclass
class FlorenzDataCollator:
    """Rows (`image`, `task`, `language`, `source`, `target`) → encoder ids + mask + pixel values + labels.

    Labels are `<bos> … <eos>`, right-padded with −100; the model shifts them right with the decoder start token.
    """

    processor: Any
    max_encoder_length: int = 128
    max_decoder_length: int = 128

    def __call__(self, rows: list[dict[str, Any]]) -> BatchFeature:
        if not rows:
            raise ValueError("cannot collate an empty batch")
        return self.processor(
            images=[row["image"] for row in rows],
            task=[row["task"] for row in rows],
            language=[row["language"] for row in rows],
            text=[row["source"] or None for row in rows],
            text_target=[row["target"] for row in rows],
            max_length=self.max_encoder_length,
            max_target_length=self.max_decoder_length,
            return_tensors="pt",
        )
