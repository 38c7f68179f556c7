"""Exact resume after `kill -9`, and multi-process training (DDP, FSDP) equal to one process."""

from __future__ import annotations

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

REPO = Path(__file__).resolve().parents[2]


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
