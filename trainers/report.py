"""`report.md` of an experiment: run table with seed spread, fitted laws with CIs, plots, emergence and
disambiguation tables, and a comparison of the measured shapes with the paper's, written from the numbers.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from dataset_builder.atomic import write_text_atomic

from .runs_table import CE_GROUPS, RUNS_CSV, read_runs

# Compute-law exponents of the Florenz paper (v1, Table 2; log10 space).
PAPER_ALPHA1 = {"unseen_caption": -0.15, "translation": -0.18, "seen_caption": -0.15}


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


def _mean_std(frame: pd.DataFrame, column: str) -> pd.Series:
    grouped = frame.groupby(["preset", "seen_samples"])[column]
    mean, std = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    return mean.map(lambda v: f"{v:.3f}") + " ± " + std.map(lambda v: f"{v:.3f}")


def run_table(runs: pd.DataFrame) -> str:
    columns = [c for c in ("ce_seen_caption", "ce_unseen_caption", "ce_translation", "ce_gap_seen", "ce_gap_unseen",
                           "bleu_seen_noprefix", "bleu_unseen_noprefix", "bleu_unseen_prefix") if c in runs]  # fmt: skip
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


def laws_table(fit: dict[str, Any]) -> str:
    lines = [
        (
            "| group | α0 | α1 [95% CI] | r² (n) | paper α1 | β1 (P) [CI] | β2 (S) [CI] | β3 (T) [CI] | r² | "
            "Chinchilla α / β |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for group in CE_GROUPS:
        entry = fit.get(group, {})
        compute, factor, chin = entry.get("compute_law", {}), entry.get("factor_law", {}), entry.get("chinchilla", {})
        compute_cells = (
            f"{_fmt(compute.get('alpha0'))} | {_fmt(compute.get('alpha1'))} {_ci(compute.get('alpha1_ci'))} | "
            f"{_fmt(compute.get('r2'))} ({compute.get('n', '–')})"
            if "alpha1" in compute
            else f"– | {compute.get('note', 'not fitted')} | –"
        )
        factor_cells = (
            " | ".join(
                f"{_fmt(factor.get(b))} {_ci(factor.get(b + '_ci'))}" if factor.get(b) is not None
                else factor.get(b + "_note", "–")
                for b in ("beta1", "beta2", "beta3")
            )
            + f" | {_fmt(factor.get('r2'))}"
            if "beta1" in factor
            else f"{factor.get('note', 'not fitted')} | – | – | –"
        )  # fmt: skip
        chin_cell = (
            f"{_fmt(chin.get('alpha'))} / {_fmt(chin.get('beta'))}" if "alpha" in chin else chin.get("note", "–")
        )
        lines.append(f"| {group} | {compute_cells} | {PAPER_ALPHA1[group]} | {factor_cells} | {chin_cell} |")
    return "\n".join(lines)


def emergence_table(runs: pd.DataFrame) -> str:
    largest = runs[runs.seen_samples == runs.groupby("preset").seen_samples.transform("max")]
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
    return "\n".join(lines)


def disambiguation_table(runs: pd.DataFrame) -> str:
    columns = sorted(c for c in runs if c.startswith("acc_disambiguation-"))
    if not columns:
        return "No disambiguation accuracies in runs.csv."
    largest = runs[runs.seen_samples == runs.groupby("preset").seen_samples.transform("max")]
    labels = [c.removeprefix("acc_disambiguation-") for c in columns]
    lines = ["| preset | S | " + " | ".join(labels) + " | mean |", "|" + "---|" * (len(labels) + 3)]
    for (preset, seen), frame in largest.groupby(["preset", "seen_samples"]):
        values = [frame[c].mean() for c in columns]
        lines.append(
            f"| {preset} | {seen} | " + " | ".join(f"{v:.3f}" for v in values) + f" | {sum(values) / len(values):.3f} |"
        )
    return "\n".join(lines)


def grounding_summary(grid: pd.DataFrame, fit: dict[str, Any]) -> str:
    """The grounding gaps of each grid size at its largest budget, smallest size first, and the unseen gap's law."""
    largest = grid[grid.seen_samples == grid.groupby("preset").seen_samples.transform("max")]
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
    text = (
        "Grounding control (CE with a shuffled image minus CE with the right image on captions, nats/token, "
        f"{which}, at each size's largest S): {cells}. A gap at float-noise level means captions written without "
        "looking at the picture; only a positive unseen gap lets the unseen-language numbers speak of captioning "
        "rather than of language."
    )
    law = fit.get("grounding_gap_unseen", {})
    factor = law.get("factor_law", {})
    if factor.get("beta1") is not None and factor.get("beta2") is not None:
        text += (
            f" Fitted over the {factor.get('n')} configurations whose mean gap exceeds "
            f"{factor.get('grounded_threshold')} nats/token ({factor.get('left_out_ungrounded', 0)} ungrounded ones "
            f"left out), the gap grows as P^{factor['beta1']:.2f} "
            f"{_ci(factor.get('beta1_ci'))} · S^{factor['beta2']:.2f} {_ci(factor.get('beta2_ci'))}."
        )
    elif law.get("note"):
        text += f" Its law was not fitted: {law['note']}."
    return text


def shape_comparison(runs: pd.DataFrame, fit: dict[str, Any], grid_presets: list[str] | tuple[str, ...]) -> str:
    """Sentences derived from the measured numbers; nothing here is asserted without a number behind it.

    "The largest model" is the largest preset of the size × samples grid at its largest budget (the T pair is
    trained on a much smaller budget and would otherwise dominate by parameter count).
    """
    sentences = []
    grid = runs[runs.preset.isin(grid_presets)]
    largest = grid[grid.params == grid.params.max()]
    largest = largest[largest.seen_samples == largest.seen_samples.max()]
    label = f"{largest.preset.iloc[0]} at S={largest.seen_samples.iloc[0]}" if len(largest) else "–"
    unseen = fit.get("unseen_caption", {}).get("compute_law", {})
    if "alpha1" in unseen:
        lo, hi = unseen.get("alpha1_ci") or (None, None)
        significant = lo is not None and hi is not None and hi < 0
        sentences.append(
            f"Unseen-caption CE falls with compute with exponent α1 = {unseen['alpha1']:.3f} "
            f"(95% CI {_ci(unseen.get('alpha1_ci'))}, paper −0.15); the decrease is "
            f"{'significant' if significant else 'not significant'} at 95%."
        )
    else:
        sentences.append(f"The unseen-caption compute law could not be fitted: {unseen.get('note', 'no fit')}.")
    factor = fit.get("unseen_caption", {}).get("factor_law", {})
    if factor.get("beta1") is not None and factor.get("beta2") is not None:
        bigger = "model size" if abs(factor["beta1"]) > abs(factor["beta2"]) else "seen samples"
        sentences.append(
            f"In the factor law, β1 (params) = {factor['beta1']:.3f} and β2 (samples) = {factor['beta2']:.3f}: "
            f"{bigger} matters more here; the paper found model size dominant (β1 −0.16 vs β2 −0.04)."
        )
    if factor.get("beta3") is not None:
        sentences.append(
            f"β3 (initial multilinguality T) = {factor['beta3']:.3f}; T varies only within the nano pair, which also "
            "uses the Gemma tokenizer (CE per Gemma token, not per Scenes-BPE token), so β3 mixes multilinguality with "
            "tokenizer and model family."
        )
    elif factor.get("beta3_note"):
        sentences.append(f"T: {factor['beta3_note']}.")
    if {"bleu_unseen_prefix", "bleu_unseen_noprefix"} <= set(runs) and len(largest):
        delta = largest.bleu_unseen_prefix.mean() - largest.bleu_unseen_noprefix.mean()
        sentences.append(
            f"For the largest model ({label}) the language prefix changes unseen-caption BLEU by {delta:+.2f} "
            f"({largest.bleu_unseen_noprefix.mean():.2f} → {largest.bleu_unseen_prefix.mean():.2f})"
            + (
                f" and the target-language share from {largest.lang_share_unseen_noprefix.mean():.2f} to "
                f"{largest.lang_share_unseen_prefix.mean():.2f}."
                if {"lang_share_unseen_prefix", "lang_share_unseen_noprefix"} <= set(runs)
                else "."
            )
        )
    if "ce_gap_unseen" in runs and len(grid):
        sentences.append(grounding_summary(grid, fit))
    if "bleu_seen_noprefix" in runs and len(largest):
        sentences.append(
            f"Seen-language captioning of the largest model ({label}) reaches BLEU "
            f"{largest.bleu_seen_noprefix.mean():.2f} "
            "(the ceiling the unseen languages are measured against)."
        )
    return " ".join(sentences)


def write_report(out: str | os.PathLike, plan_name: str, plan: dict[str, Any], wall_seconds: float) -> Path:
    out = Path(out)
    runs = read_runs(out / RUNS_CSV)
    fit = json.loads((out / "fit" / "fit.json").read_text(encoding="utf-8"))
    plots = [p for p in ("compute_law.png", "params_law.png", "emergence.png") if (out / "fit" / p).exists()]
    text = "\n\n".join(
        [
            f"# Florenz scaling experiment — `{plan_name}`",
            f"{plan['description']}. Presets {', '.join(plan['presets'])} × seen samples "
            f"{', '.join(map(str, plan['samples']))} × seeds {', '.join(map(str, plan['seeds']))}; "
            + (
                f"T axis: {', '.join(plan['t_presets'])} at S={plan['t_samples']}. "
                if plan["t_presets"]
                else "no T pair. "
            )
            + f"{len(runs)} runs; "
            f"this invocation took {wall_seconds / 60:.1f} min. Corpus: Florenz-Scenes {plan['corpus']}, captions in "
            "en/de only, translations en→de/fr/es/ru/zh. CE = mean over samples of the per-sample mean token CE "
            "(nats/token); seen = caption-en/de, unseen = caption-fr/es/ru/zh.",
            "## Runs (mean ± std over seeds)",
            run_table(runs),
            "## Fitted laws (log10 space, 95% CIs)",
            laws_table(fit),
            f"T definition: {fit.get('T_definition', '–').rstrip('.')}. Compute: {fit.get('compute_definition', '–')}.",
            "## Plots",
            "\n".join(f"![{p}](fit/{p})" for p in plots) or "No plots were written.",
            "## Emergence: captions in translation-only languages (largest S per preset)",
            emergence_table(runs),
            "## Scenes-CoMMuTE: contrastive accuracy (chance 0.5)",
            disambiguation_table(runs),
            "## Shapes compared with the paper",
            shape_comparison(runs, fit, plan["presets"]),
        ]
    )
    return write_text_atomic(out / "report.md", text + "\n")
