"""`florenz experiment`: the paper's central experiment end to end — corpus, sweep, fits, report.

Data flows one way: Florenz-Scenes → parquet release → collator → trainer → runs.csv → fit.json/plots → report.md.
Every stage is resumable: the release skips finished shards, the sweep skips finished runs and resumes interrupted
ones, and the fit and report are recomputed from the files.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from dataset_builder.atomic import atomic_folder, write_text_atomic
from dataset_builder.corpus import ScenesConfig
from dataset_builder.release import build_scenes_release, ensure_writable

from .benchmark_eval import DOWNSTREAM, evaluate_downstream
from .export import export_best_model
from .fit import run_fit
from .report import GRID_EXPERIMENT as GRID
from .report import INVOCATIONS, write_report
from .runs_table import RUNS_CSV, append_run, completed_run_ids, lr_sweep_score, read_runs, run_id, t_levels
from .sweep import run_sweep


@dataclass(frozen=True)
class ExperimentPlan:
    """One grid: model sizes × seen-sample budgets × seeds, plus the nano pair (pretrained Gemma-3 decoder vs its
    scratch twin) as a separate experiment that is never pooled with the grid (other tokenizer, other model family).

    Generation metrics are computed at each grid size's largest budget only (`generation_rows` images per language,
    greedy); CE, grounding, hold-out and disambiguation at every point. `lr_samples` / `lr_factors` /
    `lr_max_rates`: the budget, the first multiples of each size's rule-of-thumb rate and the most rates the LR sweep
    tries per (size, T level) to bracket the best one, so the rate per (size, T level) comes from data.
    `lm_languages`: the T levels (languages of the decoder's text-only LM pretraining, `lm_pretraining_steps` steps);
    every grid size is trained at every level, so the factor law's T term is fitted on one comparable grid.
    `t_gate_learning_rate`: the nano pair's rate for its cross-attention gates, which start at 0 and would barely open
    within the pair's few steps at the shared rate (runs.csv reports tanh(gate)). `downstream_*`: decoding of the
    downstream evaluation (`florenz evaluate --benchmark all`) of the exported best model on the release's exports.
    """

    description: str
    presets: tuple[str, ...]
    samples: tuple[int, ...]
    seeds: tuple[int, ...]
    t_presets: tuple[str, ...]
    t_samples: int
    t_seeds: tuple[int, ...]
    batch_size: int = 32
    t_batch_size: int = 16
    num_eval: int = 100
    generation_rows: int = 100
    t_generation_rows: int = 24  # the nano pair decodes with a 262k-row head: generation there costs minutes on CPU
    t_num_eval: int | None = None  # rows per eval set of the nano pair (None: num_eval); its CE is costly on CPU too
    t_vision_pretraining_steps: int | None = None  # the nano pair's own (larger) tower (None: vision_pretraining_steps)
    max_encoder_length: int = 48
    max_decoder_length: int = 32
    vision_pretraining_steps: int = 300
    corpus: dict[str, Any] = field(default_factory=dict)
    lr_samples: int = 0
    lr_factors: tuple[float, ...] = (1.0, 2.0)
    lr_max_rates: int = 4
    lm_languages: tuple[int, ...] = (0,)
    lm_pretraining_steps: int = 0
    t_gate_learning_rate: float | None = None
    downstream_num_beams: int = 4
    downstream_max_new_tokens: int = 128


# One object per scene, short captions: small models learn to look at the image within a CPU budget (see the measured
# runs in docs/architecture.md), so the unseen-language numbers measure captioning rather than language alone.
_SINGLE_OBJECT_SCENES = {"image_size": 96, "max_objects": 1, "detailed_share": 0.0, "multi_sentence_share": 0.0}

PLANS: dict[str, ExperimentPlan] = {
    "quick": ExperimentPlan(
        description="CPU grid for 2 cores in under an hour",
        presets=("scenes-xs", "scenes-s", "scenes-m", "scenes-l"),
        samples=(2048, 4096, 8192),
        seeds=(0, 1),
        # Grounding switches on after a number of optimizer steps rather than samples: batches of 16 give the largest
        # size twice the steps of batches of 32 at the same budget (docs/architecture.md has the measured runs).
        batch_size=16,
        t_presets=("scenes-nano", "scenes-nano-scratch"),
        t_samples=128,
        t_seeds=(0,),
        t_batch_size=8,
        t_generation_rows=3,
        t_num_eval=12,
        t_vision_pretraining_steps=100,
        t_gate_learning_rate=5e-2,  # at 1e-2 the gates reached tanh 0.06–0.07 in the 16 steps; 5e-2: 0.18 (README)
        corpus=_SINGLE_OBJECT_SCENES,
        lr_samples=4096,
        lr_factors=(2.0, 4.0),  # fixed sweeps over 0.5/1/2× and 1/2/4× picked the top factor for every size (README)
        lr_max_rates=3,  # the hour's budget: one step past an edge
        lm_languages=(0, 6),
        lm_pretraining_steps=200,
        downstream_num_beams=1,
        downstream_max_new_tokens=32,
    ),
    "smoke": ExperimentPlan(
        description="minutes-long plumbing check of the whole pipeline (two T levels, no nano pair)",
        presets=("scenes-xs", "scenes-s"),
        samples=(64, 128),
        seeds=(0, 1),
        t_presets=(),
        t_samples=0,
        t_seeds=(),
        batch_size=16,
        num_eval=8,
        generation_rows=4,
        vision_pretraining_steps=2,
        corpus={**_SINGLE_OBJECT_SCENES, "image_size": 64},
        lr_samples=64,
        lr_factors=(0.5, 2.0),
        lr_max_rates=3,
        lm_languages=(0, 6),
        lm_pretraining_steps=2,
        downstream_num_beams=1,
        downstream_max_new_tokens=8,
    ),
    "full": ExperimentPlan(
        description="GPU grid: five sizes, both decoder kinds, four budgets, three seeds",
        presets=tuple(f"scenes-{s}{k}" for s in ("xs", "s", "m", "l", "xl") for k in ("", "-gemma")),
        samples=(16384, 65536, 262144, 1048576),
        seeds=(0, 1, 2),
        t_presets=("scenes-nano", "scenes-nano-scratch"),
        t_samples=65536,
        t_seeds=(0, 1, 2),
        batch_size=64,
        t_batch_size=32,
        num_eval=200,
        generation_rows=200,
        t_generation_rows=100,
        max_encoder_length=96,
        max_decoder_length=96,
        vision_pretraining_steps=1000,
        corpus={"image_size": 96},
        lr_samples=65536,
        lr_factors=(1.0, 2.0, 4.0),
        lr_max_rates=6,
        lm_languages=(0, 2, 6),
        lm_pretraining_steps=2000,
    ),
}


def _prepare(plan_name: str, out: str | Path, num_threads: int | None) -> tuple[ExperimentPlan, Path, dict[str, Any]]:
    if plan_name not in PLANS:
        raise ValueError(f"unknown experiment preset {plan_name!r}; allowed: {sorted(PLANS)}")
    plan = PLANS[plan_name]
    out = Path(out)
    ensure_writable(out, "--out")
    if num_threads:
        import torch

        torch.set_num_threads(num_threads)
    corpus = ScenesConfig(**plan.corpus)
    release = out / "scenes"
    # Always through the builder: it skips shards that match the manifest and re-writes missing or damaged ones.
    print(f"[experiment] building (or checking) the Florenz-Scenes release in {release}", flush=True)
    build_scenes_release(release, corpus, num_train=max(plan.samples), num_eval=plan.num_eval)
    common = {
        "num_eval": plan.num_eval,
        "generation_rows": plan.generation_rows,
        "max_encoder_length": plan.max_encoder_length,
        "max_decoder_length": plan.max_decoder_length,
        "corpus": corpus,
        "dataset": release,
        "vision_pretraining_steps": plan.vision_pretraining_steps,
    }
    return plan, out, common


SWEEP_SEED = 0
LR_STEP = 2.0  # the ratio between neighbouring rates when the sweep extends its range


def run_lr_sweep(plan_name: str, out: str | Path, num_threads: int | None = None) -> Path:
    """Bracket the best rate of every (size, T level) at `plan.lr_samples`, seed `SWEEP_SEED`, into
    `out/lr_sweep/runs.csv` (CE and shuffled-image gaps); the report shows the table next to the grid's rates.

    The sweep starts at `plan.lr_factors` × the size's rule-of-thumb rate; while the best rate (`lr_sweep_score`) is
    the smallest or largest tried, it tries the next one beyond it (×/÷ `LR_STEP`), up to `plan.lr_max_rates` rates,
    so the pick is a bracketed minimum rather than the edge of a fixed range (the report marks a pick left at an edge).
    """
    from .scenes_presets import learning_rate_for

    plan, out, common = _prepare(plan_name, out, num_threads)
    if not plan.lr_samples:
        raise ValueError(f"plan {plan_name!r} has no learning-rate sweep budget (lr_samples)")
    table = out / "lr_sweep" / RUNS_CSV
    for preset, k in itertools.product(plan.presets, plan.lm_languages):
        factors = sorted(plan.lr_factors)
        while True:
            rates = [round(learning_rate_for(preset) * f, 8) for f in factors]
            print(f"[lr-sweep] {preset} T={k} at S={plan.lr_samples}: rates {rates}", flush=True)
            run_sweep(
                out / "lr_sweep",
                [preset],
                [plan.lr_samples],
                (SWEEP_SEED,),
                batch_size=plan.batch_size,
                learning_rates=rates,
                generate_at=(),
                experiment="lr_sweep",
                assets_dir=out,
                lm_languages=(k,),
                lm_pretraining_steps=plan.lm_pretraining_steps,
                **common,
            )
            best = chosen_learning_rates(out)[preset, k]
            lowest, highest = math.isclose(best, rates[0]), math.isclose(best, rates[-1])
            if len(factors) >= plan.lr_max_rates or not (lowest or highest):
                break
            factors = [factors[0] / LR_STEP, *factors] if lowest else [*factors, factors[-1] * LR_STEP]
    return table


def chosen_learning_rates(out: str | Path) -> dict[tuple[str, int], float]:
    """Per (preset, T level), the swept rate with the lowest `lr_sweep_score` in `out/lr_sweep/runs.csv`.

    Each T level gets its own rate: an LM-pretrained decoder may want another rate than a scratch one, and comparing
    them at one rate would measure the rate as much as T."""
    runs = read_runs(Path(out) / "lr_sweep" / RUNS_CSV)
    if runs.empty:
        raise ValueError(f"{Path(out) / 'lr_sweep' / RUNS_CSV} holds no runs; run the sweep first (--lr-sweep)")
    runs = runs.assign(lm_languages=t_levels(runs), score=lr_sweep_score(runs))
    means = runs.groupby(["preset", "lm_languages", "learning_rate"]).score.mean().reset_index()
    best = means.loc[means.groupby(["preset", "lm_languages"]).score.idxmin()]
    return {(str(p), int(k)): float(lr) for p, k, lr in zip(best.preset, best.lm_languages, best.learning_rate)}


def _check_grid_rates(table: Path, rates: dict[tuple[str, int], float]) -> None:
    """A folder's grid is trained at one set of rates: refuse to extend a grid trained at others."""
    runs = read_runs(table)
    if runs.empty or "experiment" not in runs:
        return
    grid = runs[runs.experiment == GRID]
    other = sorted(
        {
            (p, k)
            for p, k, lr in zip(grid.preset, t_levels(grid), grid.learning_rate)
            if (p, k) in rates and not math.isclose(lr, rates[p, k], rel_tol=1e-4)
        }
    )
    if other:
        raise ValueError(
            f"{table} already holds grid runs of (preset, T level) {other} at other learning rates than the sweep "
            f"chose ({rates}); use a new --out for a grid at the swept rates"
        )


def _adopt_sweep_runs(plan: ExperimentPlan, out: Path, rates: dict[tuple[str, int], float]) -> list[str]:
    """Enter the sweep's runs at the chosen rates as the grid's runs they are, instead of training them twice.

    A sweep run at budget `lr_samples`, seed `SWEEP_SEED` and the rate the grid uses is the same training (same data,
    schedule, seed, assets) and the same evaluation as that grid point, provided the grid gives the point no full
    evaluation (it is not the largest budget). Its row is copied with the grid's run_id and its model folder with it.
    """
    if plan.lr_samples not in plan.samples or plan.lr_samples == max(plan.samples) or SWEEP_SEED not in plan.seeds:
        return []
    sweep = read_runs(out / "lr_sweep" / RUNS_CSV, as_text=True)
    done = completed_run_ids(out / RUNS_CSV)
    adopted = []
    for (preset, k), lr in sorted(rates.items()):
        source_id = run_id(preset, plan.lr_samples, SWEEP_SEED, lr, k)
        target_id = run_id(preset, plan.lr_samples, SWEEP_SEED, None, k)
        rows = sweep[sweep.run_id == source_id]
        if target_id in done or rows.empty:
            continue
        source, target = out / "lr_sweep" / "runs" / source_id, out / "runs" / target_id
        if source.is_dir():
            with atomic_folder(target) as staging:
                shutil.copytree(source, staging, dirs_exist_ok=True)
        row = {
            **rows.iloc[0].to_dict(),
            "run_id": target_id,
            "experiment": GRID,
            "adopted_from": f"lr_sweep/{source_id}",
        }
        append_run(out / RUNS_CSV, row)
        adopted.append(target_id)
    return adopted


def run_experiment(plan_name: str, out: str | Path, num_threads: int | None = None, lr_sweep: bool = True) -> Path:
    """Run (or resume) the named plan into `out`; returns `out/report.md`. With `lr_sweep` (the default) the grid is
    trained at the rates `run_lr_sweep` picks per (size, T level); without it, at each size's rule-of-thumb rate.

    Each invocation's wall time is appended to `out/invocations.jsonl`, so a resumed or extended run keeps the time
    of the one that trained the grid, and the report lists them all."""
    started = time.perf_counter()
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rates = None
    if lr_sweep:
        print(f"[experiment] learning-rate sweep: {run_lr_sweep(plan_name, out, num_threads)}", flush=True)
        rates = chosen_learning_rates(out)
        print(f"[experiment] grid learning rates chosen by the sweep: {rates}", flush=True)
        _check_grid_rates(Path(out) / RUNS_CSV, rates)
    plan, out, common = _prepare(plan_name, out, num_threads)
    if rates:
        adopted = _adopt_sweep_runs(plan, out, rates)
        print(f"[experiment] grid runs taken over from the sweep (same training): {adopted}", flush=True)
    print(f"[experiment] size × samples grid: {plan.presets} × {plan.samples} × seeds {plan.seeds}", flush=True)
    print(f"[experiment] T levels (LM-pretraining languages): {plan.lm_languages}", flush=True)
    run_sweep(
        out,
        plan.presets,
        plan.samples,
        plan.seeds,
        batch_size=plan.batch_size,
        experiment=GRID,
        preset_learning_rates=rates,
        lm_languages=plan.lm_languages,
        lm_pretraining_steps=plan.lm_pretraining_steps,
        **common,
    )
    if plan.t_presets:
        print(f"[experiment] nano pair: {plan.t_presets} at S={plan.t_samples} × seeds {plan.t_seeds}", flush=True)
        t_common = {
            **common,
            "generation_rows": plan.t_generation_rows,
            "num_eval": plan.t_num_eval or plan.num_eval,
            "vision_pretraining_steps": plan.t_vision_pretraining_steps or plan.vision_pretraining_steps,
        }
        run_sweep(
            out,
            plan.t_presets,
            [plan.t_samples],
            plan.t_seeds,
            batch_size=plan.t_batch_size,
            experiment="nano",
            overrides={"gate_learning_rate": plan.t_gate_learning_rate} if plan.t_gate_learning_rate else None,
            **t_common,
        )
    print("[experiment] fitting scaling laws on the grid", flush=True)
    # One fit per decoder family (CE per token is not comparable across them); the BART grid is the main one.
    kinds = sorted(pd.read_csv(out / RUNS_CSV).query("experiment == @GRID")["decoder_kind"].astype(str).unique())
    main = "bart" if "bart" in kinds else kinds[0]
    for kind in kinds:
        folder = out / ("fit" if kind == main else f"fit_{kind}")
        run_fit(out / RUNS_CSV, folder, where={"experiment": GRID, "decoder_kind": kind})
    best = export_best_model(out)
    print(f"[experiment] best model: {best}; downstream evaluation on the release's benchmark exports", flush=True)
    evaluate_downstream(
        best,
        common["dataset"],
        out / DOWNSTREAM,
        num_beams=plan.downstream_num_beams,
        max_new_tokens=plan.downstream_max_new_tokens,
    )
    record = {"started": when, "wall_seconds": round(time.perf_counter() - started, 1), "lr_sweep": lr_sweep}
    previous = (out / INVOCATIONS).read_text(encoding="utf-8") if (out / INVOCATIONS).is_file() else ""
    write_text_atomic(out / INVOCATIONS, previous + json.dumps(record) + "\n")
    report = write_report(out, plan_name, dataclasses.asdict(plan))
    print(f"[experiment] report: {report}", flush=True)
    return report
