"""Downstream benchmark metrics with their signatures: sacreBLEU BLEU/chrF, caption BLEU, CIDEr-D, CoMMuTE accuracy, COMET.

All scores are ×100, like the paper's tables. Java-free and offline: CIDEr-D is pycocoevalcap's pure-Python `Cider`
on text tokenised here (the XM3600 protocol below) instead of the Java PTB tokenizer or Stanza.

XM3600 protocol (the paper's, with our tokenisers): NFKC → word tokenisation → every punctuation character deleted,
also inside words (`l'homme` → `lhomme`) → lower-case. Tokenisers: jieba (dictionary/HMM segmentation) for Chinese, a
Unicode word regex (letters/digits with inner apostrophes and hyphens kept) for every other language. The paper used
Stanza's neural `tokenize` pipelines. Stanza itself installs from PyPI (1.15.0), but its models download from the
Hugging Face Hub at first use, which this offline machine cannot reach ("Could not resolve host: huggingface.co"), so
the size of that difference is not measured. Where they differ: Stanza splits English clitics ("don't" → "do n't" → "do nt", ours "dont") and French
elisions ("l'homme" → "l' homme" → "l homme", ours "lhomme"), and its Chinese segmentation differs from jieba's; CIDEr
of Chinese depends strongly on the segmenter, so zh numbers are comparable only with the same segmenter.
"""

from __future__ import annotations

import logging
import re
import string
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CIDER_TOKENIZER = {"zh": "jieba-0.42.1", "default": "unicode-word-regex"}
# ASCII punctuation plus the CJK/typographic marks the paper's XM3600 evaluation deletes.
_PUNCTUATION = frozenset(string.punctuation + "，。！？；：“”‘’…„–—«»¿¡·、《》")
_WORD_RE = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")


def _check_pairs(hyps: Sequence[str], refs: Sequence[Any]) -> None:
    if len(hyps) != len(refs):
        raise ValueError(f"need one reference entry per hypothesis, got {len(hyps)} hypotheses and {len(refs)}")
    if not hyps:
        raise ValueError("no hypotheses to score")


def _streams(refs_per_item: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Per-item reference lists → sacreBLEU reference streams (stream k = k-th reference of every item).

    Items with fewer references get None in the later streams, which sacreBLEU skips. Passing the per-item lists
    untransposed silently zips across items and scores something else.
    """
    for i, refs in enumerate(refs_per_item):
        if not refs or not all(isinstance(r, str) for r in refs):
            raise ValueError(f"references[{i}] must be a non-empty list of strings, got {refs!r}")
    width = max(len(refs) for refs in refs_per_item)
    return [[refs[k] if k < len(refs) else None for refs in refs_per_item] for k in range(width)]


def bleu_tokenizer(language: str) -> str:
    return "zh" if language == "zh" else "13a"


def sacrebleu_scores(hyps: Sequence[str], refs_per_item: Sequence[Sequence[str]], language: str) -> dict[str, dict]:
    """Corpus BLEU (13a; `zh` for Chinese) and chrF (nc 6, nw 0, β 2), each `{"score", "signature"}`."""
    from sacrebleu.metrics import BLEU, CHRF

    _check_pairs(hyps, refs_per_item)
    streams = _streams(refs_per_item)
    bleu = BLEU(tokenize=bleu_tokenizer(language))
    chrf = CHRF()
    bleu_score = bleu.corpus_score(list(hyps), streams)
    chrf_score = chrf.corpus_score(list(hyps), streams)
    return {
        "bleu": {"score": float(bleu_score.score), "signature": f"BLEU|{bleu.get_signature()}"},
        "chrf": {"score": float(chrf_score.score), "signature": f"chrF2|{chrf.get_signature()}"},
    }


def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def xm3600_tokens(text: str, language: str) -> list[str]:
    """NFKC, tokenise (jieba for zh, a Unicode word regex otherwise), delete punctuation characters, lower-case."""
    text = unicodedata.normalize("NFKC", text)
    tokens = _jieba().lcut(text) if language == "zh" else _WORD_RE.findall(text)
    cleaned = ("".join(ch for ch in token if ch not in _PUNCTUATION).strip().lower() for token in tokens)
    return [token for token in cleaned if token]


def cider_d(hyps: Sequence[str], refs_per_item: Sequence[Sequence[str]], language: str) -> float:
    """CIDEr-D (pycocoevalcap `Cider`: n ≤ 4, σ 6, clipping, length penalty) ×100 on `xm3600_tokens` text.

    IDF comes from the references of the evaluated set (log of the number of images), so a single image always scores
    0 and subsets are not comparable with the full set; fewer than 2 images is refused.
    """
    from pycocoevalcap.cider.cider import Cider

    _check_pairs(hyps, refs_per_item)
    if len(hyps) < 2:
        raise ValueError(
            f"CIDEr-D needs at least 2 images: its IDF is computed from the evaluated set, so {len(hyps)} image "
            "always scores 0"
        )
    gts = {i: [" ".join(xm3600_tokens(ref, language)) for ref in refs] for i, refs in enumerate(refs_per_item)}
    res = {i: [" ".join(xm3600_tokens(hyp, language))] for i, hyp in enumerate(hyps)}
    score, _ = Cider().compute_score(gts, res)
    return float(score) * 100.0


def cider_signature(language: str) -> str:
    tokenizer = CIDER_TOKENIZER.get(language, CIDER_TOKENIZER["default"])
    return f"CIDEr-D|pycocoevalcap:1.2|n:4|sigma:6|norm:NFKC|tok:{tokenizer}|punct:deleted|case:lc"


def commute_accuracy(ppl_correct: Sequence[float], ppl_incorrect: Sequence[float], confidence: float = 0.95) -> dict:
    """Share (×100) of items whose correct target has strictly lower perplexity, with an exact binomial CI."""
    from scipy.stats import binomtest

    if len(ppl_correct) != len(ppl_incorrect):
        raise ValueError(f"got {len(ppl_correct)} correct and {len(ppl_incorrect)} incorrect perplexities")
    if not ppl_correct:
        raise ValueError("no CoMMuTE items to score")
    wins = sum(c < i for c, i in zip(ppl_correct, ppl_incorrect))
    n = len(ppl_correct)
    interval = binomtest(wins, n).proportion_ci(confidence_level=confidence, method="exact")
    return {
        "score": 100.0 * wins / n,
        "ci_low": 100.0 * interval.low,
        "ci_high": 100.0 * interval.high,
        "k": wins,
        "n": n,
        "signature": f"accuracy|ppl:length-normalised|strict:<|ci:clopper-pearson-{confidence:g}",
    }


def comet_score(
    sources: Sequence[str], hyps: Sequence[str], refs: Sequence[str], checkpoint: str | Path, batch_size: int = 8
) -> dict:
    """COMET system score ×100 from a local checkpoint (`…/checkpoints/model.ckpt` of e.g. Unbabel/wmt22-comet-da).

    Nothing is downloaded: the checkpoint and the encoder it names must already be on disk.
    """
    path = Path(checkpoint)
    if not path.is_file():
        raise ValueError(f"COMET checkpoint {path} not found; pass the model.ckpt of a downloaded COMET model")
    try:
        from comet import load_from_checkpoint
    except ImportError as err:
        raise ValueError("COMET needs the unbabel-comet package: pip install unbabel-comet==2.2.7") from err
    import torch

    model = load_from_checkpoint(str(path), local_files_only=True)
    data = [{"src": s, "mt": h, "ref": r} for s, h, r in zip(sources, hyps, refs)]
    output = model.predict(data, batch_size=batch_size, gpus=1 if torch.cuda.is_available() else 0)
    return {"score": 100.0 * float(output.system_score), "signature": f"COMET|checkpoint:{path.parent.parent.name}"}
