"""End-of-run evaluation for the scaling study: CE per eval set and group, grounding gap, emergence, disambiguation.

Groups (the paper's, with this corpus's coverage): `seen_caption` = captions in covered languages, `unseen_caption` =
captions in translation-only languages, `translation` = all translation sets. Every value is a mean over samples of
the per-sample mean token CE (nats/token), as upstream's eval_loss.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .metrics import bleu, cider, contrastive_accuracy, language_share
from .runs_table import CAPTION_GROUPS, CE_GROUPS, ce_column, gap_column
from .trainer import FlorenzSeq2SeqTrainer, split_eval_sets


def _ppl_rows(rows: Sequence[Mapping[str, Any]], target_field: str) -> list[dict[str, Any]]:
    return [{**row, "target": row[target_field]} for row in rows]


def evaluate_run(
    trainer: FlorenzSeq2SeqTrainer,
    eval_sets: Mapping[str, Sequence[Mapping[str, Any]]],
    caption_langs: Sequence[str],
    generation_rows: int = 32,
    num_beams: int = 4,
    max_new_tokens: int = 32,
) -> dict[str, float]:
    """All per-run numbers that `runs.csv` carries besides the bookkeeping columns."""
    groups = split_eval_sets(list(eval_sets), caption_langs)
    ce_sets = {name: eval_sets[name] for group in CE_GROUPS for name in groups[group]}
    ce = trainer.cross_entropy(ce_sets)
    row: dict[str, float] = {ce_column(name): value for name, value in ce.items()}
    for group in CE_GROUPS:
        values = [ce[name] for name in groups[group]]
        row[ce_column(group)] = float(np.mean(values)) if values else math.nan

    # Grounding control: the same captions scored with another sample's image. Seen: does captioning use the
    # picture at all; unseen: did captioning transfer to the new language, not only the language itself.
    for group in CAPTION_GROUPS:
        if groups[group]:
            shuffled = trainer.cross_entropy({n: eval_sets[n] for n in groups[group]}, shuffle_images=True)
            row[f"{ce_column(group)}_shuffled"] = float(np.mean(list(shuffled.values())))
            row[gap_column(group)] = row[f"{ce_column(group)}_shuffled"] - row[ce_column(group)]

    # Emergence: captions generated with and without the decoder language prefix.
    for group in CAPTION_GROUPS:
        for prefix in (False, True):
            tag = "prefix" if prefix else "noprefix"
            bleus, ciders, shares = [], [], []
            for name in groups[group]:
                rows = list(eval_sets[name][:generation_rows])
                language = rows[0]["language"]
                hyps = trainer.generate_texts(rows, prefix=prefix, num_beams=num_beams, max_new_tokens=max_new_tokens)
                refs = [r["target"] for r in rows]
                if prefix:  # the scored caption excludes the forced prefix words, as the paper scores it
                    refs = [_strip_prefix_words(ref, language) for ref in refs]
                bleus.append(bleu(hyps, refs, language))
                ciders.append(cider(hyps, refs, language))
                shares.append(language_share(hyps, language))
                row[f"bleu_{name}_{tag}"] = bleus[-1]
                row[f"lang_share_{name}_{tag}"] = shares[-1]
            if bleus:
                short = group.replace("_caption", "")
                row[f"bleu_{short}_{tag}"] = float(np.mean(bleus))
                row[f"cider_{short}_{tag}"] = float(np.mean(ciders))
                row[f"lang_share_{short}_{tag}"] = float(np.mean(shares))

    # Scenes-CoMMuTE: is the image-consistent translation more probable than the other one?
    accuracies = []
    for name in groups["disambiguation"]:
        rows = eval_sets[name]
        correct = trainer.cross_entropy({name: _ppl_rows(rows, "target")}, per_sample=True)[name]
        wrong = trainer.cross_entropy({name: _ppl_rows(rows, "target_incorrect")}, per_sample=True)[name]
        row[f"acc_{name}"] = contrastive_accuracy(np.exp(correct).tolist(), np.exp(wrong).tolist())
        accuracies.append(row[f"acc_{name}"])
    if accuracies:
        row["acc_disambiguation"] = float(np.mean(accuracies))
    return row


def _strip_prefix_words(reference: str, language: str) -> str:
    """Drop the language prefix from a reference that starts with it, so prefix and no-prefix scores compare alike."""
    from modeling_florenz.processing_florenz import LANGUAGE_PREFIXES

    prefix = LANGUAGE_PREFIXES[language]
    if reference.startswith(prefix):
        rest = reference[len(prefix) :].strip()
        return rest[:1].upper() + rest[1:]
    return reference
