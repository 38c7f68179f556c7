"""`--generation_max_length` / `--generation_num_beams` reach the generate calls of in-training evaluation."""

from __future__ import annotations

import pytest

from dataset_builder.corpus import ScenesConfig, make_row
from model_tools.checkpoint_init import build_model_and_processor, set_generation_defaults
from trainers.config import FlorenzPretrainConfig
from trainers.trainer import FlorenzSeq2SeqTrainer


def _trainer(tmp_path, **args):
    model, processor = build_model_and_processor("tiny-bart", image_size=64)
    set_generation_defaults(model)  # as a loaded model folder has: max_new_tokens=32 must not win
    config = FlorenzPretrainConfig(
        output_dir=str(tmp_path), seen_samples=32, per_device_train_batch_size=16, per_device_eval_batch_size=2,
        max_encoder_length=48, max_decoder_length=40, use_cpu=True, report_to="none", **args,
    )  # fmt: skip
    rows = [make_row(ScenesConfig(image_size=64), "test", "caption-fr", index) for index in range(2)]
    trainer = FlorenzSeq2SeqTrainer(
        model=model, args=config, processing_class=processor, eval_sets={"caption-fr": rows},
        generation_sets=["caption-fr"],
    )  # fmt: skip
    calls = []
    generate = model.generate

    def spy(**kwargs):
        ids = generate(**kwargs)
        calls.append({"num_beams": kwargs.get("num_beams"), "length": ids.shape[1], **kwargs})
        return ids

    model.generate = spy
    return trainer, processor, rows, calls


@pytest.mark.parametrize(("max_length", "beams"), [(5, 2), (9, 3)])
def test_evaluate_uses_the_generation_arguments(tmp_path, max_length, beams):
    trainer, _, _, calls = _trainer(tmp_path, generation_max_length=max_length, generation_num_beams=beams)
    metrics = trainer.evaluate()
    assert "eval_bleu_caption-fr" in metrics
    assert [call["num_beams"] for call in calls] == [beams]
    assert calls[0]["max_new_tokens"] == max_length - 1  # the decoder start token counts towards max_length
    assert calls[0]["length"] <= max_length


def test_forced_prefix_counts_towards_max_length_and_defaults_apply(tmp_path):
    trainer, processor, rows, calls = _trainer(tmp_path, generation_max_length=12)
    trainer.generate_texts(rows, prefix=True)
    forced = processor(images=[row["image"] for row in rows], language="fr", prefix=True)["decoder_input_ids"].shape[1]
    assert calls[-1]["max_new_tokens"] == 12 - forced and calls[-1]["length"] <= 12
    assert calls[-1]["num_beams"] == 4  # generation_num_beams unset: the default
    trainer.args.generation_max_length = None
    trainer.generate_texts(rows, num_beams=1)
    assert (calls[-1]["num_beams"], calls[-1]["max_new_tokens"]) == (1, 64)
