"""The T axis: a text-only LM pretraining of the decoder on translation-distribution sentences of k languages."""

from __future__ import annotations

import pytest
import torch

from dataset_builder.corpus import ScenesConfig, make_row
from dataset_builder.overlap import sentences
from model_tools.checkpoint_init import build_model_and_processor
from trainers.lm_pretraining import LM_LANGUAGES, lm_texts, load_or_pretrain_decoder, pretrain_decoder

CORPUS = ScenesConfig(image_size=64, max_objects=2)


def test_texts_rotate_over_the_first_k_languages_and_are_never_captions():
    texts = lm_texts(CORPUS, 6, 0, 60)
    assert texts[0].startswith(("There", "The", "It")) and all("\u4e00" <= ch <= "\u9fff" for ch in texts[5][:2])
    assert any("\u0400" <= ch <= "\u04ff" for ch in texts[4])  # position 4 of every 6 is Russian
    for position, text in enumerate(texts):
        lang = LM_LANGUAGES[position % 6]
        captions = {
            s
            for split in ("test", "heldout")
            for i in range(40)
            for s in sentences(make_row(CORPUS, split, f"caption-{lang}", i, False)["target"], lang)
        }
        assert not captions & set(sentences(text, lang)), text
    two = " ".join(lm_texts(CORPUS, 2, 0, 20))  # en and de only
    assert not any("\u0400" <= ch <= "\u04ff" or "\u4e00" <= ch <= "\u9fff" for ch in two)
    with pytest.raises(ValueError, match="allowed: 1..6"):
        lm_texts(CORPUS, 7, 0, 1)


def test_decoder_pretraining_learns_touches_only_the_decoder_and_is_cached(tmp_path):
    torch.manual_seed(0)
    model, processor = build_model_and_processor("tiny-bart", image_size=64, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    first = pretrain_decoder(model, processor.tokenizer, CORPUS, 6, steps=1, batch_size=8)
    last = pretrain_decoder(model, processor.tokenizer, CORPUS, 6, steps=25, batch_size=8)
    assert last < first
    changed = {k for k, v in model.state_dict().items() if not torch.equal(before[k], v)}
    assert changed and all(k.startswith(("model.decoder.", "lm_head.")) for k in changed)

    cache = tmp_path / "decoder" / "tiny__seed0__lm6.safetensors"
    load_or_pretrain_decoder(model, processor.tokenizer, CORPUS, 6, 2, cache)
    other, _ = build_model_and_processor("tiny-bart", image_size=64, seed=1)
    load_or_pretrain_decoder(other, processor.tokenizer, CORPUS, 6, 2, cache)  # loads, does not retrain
    for name, value in model.state_dict().items():
        if name.startswith("model.decoder."):
            assert torch.equal(value, other.state_dict()[name]), name
