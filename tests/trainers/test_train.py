"""`florenz train` and `trainers.run.train`: YAML recipes, in-training evaluation, early refusal."""

from __future__ import annotations

import json

import pytest

from trainers.config import FlorenzPretrainConfig


def test_train_from_yaml_logs_in_training_ce_groups_and_bleu(tmp_path):
    from transformers import HfArgumentParser

    import florenz_cli
    from trainers.run import train

    config = tmp_path / "recipe.yaml"
    lines = [
        "model: tiny-bart", "dataset: scenes", "image_size: 64", "seen_samples: 32", "per_device_train_batch_size: 16",
        "per_device_eval_batch_size: 4", "max_encoder_length: 48", "max_decoder_length: 40", "use_cpu: true",
        "eval_strategy: steps", "eval_steps: 2", "num_eval: 4", "predict_with_generate: true", "save_strategy: 'no'",
        "disable_tqdm: true",
    ]  # fmt: skip
    no_eval = [line for line in lines if not line.startswith(("eval_", "predict_"))]
    config.write_text("\n".join([f"output_dir: {tmp_path / 'cli'}", *no_eval]))
    assert florenz_cli.main(["train", "--config", str(config)]) == 0
    assert (tmp_path / "cli" / "final" / "model.safetensors").exists()
    generation = json.loads((tmp_path / "cli" / "final" / "generation_config.json").read_text())
    assert (generation["num_beams"], generation["max_new_tokens"], generation["early_stopping"]) == (4, 32, True)
    from model_tools.model_card import card_metadata

    card = card_metadata(tmp_path / "cli" / "final")  # training's final model carries its card
    assert card["caption_languages"] == ["en", "de"] and card["training"]["seen_samples"] == 32

    config.write_text("\n".join([f"output_dir: {tmp_path / 'api'}", *lines]))
    (args,) = HfArgumentParser(FlorenzPretrainConfig).parse_yaml_file(str(config))
    trainer, decoder_init = train(args)
    evals = [entry for entry in trainer.state.log_history if "eval_ce_unseen_caption" in entry]
    assert decoder_init == "scratch" and evals
    last = evals[-1]
    unseen = [last[f"eval_ce_caption-{lang}"] for lang in ("fr", "es", "ru", "zh")]
    assert last["eval_ce_unseen_caption"] == pytest.approx(sum(unseen) / 4)
    assert "eval_ce_translation" in last and "eval_bleu_caption-fr" in last
    assert "eval_ce_disambiguation-fr" not in last


def test_train_rejects_bad_config_before_training(tmp_path, capsys):
    import florenz_cli

    code = florenz_cli.main(["train", "--output_dir", str(tmp_path / "x"), "--model", "tiny-bart", "--seen_samples", "30",
                             "--per_device_train_batch_size", "16", "--use_cpu", "true"])  # fmt: skip
    assert code == 2
    assert "multiple of the global batch" in capsys.readouterr().err
    assert not (tmp_path / "x" / "final").exists()
