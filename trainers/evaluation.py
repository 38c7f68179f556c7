"""End-of-run evaluation for the scaling study: CE per eval set and group, grounding gap, emergence, translation BLEU,
disambiguation.

Groups (the paper's, with this corpus's coverage): `seen_caption` = captions in covered languages, `unseen_caption` =
captions in translation-only languages, `translation` = all translation sets. Every CE is a mean over samples of the
per-sample mean token CE (nats/token), as upstream's eval_loss.py. Generation scores are corpus-level per language
(one BLEU / CIDEr / language share over all generated rows of that language); group values are their means over
languages. Prefix and no-prefix captions are scored against the same references: the eval captions carry no prefix,
and only the forced prefix tokens are removed from prefix-mode hypotheses (`FlorenzProcessor.batch_decode`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .metrics import bleu, cider, contrastive_accuracy, language_share
from .runs_table import CAPTION_GROUPS, CE_GROUPS, ce_column, gap_column
from .trainer import FlorenzSeq2SeqTrainer, split_eval_sets


def _group_means(row: dict[str, float], ce: Mapping[str, float], groups: Mapping[str, list[str]], tag: str) -> None:
    for group in ("seen_caption", "unseen_caption", "translation"):
        values = [ce[name] for name in groups[group] if name in ce]
        row[f"ce_{tag}{group}"] = float(np.mean(values)) if values else math.nan


def _caption_generation(trainer, eval_sets, groups, row, rows_per_language: int, gen_kwargs: dict) -> None:
    """BLEU, CIDEr and target-language share per caption language and mode, then their group means."""
    for group in ("seen_caption", "unseen_caption"):
        short = group.removesuffix("_caption")
        for prefix in (False, True):
            tag = "prefix" if prefix else "noprefix"
            scores: dict[str, list[float]] = {"bleu": [], "cider": [], "lang_share": []}
            for name in groups[group]:
                rows = list(eval_sets[name][:rows_per_language])
                language = rows[0]["language"]
                hyps = trainer.generate_texts(rows, prefix=prefix, **gen_kwargs)
                refs = [r["target"] for r in rows]
                for metric, value in (
                    ("bleu", bleu(hyps, refs, language)),
                    ("cider", cider(hyps, refs, language)),
                    ("lang_share", language_share(hyps, language)),
                ):
                    row[f"{metric}_{name}_{tag}"] = value
                    scores[metric].append(value)
            for metric, values in scores.items():
                if values:
                    row[f"{metric}_{short}_{tag}"] = float(np.mean(values))
        if groups[group]:
            row[f"generation_rows_{short}"] = min(len(eval_sets[name][:rows_per_language]) for name in groups[group])


def _translation_generation(trainer, eval_sets, groups, row, rows_per_language: int, gen_kwargs: dict) -> None:
    values = []
    for name in groups["translation"]:
        rows = list(eval_sets[name][:rows_per_language])
        hyps = trainer.generate_texts(rows, **gen_kwargs)
        row[f"bleu_{name}"] = bleu(hyps, [r["target"] for r in rows], rows[0]["language"])
        values.append(row[f"bleu_{name}"])
    if values:
        row["bleu_translation"] = float(np.mean(values))


def _pair_shuffled(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every row with the image of the same member of the next pair: an unrelated scene, never the pair partner's
    (whose image would turn the contrast around instead of removing it)."""
    return [{**row, "image": rows[(i + 2) % len(rows)]["image"]} for i, row in enumerate(rows)]


def _disambiguation(trainer, eval_sets, groups, row) -> None:
    """Scenes-CoMMuTE: is the image-consistent translation more probable than the other one? With the real images and
    with images of other pairs (the control: any text-only preference scores exactly 0.5 on this design)."""
    accuracies: dict[str, list[float]] = {"acc": [], "acc_shuffled": []}
    for name in groups["disambiguation"]:
        rows = list(eval_sets[name])
        variants = {"acc": rows}
        if len(rows) >= 4:
            variants["acc_shuffled"] = _pair_shuffled(rows)
        for tag, scored in variants.items():
            correct = trainer.cross_entropy({name: scored}, per_sample=True)
            wrong = trainer.cross_entropy(
                {name: [{**r, "target": r["target_incorrect"]} for r in scored]}, per_sample=True
            )
            row[f"{tag}_{name}"] = contrastive_accuracy(correct[name].tolist(), wrong[name].tolist())
            accuracies[tag].append(row[f"{tag}_{name}"])
        row[f"n_{name}"] = len(rows)
    for tag, values in accuracies.items():
        if values:
            row[f"{tag}_disambiguation"] = float(np.mean(values))


def evaluate_run(
    trainer: FlorenzSeq2SeqTrainer,
    eval_sets: Mapping[str, Sequence[Mapping[str, Any]]],
    caption_langs: Sequence[str],
    generation_rows: int = 100,
    num_beams: int = 1,
    max_new_tokens: int = 32,
    heldout_sets: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    generate: bool = True,
    disambiguation: bool = True,
) -> dict[str, float]:
    """All per-run numbers that `runs.csv` carries besides the bookkeeping columns.

    heldout_sets: the compositional hold-out (shape-colour pairs never trained), scored by CE as `ce_heldout_*`.
    generate=False skips the generation metrics (captions and translations), the costly part on CPU;
    disambiguation=False skips Scenes-CoMMuTE.
    """
    groups = split_eval_sets(list(eval_sets), caption_langs)
    ce_sets = {name: eval_sets[name] for group in CE_GROUPS for name in groups[group]}
    ce = trainer.cross_entropy(ce_sets)
    row: dict[str, float] = {f"ce_{name}": value for name, value in ce.items()}
    _group_means(row, ce, groups, "")

    # Grounding control: the same captions scored with another sample's image. Seen: does captioning use the
    # picture at all; unseen: did captioning transfer to the new language, not only the language itself.
    for group in CAPTION_GROUPS:
        if groups[group]:
            shuffled = trainer.cross_entropy({n: eval_sets[n] for n in groups[group]}, shuffle_images=True)
            row[f"{ce_column(group)}_shuffled"] = float(np.mean(list(shuffled.values())))
            row[gap_column(group)] = row[f"{ce_column(group)}_shuffled"] - row[ce_column(group)]

    if heldout_sets:
        held_groups = split_eval_sets(list(heldout_sets), caption_langs)
        names = [n for g in ("seen_caption", "unseen_caption", "translation") for n in held_groups[g]]
        held = trainer.cross_entropy({n: heldout_sets[n] for n in names})
        row.update({f"ce_heldout_{name}": value for name, value in held.items()})
        _group_means(row, held, held_groups, "heldout_")

    if generate:
        gen_kwargs = {"num_beams": num_beams, "max_new_tokens": max_new_tokens}
        _caption_generation(trainer, eval_sets, groups, row, generation_rows, gen_kwargs)
        _translation_generation(trainer, eval_sets, groups, row, generation_rows, gen_kwargs)
    if disambiguation:
        _disambiguation(trainer, eval_sets, groups, row)
    return row
