"""Training throughput on CPU: samples/s, data vs compute share of a step, MFU, and 1 vs 2 processes.

Usage: python bench/train.py [--presets scenes-xl scenes-nano] [--steps 6] [--batch 32]
Targets: data < 5% of step time; MFU >= 25% of a matmul peak measured here; 2 processes >= 1.6x one.
MFU counts 3 x forward FLOPs per sample (forward + backward) against the fp32 matmul peak of all threads.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from dataset_builder.corpus import ScenesConfig
from trainers.collator import FlorenzDataCollator
from trainers.compute import forward_flops_per_sample
from trainers.data import ScenesStream
from trainers.scenes_model import build_scenes_model
from trainers.scenes_presets import SCENES_IMAGE_SIZE

REPO = Path(__file__).resolve().parents[1]
CORPUS = ScenesConfig(image_size=SCENES_IMAGE_SIZE, max_objects=2, detailed_share=0.3, multi_sentence_share=0.1)


def matmul_peak(threads: int, size: int = 2048, repeats: int = 10) -> float:
    """fp32 FLOP/s of a square matmul with `threads` threads (best of `repeats`)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def step_split(preset: str, steps: int, batch: int, tokenizer_dir: str) -> dict[str, float]:
    model, processor = build_scenes_model(preset, CORPUS, tokenizer_dir, seed=0)
    if preset == "scenes-nano":
        model.apply_freeze_policy("paper")
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    stream = ScenesStream(CORPUS, batch * (steps + 1), seed=0)
    collate = FlorenzDataCollator(processor, max_encoder_length=48, max_decoder_length=32)
    data_time = compute_time = 0.0
    lengths = []
    for step in range(steps + 1):  # step 0 warms up and is not counted
        start = time.perf_counter()
        inputs = collate([stream[i] for i in range(step * batch, (step + 1) * batch)])
        loaded = time.perf_counter()
        model(**inputs).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        done = time.perf_counter()
        if step:
            data_time += loaded - start
            compute_time += done - loaded
            lengths.append((inputs["input_ids"].shape[1], inputs["labels"].shape[1]))
    encoder_len = round(sum(e for e, _ in lengths) / len(lengths))
    decoder_len = round(sum(d for _, d in lengths) / len(lengths))
    flops = forward_flops_per_sample(model, encoder_len, decoder_len, processor.image_size)
    samples_per_s = steps * batch / (data_time + compute_time)
    return {
        "samples_per_s": samples_per_s,
        "data_share": data_time / (data_time + compute_time),
        "achieved_flops": 3 * flops * samples_per_s,
    }


def trainer_throughput(processes: int, preset: str, seen: int, batch: int) -> float:
    """train_samples_per_second reported by the Trainer for `florenz train` on 1 or 2 processes."""
    with tempfile.TemporaryDirectory() as out:
        flags = ["train", "--output_dir", out, "--model", preset, "--dataset", "scenes", "--image_size",
                 str(SCENES_IMAGE_SIZE), "--seen_samples", str(seen), "--per_device_train_batch_size",
                 str(batch // processes), "--max_encoder_length", "48", "--max_decoder_length", "32",
                 "--use_cpu", "true", "--save_strategy", "no", "--disable_tqdm", "true", "--train_vision", "true",
                 "--freeze_policy", "all", "--warmup_steps", "1"]  # fmt: skip
        if processes == 1:
            command = [sys.executable, "-m", "florenz_cli", *flags]
            env = {**os.environ, "OMP_NUM_THREADS": "2"}
        else:
            accelerate = str(Path(sys.executable).with_name("accelerate"))
            command = [accelerate, "launch", "--multi_gpu", "--num_processes", str(processes), "-m", "florenz_cli",
                       *flags]  # fmt: skip
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
        result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return float(re.findall(r"'train_samples_per_second': '([0-9.]+)'", result.stdout + result.stderr)[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["scenes-xl", "scenes-nano"])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ddp-preset", default="scenes-m")
    parser.add_argument("--ddp-samples", type=int, default=1024)
    args = parser.parse_args()
    peak = matmul_peak(args.threads)
    print(f"fp32 matmul peak with {args.threads} threads: {peak / 1e9:.1f} GFLOP/s")
    with tempfile.TemporaryDirectory() as tokenizer_dir:
        for preset in args.presets:
            torch.set_num_threads(args.threads)
            batch = args.batch if preset != "scenes-nano" else max(1, args.batch // 4)
            r = step_split(preset, args.steps, batch, tokenizer_dir)
            print(
                f"{preset}: batch {batch}, {r['samples_per_s']:.1f} samples/s, data {100 * r['data_share']:.1f}% of "
                f"step time (target < 5%), MFU {100 * r['achieved_flops'] / peak:.1f}% (target >= 25%)"
            )
    one = trainer_throughput(1, args.ddp_preset, args.ddp_samples, args.batch)
    two = trainer_throughput(2, args.ddp_preset, args.ddp_samples, args.batch)
    print(f"{args.ddp_preset} via Trainer: 1 process {one:.1f} samples/s, 2 processes {two:.1f} samples/s, "
          f"speed-up {two / one:.2f}x (target >= 1.6x)")  # fmt: skip


if __name__ == "__main__":
    main()
