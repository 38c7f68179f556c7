"""`report.md` of an experiment: run table with seed spread, fitted laws with OLS and seed-bootstrap CIs and n,
grounded fractions, emergence, translation, compositional hold-out and Scenes-CoMMuTE tables, the separately labelled
nano pair, and a comparison with the paper's shapes written from the numbers. Every claim names its interval and n;
"significant" is only written when every interval of the estimate excludes 0.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from dataset_builder.atomic import write_text_atomic

from .benchmark_eval import DOWNSTREAM, downstream_table
from .runs_table import CE_GROUPS, RUNS_CSV, lr_sweep_score, read_runs, t_levels

# Compute-law exponents of the Florenz paper (v1, Table 2; log10 space).
PAPER_ALPHA1 = {"unseen_caption": -0.15, "translation": -0.18, "seen_caption": -0.15}
PAPER_BETA = {"unseen_caption": (-0.16, -0.04), "translation": (-0.15, -0.19), "seen_caption": (-0.13, -0.15)}
GROUPS = ("seen_caption", "unseen_caption", "translation")
GRID_EXPERIMENT = "grid"
INVOCATIONS = "invocations.jsonl"  # one line per `florenz experiment` invocation: start time, wall seconds, lr sweep


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ci(values: Any) -> str:
    if not isinstance(values, (list, tuple)) or len(values) != 2 or any(v is None for v in values):
        return "–"
    return f"[{values[0]:.3f}, {values[1]:.3f}]"


def _largest_budget(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs.seen_samples == runs.groupby("preset").seen_samples.transform("max")]


def _mean_std(frame: pd.DataFrame, column: str) -> pd.Series:
    grouped = frame.groupby(["preset", "seen_samples"])[column]
    mean, std = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    cells = mean.map(lambda v: f"{v:.3f}") + " ± " + std.map(lambda v: f"{v:.3f}")
    return cells.where(mean.notna(), "–")  # not evaluated at this budget


def run_table(runs: pd.DataFrame) -> str:
    columns = [c for c in ("ce_seen_caption", "ce_unseen_caption", "ce_translation", "ce_heldout_unseen_caption",
                           "ce_gap_seen", "ce_gap_unseen") if c in runs]  # fmt: skip
    meta = runs.groupby(["preset", "seen_samples"]).agg(
        params=("params", "first"), decoder_init=("decoder_init", "first"), seeds=("seed", "nunique"),
        wall=("wall_seconds", "mean"),
    )  # fmt: skip
    header = "| preset | init | params | S | seeds | " + " | ".join(columns) + " | train s |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    cells = {column: _mean_std(runs, column) for column in columns}
    for (preset, seen), row in meta.iterrows():
        values = " | ".join(cells[c][(preset, seen)] for c in columns)
        lines.append(
            f"| {preset} | {row.decoder_init} | {row.params / 1e6:.2f}M | {seen} | {row.seeds} | {values} | {row.wall:.0f} |"
        )
    return "\n".join(lines)


def _estimate(entry: dict[str, Any], name: str) -> str:
    if entry.get(name) is None:
        return entry.get(f"{name}_note", "–")
    clusters = entry.get("bootstrap_clusters")
    few = f", {clusters} seeds: few distinct resamples" if clusters is not None and clusters < 3 else ""
    return (
        f"{_fmt(entry[name])} OLS {_ci(entry.get(f'{name}_ci'))} boot {_ci(entry.get(f'{name}_boot_ci'))}{few} "
        f"({entry.get(f'{name}_significance', 'no interval')})"
    )


def laws_table(fit: dict[str, Any]) -> str:
    lines = [
        "| group | law | C | estimate [95% OLS CI] [95% seed-bootstrap CI] | n | r² | paper |",
        "|---|---|---|---|---|---|---|",
    ]
    for group in CE_GROUPS:
        entry = fit.get(group, {})
        for law, label in (("compute_law", "paper C = S·F·(1+P_t/P)"), ("compute_law_all_compute", "all compute")):
            compute = entry.get(law)
            if compute is None:
                continue
            estimate = f"α1 = {_estimate(compute, 'alpha1')}" if "alpha1" in compute else compute.get("note", "–")
            lines.append(
                f"| {group} | CE = α0·C^α1 (Pareto frontier) | {label} | {estimate} | {compute.get('n', '–')} | "
                f"{_fmt(compute.get('r2'))} | α1 {PAPER_ALPHA1[group]} |"
            )
        factor = entry.get("factor_law", {})
        if "beta0" in factor:
            estimate = "; ".join(f"{b} = {_estimate(factor, b)}" for b in ("beta1", "beta2", "beta3"))
        else:
            estimate = factor.get("note", "not fitted")
        paper = PAPER_BETA[group]
        lines.append(
            f"| {group} | CE = β0·P^β1·S^β2·T^β3 (all configurations) | – | {estimate} | {factor.get('n', '–')} | "
            f"{_fmt(factor.get('r2'))} | β1 {paper[0]}, β2 {paper[1]} |"
        )
        chin = entry.get("chinchilla", {})
        estimate = (
            f"α = {_fmt(chin.get('alpha'))} {_ci(chin.get('alpha_ci'))}, β = {_fmt(chin.get('beta'))} "
            f"{_ci(chin.get('beta_ci'))}"
            if "alpha" in chin
            else chin.get("note", "–")
        )
        lines.append(f"| {group} | L = E + A/P^α + B/S^β | – | {estimate} | {chin.get('n', '–')} | – | – |")
    return "\n".join(lines)


def grounded_table(fit: dict[str, Any]) -> str:
    rows = fit.get("meta", {}).get("grounded_fractions") or []
    if not rows:
        return "No grounding gaps in runs.csv."
    lines = [
        "| preset | S | seeds grounded seen | seeds grounded unseen | mean gap seen | mean gap unseen |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        preset = row["preset"] + (f" ({row['decoder_init']})" if "decoder_init" in row else "")
        lines.append(
            f"| {preset} | {row['S']} | {row.get('grounded_seen', '–')}/{row['n_seeds']} | "
            f"{row.get('grounded_unseen', '–')}/{row['n_seeds']} | {_fmt(row.get('mean_gap_seen'))} | "
            f"{_fmt(row.get('mean_gap_unseen'))} |"
        )
    return "\n".join(lines)


def emergence_table(runs: pd.DataFrame) -> str:
    largest = _largest_budget(runs)
    generation = [
        (f"{m}_{g}_{t}", f"{m} {g} {t}")
        for g in ("seen", "unseen")
        for m in ("bleu", "cider", "lang_share")
        for t in ("noprefix", "prefix")
    ]
    generation = [(c, label) for c, label in generation if c in runs]
    if not generation:
        return "No generation metrics in runs.csv."
    gap = [(f"ce_gap_{g}", f"grounding gap {g}") for g in ("seen", "unseen") if f"ce_gap_{g}" in runs]
    metrics = gap + generation
    lines = ["| preset | S | " + " | ".join(label for _, label in metrics) + " |", "|" + "---|" * (len(metrics) + 2)]
    for (preset, seen), frame in largest.groupby(["preset", "seen_samples"]):
        lines.append(f"| {preset} | {seen} | " + " | ".join(f"{frame[c].mean():.3f}" for c, _ in metrics) + " |")
    rows = runs["generation_rows_unseen"].dropna() if "generation_rows_unseen" in runs else pd.Series(dtype=float)
    if len(rows):
        lines.append(
            f"\nCorpus-level scores per language over {int(rows.min())} generated captions per language and run "
            "(greedy), then averaged over languages and seeds; prefix and no-prefix captions are scored against the "
            "same references, only the forced prefix is removed from prefix-mode outputs."
        )
    return "\n".join(lines)


def translation_table(runs: pd.DataFrame) -> str:
    columns = sorted(c for c in runs if c.startswith("bleu_translation-"))
    if not columns:
        return "No translation BLEU in runs.csv."
    largest = _largest_budget(runs)
    labels = [c.removeprefix("bleu_translation-") for c in columns]
    lines = ["| preset | S | " + " | ".join(labels) + " |", "|" + "---|" * (len(labels) + 2)]
    for (preset, seen), frame in largest.groupby(["preset", "seen_samples"]):
        lines.append(f"| {preset} | {seen} | " + " | ".join(f"{frame[c].mean():.2f}" for c in columns) + " |")
    return "\n".join(lines)


def heldout_table(runs: pd.DataFrame) -> str:
    pairs = [(f"ce_{g}", f"ce_heldout_{g}") for g in GROUPS if f"ce_heldout_{g}" in runs]
    if not pairs:
        return "No compositional hold-out CE in runs.csv."
    largest = _largest_budget(runs)
    header = " | ".join(f"{g.removeprefix('ce_')} test / heldout" for g, _ in pairs)
    lines = [f"| preset | S | {header} |", "|" + "---|" * (len(pairs) + 2)]
    for (preset, seen), frame in largest.groupby(["preset", "seen_samples"]):
        cells = " | ".join(f"{frame[a].mean():.3f} / {frame[b].mean():.3f}" for a, b in pairs)
        lines.append(f"| {preset} | {seen} | {cells} |")
    return "\n".join(lines)


def _wilson(successes: float, n: int) -> str:
    from statsmodels.stats.proportion import proportion_confint

    if n <= 0:
        return "–"
    low, high = proportion_confint(round(successes), n, alpha=0.05, method="wilson")
    return f"[{low:.2f}, {high:.2f}]"


def disambiguation_table(runs: pd.DataFrame) -> str:
    languages = sorted(c.removeprefix("acc_disambiguation-") for c in runs if c.startswith("acc_disambiguation-"))
    if not languages:
        return "No disambiguation accuracies in runs.csv."
    lines = [
        "| preset | S | language | accuracy, real images [95% Wilson CI] | accuracy, shuffled images [CI] | n |",
        "|---|---|---|---|---|---|",
    ]
    for (preset, seen), frame in _largest_budget(runs).groupby(["preset", "seen_samples"]):
        for lang in languages:
            sizes = frame.get(f"n_disambiguation-{lang}", pd.Series([0] * len(frame))).fillna(0).astype(int)
            n = int(sizes.sum())
            cells = []
            for tag in ("acc", "acc_shuffled"):
                column = f"{tag}_disambiguation-{lang}"
                if column not in frame or frame[column].isna().all():
                    cells.append("–")
                    continue
                successes = float((frame[column] * sizes).sum())
                cells.append(f"{successes / n:.3f} {_wilson(successes, n)}" if n else f"{frame[column].mean():.3f}")
            lines.append(f"| {preset} | {seen} | {lang} | {cells[0]} | {cells[1]} | {n} |")
    return "\n".join(lines)


def nano_table(runs: pd.DataFrame, plan: dict[str, Any]) -> str:
    """The nano pair's CE, grounding gaps and gate openings (tanh of the cross-attention gates, which start at 0)."""
    if runs.empty:
        return "No nano pair in this plan."
    columns = [c for c in ("ce_seen_caption", "ce_unseen_caption", "ce_translation", "ce_gap_seen", "ce_gap_unseen",
                           "gate_tanh_mean", "gate_tanh_max", "acc_disambiguation") if c in runs]  # fmt: skip
    lines = [
        "| preset | init | tokenizer | S | seeds | " + " | ".join(columns) + " |",
        "|" + "---|" * (len(columns) + 5),
    ]
    for (preset, seen), frame in runs.groupby(["preset", "seen_samples"]):
        cells = " | ".join(f"{frame[c].mean():.4f}" for c in columns)
        lines.append(
            f"| {preset} | {frame.decoder_init.iloc[0]} | {frame.get('tokenizer', pd.Series(['?'])).iloc[0]} | "
            f"{seen} | {frame.seed.nunique()} | {cells} |"
        )
    rates = ", ".join(f"{lr:g}" for lr in sorted(set(runs.learning_rate)))
    gates = "gate_learning_rate" in runs and runs.gate_learning_rate.notna().any()
    gate_rates = (
        ", ".join(f"{lr:g}" for lr in sorted(set(runs.gate_learning_rate.dropna())))
        if gates
        else "not recorded in runs.csv"
    )
    return "\n".join(lines) + (
        f"\n\nBoth members: learning rate {rates}, gate learning rate {gate_rates}, "
        f"batch {plan.get('t_batch_size')}, {plan.get('t_num_eval') or plan.get('num_eval')} rows per eval set; "
        f"seeds = n. gate_tanh_* = |tanh(gate)| over the decoder's cross-attention gates (0 = image path closed)."
    )


def grounding_summary(grid: pd.DataFrame) -> str:
    """The grounding gaps of each grid size at its largest budget, smallest size first, per seed."""
    largest = _largest_budget(grid)
    columns = [c for c in ("ce_gap_seen", "ce_gap_unseen") if c in grid]
    per_size = largest.groupby("preset")[["params", *columns]].mean().sort_values("params")

    def cell(preset: str, row: pd.Series) -> str:
        text = f"{preset} " + "/".join(f"{row[c]:.3f}" for c in columns)
        seeds = largest[largest.preset == preset].sort_values("seed")
        if len(seeds) > 1:  # grounding switches on abruptly, so the mean can hide a bimodal split across seeds
            text += " (seeds: " + ", ".join("/".join(f"{r[c]:.3f}" for c in columns) for _, r in seeds.iterrows()) + ")"
        return text

    cells = ", ".join(cell(preset, row) for preset, row in per_size.iterrows())
    which = "/".join(c.removeprefix("ce_gap_") for c in columns)
    return (
        "Grounding control (CE with a shuffled image minus CE with the right image on captions, nats/token, "
        f"{which}, at each size's largest S): {cells}. A gap at float-noise level means captions written without "
        "looking at the picture; only a positive unseen gap lets the unseen-language numbers speak of captioning "
        "rather than of language."
    )


def shape_comparison(grid: pd.DataFrame, fit: dict[str, Any]) -> str:
    """Sentences derived from the measured numbers; nothing here is asserted without a number, interval and n."""
    sentences = []
    largest = grid[grid.params == grid.params.max()]
    largest = largest[largest.seen_samples == largest.seen_samples.max()]
    unseen = fit.get("unseen_caption", {}).get("compute_law", {})
    if "alpha1" in unseen:
        sentences.append(
            f"Unseen-caption CE against compute: α1 = {unseen['alpha1']:.3f} (OLS 95% CI {_ci(unseen.get('alpha1_ci'))}, "
            f"seed-bootstrap 95% CI {_ci(unseen.get('alpha1_boot_ci'))}, n = {unseen.get('n')} Pareto points; "
            f"paper −0.15): {unseen.get('alpha1_significance', 'no interval')}."
        )
    else:
        sentences.append(f"The unseen-caption compute law could not be fitted: {unseen.get('note', 'no fit')}.")
    factor = fit.get("unseen_caption", {}).get("factor_law", {})
    if factor.get("beta1") is not None and factor.get("beta2") is not None:
        parts = [
            f"{name} ({axis}) = {factor[name]:.3f} {_ci(factor.get(name + '_ci'))}, "
            f"{factor.get(name + '_significance', 'no interval')}"
            for name, axis in (("beta1", "params"), ("beta2", "samples"), ("beta3", "T"))
            if factor.get(name) is not None
        ]
        sentences.append(
            f"Factor law on unseen captions (n = {factor.get('n')} configurations): " + "; ".join(parts) + "."
        )
        significant = [n for n in ("beta1", "beta2") if factor.get(f"{n}_significance") == "significant"]
        if len(significant) == 2:
            bigger = "model size" if abs(factor["beta1"]) > abs(factor["beta2"]) else "seen samples"
            sentences.append(f"With both exponents significant, {bigger} matters more here (paper: model size).")
        else:
            sentences.append("Which of size and samples matters more is not established by these intervals.")
    if factor.get("beta3") is None and factor.get("beta3_note"):
        sentences.append(f"T: {factor['beta3_note']}.")
    if {"bleu_unseen_prefix", "bleu_unseen_noprefix"} <= set(grid) and len(largest):
        shares = {"lang_share_unseen_prefix", "lang_share_unseen_noprefix"} <= set(grid)
        for preset, runs in largest.groupby("preset"):  # one sentence per T level of the largest size
            delta = runs.bleu_unseen_prefix.mean() - runs.bleu_unseen_noprefix.mean()
            sentences.append(
                f"For the largest model ({preset} at S={runs.seen_samples.iloc[0]}, {runs.seed.nunique()} seeds) the "
                f"language prefix changes unseen-caption BLEU by {delta:+.2f} ({runs.bleu_unseen_noprefix.mean():.2f} "
                f"→ {runs.bleu_unseen_prefix.mean():.2f}, same references)"
                + (
                    f" and the target-language share from {runs.lang_share_unseen_noprefix.mean():.2f} to "
                    f"{runs.lang_share_unseen_prefix.mean():.2f}."
                    if shares
                    else "."
                )
            )
    if "ce_gap_unseen" in grid and len(grid):
        sentences.append(grounding_summary(grid))
    return " ".join(sentences)


def lr_sweep_table(out: Path) -> str:
    """The sweep's CE and shuffled-image gaps per (size, T level, rate), the rate the sweep picks (lowest mean of
    seen-caption and translation CE, never the unseen outcome) and the rate this folder's grid was trained at: the
    gaps at every rate show how much grounding depends on the rate, apart from T."""
    path = out / "lr_sweep" / RUNS_CSV
    if not path.exists():
        return "No learning-rate sweep in this folder (`florenz experiment --no-lr-sweep` skips it)."
    runs = read_runs(path)
    grid = read_runs(out / RUNS_CSV)
    grid = grid[grid.experiment == GRID_EXPERIMENT] if "experiment" in grid else grid
    runs, grid = (frame.copy().assign(T=t_levels(frame)) for frame in (runs, grid))
    used = (  # no grid yet: nothing is marked
        grid.groupby(["preset", "T"]).learning_rate.agg(lambda rates: sorted(set(rates))).to_dict()
        if "learning_rate" in grid
        else {}
    )
    runs = runs.assign(criterion=lr_sweep_score(runs))
    gaps = [c for c in ("ce_gap_seen", "ce_gap_unseen") if c in runs]
    lines = [
        "| preset | T | S | learning rate | seeds | ce_seen_caption | ce_translation | ce_unseen_caption | "
        + "".join(f"{c} | " for c in gaps)
        + "picked | grid |",
        "|---" * (10 + len(gaps)) + "|",
    ]
    edges = []
    for (preset, t), sizes in runs.groupby(["preset", "T"]):
        means = sizes.groupby("learning_rate").criterion.mean()
        if means.idxmin() in (means.index.min(), means.index.max()):
            edges.append(f"{preset} T={_t_label(t)}")
        for (seen, lr), frame in sizes.groupby(["seen_samples", "learning_rate"]):
            lines.append(
                f"| {preset} | {_t_label(t)} | {seen} | {lr:g} | {frame.seed.nunique()} | "
                f"{frame.ce_seen_caption.mean():.3f} | {frame.ce_translation.mean():.3f} | "
                f"{frame.ce_unseen_caption.mean():.3f} | "
                + "".join(f"{frame[c].mean():.3f} | " for c in gaps)
                + f"{'✓' if lr == means.idxmin() else ''} | "
                f"{'✓' if any(math.isclose(lr, u, rel_tol=1e-4) for u in used.get((preset, t), [])) else ''} |"
            )
    adopted = int(grid["adopted_from"].notna().sum()) if "adopted_from" in grid else 0
    return "\n".join(lines) + (
        "\n\npicked = the sweep's choice per (size, T level): lowest mean of seen-caption and translation CE; grid = "
        "the rate this folder's grid was trained at (`florenz experiment` trains the grid at the picked rates unless "
        "`--no-lr-sweep`). The sweep extends its range past a best rate at an edge until the best is bracketed or it "
        "has tried the plan's most rates"
        + (
            f"; picked at an edge of the tried range (the optimum may lie beyond): {', '.join(edges)}."
            if edges
            else "."
        )
        + (
            f" {adopted} grid runs are the sweep's runs at the picked rate (same budget, seed and training; "
            "runs.csv `adopted_from`), so their seen-caption and translation CE took part in picking the rate."
            if adopted
            else ""
        )
    )


def _t_label(k: int) -> str:
    return f"lm{k}" if k else "scratch"


def downstream_section(out: Path) -> str:
    """The exported best model on the release's exports in the four official layouts (`florenz evaluate`), as the
    paper's Table 4; Scenes numbers, not comparable with the paper's real-benchmark numbers."""
    path = out / DOWNSTREAM / "eval" / "results.json"
    if not path.is_file():
        return "Not evaluated (no downstream/eval/results.json)."
    payload = json.loads(path.read_text(encoding="utf-8"))
    settings = payload["settings"]
    table = downstream_table(payload).replace("\n## ", "\n### ").split("\n", 2)[2]  # drop the page title
    return (
        f"Model `{Path(settings['model']).name}` on the Scenes test splits exported by `florenz data export-benchmarks`,"
        f" decoded with {settings['num_beams']} beam(s), ≤ {settings['max_new_tokens']} new tokens; "
        f"{payload['wall_seconds'] / 60:.1f} min. Full predictions: `{DOWNSTREAM}/eval/predictions.jsonl`.\n\n" + table
    )


def invocations_line(out: Path) -> str:
    """The wall time of every invocation into `out` (the first one trains the grid; later ones resume or extend)."""
    path = out / INVOCATIONS
    if not path.is_file():
        return "No invocation times recorded."
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    parts = [
        f"{r['started']}: {r['wall_seconds'] / 60:.1f} min"
        + (" (incl. the learning-rate sweep)" if r["lr_sweep"] else "")
        for r in records
    ]
    return f"Wall time of the invocations into this folder: {'; '.join(parts)}."


def write_report(out: str | os.PathLike, plan_name: str, plan: dict[str, Any]) -> Path:
    out = Path(out)
    runs = read_runs(out / RUNS_CSV)
    experiment = runs["experiment"] if "experiment" in runs else pd.Series([GRID_EXPERIMENT] * len(runs))
    grid, nano = runs[experiment == GRID_EXPERIMENT], runs[experiment != GRID_EXPERIMENT]
    if "lm_languages" in grid and (grid["lm_languages"] > 0).any():  # T levels get rows of their own in every table
        label = t_levels(grid).map(lambda k: f" T={_t_label(k)}")
        grid = grid.assign(preset=grid["preset"] + label)
    fit = json.loads((out / "fit" / "fit.json").read_text(encoding="utf-8"))
    plots = [p for p in ("compute_law.png", "params_law.png", "emergence.png") if (out / "fit" / p).exists()]
    pooled = fit.get("meta", {}).get("pooled", {})
    text = "\n\n".join(
        [
            f"# Florenz scaling experiment — `{plan_name}`",
            f"{plan['description']}. Grid: presets {', '.join(plan['presets'])} × seen samples "
            f"{', '.join(map(str, plan['samples']))} × seeds {', '.join(map(str, plan['seeds']))} "
            f"({len(grid)} runs). "
            + (
                f"Separate experiment (never pooled with the grid): {', '.join(plan['t_presets'])} at "
                f"S={plan['t_samples']} ({len(nano)} runs). "
                if plan["t_presets"]
                else ""
            )
            + f"{invocations_line(out)} Corpus: Florenz-Scenes {plan['corpus']}, captions "
            "in en/de only, translations en→de/fr/es/ru/zh from other sentence types than the captions (the release "
            "card lists the caption/translation overlap per language). CE = mean over samples of the per-sample mean "
            "token CE (nats/token); seen = caption-en/de, unseen = caption-fr/es/ru/zh.",
            "## Runs of the grid (mean ± std over seeds)",
            run_table(grid) if len(grid) else "No grid runs.",
            "## Fitted laws (log10 space)",
            (
                f"Fitted on the grid only ({', '.join(f'{k} = {v}' for k, v in pooled.items())}). "
                "OLS intervals treat the seed means as independent points; the seed-bootstrap intervals resample "
                'whole seeds and redo the Pareto selection in every resample. "significant" = every interval '
                "excludes 0."
            ),
            laws_table(fit),
            (
                f"T definition: {fit.get('T_definition', '–').rstrip('.')}. "
                f"Compute: {fit.get('compute_definition', '–')}; the 'all compute' rows add the vision-tower "
                "pretraining and any decoder LM pretraining (runs.csv `compute_all`)."
            ),
            "## Grounding: seeds whose shuffled-image gap exceeds 0.05 nats/token (a table, not a law)",
            grounded_table(fit),
            "## Plots",
            "\n".join(f"![{p}](fit/{p})" for p in plots) or "No plots were written.",
            "## Emergence: captions in translation-only languages (largest S per preset)",
            emergence_table(grid),
            "## Translation BLEU per target language (largest S per preset)",
            translation_table(grid),
            "## Compositional hold-out (shape–colour pairs never trained): CE test / heldout",
            heldout_table(grid),
            "## Scenes-CoMMuTE: contrastive accuracy (text-only scorers get exactly 0.5 by construction)",
            disambiguation_table(grid),
            "## Nano pair: real Gemma-3 decoder vs its scratch twin (separate experiment, CE per Gemma token)",
            nano_table(nano, plan),
            "## Downstream: the best model on Scenes exports in the official benchmark layouts",
            downstream_section(out),
            "## Learning rate per size",
            lr_sweep_table(out),
            "## Shapes compared with the paper",
            shape_comparison(grid, fit) if len(grid) else "No grid runs.",
        ]
    )
    return write_text_atomic(out / "report.md", text + "\n")
