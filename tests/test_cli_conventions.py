"""CLI conventions: `florenz train` and `florenz finetune` list and parse every training field (YAML + overrides),
warm-up scaled to the run, help on every sweep flag, `model info` for Scenes presets, `data build` progress and counts equal to `data info`."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

import florenz_cli
from trainers.cli import finetune_config, finetune_parser, training_config, training_parser
from trainers.config import FlorenzPretrainConfig, FlorenzSFTConfig


def _subparser(*path: str) -> argparse.ArgumentParser:
    parser = florenz_cli.build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def test_train_help_lists_every_field_with_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        florenz_cli.main(["train", "--help"])
    assert exit_info.value.code == 0
    shown = capsys.readouterr().out
    fields = [field.name for field in dataclasses.fields(FlorenzPretrainConfig) if field.init]
    assert len(fields) > 100
    missing = [name for name in fields if f"--{name}" not in shown]
    assert not missing
    for name in ("seen_samples", "max_encoder_length", "generation_max_length"):
        assert f"--{name.replace('_', '-')}" in shown  # kebab-case aliases
    undocumented = [
        action.dest
        for action in training_parser()._actions
        if action.dest in fields and not (action.help or "").strip()
    ]
    assert not undocumented


def test_yaml_config_with_command_line_overrides(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"output_dir: {tmp_path / 'out'}\nmodel: tiny-bart\nseen_samples: 64\nper_device_train_batch_size: 16\n"
        "learning_rate: 0.0003\nimage_size: 64\nuse_cpu: true\n"
    )
    config = training_config(["--config", str(recipe), "--learning_rate", "5e-4", "--seen-samples", "128"])
    assert (config.learning_rate, config.seen_samples, config.image_size) == (5e-4, 128, 64)
    assert config.max_steps == 128 // 16 and config.use_cpu is True
    sft = training_config(["--config", str(recipe), "--recipe", "sft"])
    assert (sft.balancing, sft.weight_decay, sft.learning_rate) == ("generalist", 0.05, 3e-4)
    recipe.write_text(recipe.read_text() + "learning_rat: 0.1\n")
    with pytest.raises(ValueError, match="learning_rat"):
        training_config(["--config", str(recipe)])


def test_finetune_help_lists_every_sft_field_and_the_data_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        florenz_cli.main(["finetune", "--help"])
    assert exit_info.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith("usage: florenz finetune")
    fields = [field.name for field in dataclasses.fields(FlorenzSFTConfig) if field.init]
    missing = [name for name in fields if f"--{name}" not in shown]
    assert len(fields) > 100 and not missing
    for flag in ("--data_root", "--data-root", "--translated_captions", "--translated-captions", "--config"):
        assert flag in shown
    assert "(default: 5e-05)" in shown  # the SFT recipe's learning rate, not pre-training's
    undocumented = [
        action.dest
        for action in finetune_parser()._actions
        if action.dest in (*fields, "data_root", "translated_captions") and not (action.help or "").strip()
    ]
    assert not undocumented


def test_finetune_yaml_config_with_command_line_overrides(tmp_path, monkeypatch):
    recipe = tmp_path / "finetune.yaml"
    recipe.write_text(
        f"output_dir: {tmp_path / 'ft'}\nmodel: {tmp_path / 'model'}\nseen_samples: 640\n"
        "per_device_train_batch_size: 16\nlearning_rate: 0.0001\nuse_cpu: true\ndata_root: from-yaml\n"
    )
    config, data_root, translated = finetune_config(
        [
            "--config",
            str(recipe),
            "--learning_rate",
            "2e-5",
            "--seen-samples",
            "320",
            "--translated-captions",
            "a.jsonl",
        ]
    )
    assert isinstance(config, FlorenzSFTConfig)
    assert (config.learning_rate, config.seen_samples, config.max_steps) == (2e-5, 320, 320 // 16)
    assert (config.balancing, config.weight_decay, config.use_cpu) == ("generalist", 0.05, True)
    assert (data_root, translated) == ("from-yaml", ["a.jsonl"])
    config, data_root, translated = finetune_config(["--config", str(recipe), "--data-root", "flag"])
    assert (config.learning_rate, data_root, translated) == (1e-4, "flag", [])
    # the command line alone, in both flag styles, as the README and the downstream test call it
    snake = ["--output_dir", str(tmp_path / "ft"), "--model", "m", "--data_root", "d", "--translated_captions", "x"]
    kebab = ["--output-dir", str(tmp_path / "ft"), "--model", "m", "--data-root", "d", "--translated-captions", "x"]
    assert finetune_config(snake)[1:] == finetune_config(kebab)[1:] == ("d", ["x"])
    recipe.write_text(recipe.read_text() + "translated_captions: a.jsonl\n")
    with pytest.raises(ValueError, match="translated_captions must be a list of file paths"):
        finetune_config(["--config", str(recipe)])
    recipe.write_text(recipe.read_text().replace("translated_captions: a.jsonl\n", "learning_rat: 0.1\n"))
    with pytest.raises(ValueError, match="learning_rat"):
        finetune_config(["--config", str(recipe)])

    import trainers.finetune

    calls = []
    monkeypatch.setattr(trainers.finetune, "finetune", lambda *args: calls.append(args) or tmp_path / "ft" / "final")
    recipe.write_text(recipe.read_text().replace("learning_rat: 0.1\n", ""))
    assert florenz_cli.main(["finetune", "--config", str(recipe), "--warmup_steps", "3", "--data-root", "d2"]) == 0
    ((config, data_root, translated),) = calls
    assert (config.warmup_steps, config.learning_rate, data_root, translated) == (3, 1e-4, "d2", [])


@pytest.mark.parametrize(("samples", "batch", "warmup"), [(2048, 32, 7), (64, 16, 1), (32 * 5000, 32, 100)])
def test_default_warmup_scales_with_the_run(tmp_path, samples, batch, warmup):
    config = FlorenzPretrainConfig(
        output_dir=str(tmp_path), seen_samples=samples, per_device_train_batch_size=batch, use_cpu=True
    )
    assert config.warmup_steps == warmup
    assert config.get_warmup_steps(config.max_steps) == warmup < config.max_steps
    explicit = FlorenzPretrainConfig(output_dir=str(tmp_path), seen_samples=64, warmup_steps=0, use_cpu=True)
    assert explicit.warmup_steps == 0


def test_every_sweep_flag_has_help_and_snake_case_with_kebab_aliases():
    sweep = _subparser("sweep")
    options = [action for action in sweep._actions if action.option_strings and action.dest != "help"]
    assert len(options) == 7
    assert all((action.help or "").strip() for action in options)
    snake = sweep.parse_args(["--out", "o", "--presets", "scenes-xs", "--samples", "32", "--batch_size", "8"])
    kebab = sweep.parse_args(["--out", "o", "--presets", "scenes-xs", "--samples", "32", "--batch-size", "8"])
    assert snake.batch_size == kebab.batch_size == 8


def test_model_info_accepts_scenes_presets_and_lists_them(capsys):
    totals = {}
    for preset in ("scenes-xs", "scenes-s", "scenes-m"):
        assert florenz_cli.main(["model", "info", preset, "--json"]) == 0
        counts = json.loads(capsys.readouterr().out)
        assert 0 < counts["trainable_params"] <= counts["total_params"]
        totals[preset] = counts["total_params"]
    assert totals["scenes-xs"] < totals["scenes-s"] < totals["scenes-m"]
    with pytest.raises(SystemExit):
        florenz_cli.main(["model", "info", "--help"])
    shown = capsys.readouterr().out
    assert "scenes-nano-scratch" in shown and "florenz-11.2b" in shown
    assert florenz_cli.main(["model", "info", "scenes-xxl"]) == 2
    assert "scenes-xs" in capsys.readouterr().err


def test_data_build_shows_progress_and_the_counts_data_info_reports(tmp_path, capsys):
    out = tmp_path / "scenes"
    build = ["data", "build", "scenes", "--out", str(out), "--num-train", "30", "--num-eval", "2"]
    assert florenz_cli.main([*build, "--image-size", "32", "--rows-per-shard", "8"]) == 0
    captured = capsys.readouterr()
    assert "rendering scenes" in captured.err and "82/82" in captured.err
    headline = captured.out.strip().splitlines()[-1]
    assert (
        headline == f"{out}: 16 configs (15 task×language + pretrain mixture), 82 rows (train=30, test=30, heldout=22)"
    )
    assert florenz_cli.main(["data", "info", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == headline
