"""Trainers: config validation, collator, compute accounting, runs table, one sweep point, exact resume."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dataset_builder.corpus import ScenesConfig, make_row
from model_tools.checkpoint_init import build_model_and_processor
from trainers.collator import FlorenzDataCollator
from trainers.compute import forward_flops_per_sample, parameter_counts, training_compute
from trainers.config import FlorenzPretrainConfig
from trainers.runs_table import REQUIRED_COLUMNS, append_run, completed_run_ids, read_runs

REPO = Path(__file__).resolve().parents[2]


def test_config_rejects_bad_values(tmp_path):
    with pytest.raises(ValueError, match="balancing"):
        FlorenzPretrainConfig(output_dir=str(tmp_path), balancing="nope", use_cpu=True)
    with pytest.raises(ValueError, match="freeze_policy"):
        FlorenzPretrainConfig(output_dir=str(tmp_path), freeze_policy="nope", use_cpu=True)
    with pytest.raises(ValueError, match="multiple of the global batch"):
        FlorenzPretrainConfig(output_dir=str(tmp_path), seen_samples=100, per_device_train_batch_size=32, use_cpu=True)
    config = FlorenzPretrainConfig(
        output_dir=str(tmp_path), seen_samples=96, per_device_train_batch_size=32, use_cpu=True
    )
    assert config.max_steps == 3
    assert (config.learning_rate, config.weight_decay, config.lr_scheduler_type) == (1e-4, 0.01, "cosine")


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


def test_compute_accounting_counts_flops_and_trainable_share():
    model, _ = build_model_and_processor("tiny-bart")
    flops_short = forward_flops_per_sample(model, 8, 8, 64)
    flops_long = forward_flops_per_sample(model, 32, 32, 64)
    assert 0 < flops_short < flops_long
    total, trainable = parameter_counts(model)
    assert total == trainable
    model.apply_freeze_policy("paper")
    total_frozen, trainable_frozen = parameter_counts(model)
    assert total_frozen == total and trainable_frozen < total
    assert training_compute(10, 100, 4, 1) == pytest.approx(10 * 100 * 1.25)
    with pytest.raises(ValueError):
        training_compute(10, 100, 4, 5)


def test_runs_table_appends_replaces_and_validates(tmp_path):
    table = tmp_path / "runs.csv"
    row = {column: 1 for column in REQUIRED_COLUMNS} | {"run_id": "a", "ce_caption-fr": 2.5}
    append_run(table, row)
    append_run(table, row | {"run_id": "b", "extra": 7})
    append_run(table, row | {"run_id": "a", "ce_seen_caption": 0.5})
    rows = read_runs(table)
    assert [r["run_id"] for r in rows] == ["b", "a"]
    assert rows[1]["ce_seen_caption"] == "0.5" and rows[0]["extra"] == "7" and rows[1]["extra"] == ""
    assert completed_run_ids(table) == {"a", "b"}
    with pytest.raises(ValueError, match="lacks required columns"):
        append_run(table, {"run_id": "c"})
    assert not list(tmp_path.glob(".runs-*"))


def test_sweep_point_writes_row_and_is_skipped_on_rerun(tmp_path):
    from trainers.sweep import run_sweep

    torch.manual_seed(0)
    table = run_sweep(tmp_path, ["scenes-xs"], [32], seeds=[0], batch_size=16, num_eval=4, generation_rows=2,
                      overrides={"learning_rate": 2e-3})  # fmt: skip
    rows = read_runs(table)
    assert len(rows) == 1
    row = rows[0]
    for column in (
        *REQUIRED_COLUMNS,
        "ce_caption-fr",
        "ce_gap_seen",
        "ce_gap_unseen",
        "bleu_unseen_prefix",
        "acc_disambiguation",
    ):
        assert row[column] != "", column
    assert float(row["compute"]) == pytest.approx(
        32 * float(row["flops_per_sample"]) * (1 + float(row["trainable_params"]) / float(row["params"]))
    )
    assert row["decoder_init"] == "scratch" and row["decoder_kind"] == "bart"
    assert float(row["learning_rate"]) == 2e-3  # overrides replace the per-size rule's settings
    assert (tmp_path / "runs" / row["run_id"] / "final" / "model.safetensors").exists()
    final = tmp_path / "runs" / row["run_id"] / "final" / "model.safetensors"
    written, table_before = final.stat().st_mtime_ns, table.read_text()
    run_sweep(tmp_path, ["scenes-xs"], [32], seeds=[0], batch_size=16, num_eval=4, generation_rows=2)
    assert final.stat().st_mtime_ns == written  # nothing retrained
    assert table.read_text() == table_before


def _train_command(out: Path) -> list[str]:
    return [
        sys.executable, "-m", "florenz_cli", "train",
        "--output_dir", str(out), "--model", "tiny-bart", "--dataset", "scenes", "--image_size", "64",
        "--seen_samples", "384", "--per_device_train_batch_size", "8", "--save_steps", "4",
        "--save_total_limit", "2", "--warmup_steps", "1", "--learning_rate", "1e-3", "--logging_steps", "1",
        "--max_encoder_length", "48", "--max_decoder_length", "40", "--seed", "3", "--use_cpu", "true",
        "--disable_tqdm", "true",
    ]  # fmt: skip


def _final_weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(out / "final" / "model.safetensors")


def _run(command: list[str], env: dict[str, str]) -> None:
    """Run a CLI command; on failure show its stderr (CI prints only the exit status otherwise)."""
    result = subprocess.run(command, check=False, cwd=REPO, env=env, capture_output=True, text=True)
    if result.returncode:
        pytest.fail(f"{' '.join(command[:6])} … exited {result.returncode}:\n{result.stderr[-20000:]}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _launch(accelerate_args: list[str], train_args: list[str], env: dict[str, str]) -> None:
    """`accelerate launch` two gloo processes on loopback, on a free rendezvous port.

    Gloo binds ephemeral ports of its own; a clash with another socket ("Address already in use") is the machine's,
    not ours, so that one error is retried once on a new port. Any other failure fails the test with its stderr.
    """
    env = {**env, "GLOO_SOCKET_IFNAME": "lo"}
    accelerate = str(Path(sys.executable).with_name("accelerate"))
    for attempt in range(2):
        command = [accelerate, "launch", "--main_process_port", str(_free_port()), *accelerate_args,
                   "-m", "florenz_cli", "train", *train_args]  # fmt: skip
        result = subprocess.run(command, check=False, cwd=REPO, env=env, capture_output=True, text=True)
        if not result.returncode:
            return
        if attempt or "Address already in use" not in result.stderr:
            pytest.fail(f"accelerate launch exited {result.returncode}:\n{result.stderr[-20000:]}")


def test_resume_after_kill_9_reproduces_uninterrupted_weights(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    reference = tmp_path / "reference"
    _run(_train_command(reference), env)

    interrupted = tmp_path / "interrupted"
    kill_at = random.Random().choice(range(8, 41, 4))
    process = subprocess.Popen(_train_command(interrupted), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 300
    while not (interrupted / f"checkpoint-{kill_at}").exists():
        assert process.poll() is None, "training ended before the kill point"
        assert time.time() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (interrupted / "final").exists()
    _run(_train_command(interrupted), env)

    expected, resumed = _final_weights(reference), _final_weights(interrupted)
    assert expected.keys() == resumed.keys()
    for name in expected:
        assert torch.equal(expected[name], resumed[name]), name


def test_two_process_ddp_equals_one_process_with_the_global_batch(tmp_path):
    """`accelerate launch` with 2 CPU processes (gloo) must train exactly like 1 process with twice the batch."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    flags = [
        "--model", "tiny-bart", "--dataset", "scenes", "--image_size", "64", "--seen_samples", "64",
        "--max_encoder_length", "48", "--max_decoder_length", "40", "--use_cpu", "true", "--disable_tqdm", "true",
        "--optim", "sgd", "--learning_rate", "0.5", "--warmup_steps", "0", "--lr_scheduler_type", "constant",
        "--save_strategy", "no",
    ]  # fmt: skip
    _launch(["--multi_gpu", "--num_processes", "2"],
            ["--output_dir", str(tmp_path / "ddp"), "--per_device_train_batch_size", "8", *flags], env)  # fmt: skip
    single = [sys.executable, "-m", "florenz_cli", "train", "--per_device_train_batch_size", "16", *flags]
    _run([*single, "--output_dir", str(tmp_path / "one")], env)
    _run([*single, "--output_dir", str(tmp_path / "other"), "--seed", "7"], env)
    ddp, one, other = (_final_weights(tmp_path / name) for name in ("ddp", "one", "other"))
    assert max((ddp[k] - one[k]).abs().max().item() for k in one) < 1e-5
    assert max((other[k] - one[k]).abs().max().item() for k in one) > 1e-2  # the comparison can fail


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


def test_release_eval_sets_never_mix_up_releases_in_same_named_folders(tmp_path):
    from dataset_builder.release import build_scenes_release
    from trainers.data import release_eval_sets

    small, large = tmp_path / "a" / "scenes", tmp_path / "b" / "scenes"
    build_scenes_release(small, ScenesConfig(image_size=32), num_train=21, num_eval=3)
    build_scenes_release(large, ScenesConfig(image_size=32), num_train=21, num_eval=5)
    assert len(release_eval_sets(str(small), 10)["caption-fr"]) == 3
    assert len(release_eval_sets(str(large), 10)["caption-fr"]) == 5


def test_generalist_recipe_streams_all_eleven_keys_uniformly(tmp_path):
    from collections import Counter

    from dataset_builder.balancing import GENERALIST_FINETUNE_KEYS
    from trainers.config import FlorenzSFTConfig
    from trainers.run import scenes_corpus_config, training_stream

    args = FlorenzSFTConfig(output_dir=str(tmp_path), seen_samples=44, per_device_train_batch_size=11, use_cpu=True,
                            image_size=64)  # fmt: skip
    assert (args.learning_rate, args.weight_decay, args.balancing) == (5e-5, 0.05, "generalist")
    stream = training_stream(args, scenes_corpus_config(args))
    counts = Counter(key for key, _ in stream.items)
    assert set(counts) == set(GENERALIST_FINETUNE_KEYS) and set(counts.values()) == {4}
    row = stream[[key for key, _ in stream.items].index("caption-fr")]
    assert row["language"] == "fr" and row["task"] in ("caption", "detailed_caption")


def test_pretrain_stream_never_yields_uncovered_captions(tmp_path):
    from trainers.run import scenes_corpus_config, training_stream

    args = FlorenzPretrainConfig(output_dir=str(tmp_path), seen_samples=70, per_device_train_batch_size=7,
                                 use_cpu=True, image_size=64)  # fmt: skip
    keys = {key for key, _ in training_stream(args, scenes_corpus_config(args)).items}
    assert keys == {"caption-en", "caption-de", *(f"translation-{lang}" for lang in ("de", "fr", "es", "ru", "zh"))}


def test_fsdp_config_trains_like_one_process_on_cpu(tmp_path):
    """The shipped FSDP config (2 processes, fp32 here) must give the same weights as 1 process with the global batch."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    config = (REPO / "configs" / "accelerate_fsdp.yaml").read_text()
    config = config.replace("num_processes: 8", "num_processes: 2").replace(
        "mixed_precision: bf16", 'mixed_precision: "no"'
    )
    (tmp_path / "fsdp.yaml").write_text(config)
    flags = [
        "--model", "tiny-gemma2", "--dataset", "scenes", "--image_size", "64", "--seen_samples", "32",
        "--max_encoder_length", "48", "--max_decoder_length", "40", "--use_cpu", "true", "--disable_tqdm", "true",
        "--optim", "sgd", "--learning_rate", "0.5", "--warmup_steps", "0", "--lr_scheduler_type", "constant",
        "--save_strategy", "no",
    ]  # fmt: skip
    _launch(["--config_file", str(tmp_path / "fsdp.yaml")],
            ["--output_dir", str(tmp_path / "fsdp"), "--per_device_train_batch_size", "8", *flags], env)  # fmt: skip
    single = [sys.executable, "-m", "florenz_cli", "train", "--per_device_train_batch_size", "16", *flags]
    _run([*single, "--output_dir", str(tmp_path / "one")], env)
    fsdp, one = _final_weights(tmp_path / "fsdp"), _final_weights(tmp_path / "one")
    assert fsdp.keys() == one.keys()
    assert max((fsdp[k] - one[k]).abs().max().item() for k in one) < 1e-5
