"""The collator: encoder inputs and right-padded labels."""

from __future__ import annotations

from dataset_builder.corpus import ScenesConfig, make_row
from model_tools.checkpoint_init import build_model_and_processor
from trainers.collator import FlorenzDataCollator


def test_collator_builds_encoder_inputs_and_right_padded_labels():
    _, processor = build_model_and_processor("tiny-bart")
    corpus = ScenesConfig(image_size=64)
    rows = [make_row(corpus, "train", "caption-en", 0), make_row(corpus, "train", "translation-zh", 1)]
    batch = FlorenzDataCollator(processor, max_encoder_length=48, max_decoder_length=40)(rows)
    assert batch["pixel_values"].shape == (2, 3, 64, 64)
    assert batch["input_ids"].shape[1] <= 48 and batch["labels"].shape[1] <= 40
    labels = batch["labels"]
    for row in labels:
        real = row[row != -100]
        assert real[0].item() == processor.tokenizer.bos_token_id
        assert real[-1].item() == processor.tokenizer.eos_token_id
        # right padding: no real label after the first -100
        first_pad = (row == -100).nonzero()
        if len(first_pad):
            assert (row[first_pad[0, 0] :] == -100).all()
