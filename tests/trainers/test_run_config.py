"""One configuration per run: the sweep plan's corpus reaches every stage, and one image size serves processor,
length check and FLOPs."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from dataset_builder.corpus import ScenesConfig
from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration
from trainers.config import FlorenzPretrainConfig
from trainers.run import check_lengths, run_image_size, scenes_corpus_config
from trainers.scenes_presets import SCENES_IMAGE_SIZE, scenes_config

PLAN_CORPUS = ScenesConfig(seed=3, image_size=64, max_objects=1, detailed_share=0.0, multi_sentence_share=0.0)


def _args(tmp_path, **fields) -> FlorenzPretrainConfig:
    settings = {"output_dir": str(tmp_path / "run"), "use_cpu": True, "report_to": "none"}
    return FlorenzPretrainConfig(**{**settings, **fields})


def test_tokenizer_texts_are_made_without_rendering_images(monkeypatch):
    from dataset_builder import corpus
    from trainers.scenes_model import corpus_texts

    with_images = corpus_texts(PLAN_CORPUS, rows_per_key=3)

    def no_render(*_args, **_kwargs):
        raise AssertionError("tokenizer texts must not render images")

    monkeypatch.setattr(corpus, "render", no_render)
    assert corpus_texts(PLAN_CORPUS, rows_per_key=3) == with_images
    row = corpus.make_row(PLAN_CORPUS, "test", "disambiguation-fr", 0, with_image=False)
    assert row["image"] is None and row["target_incorrect"]


def test_plan_corpus_reaches_tokenizer_training_and_vision_pretraining(tmp_path, monkeypatch):
    from trainers import scenes_model, vision_pretraining
    from trainers.run import train

    seen: dict[str, ScenesConfig] = {}
    texts, pretrain = scenes_model.corpus_texts, vision_pretraining.pretrain_vision

    def spy_texts(config, *args, **kwargs):
        seen["tokenizers"] = config
        return texts(config, *args, **kwargs)

    def spy_pretrain(model, processor, corpus, steps, **kwargs):
        seen["vision"] = corpus
        return pretrain(model, processor, corpus, steps, batch_size=4)

    monkeypatch.setattr(scenes_model, "corpus_texts", spy_texts)
    monkeypatch.setattr(vision_pretraining, "pretrain_vision", spy_pretrain)
    args = _args(tmp_path, model="scenes-xs", image_size=PLAN_CORPUS.image_size, seen_samples=8,
                 per_device_train_batch_size=8, max_encoder_length=32, max_decoder_length=32,
                 vision_pretraining_steps=1, save_strategy="no", disable_tqdm=True)  # fmt: skip
    torch.manual_seed(0)
    trainer, _ = train(args, tokenizer_dir=tmp_path / "tokenizers", corpus=PLAN_CORPUS)
    assert seen == {"tokenizers": PLAN_CORPUS, "vision": PLAN_CORPUS}
    assert trainer.train_dataset.config == PLAN_CORPUS
    assert trainer.processing_class.image_size == PLAN_CORPUS.image_size


def test_corpus_coverage_must_match_the_run(tmp_path):
    args = _args(tmp_path, model="scenes-xs", caption_langs="en")
    with pytest.raises(ValueError, match="corpus coverage"):
        scenes_corpus_config(args, PLAN_CORPUS)
    assert scenes_corpus_config(args).caption_langs == ("en",)


def test_image_size_has_one_owner(tmp_path):
    defaults = _args(tmp_path, model="scenes-s")  # `florenz train --model scenes-s` with every other default
    assert defaults.image_size is None and run_image_size(defaults) == SCENES_IMAGE_SIZE
    model = FlorenzForConditionalGeneration(scenes_config("scenes-s", 64, 64))
    check_lengths(model, defaults, run_image_size(defaults))  # 37 image tokens + 128 prompt tokens fit 256
    with pytest.raises(ValueError, match="image tokens"):
        check_lengths(model, defaults, 224)  # what a fixed 224 px default used to check
    assert run_image_size(_args(tmp_path, model="tiny-bart")) == 64
    assert run_image_size(_args(tmp_path, model="scenes-s", image_size=64)) == 64
    # the corpus renders at the run's size, whatever size the plan's corpus named
    plan = dataclasses.replace(PLAN_CORPUS, image_size=128)
    assert scenes_corpus_config(_args(tmp_path, model="scenes-xs", image_size=64), plan).image_size == 64
    assert scenes_corpus_config(defaults, plan).image_size == SCENES_IMAGE_SIZE
