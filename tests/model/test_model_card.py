"""Model cards: written into every saved folder, parsed back with huggingface_hub, usage snippet executed."""

from __future__ import annotations

import contextlib
import io
import os
import re

import pytest
from huggingface_hub import ModelCard, metadata_load

from model_tools.model_card import RESULT_LABELS, base_models, build_model_card, card_metadata, write_model_card

SIX = {"en", "de", "fr", "es", "ru", "zh"}


def test_model_init_writes_a_card_whose_snippet_runs(tmp_path):
    from model_tools.checkpoint_init import init_checkpoint

    folder = init_checkpoint("tiny-bart", tmp_path / "tiny", image_size=32)
    meta = metadata_load(folder / "README.md")
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "image-text-to-text"
    assert set(meta["language"]) == SIX and meta["license"] == "mit" and "florenz" in meta["tags"]
    assert "base_model" not in meta and "model-index" not in meta  # random weights, no evaluation
    assert card_metadata(folder)["preset"] == "tiny-bart" and card_metadata(folder)["caption_languages"] == []
    (snippet,) = re.findall(r"```python\n(.*?)```", ModelCard.load(folder / "README.md").text, re.DOTALL)
    assert f"model_id = {str(folder)!r}" in snippet
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(snippet, "card-snippet", "exec"), {})  # noqa: S102 -- running the card's own snippet is the test
    lines = printed.getvalue().splitlines()
    assert len(lines) == 2 and all(line.startswith("['") and line.endswith("']") for line in lines)


def test_model_index_holds_the_run_values(tmp_path):
    results = {"ce_unseen_caption": "2.5", "bleu_unseen_prefix": 20.25, "acc_disambiguation": "0.75",
               "lang_share_unseen_noprefix": "nan", "ce_caption-fr": "9.0", "cider_seen_prefix": ""}  # fmt: skip
    card = build_model_card(
        model_id="acme/florenz-scenes-l",
        summary="A test card.",
        preset="scenes-l",
        datasets=["acme/florenz-scenes"],
        caption_languages=["en", "de"],
        translation_languages=["de", "fr", "es", "ru", "zh"],
        training={"seen_samples": 32768},
        results=results,
    )
    write_model_card(tmp_path, card)
    loaded = ModelCard.load(tmp_path / "README.md")
    values = {r.metric_name: r.metric_value for r in loaded.data.eval_results}
    assert values == {
        RESULT_LABELS["ce_unseen_caption"][1]: 2.5,
        RESULT_LABELS["bleu_unseen_prefix"][1]: 20.25,
        RESULT_LABELS["acc_disambiguation"][1]: 0.75,
    }  # NaN, empty and per-set columns are left out
    assert {r.dataset_type for r in loaded.data.eval_results} == {"acme/florenz-scenes"}
    assert "French (fr)" in loaded.text.split("never trained on")[1].splitlines()[0]
    assert "| Caption BLEU, translation-only languages, with language prefix | 20.25 |" in loaded.text
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "README.md").stat().st_mode & 0o777 == 0o666 & ~umask  # like a plain write


def test_bad_languages_and_base_models():
    with pytest.raises(ValueError, match=r"unknown languages \['it'\]"):
        build_model_card(model_id="x", summary="", caption_languages=["it"])
    assert base_models(preset="florenz-nano") == ["google/gemma-3-270m"]
    assert base_models("/ckpt/Florence-2-base", "bundled") == ["microsoft/Florence-2-base", "google/gemma-3-270m"]
    assert base_models("/ckpt/Florence-2-large", "/ckpt/gemma-2-2b") == [
        "microsoft/Florence-2-large",
        "google/gemma-2-2b",
    ]
    assert base_models("/ckpt/my-folder") == []
