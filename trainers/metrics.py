"""Evaluation metrics for the Florenz experiment: BLEU, CIDEr, output-language share, contrastive accuracy, eval CE.

Scales follow the paper tables: `bleu` and `cider` are ×100; `language_share` and `contrastive_accuracy` are fractions
in [0, 1]. Everything runs offline and without Java (the paper used Stanza/PTB tokenisers and a METEOR jar).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

LANGUAGES = ("en", "de", "fr", "es", "zh", "ru")

# CJK ideographs (+ extension A and compatibility ideographs); Chinese captions are scored per character.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
_CYRILLIC_RE = re.compile("[\u0400-\u04ff]")
_LATIN_RE = re.compile("[a-zA-Z\u00c0-\u024f]")
_TOKEN_RE = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")
_WORD_RE = re.compile(r"[^\W\d_]+")

# Frequent function words and caption vocabulary per Latin-script language (shared words such as "la" fr/es belong
# to both). A text whose words all belong to exactly one list is that language.
_LEXICON_WORDS: dict[str, str] = {
    "en": (
        "the a an of in on at with and or to is are was were be been this that these those there it its his her "
        "their some two three four several many one from by for over under near next behind front top into out up "
        "down while who which what has have holding sitting standing walking playing wearing looking man woman men "
        "women people person boy girl child children dog cat street table water white black red blue green yellow "
        "brown small large big little young old photo picture image shows showing background other around "
        "purple orange pink grey gray circle circles square squares triangle triangles star stars heart hearts ring "
        "rings cross arrow diamond five six left right above below beside"
    ),
    "de": (
        "der die das den dem des ein eine einer einem einen eines und oder mit auf im in am an ist sind war waren "
        "von vom zu zum zur für über unter neben vor hinter bei aus nach sich es sie er ihr ihre sein seine zwei drei "
        "vier mehrere viele einige auch nicht ein mann frau männer frauen leute menschen junge mädchen kind kinder "
        "hund katze straße tisch wasser weiß weißen schwarz schwarzen rot roten blau blauen grün grünen gelb gelben "
        "braun kleine kleiner kleinen große großer großen alt alte junger foto bild zeigt hintergrund steht sitzt hält "
        "spielt trägt läuft "
        "lila violett orange rosa grau kreis kreise quadrat quadrate dreieck dreiecke stern sterne herz herzen ring "
        "ringe kreuz pfeil raute fünf sechs links rechts oberhalb unterhalb darüber darunter"
    ),
    "fr": (
        "le la les un une des du de d l et ou avec sur dans sous est sont était étaient au aux en par pour près "
        "devant derrière entre à ce cette ces son sa ses leur leurs il elle ils elles qui que deux trois quatre "
        "plusieurs quelques homme femme hommes femmes gens personne personnes garçon fille enfant enfants chien chat "
        "rue table eau blanc blanche noir noire rouge bleu bleue vert verte jaune marron petit petite grand grande "
        "jeune vieux photo image montre fond assis debout tient joue porte marche "
        "violet violette orange rose gris grise cercle cercles carré carrés triangle triangles étoile étoiles cœur "
        "cœurs anneau anneaux croix flèche losange cinq six gauche droite dessus dessous côté"
    ),
    "es": (
        "el la los las un una unos unas de del y o con en sobre bajo es son está están era eran al por para cerca "
        "delante detrás entre este esta estos estas ese esa su sus él ella ellos ellas que dos tres cuatro varios "
        "varias algunos algunas hombre mujer hombres mujeres gente persona personas niño niña niños perro gato calle "
        "mesa agua blanco blanca negro negra rojo roja azul verde amarillo amarilla marrón pequeño pequeña grande "
        "joven viejo foto imagen muestra fondo sentado sentada parado sostiene juega lleva camina "
        "morado morada naranja rosa gris círculo círculos cuadrado cuadrados triángulo triángulos estrella "
        "estrellas corazón anillo anillos cruz flecha rombo cinco seis izquierda derecha encima debajo lado"
    ),
}
_LEXICON = {language: frozenset(words.split()) for language, words in _LEXICON_WORDS.items()}


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")


def _check_same_length(hyps: Sequence, refs: Sequence) -> None:
    if len(hyps) != len(refs):
        raise ValueError(f"need one reference entry per hypothesis, got {len(hyps)} hypotheses and {len(refs)} refs")
    if not hyps:
        raise ValueError("hyps is empty")


def _references_per_hypothesis(refs: Sequence[str] | Sequence[Sequence[str]]) -> list[list[str]]:
    """Normalises `refs` to a list of references per hypothesis (a plain string means a single reference)."""
    per_hyp = [[ref] if isinstance(ref, str) else list(ref) for ref in refs]
    for i, ref_list in enumerate(per_hyp):
        if not ref_list or not all(isinstance(ref, str) for ref in ref_list):
            raise ValueError(f"refs[{i}] must be a string or a non-empty list of strings, got {refs[i]!r}")
    return per_hyp


def bleu(hyps: Sequence[str], refs: Sequence[str] | Sequence[Sequence[str]], language: str) -> float:
    """Corpus BLEU (sacrebleu, ×100) with the "zh" tokeniser for Chinese and "13a" otherwise.

    `refs` holds one reference per hypothesis (`list[str]`) or several per hypothesis (`list[list[str]]`, counts may
    vary). sacrebleu wants reference *streams* (stream k = the k-th reference of every hypothesis), so the per-hypothesis
    lists are transposed here; passing them untransposed was the caption-BLEU bug of the paper code (reference §9.9).
    """
    import sacrebleu

    _check_language(language)
    _check_same_length(hyps, refs)
    per_hyp = _references_per_hypothesis(refs)
    n_streams = max(len(ref_list) for ref_list in per_hyp)
    # sacrebleu skips None entries, which is how it supports a variable number of references per segment.
    streams = [[ref_list[k] if k < len(ref_list) else None for ref_list in per_hyp] for k in range(n_streams)]
    tokenize = "zh" if language == "zh" else "13a"
    return float(sacrebleu.corpus_bleu(list(hyps), streams, tokenize=tokenize).score)


def caption_tokens(text: str, language: str) -> list[str]:
    """Pure-Python caption tokeniser: NFKC, lower-case, punctuation (incl. CJK) removed; Chinese split per character.

    CJK ideographs are always single tokens (captions mix scripts rarely, and this keeps zh independent of a
    segmenter); other text is split on whitespace after punctuation and symbols are replaced by spaces.
    """
    _check_language(language)
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    return _TOKEN_RE.findall(text)


def cider(hyps: Sequence[str], refs: Sequence[str] | Sequence[Sequence[str]], language: str) -> float:
    """Corpus CIDEr (pycocoevalcap `Cider`, the COCO-caption variant, ×100) on `caption_tokens`-tokenised text.

    IDF weights come from the references of this corpus, so scores are only comparable on the same reference set, and a
    corpus of a single image scores 0 by construction.
    """
    from pycocoevalcap.cider.cider import Cider

    _check_same_length(hyps, refs)
    per_hyp = _references_per_hypothesis(refs)
    res = {i: [" ".join(caption_tokens(hyp, language))] for i, hyp in enumerate(hyps)}
    gts = {i: [" ".join(caption_tokens(ref, language)) for ref in ref_list] for i, ref_list in enumerate(per_hyp)}
    score, _ = Cider().compute_score(gts, res)
    return float(score) * 100.0


@functools.cache
def _language_identifier():
    """py3langid's identifier over all 97 languages of its bundled model (loaded once, offline)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE)


def _lexicon_language(words: list[str]) -> str | None:
    """The one language whose lexicon holds every word (procedural Scenes text), else None: only then is the
    lexicon exact; other Latin text goes to the language identifier."""
    covering = [lang for lang, lexicon in _LEXICON.items() if words and all(word in lexicon for word in words)]
    return covering[0] if len(covering) == 1 else None


def detect_language(text: str) -> str | None:
    """Language of `text` if it is one of `LANGUAGES`, else None (another language, or no letters).

    Script decides zh (CJK ideographs) and ru (Cyrillic), the only languages of those scripts among the six. Latin
    text made only of one language's lexicon words (the Scenes vocabulary) takes that language; any other text is
    classified by py3langid among all its 97 languages, so Italian or Portuguese is not mistaken for French or
    Spanish.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    n_cjk, n_cyr, n_lat = len(_CJK_RE.findall(text)), len(_CYRILLIC_RE.findall(text)), len(_LATIN_RE.findall(text))
    # One CJK character carries about as much as a short Latin word, hence the weight 3.
    if 3 * n_cjk > max(n_cyr, n_lat) and n_cjk:
        return "zh"
    if n_cyr > n_lat:
        return "ru"
    if not n_lat:
        return None
    words = _WORD_RE.findall(text)
    language = _lexicon_language(words) or _language_identifier().classify(text)[0]
    return language if language in LANGUAGES else None


def language_share(texts: Sequence[str], language: str) -> float:
    """Fraction of `texts` whose detected language (`detect_language`) is `language`; undecidable texts count as misses."""
    _check_language(language)
    if not texts:
        raise ValueError("texts is empty")
    return sum(detect_language(text) == language for text in texts) / len(texts)


def contrastive_accuracy(ppl_correct: Sequence[float], ppl_incorrect: Sequence[float]) -> float:
    """Fraction of items whose correct target has strictly lower perplexity than the incorrect one (CoMMuTE-style)."""
    if len(ppl_correct) != len(ppl_incorrect):
        raise ValueError(
            f"ppl_correct and ppl_incorrect must have equal length, got {len(ppl_correct)} and {len(ppl_incorrect)}"
        )
    if not ppl_correct:
        raise ValueError("ppl_correct is empty")
    return sum(c < i for c, i in zip(ppl_correct, ppl_incorrect)) / len(ppl_correct)


def per_sample_ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean token cross-entropy per sample over positions with `labels != -100` (nats/token), shape `(batch,)`.

    `logits` (batch, seq, vocab) must already be aligned with `labels` (batch, seq), as in seq2seq models whose decoder
    inputs are the right-shifted labels. Per-sample means, not a token-weighted batch mean, match the paper's eval CE
    (reference §6.1). Computed in float32 so half-precision logits do not lose the small differences being measured.
    """
    import torch
    import torch.nn.functional as F

    if logits.dim() != 3 or labels.shape != logits.shape[:2]:
        raise ValueError(
            f"expected logits (batch, seq, vocab) and labels (batch, seq), got {tuple(logits.shape)} and "
            f"{tuple(labels.shape)}"
        )
    mask = labels != -100
    counts = mask.sum(dim=1)
    if bool((counts == 0).any()):
        empty = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"samples {empty} have no target tokens (all labels are -100)")
    # Ignored positions come back as 0 with reduction="none".
    token_ce = F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=-100, reduction="none")
    return token_ce.sum(dim=1) / counts
