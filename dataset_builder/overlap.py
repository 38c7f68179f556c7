"""Overlap between evaluation captions and training targets, per language: does an unseen-language caption test
generalisation, or recall of a string the decoder was trained to write?

Two numbers per language: exact-sentence overlap (evaluation captions any of whose sentences, with or without the
language prefix, equals a training target sentence of that language) and 4-gram overlap (share of the evaluation
captions' word 4-grams, character 4-grams for zh, that occur in that language's training targets; high by design, as
translations cover the caption lexicon and agreement in other sentence types).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from modeling_florenz.processing_florenz import add_language_prefix

_TOKEN_RE = re.compile(r"[\u3400-\u9fff]|\w+")


def sentences(text: str, language: str) -> list[str]:
    """The sentences of a caption or target: split after each full stop ("." or "。")."""
    stop = "。" if language == "zh" else "."
    parts = re.split(r"(?<=。)" if language == "zh" else r"(?<=\.)\s+", text.strip())
    return [part.strip() for part in parts if part.strip().rstrip(stop)]


def _fourgrams(text: str) -> set[tuple[str, ...]]:
    tokens = _TOKEN_RE.findall(text.lower())
    return {tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3)}


def overlap_statistics(
    eval_captions: Mapping[str, Iterable[str]], train_targets: Mapping[str, Iterable[str]]
) -> dict[str, dict[str, float | int]]:
    """Per language of `eval_captions`: counts and shares of exact-sentence and 4-gram overlap with `train_targets`."""
    stats = {}
    for language, captions in sorted(eval_captions.items()):
        captions = list(captions)
        targets = list(train_targets.get(language, ()))
        seen_sentences = {s for target in targets for s in sentences(target, language)}
        seen_grams = set().union(*(_fourgrams(target) for target in targets)) if targets else set()
        exact = sum(
            any(
                s in seen_sentences
                for variant in (caption, add_language_prefix(caption, language))
                for s in sentences(variant, language)
            )
            for caption in captions
        )
        grams = [gram for caption in captions for gram in _fourgrams(caption)]
        stats[language] = {
            "eval_captions": len(captions),
            "train_targets": len(targets),
            "exact_sentence_overlap": exact,
            "exact_sentence_share": exact / len(captions) if captions else None,
            "eval_fourgrams": len(grams),  # captions shorter than four tokens have none
            "fourgram_overlap": sum(gram in seen_grams for gram in grams) / len(grams) if grams else None,
        }
    return stats


def overlap_table(stats: Mapping[str, Mapping[str, float | int]], unseen: Iterable[str] = ()) -> str:
    """Markdown table of `overlap_statistics`; `unseen` marks the translation-only caption languages."""
    unseen = set(unseen)
    lines = [
        "| language | captions | eval captions | train targets | exact-sentence overlap (share) | 4-gram overlap (n) |",
        "|---|---|---|---|---|---|",
    ]

    def share(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    for language, row in stats.items():
        lines.append(
            f"| {language} | {'unseen' if language in unseen else 'seen'} | {row['eval_captions']} | "
            f"{row['train_targets']} | {row['exact_sentence_overlap']} ({share(row['exact_sentence_share'])}) | "
            f"{share(row['fourgram_overlap'])} ({row['eval_fourgrams']}) |"
        )
    return "\n".join(lines)
