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


def test_gate_learning_rate_puts_the_gates_in_groups_of_their_own(tmp_path):
    """The nano pair's gates start at 0: their own rate must reach the optimizer, and only them."""
    from trainers.run import train

    common = {
        "model": "tiny-gemma3", "dataset": "scenes", "image_size": 64, "seen_samples": 16,
        "per_device_train_batch_size": 8, "max_encoder_length": 48, "max_decoder_length": 40, "use_cpu": True,
        "save_strategy": "no", "disable_tqdm": True, "learning_rate": 1e-4, "warmup_steps": 0,
        "lr_scheduler_type": "constant",
    }  # fmt: skip
    moved = {}
    for gate_lr in (None, 0.05):
        args = FlorenzPretrainConfig(output_dir=str(tmp_path / str(gate_lr)), gate_learning_rate=gate_lr, **common)
        trainer, _ = train(args)
        names = {id(p): n for n, p in trainer.model.named_parameters()}
        groups = [(group["lr"], [names[id(p)] for p in group["params"]]) for group in trainer.optimizer.param_groups]
        gates = [(lr, n) for lr, members in groups for n in members if n.endswith("_gate")]
        others = [lr for lr, members in groups for n in members if not n.endswith("_gate")]
        assert gates and others and set(others) == {1e-4}
        assert {lr for lr, _ in gates} == {gate_lr or 1e-4}
        moved[gate_lr] = max(abs(p.item()) for n, p in trainer.model.named_parameters() if n.endswith("_gate"))
    assert moved[0.05] > 10 * moved[None] > 0  # two steps at 0.05 open the gates far more than at 1e-4


def test_gate_learning_rate_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="gate_learning_rate"):
        FlorenzPretrainConfig(output_dir=str(tmp_path), gate_learning_rate=0.0, use_cpu=True)
