"""Evaluation metrics: BLEU tokenisation and reference streams, CIDEr, language share, contrastive accuracy, eval CE."""

from __future__ import annotations

import math

import pytest
import sacrebleu
import torch

from trainers.metrics import (
    bleu,
    caption_tokens,
    cider,
    contrastive_accuracy,
    detect_language,
    language_share,
    per_sample_ce,
)

ZH_HYPS = ["一只黑狗在草地上奔跑。", "两个孩子在海滩上玩耍。"]
ZH_REFS = ["一只黑色的狗在草地上奔跑。", "两个孩子在沙滩上玩。"]


def test_bleu_uses_zh_tokenizer_for_chinese():
    expected = sacrebleu.corpus_bleu(ZH_HYPS, [ZH_REFS], tokenize="zh").score
    with_13a = sacrebleu.corpus_bleu(ZH_HYPS, [ZH_REFS], tokenize="13a").score
    assert bleu(ZH_HYPS, ZH_REFS, "zh") == pytest.approx(expected)
    # Unsegmented Chinese is one "word" per sentence under 13a, so only the character tokeniser gives credit.
    assert expected > 30 and with_13a < 1


def test_bleu_uses_13a_for_latin_languages():
    hyps = ["A dog runs on the grass.", "Two kids play at the beach."]
    refs = ["A black dog runs on the grass.", "Two children play on the beach."]
    assert bleu(hyps, refs, "en") == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs], tokenize="13a").score)


def test_bleu_transposes_several_references_per_hypothesis():
    hyps = ["a dog runs on the grass", "two children play on a beach", "a man rides a red bike down the street"]
    refs = [
        ["a black dog runs across the grass", "a dog runs on the green grass"],
        ["two kids are playing at the beach", "two children play on the sand"],
        ["a man rides a bike", "a man on a red bicycle rides down the street"],
    ]
    # Correct sacrebleu input: stream k holds the k-th reference of every hypothesis (written out by hand).
    streams = [
        ["a black dog runs across the grass", "two kids are playing at the beach", "a man rides a bike"],
        [
            "a dog runs on the green grass",
            "two children play on the sand",
            "a man on a red bicycle rides down the street",
        ],
    ]
    expected = sacrebleu.corpus_bleu(hyps, streams, tokenize="13a").score
    assert bleu(hyps, refs, "en") == pytest.approx(expected)
    # The paper-code bug (per-hypothesis lists passed as streams) scores something else.
    assert sacrebleu.corpus_bleu(hyps, refs, tokenize="13a").score != pytest.approx(expected)


def test_bleu_variable_reference_counts_find_the_matching_reference():
    hyps = ["a dog runs on the grass today", "two children play on the sand at the beach"]
    refs = [
        ["a dog runs on the grass today"],
        ["two kids play", "a beach", "two children play on the sand at the beach"],
    ]
    assert bleu(hyps, refs, "en") == pytest.approx(100.0)


def test_bleu_rejects_mismatched_lengths_and_unknown_language():
    with pytest.raises(ValueError, match="one reference entry per hypothesis"):
        bleu(["a", "b"], ["a"], "en")
    with pytest.raises(ValueError, match="language must be one of"):
        bleu(["a"], ["a"], "it")


def test_caption_tokens_normalise_and_split_chinese_per_character():
    assert caption_tokens("A DOG, running!  (Fast)", "en") == ["a", "dog", "running", "fast"]
    assert caption_tokens("一只狗，在草地上。", "zh") == ["一", "只", "狗", "在", "草", "地", "上"]
    # NFKC folds full-width letters and the ligature before lower-casing.
    assert caption_tokens("ＡＢＣ ﬁsh", "en") == ["abc", "fish"]


def test_cider_matches_direct_pycocoevalcap_on_multi_reference_corpus():
    from pycocoevalcap.cider.cider import Cider

    hyps = ["A dog runs on the grass.", "Two children play at the beach!", "A man rides a red bike."]
    refs = [
        ["A black dog runs on the grass.", "A dog is running across a field."],
        ["Two kids play at the beach.", "Children playing on the sand."],
        ["A man rides a bike down the street.", "A man on a red bicycle."],
    ]
    gts = {
        0: ["a black dog runs on the grass", "a dog is running across a field"],
        1: ["two kids play at the beach", "children playing on the sand"],
        2: ["a man rides a bike down the street", "a man on a red bicycle"],
    }
    res = {0: ["a dog runs on the grass"], 1: ["two children play at the beach"], 2: ["a man rides a red bike"]}
    expected, _ = Cider().compute_score(gts, res)
    score = cider(hyps, refs, "en")
    assert score == pytest.approx(100 * expected)
    shuffled = cider([hyps[1], hyps[2], hyps[0]], refs, "en")
    assert score > 100 and shuffled < score / 4


def test_cider_chinese_is_character_based():
    hyps = ["一只黑狗在草地上奔跑。", "两个孩子在海滩上玩耍。", "一个男人骑着红色自行车。"]
    refs = [["一只黑色的狗在草地上奔跑。"], ["两个孩子在沙滩上玩。"], ["一个男人骑自行车。"]]
    assert cider(hyps, refs, "zh") > cider([hyps[2], hyps[0], hyps[1]], refs, "zh") + 50


CAPTIONS = {
    "en": "A young man in a red shirt is sitting on a bench next to his dog.",
    "de": "Ein junger Mann mit einem roten Hemd sitzt neben seinem Hund auf einer Bank.",
    "fr": "Un jeune homme avec une chemise rouge est assis sur un banc à côté de son chien.",
    "es": "Un hombre joven con una camisa roja está sentado en un banco junto a su perro.",
    "zh": "一个穿红衬衫的年轻人和他的狗坐在长椅上。",
    "ru": "Молодой человек в красной рубашке сидит на скамейке рядом со своей собакой.",
}
MORE_CAPTIONS = {
    "en": [
        "Two children are playing with a ball in the park.",
        "The photo shows a cat on the table.",
        "A small grey star.",
    ],
    "de": [
        "Zwei Kinder spielen im Park mit einem Ball.",
        "Das Foto zeigt eine Katze auf dem Tisch.",
        "Ein kleiner grauer Stern.",
    ],
    "fr": [
        "Deux enfants jouent au ballon dans le parc.",
        "La photo montre un chat sur la table.",
        "Une grande étoile rose.",
    ],
    "es": [
        "Dos niños juegan con una pelota en el parque.",
        "La foto muestra un gato sobre la mesa.",
        "Un anillo morado grande.",
    ],
    "zh": ["两个孩子在公园里玩球。", "照片显示桌子上有一只猫。", "一颗灰色的小星星。"],
    "ru": ["Двое детей играют с мячом в парке.", "На фотографии кошка на столе.", "Маленькая серая звезда."],
}


@pytest.mark.parametrize("language", sorted(CAPTIONS))
def test_detect_language_on_hand_written_captions(language):
    for text in [CAPTIONS[language], *MORE_CAPTIONS[language]]:
        assert detect_language(text) == language, text


def test_language_share_counts_target_language_only():
    texts = list(CAPTIONS.values()) + MORE_CAPTIONS["fr"]
    assert language_share(texts, "fr") == pytest.approx(4 / 9)
    assert language_share(texts, "zh") == pytest.approx(1 / 9)
    assert language_share(["", "12 34"], "en") == 0.0
    with pytest.raises(ValueError, match="empty"):
        language_share([], "en")


def test_contrastive_accuracy_counts_strictly_lower_correct_perplexity():
    assert contrastive_accuracy([1.0, 2.0, 3.0, 5.0], [2.0, 1.0, 4.0, 5.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="equal length"):
        contrastive_accuracy([1.0], [1.0, 2.0])


def test_per_sample_ce_is_mean_over_unmasked_tokens():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 7)
    labels = torch.tensor([[1, 2, -100, -100], [3, 4, 5, 6]])
    expected = []
    for b in range(2):
        terms = [
            -torch.log_softmax(logits[b, t], dim=-1)[labels[b, t]].item() for t in range(4) if labels[b, t] != -100
        ]
        expected.append(sum(terms) / len(terms))
    got = per_sample_ce(logits, labels)
    assert got.shape == (2,)
    assert got.tolist() == pytest.approx(expected, rel=1e-5)
    half = per_sample_ce(logits.half(), labels)
    assert half.dtype == torch.float32 and half.tolist() == pytest.approx(expected, rel=1e-2)
    assert all(math.isfinite(x) for x in got.tolist())


def test_per_sample_ce_rejects_samples_without_targets_and_bad_shapes():
    with pytest.raises(ValueError, match="no target tokens"):
        per_sample_ce(torch.randn(2, 3, 5), torch.tensor([[1, 2, 3], [-100, -100, -100]]))
    with pytest.raises(ValueError, match="expected logits"):
        per_sample_ce(torch.randn(2, 3), torch.tensor([[1, 2, 3], [1, 2, 3]]))


# Real-world sentences (not Scenes vocabulary), written for this test, and an Italian distractor that shares many
# words with French and Spanish.
REAL_TEXT = {
    "en": ["A woman walks down the street with her dog.", "Children are playing football on a sunny beach."],
    "de": ["Eine Frau geht mit ihrem Hund die Straße entlang.", "Kinder spielen Fußball an einem sonnigen Strand."],
    "fr": ["Une femme marche dans la rue avec son chien.", "Des enfants jouent au football sur une plage ensoleillée."],
    "es": ["Una mujer camina por la calle con su perro.", "Unos niños juegan al fútbol en una playa soleada."],
    "ru": ["Женщина идёт по улице со своей собакой.", "Дети играют в футбол на солнечном пляже."],
    "zh": ["一个女人和她的狗走在街上。", "孩子们在阳光明媚的海滩上踢足球。"],
}
ITALIAN = ["Una donna cammina per strada con il suo cane.", "I bambini giocano a calcio su una spiaggia soleggiata."]


@pytest.mark.parametrize("language", sorted(REAL_TEXT))
def test_detect_language_on_real_text(language):
    for text in REAL_TEXT[language]:
        assert detect_language(text) == language, text


def test_italian_is_not_counted_as_french_or_spanish():
    assert [detect_language(text) for text in ITALIAN] == [None, None]
    mixed = REAL_TEXT["fr"] + ITALIAN
    assert language_share(mixed, "fr") == pytest.approx(0.5)
    assert language_share(mixed, "es") == 0.0
