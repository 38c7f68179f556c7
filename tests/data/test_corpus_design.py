"""What the corpus design promises the experiment: unseen-language captions are never training targets, the prefix
is neutral and strips cleanly, Scenes-CoMMuTE is balanced so that ignoring the image scores exactly 50%, and the
native-speaker review's text defects stay fixed."""

import json
import random
import re
import zlib

import pytest

from dataset_builder import corpus
from dataset_builder.corpus import ScenesConfig, make_row, salient_group
from dataset_builder.overlap import overlap_statistics, sentences
from dataset_builder.release import scenes_plan
from dataset_builder.scenes import Scene, SceneObject
from modeling_florenz.processing_florenz import LANGUAGE_PREFIXES, add_language_prefix, strip_language_prefix
from trainers.experiment import PLANS
from trainers.metrics import contrastive_accuracy

LANGS = ("en", "de", "fr", "es", "ru", "zh")
UNSEEN = ("fr", "es", "ru", "zh")
RICH = ScenesConfig(max_objects=4, detailed_share=0.5, multi_sentence_share=0.3, underspecification=0.3)


def _texts(config, counts):
    return {
        (key, split): [make_row(config, split, key, i, with_image=False) for i in range(n)]
        for (key, split), n in counts.items()
    }


def _overlap(config, counts):
    rows = _texts(config, counts)
    evaluation = {
        lang: [r["target"] for s in ("test", "heldout") for r in rows.get((f"caption-{lang}", s), [])] for lang in LANGS
    }
    train = {
        lang: [r["target"] for (k, s), v in rows.items() if s == "train" and k.endswith(f"-{lang}") for r in v]
        for lang in LANGS
    }
    return overlap_statistics(evaluation, train)


def test_quick_plan_unseen_captions_are_never_training_targets():
    """The quick plan's exact rows (text only; the release renders the same text)."""
    plan = PLANS["quick"]
    config = ScenesConfig(**plan.corpus)
    stats = _overlap(config, scenes_plan(config, max(plan.samples), plan.num_eval))
    for lang in UNSEEN:
        assert (
            stats[lang]["eval_captions"] == 2 * plan.num_eval and stats[lang]["train_targets"] > max(plan.samples) // 10
        )
        assert stats[lang]["exact_sentence_overlap"] == 0, lang
    # Control: the seen languages' test captions are trained strings, so the check can fail.
    assert stats["en"]["exact_sentence_overlap"] > 0 and stats["de"]["exact_sentence_overlap"] > 0


def test_multi_object_corpus_keeps_caption_and_translation_sentences_apart():
    stats = _overlap(RICH, scenes_plan(RICH, 3500, 150))
    assert all(stats[lang]["exact_sentence_overlap"] == 0 for lang in UNSEEN), stats
    # The lexicon and its agreement are covered: many caption 4-grams occur inside translation sentences.
    assert all(stats[lang]["fourgram_overlap"] > 0.1 for lang in ("fr", "es", "zh")), stats


def test_overlap_statistics_counts_prefixed_and_exact_matches():
    train = {"fr": ["Il y a une étoile. Une étoile rouge.", "Sur l'image : un cercle bleu."]}
    stats = overlap_statistics({"fr": ["Une étoile rouge.", "Un cercle bleu.", "Une croix."]}, train)["fr"]
    assert stats["exact_sentence_overlap"] == 2 and stats["eval_captions"] == 3
    assert sentences("Il y a une étoile. Une étoile rouge.", "fr") == ["Il y a une étoile.", "Une étoile rouge."]
    assert sentences("这里有一颗星星。星星很小。", "zh") == ["这里有一颗星星。", "星星很小。"]


def test_prefix_goes_to_train_captions_only_and_translations_only_on_request():
    config = ScenesConfig(prefix_share=1.0, max_objects=3, detailed_share=0.5)
    for lang in ("en", "de"):
        for i in range(20):
            train, test = (
                make_row(config, "train", f"caption-{lang}", i, False),
                make_row(config, "test", f"caption-{lang}", i, False),
            )
            assert train["target"].startswith(LANGUAGE_PREFIXES[lang] + " ")
            assert not test["target"].startswith(LANGUAGE_PREFIXES[lang])
    words = {lang: set(re.findall(r"\w+", LANGUAGE_PREFIXES[lang].lower())) for lang in LANGS}
    # "image"/"imagen"/"bild" are words of the prefixes; translation targets never use them by default.
    for lang in UNSEEN:
        targets = [make_row(config, "train", f"translation-{lang}", i, False)["target"] for i in range(150)]
        assert not any(LANGUAGE_PREFIXES[lang] in t for t in targets)
        if lang != "zh":
            assert not any(
                {"image", "imagen", "картинке"} & words[lang] & set(re.findall(r"\w+", t.lower())) for t in targets
            )
    on = ScenesConfig(prefix_share=0.5, translation_prefix_words=True, max_objects=3)
    prefixed = [make_row(on, "train", "translation-fr", i, False) for i in range(150)]
    hits = [r for r in prefixed if r["target"].startswith("Sur l'image : il y a ")]
    assert hits and all(r["source"].startswith("In the image: there ") for r in hits)


@pytest.mark.parametrize("lang", LANGS)
def test_stripping_the_prefix_never_alters_a_reference(lang):
    config = ScenesConfig(max_objects=4, detailed_share=0.5)
    for split in ("test", "heldout"):
        for i in range(120):
            reference = make_row(config, split, f"caption-{lang}", i, False)["target"]
            assert strip_language_prefix(reference, lang) == reference
            assert strip_language_prefix(add_language_prefix(reference, lang), lang) == reference


@pytest.mark.parametrize("lang", ["fr", "de", "es", "ru"])
def test_scenes_commute_pairs_make_a_text_only_scorer_score_exactly_half(lang):
    config = ScenesConfig()
    rows = [make_row(config, "test", f"disambiguation-{lang}", i, False) for i in range(60)]
    for first, second in zip(rows[::2], rows[1::2]):
        a, b = json.loads(first["scene"]), json.loads(second["scene"])
        assert first["source"] == second["source"] and first["source"].startswith("It is ")
        assert first["target"] == second["target_incorrect"] and second["target"] == first["target_incorrect"]
        assert {a["gender"], b["gender"]} == {"m", "f"}  # the neuter "Es ist …" is the literal, gender-free reading
        assert (a["objects"][0]["colour"], a["objects"][0]["size"]) == (
            b["objects"][0]["colour"],
            b["objects"][0]["size"],
        )
        assert a["objects"][0]["shape"] != b["objects"][0]["shape"]

    def text_only(source, target):  # any deterministic function of the text alone
        return zlib.crc32(f"{source}|{target}".encode())

    correct = [text_only(r["source"], r["target"]) for r in rows]
    wrong = [text_only(r["source"], r["target_incorrect"]) for r in rows]
    assert contrastive_accuracy(correct, wrong) == 0.5
    # The prior that sank the old design: always preferring the masculine (default) form.
    masculine = {r["target"] for r in rows if json.loads(r["scene"])["gender"] == "m"}
    prefers = [0 if r["target"] in masculine else 1 for r in rows]
    against = [0 if r["target_incorrect"] in masculine else 1 for r in rows]
    assert contrastive_accuracy(prefers, against) == 0.5


def _object(shape, colour, size, col, row=1):
    return SceneObject(shape, colour, size, row, col, 20.0 + 30 * col, 20.0 + 30 * row, 8.0, 0.0, False, (0, 0, 1, 1))


def test_identical_twins_are_named_together():
    scene = Scene([_object("star", "white", "small", 0), _object("star", "white", "small", 2)], {}, 96)
    assert corpus.GRAMMARS["en"].short_caption(salient_group(scene)) == "Two small white stars."
    scene = Scene([_object("star", "white", "large", 0), _object("star", "white", "small", 2)], {}, 96)
    assert corpus.GRAMMARS["en"].short_caption(salient_group(scene)) == "A large white star."


def test_colour_omission_never_makes_two_groups_identical():
    scene = Scene([_object("arrow", "red", "small", 0), _object("arrow", "blue", "small", 2)], {}, 96)
    plan = [("existential_relation", *corpus._relations(scene, random.Random(0))[0])]
    assert not corpus._well_formed(corpus._strip(plan, "colour"))
    assert corpus._well_formed(corpus._strip(plan, "size"))
    relation = r"(?:to the left of|to the right of|above|below|next to)"
    pattern = re.compile(
        rf"^(?:The|There (?:is|are) (?:an?|two|three|four))? ?(.+?) (?:(?:is|are) )?{relation} the (.+)\.$"
    )
    config = ScenesConfig(max_objects=4, underspecification=1.0, multi_sentence_share=0.0)
    checked = 0
    for i in range(400):
        source = make_row(config, "train", "translation-de", i, False)["source"]
        for sentence in sentences(source, "en"):
            if match := pattern.match(sentence):
                checked += 1
                assert match.group(1) != match.group(2), source
    assert checked > 20


def test_relations_go_both_ways_and_detailed_captions_add_something():
    config = ScenesConfig(max_objects=4, detailed_share=1.0)
    rows = [make_row(config, "train", "caption-en", i, False) for i in range(300)]
    text = " ".join(r["target"] for r in rows)
    left, right = text.count("to the left of"), text.count("to the right of")
    assert left > 10 and right > 10 and 0.5 < left / right < 2
    for row in rows:
        if row["task"] == "detailed_caption":
            assert len({(o["shape"], o["colour"]) for o in json.loads(row["scene"])["objects"]}) > 1
        else:
            assert len(sentences(row["target"], "en")) == 1
    assert {r["task"] for r in rows} == {"caption", "detailed_caption"}


@pytest.mark.slow
def test_built_quick_release_card_and_info_report_zero_unseen_overlap(tmp_path):
    """The rendered quick-plan release itself (minutes on 2 cores): its card and `data info` carry the statistics."""
    from dataset_builder.release import build_scenes_release, release_summary

    plan = PLANS["quick"]
    config = ScenesConfig(**plan.corpus)
    build_scenes_release(tmp_path, config, num_train=max(plan.samples), num_eval=plan.num_eval)
    overlap = release_summary(tmp_path)["overlap"]
    assert overlap["unseen"] == sorted(UNSEEN)
    for lang in UNSEEN:
        assert overlap["languages"][lang]["exact_sentence_overlap"] == 0
    assert "| fr | unseen | 200 |" in (tmp_path / "README.md").read_text(encoding="utf-8")
