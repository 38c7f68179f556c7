"""`florenz sweep`: the compute grid (model size × seen samples × seed), one `runs.csv` row per finished run.

Each run has its own schedule (not a checkpoint of a longer run), keeps its final checkpoint, and is skipped when
`runs.csv` already holds it; an interrupted run resumes from its last checkpoint.
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from dataset_builder.corpus import ScenesConfig

from .compute import forward_flops_per_sample, parameter_counts, training_compute
from .config import FlorenzPretrainConfig
from .data import release_eval_sets, scenes_eval_sets
from .evaluation import evaluate_run
from .run import train
from .runs_table import RUNS_CSV, append_run, completed_run_ids, run_id
from .scenes_presets import SCENES_IMAGE_SIZE, SCENES_PRESETS, learning_rate_for


def run_sweep(
    out: str | Path,
    presets: Sequence[str],
    samples: Sequence[int],
    seeds: Sequence[int] = (0,),
    batch_size: int = 32,
    num_eval: int = 64,
    generation_rows: int = 32,
    max_encoder_length: int = 64,
    max_decoder_length: int = 64,
    corpus: ScenesConfig | None = None,
    dataset: str | Path | None = None,
    vision_pretraining_steps: int = 0,
    overrides: dict[str, Any] | None = None,
) -> Path:
    """Train and evaluate every (preset, S, seed) point not yet in `out/runs.csv`; return the table's path.

    With `dataset` (a Scenes release folder built from `corpus`), training rows and eval sets are read from its
    parquet files; otherwise they are generated on the fly from `corpus`. With `vision_pretraining_steps`, each
    (preset, seed) first pretrains its vision tower on scene attributes and keeps it frozen (the paper's policy);
    otherwise the vision tower is trained with the rest.
    """
    unknown = [p for p in presets if p not in SCENES_PRESETS]
    if unknown:
        raise ValueError(f"unknown Scenes presets {unknown}; allowed: {sorted(SCENES_PRESETS)}")
    bad = [s for s in samples if s <= 0 or s % batch_size]
    if bad:
        raise ValueError(f"seen-sample budgets {bad} must be positive multiples of the batch size {batch_size}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    corpus = corpus or ScenesConfig(image_size=SCENES_IMAGE_SIZE)
    table = out / RUNS_CSV
    done = completed_run_ids(table)
    grid = [(p, s, seed) for p, s, seed in itertools.product(presets, samples, seeds) if run_id(p, s, seed) not in done]
    if not grid:
        return table
    eval_sets = release_eval_sets(str(dataset), num_eval) if dataset else scenes_eval_sets(corpus, "test", num_eval)
    for preset, seen, seed in tqdm(grid, desc="sweep", unit="run"):
        steps = seen // batch_size
        settings = {
            "output_dir": str(out / "runs" / run_id(preset, seen, seed)),
            "model": preset,
            "dataset": str(dataset) if dataset else "scenes",
            "seen_samples": seen,
            "seed": seed,
            "image_size": corpus.image_size,
            "caption_langs": ",".join(corpus.caption_langs),
            "translation_langs": ",".join(corpus.translation_langs),
            "max_encoder_length": max_encoder_length,
            "max_decoder_length": max_decoder_length,
            "per_device_train_batch_size": batch_size,
            "per_device_eval_batch_size": batch_size,
            "learning_rate": learning_rate_for(preset),
            "warmup_steps": max(1, steps // 20),
            "freeze_policy": SCENES_PRESETS[preset]["freeze_policy"],
            "train_vision": not vision_pretraining_steps,
            "vision_pretraining_steps": vision_pretraining_steps,
            "save_steps": max(1, steps // 2),
            "save_total_limit": 1,
            "logging_steps": max(1, steps // 10),
            "use_cpu": True,
        }
        args = FlorenzPretrainConfig(**{**settings, **(overrides or {})})
        started = time.perf_counter()
        trainer, decoder_init = train(args, tokenizer_dir=out / "tokenizers", corpus=corpus)
        train_seconds = time.perf_counter() - started
        model = trainer.model
        params, trainable = parameter_counts(model)
        image_size = trainer.processing_class.image_size
        flops = forward_flops_per_sample(model, max_encoder_length, max_decoder_length, image_size)
        metrics = evaluate_run(trainer, eval_sets, corpus.caption_langs, generation_rows=generation_rows)
        append_run(
            table,
            {
                "run_id": run_id(preset, seen, seed),
                "preset": preset,
                "decoder_kind": model.config.decoder_kind,
                "decoder_init": decoder_init,
                "seed": seed,
                "params": params,
                "trainable_params": trainable,
                "seen_samples": seen,
                "flops_per_sample": flops,
                "compute": training_compute(seen, flops, params, trainable),
                "learning_rate": args.learning_rate,
                "wall_seconds": round(train_seconds, 2),
                **metrics,
            },
        )
        for checkpoint in Path(args.output_dir).glob("checkpoint-*"):
            shutil.rmtree(checkpoint, ignore_errors=True)
    return table
