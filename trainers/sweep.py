"""`florenz sweep`: the compute grid (model size × seen samples × seed), one `runs.csv` row per finished run.

Each run has its own schedule (not a checkpoint of a longer run), keeps its final checkpoint, and is skipped when
`runs.csv` already holds it; an interrupted run resumes from its last checkpoint.
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from dataset_builder.corpus import ScenesConfig
from dataset_builder.release import ensure_writable

from .compute import forward_flops_per_sample, parameter_counts, training_compute
from .config import FlorenzPretrainConfig
from .data import release_eval_sets, scenes_eval_sets
from .evaluation import evaluate_run
from .run import train
from .runs_table import RUNS_CSV, append_run, completed_run_ids, run_id
from .scenes_presets import SCENES_IMAGE_SIZE, SCENES_PRESETS, learning_rate_for
from .vision_pretraining import pretraining_compute


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
    generate_at: Sequence[int] | None = None,
    learning_rates: Sequence[float] | None = None,
    preset_learning_rates: Mapping[tuple[str, int], float] | None = None,
    experiment: str = "grid",
    assets_dir: str | Path | None = None,
    lm_languages: Sequence[int] = (0,),
    lm_pretraining_steps: int = 0,
) -> Path:
    """Train and evaluate every (preset, S, seed) point not yet in `out/runs.csv`; return the table's path.

    With `dataset` (a Scenes release folder built from `corpus`), training rows and eval sets are read from its
    parquet files; otherwise they are generated on the fly from `corpus`. With `vision_pretraining_steps`, each
    (preset, seed) first pretrains its vision tower on scene attributes and keeps it frozen (the paper's policy);
    otherwise the vision tower is trained with the rest. Generation metrics (BLEU, CIDEr, language share,
    translation BLEU), the costly part of the evaluation on CPU, the compositional hold-out and Scenes-CoMMuTE are
    computed for the budgets in `generate_at` (default: the largest of `samples`); CE and the shuffled-image gaps (what
    the fits use) at every budget. `learning_rates` turns the grid into an LR sweep (one run per rate; default:
    the preset's rate). `experiment` labels the rows, so that separate experiments in one table are never pooled.
    `preset_learning_rates` replaces the rule's rate of the (preset, T level) pairs it names (e.g. rates chosen by an
    LR sweep).
    `assets_dir` (default `out`) holds the trained tokenizers and pretrained vision towers, so sweeps can share them.
    `lm_languages`: the T levels, i.e. how many languages each scratch decoder is first pretrained on as a text-only
    LM (`trainers/lm_pretraining.py`, `lm_pretraining_steps` steps); every size is trained at every level.
    """
    unknown = [p for p in presets if p not in SCENES_PRESETS]
    if unknown:
        raise ValueError(f"unknown Scenes presets {unknown}; allowed: {sorted(SCENES_PRESETS)}")
    bad = [s for s in samples if s <= 0 or s % batch_size]
    if bad:
        raise ValueError(f"seen-sample budgets {bad} must be positive multiples of the batch size {batch_size}")
    out = Path(out)
    ensure_writable(out, "--out")
    corpus = corpus or ScenesConfig(image_size=SCENES_IMAGE_SIZE)
    table = out / RUNS_CSV
    done = completed_run_ids(table)
    rates: Sequence[float | None] = learning_rates or (None,)
    grid = [
        (p, s, seed, lr, k)
        for p, s, seed, lr, k in itertools.product(presets, samples, seeds, rates, lm_languages)
        if run_id(p, s, seed, lr, k) not in done
    ]
    if not grid:
        return table
    generate_at = set(generate_at if generate_at is not None else [max(samples)])
    if dataset:
        eval_sets = release_eval_sets(str(dataset), num_eval)
        heldout_sets = release_eval_sets(str(dataset), num_eval, split="heldout")
    else:
        eval_sets = scenes_eval_sets(corpus, "test", num_eval)
        heldout_sets = scenes_eval_sets(corpus, "heldout", num_eval)
    for preset, seen, seed, lr, k in tqdm(grid, desc="sweep", unit="run"):
        steps = seen // batch_size
        settings = {
            "output_dir": str(out / "runs" / run_id(preset, seen, seed, lr, k)),
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
            "learning_rate": lr
            if lr is not None
            else (preset_learning_rates or {}).get((preset, k), learning_rate_for(preset)),
            "warmup_steps": max(1, steps // 20),
            "freeze_policy": SCENES_PRESETS[preset]["freeze_policy"],
            "train_vision": not vision_pretraining_steps,
            "vision_pretraining_steps": vision_pretraining_steps,
            "lm_pretraining_languages": k,
            "lm_pretraining_steps": lm_pretraining_steps if k else 0,
            "save_steps": max(1, steps // 2),
            "save_total_limit": 1,
            "logging_steps": max(1, steps // 10),
            "use_cpu": True,
        }
        args = FlorenzPretrainConfig(**{**settings, **(overrides or {})})
        started = time.perf_counter()
        assets = Path(assets_dir) if assets_dir else out
        trainer, decoder_init = train(args, tokenizer_dir=assets / "tokenizers", corpus=corpus)
        train_seconds = time.perf_counter() - started
        model = trainer.model
        params, trainable = parameter_counts(model)
        image_size = trainer.processing_class.image_size
        flops = forward_flops_per_sample(model, max_encoder_length, max_decoder_length, image_size)
        final = seen in generate_at  # the budgets whose tables the report shows get the full evaluation
        metrics = evaluate_run(
            trainer,
            eval_sets,
            corpus.caption_langs,
            generation_rows=generation_rows,
            heldout_sets=heldout_sets if final else None,
            generate=final,
            disambiguation=final,
        )
        gates = [torch.tanh(p.detach()).abs().item() for n, p in model.named_parameters() if n.endswith("_gate")]
        if gates:  # gated cross-attention (Gemma decoders): how far the image path has opened
            metrics.update({"gate_tanh_mean": sum(gates) / len(gates), "gate_tanh_max": max(gates)})
            metrics["gate_learning_rate"] = args.gate_learning_rate or args.learning_rate
        compute = training_compute(seen, flops, params, trainable)
        vision_compute = pretraining_compute(model, image_size, vision_pretraining_steps)
        if k:
            from .lm_pretraining import LM_LANGUAGES
            from .lm_pretraining import pretraining_compute as lm_pretraining_compute

            lm_compute = lm_pretraining_compute(
                model, trainer.processing_class.tokenizer, corpus, k, lm_pretraining_steps
            )
            multilinguality = k / len(LM_LANGUAGES)
        else:
            lm_compute = SCENES_PRESETS[preset].get("lm_pretraining_compute", 0.0)
            multilinguality = 1.0 if decoder_init == "pretrained" else 0.0
        append_run(
            table,
            {
                "run_id": run_id(preset, seen, seed, lr, k),
                "experiment": experiment,
                "preset": preset,
                "decoder_kind": model.config.decoder_kind,
                "decoder_init": decoder_init,
                "lm_languages": k,
                "initial_multilinguality": multilinguality,
                "tokenizer": SCENES_PRESETS[preset]["tokenizer"],
                "vocab_size": model.config.text_config.vocab_size,
                "seed": seed,
                "params": params,
                "trainable_params": trainable,
                "seen_samples": seen,
                "flops_per_sample": flops,
                "compute": compute,
                "vision_pretraining_compute": vision_compute,
                "lm_pretraining_compute": lm_compute,
                "compute_all": compute + vision_compute + lm_compute,
                "learning_rate": args.learning_rate,
                "wall_seconds": round(train_seconds, 2),
                "eval_seconds": round(time.perf_counter() - started - train_seconds, 2),
                **metrics,
            },
        )
        for checkpoint in Path(args.output_dir).glob("checkpoint-*"):
            shutil.rmtree(checkpoint, ignore_errors=True)
    return table
