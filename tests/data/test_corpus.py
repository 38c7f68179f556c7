"""Corpus contract: determinism, coverage, compositional hold-out, noise/under-specification rates, CoMMuTE rows."""

import json

import pytest

from dataset_builder.corpus import SPLITS, ScenesConfig, eval_keys, make_row
from modeling_florenz.processing_florenz import build_prompt

ROW_KEYS = {"image", "task", "language", "prompt", "source", "target", "scene", "target_incorrect"}
ENGLISH_COLOURS = {"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "white", "black"}
GERMAN_COLOURS = {
    "red": "rot",
    "orange": "orangefarben",
    "yellow": "gelb",
    "green": "grün",
    "blue": "blau",
    "purple": "violett",
    "pink": "rosa",
    "brown": "braun",
    "white": "weiß",
    "black": "schwarz",
}
# Grammatical gender of each shape's noun, from the dictionary (not from the grammar modules).
FEMININE_FR = {"star", "cross", "ellipse", "arrow"}
GENDER_DE = {
    "circle": "m",
    "star": "m",
    "ring": "m",
    "arrow": "m",
    "square": "n",
    "triangle": "n",
    "heart": "n",
    "cross": "n",
    "diamond": "f",
    "ellipse": "f",
}


def _objects(row):
    return json.loads(row["scene"])["objects"]


def test_rows_have_the_shared_schema():
    config = ScenesConfig(image_size=96)
    for split in SPLITS:
        for key in eval_keys(config, split):
            row = make_row(config, split, key, 3)
            assert set(row) == ROW_KEYS
            assert row["image"].mode == "RGB" and row["image"].size == (96, 96)
            assert row["language"] == key.split("-")[1]
            assert row["prompt"] == build_prompt(row["task"], row["language"], row["source"] or None)
            if key.startswith("caption"):
                assert row["task"] in ("caption", "detailed_caption") and row["source"] == ""
            else:
                assert row["task"] == "translate" and row["source"]
            assert bool(row["target_incorrect"]) == key.startswith("disambiguation")
            assert row["target"].strip() == row["target"] and row["target"]


def test_same_seed_same_rows_and_image_bytes_in_any_order():
    config = ScenesConfig(seed=3)
    first = [make_row(config, "train", key, 11) for key in config.train_keys()]
    make_row(config, "train", "caption-en", 12)  # unrelated calls in between change nothing
    again = [make_row(config, "train", key, 11) for key in reversed(config.train_keys())][::-1]
    for a, b in zip(first, again):
        assert a["image"].tobytes() == b["image"].tobytes()
        assert {k: v for k, v in a.items() if k != "image"} == {k: v for k, v in b.items() if k != "image"}
    other = [make_row(ScenesConfig(seed=4), "train", key, 11) for key in config.train_keys()]
    assert sum(a["image"].tobytes() != b["image"].tobytes() for a, b in zip(first, other)) >= len(first) - 1


def test_languages_at_one_index_share_the_image():
    config = ScenesConfig()
    rows = [make_row(config, "test", f"caption-{lang}", 5) for lang in ("en", "fr", "zh")]
    assert rows[0]["image"].tobytes() == rows[1]["image"].tobytes() == rows[2]["image"].tobytes()


def test_config_validation_names_allowed_values():
    with pytest.raises(ValueError, match="allowed: en, de, fr, es, ru, zh"):
        ScenesConfig(caption_langs=("en", "it"))
    with pytest.raises(ValueError, match="translation_langs"):
        ScenesConfig(translation_langs=("en",))
    with pytest.raises(ValueError, match="caption_langs is empty"):
        ScenesConfig(caption_langs=())
    with pytest.raises(ValueError, match="alignment_noise"):
        ScenesConfig(alignment_noise=1.5)
    with pytest.raises(ValueError, match="split"):
        make_row(ScenesConfig(), "validation", "caption-en", 0)


def test_train_never_yields_uncovered_captions():
    config = ScenesConfig(caption_langs=("en",), translation_langs=("fr", "zh"))
    assert config.train_keys() == ["caption-en", "translation-fr", "translation-zh"]
    assert ScenesConfig().train_keys() == [
        "caption-en",
        "caption-de",
        "translation-de",
        "translation-fr",
        "translation-es",
        "translation-ru",
        "translation-zh",
    ]
    for key in ("caption-de", "caption-fr", "translation-de", "disambiguation-fr"):
        with pytest.raises(ValueError, match="not served by split 'train'"):
            make_row(config, "train", key, 0)
    for index in range(40):
        for key in config.train_keys():
            row = make_row(config, "train", key, index)
            if row["task"] != "translate":
                assert row["language"] == "en"
            else:
                assert row["language"] in ("fr", "zh")


def test_eval_keys_cover_unseen_pairs():
    config = ScenesConfig()
    test_keys = eval_keys(config, "test")
    assert {f"caption-{lang}" for lang in ("en", "de", "fr", "es", "ru", "zh")} <= set(test_keys)
    assert {f"translation-{lang}" for lang in ("de", "fr", "es", "ru", "zh")} <= set(test_keys)
    assert {k for k in test_keys if k.startswith("disambiguation")} == {
        f"disambiguation-{x}" for x in ("fr", "de", "es", "ru")
    }
    assert not any(k.startswith("disambiguation") for k in eval_keys(config, "heldout"))
    assert eval_keys(config, "train") == config.train_keys()


def test_compositional_holdout():
    config = ScenesConfig(seed=1)
    held = config.heldout_pairs()
    assert len({shape for shape, _ in held}) == len(held) == len({colour for _, colour in held}) == 10
    assert held != ScenesConfig(seed=2).heldout_pairs()
    for index in range(60):
        for split, key in (("train", "caption-en"), ("train", "translation-ru"), ("test", "caption-fr")):
            assert not {(o["shape"], o["colour"]) for o in _objects(make_row(config, split, key, index))} & held
        assert {(o["shape"], o["colour"]) for o in _objects(make_row(config, "heldout", "caption-de", index))} <= held


def test_short_captions_name_the_largest_leftmost_object():
    config = ScenesConfig(detailed_share=0.0, prefix_share=0.0)
    for index in range(30):
        row = make_row(config, "test", "caption-en", index)
        objects = _objects(row)
        salient = min(objects, key=lambda o: (o["size"] != "large", o["x"]))
        assert row["task"] == "caption"
        assert row["target"].endswith(f" {salient['size']} {salient['colour']} {salient['shape']}.")


def test_alignment_noise_rate():
    config = ScenesConfig(alignment_noise=0.3, underspecification=0.0)
    rows = [make_row(config, "train", "translation-de", i) for i in range(400)]
    misaligned = [r for r in rows if not json.loads(r["scene"])["aligned"]]
    assert 0.22 <= len(misaligned) / len(rows) <= 0.38
    # A misaligned pair talks about another scene: some named colour is absent from the image.
    off = sum(
        any(c in r["source"].split() and c not in {o["colour"] for o in _objects(r)} for c in ENGLISH_COLOURS)
        for r in misaligned
    )
    assert off / len(misaligned) > 0.6
    clean = [make_row(ScenesConfig(alignment_noise=0.0), "train", "translation-de", i) for i in range(50)]
    assert all(json.loads(r["scene"])["aligned"] for r in clean)


def test_underspecification_share_and_grounding():
    config = ScenesConfig(underspecification=0.5)
    rows = [make_row(config, "train", "translation-de", i) for i in range(400)]
    kinds = [json.loads(r["scene"])["underspecified"] for r in rows]
    assert 0.42 <= sum(k is not None for k in kinds) / len(rows) <= 0.58
    assert {"colour", "size", "it"} <= set(kinds)
    for row, kind in zip(rows, kinds):
        if kind == "colour":  # no colour in the source, but the German target still names one from the image
            assert not set(row["source"].lower().rstrip(".").replace(",", "").split()) & ENGLISH_COLOURS
            assert any(GERMAN_COLOURS[o["colour"]] in row["target"] for o in _objects(row))
        if kind == "it":
            assert row["source"].startswith("It is ")
    none = [make_row(ScenesConfig(underspecification=0.0), "train", "translation-fr", i) for i in range(50)]
    assert all(json.loads(r["scene"])["underspecified"] is None for r in none)


@pytest.mark.parametrize("lang", ["fr", "de", "es", "ru"])
def test_disambiguation_rows_are_contrastive_and_grounded(lang):
    config = ScenesConfig()
    for index in range(25):
        row = make_row(config, "test", f"disambiguation-{lang}", index)
        objects = _objects(row)
        assert len(objects) == 1 and row["source"].startswith("It is ")
        assert row["target"] != row["target_incorrect"]
        shape = objects[0]["shape"]
        if lang == "fr":
            assert row["target"].split()[0] == ("Elle" if shape in FEMININE_FR else "Il")
            assert row["target_incorrect"].split()[0] == ("Il" if shape in FEMININE_FR else "Elle")
        if lang == "de":
            assert row["target"].split()[0] == {"m": "Er", "f": "Sie", "n": "Es"}[GENDER_DE[shape]]
