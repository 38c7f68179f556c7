"""`--generation_max_length` / `--generation_num_beams` reach the generate calls of in-training evaluation, which
generates through `Seq2SeqTrainer.predict` exactly as `generate_texts` does."""

from __future__ import annotations

import logging

import pytest
import torch

from dataset_builder.corpus import ScenesConfig, make_row
from model_tools.checkpoint_init import build_model_and_processor
from model_tools.model_folder import set_generation_defaults
from trainers import trainer as trainer_module
from trainers.config import FlorenzPretrainConfig
from trainers.metrics import bleu
from trainers.trainer import FlorenzSeq2SeqTrainer


def _trainer(tmp_path, rows: int = 2, **args):
    model, processor = build_model_and_processor("tiny-bart", image_size=64)
    set_generation_defaults(model)  # as a loaded model folder has: max_new_tokens=32 must not win
    config = FlorenzPretrainConfig(
        output_dir=str(tmp_path), seen_samples=32, per_device_train_batch_size=16, per_device_eval_batch_size=2,
        max_encoder_length=48, max_decoder_length=40, use_cpu=True, report_to="none",
        **{"predict_with_generate": True, **args},
    )  # fmt: skip
    rows = [make_row(ScenesConfig(image_size=64), "test", "caption-fr", index) for index in range(rows)]
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
    assert calls[0]["max_length"] == max_length  # decoder tokens incl. the start token, as generate counts them
    assert calls[0]["length"] <= max_length  # the model folder's max_new_tokens=32 did not win


def test_forced_prefix_counts_towards_max_length_and_defaults_apply(tmp_path):
    trainer, processor, rows, calls = _trainer(tmp_path, generation_max_length=12)
    trainer.generate_texts(rows, prefix=True)
    forced = processor(images=[row["image"] for row in rows], language="fr", prefix=True)["decoder_input_ids"].shape[1]
    assert calls[-1]["max_new_tokens"] == 12 - forced and calls[-1]["length"] <= 12
    assert calls[-1]["num_beams"] == 4  # generation_num_beams unset: the default
    trainer.args.generation_max_length = None
    trainer.generate_texts(rows, num_beams=1)
    assert (calls[-1]["num_beams"], calls[-1]["max_new_tokens"]) == (1, 64)


def test_predict_generates_what_generate_texts_does_and_bleu_scores_the_row_targets(tmp_path, monkeypatch, caplog):
    trainer, _, rows, calls = _trainer(tmp_path, rows=5, generation_max_length=10, generation_num_beams=2)
    torch.manual_seed(0)
    with torch.no_grad():  # large random weights: varied hypotheses (a fresh model repeats one token)
        for parameter in trainer.model.parameters():
            if parameter.dim() > 1:
                parameter.normal_(0, 0.3)
    saved_generation_config = trainer.model.generation_config.to_dict()
    expected = trainer.generate_texts(rows)
    predicted = trainer.predict_texts(rows)
    assert predicted == expected
    assert len(set(expected)) > 1
    assert len(calls) == 3 + 3  # 5 rows in batches of 2, each way
    assert [call.get("max_new_tokens") for call in calls[:3]] == [9] * 3
    assert [call.get("max_length") for call in calls[3:]] == [10] * 3
    assert max(call["length"] for call in calls) == 10  # some hypotheses reach the limit: the limits are the same
    scored = []

    def recording_bleu(hyps, refs, language):
        scored.append((list(hyps), list(refs), language))
        return bleu(hyps, refs, language)

    monkeypatch.setattr(trainer_module, "bleu", recording_bleu)
    with caplog.at_level(logging.WARNING):
        metrics = trainer.evaluate()
    assert trainer.model.generation_config.to_dict() == saved_generation_config  # so a saved folder is unchanged
    assert not [record for record in caplog.records if "max_new_tokens" in record.getMessage()]
    targets = [row["target"] for row in rows]
    assert scored == [(expected, targets, "fr")]  # the raw targets, not labels decoded back
    assert metrics["eval_bleu_caption-fr"] == bleu(expected, targets, "fr")


def test_generation_sets_need_predict_with_generate(tmp_path):
    with pytest.raises(ValueError, match="predict_with_generate=True"):
        _trainer(tmp_path, predict_with_generate=False)
