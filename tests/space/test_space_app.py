"""The demo's inference functions on a tiny model, its bad-input messages, and one gradio_client call per endpoint."""

from __future__ import annotations

import json
import math

import gradio as gr
import pytest

from modeling_florenz.processing_florenz import LANGUAGES


def _expected_caption(demo, image, language, prefix, beams=2, tokens=6):
    """What the model itself returns, through the Hub-style Auto classes the demo wraps."""
    import copy

    processor = copy.copy(demo.processor)
    inputs = processor(images=image, task="caption", language=language, prefix=prefix, return_tensors="pt")
    ids = demo.model.generate(**inputs, num_beams=beams, max_new_tokens=tokens)
    return processor.batch_decode(ids, skip_special_tokens=True)[0]


def test_caption_and_all_languages_view(demo, examples, tiny_model_dir):
    image = str(examples / "caption-0.png")
    for prefix in (False, True):
        assert demo.caption(image, "caption", "fr", prefix, 2, 6) == _expected_caption(demo, image, "fr", prefix)
    rows = demo.caption_all_languages(image, "caption", 2, 6)
    assert [row[0] for row in rows] == [f"{name} ({code})" for code, name in LANGUAGES.items()]
    # The init card records an untrained model: no language had captions in training.
    assert demo.caption_languages == () and {row[1] for row in rows} == {"no — translation only"}
    for (code, _), row in zip(LANGUAGES.items(), rows):
        assert row[2] == _expected_caption(demo, image, code, False)
        assert row[3] == _expected_caption(demo, image, code, True)


def test_all_languages_view_marks_trained_caption_languages(demo):
    from dataclasses import replace

    trained = replace(demo, caption_languages=("en", "de"))
    rows = trained.caption_all_languages(_white(), "caption", 1, 2)
    assert [row[1] for row in rows] == ["yes", "yes", *["no — translation only"] * 4]


def _white():
    from PIL import Image

    return Image.new("RGB", (40, 30), "white")


def test_translate_matches_the_model(demo, examples):
    import copy

    image = str(examples / "translate-0.png")
    processor = copy.copy(demo.processor)
    inputs = processor(images=image, task="translate", language="de", text="A red circle.", return_tensors="pt")
    expected = processor.batch_decode(demo.model.generate(**inputs, num_beams=2, max_new_tokens=6))[0]
    assert demo.translate(image, "  A red circle. ", "de", 2, 6) == expected


def test_disambiguate_scores_are_the_evaluation_ce(demo, examples):
    """Scores equal the trainer's per-sample CE (the Scenes-CoMMuTE evaluation) for the same rows."""
    from PIL import Image
    from transformers import Seq2SeqTrainingArguments

    from trainers.trainer import FlorenzSeq2SeqTrainer

    spec = json.loads((examples / "examples.json").read_text())["disambiguate"][0]
    first, second = str(examples / spec["image"]), str(examples / spec["second_image"])
    verdict, table = demo.disambiguate(
        first, spec["sentence"], spec["language"], spec["candidate_a"], spec["candidate_b"], second
    )
    args = Seq2SeqTrainingArguments(output_dir="unused", per_device_eval_batch_size=2, use_cpu=True, report_to=[])
    trainer = FlorenzSeq2SeqTrainer(model=demo.model, args=args, processing_class=demo.processor)
    for label, path in (("image 1", first), ("image 2", second)):
        rows = [
            {"image": Image.open(path).convert("RGB"), "task": "translate", "language": spec["language"],
             "source": spec["sentence"], "target": target}
            for target in (spec["candidate_a"], spec["candidate_b"])
        ]  # fmt: skip
        expected = trainer.cross_entropy({"pair": rows}, per_sample=True)["pair"]
        scores = [row[3] for row in table if row[0] == label]
        assert scores == pytest.approx([round(float(v), 4) for v in expected], abs=1e-4)
        assert [row[4] for row in table if row[0] == label] == pytest.approx([math.exp(v) for v in expected], rel=1e-3)
        preferred = [row[1] for row in table if row[0] == label and row[1].endswith("✓")]
        assert preferred == [("A" if expected[0] < expected[1] else "B") + " ✓"]
    flipped = table[0][1].endswith("✓") != table[2][1].endswith("✓")
    assert "With image 2" in verdict and ("flip the choice" in verdict) == flipped


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d, img: d.caption(None, "caption", "fr", True), "Upload an image first"),
        (lambda d, img: d.caption(img, "caption", "it", True), "Language 'it' is not supported"),
        (lambda d, img: d.caption(img, "translate", "fr", True), "is not a caption task"),
        (lambda d, img: d.caption(img, "caption", "fr", True, 0, 8), "Beams must be 1–8"),
        (lambda d, img: d.translate(img, "   ", "de"), "Enter an English sentence to translate"),
        (lambda d, img: d.disambiguate(img, "It is red.", "fr", "Il est rouge.", "Il est rouge."), "identical"),
        (lambda d, img: d.disambiguate(img, "It is red.", "fr", "", "Elle est rouge."), "Enter candidate A"),
    ],
)
def test_bad_input_gives_a_one_line_message(demo, examples, call, message):
    with pytest.raises(gr.Error) as caught:
        call(demo, str(examples / "caption-0.png"))
    assert message in caught.value.message and "\n" not in caught.value.message


def test_unreadable_file_message(demo, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(gr.Error, match=r"Could not read notes.png as an image .*upload a PNG, JPEG or WebP"):
        demo.caption(str(bad), "caption", "fr", False)


def test_no_model_names_the_commands_that_make_one(tmp_path, monkeypatch, capsys):
    import florenz_cli
    from spaces_demo.app import FlorenzDemo, ModelNotFoundError, create_app

    monkeypatch.chdir(tmp_path)  # no runs/quick/best-model here
    monkeypatch.delenv("FLORENZ_MODEL", raising=False)
    with pytest.raises(ModelNotFoundError, match=r"runs/quick/best-model does not exist.*florenz experiment"):
        FlorenzDemo.load()
    monkeypatch.setenv("FLORENZ_MODEL", str(tmp_path / "missing"))
    with pytest.raises(ModelNotFoundError, match=r"missing does not exist"):
        FlorenzDemo.load()
    app, examples = create_app()  # the Space without a model: a page that explains, no random weights
    assert examples is None and "florenz experiment --preset quick" in json.dumps(app.config)
    assert florenz_cli.main(["demo", "--model", str(tmp_path)]) == 2
    assert "has no config.json" in capsys.readouterr().err


def test_one_client_round_trip_per_endpoint(app_url, demo, examples):
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {"/caption", "/caption_all_languages", "/translate", "/disambiguate"}
    image = str(examples / "caption-0.png")
    assert client.predict(handle_file(image), "caption", "fr", True, 2, 6, api_name="/caption") == demo.caption(
        image, "caption", "fr", True, 2, 6
    )
    table = client.predict(handle_file(image), "caption", 1, 3, api_name="/caption_all_languages")
    assert table["data"] == demo.caption_all_languages(image, "caption", 1, 3)
    text = client.predict(handle_file(image), "A red circle.", "de", 2, 6, api_name="/translate")
    assert text == demo.translate(image, "A red circle.", "de", 2, 6)
    verdict, scores = client.predict(
        handle_file(image), "It is red.", "fr", "Il est rouge.", "Elle est rouge.", None, api_name="/disambiguate"
    )
    assert (verdict, scores["data"]) == demo.disambiguate(image, "It is red.", "fr", "Il est rouge.", "Elle est rouge.")
    with pytest.raises(Exception, match="Language 'it' is not supported"):
        client.predict(handle_file(image), "caption", "it", True, 2, 6, api_name="/caption")


def test_model_choice_order(monkeypatch):
    from spaces_demo.app import DEFAULT_MODEL, model_candidates

    monkeypatch.delenv("FLORENZ_MODEL", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert model_candidates() == [DEFAULT_MODEL] == ["runs/quick/best-model"]
    monkeypatch.setenv("SPACE_ID", "acme/florenz-demo")  # on a Space: then the model repo its card names
    assert model_candidates() == [DEFAULT_MODEL, "florenz/florenz-scenes-l"]
    monkeypatch.setenv("FLORENZ_MODEL", "acme/other")
    assert model_candidates() == ["acme/other"] and model_candidates("models/x") == ["models/x"]
