"""The processor refuses damaged tokenizer folders, converts pixels by fixed per-mode rules (EXIF orientation applied),
bounds prompts to the encoder's positions, names invalid Unicode and never echoes long user text."""

from __future__ import annotations

import io
import json
import shutil
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from modeling_florenz.processing_florenz import LANGUAGES, TASKS, FlorenzProcessor


@pytest.fixture
def saved(tiny_processor, tmp_path):
    folder = tmp_path / "good"
    tiny_processor.save_pretrained(folder)
    return folder


def _damaged(saved, tmp_path, damage) -> str:
    folder = tmp_path / "damaged"
    shutil.copytree(saved, folder)
    damage(folder)
    return str(folder)


def test_saved_processor_records_and_checks_tokenizer_fingerprints(saved, tiny_processor):
    recorded = json.loads((saved / "processor_config.json").read_text())["vocab_fingerprints"]
    assert recorded["encoder_tokenizer"]["vocab_size"] == len(tiny_processor.encoder_tokenizer)
    assert recorded["encoder_tokenizer"]["special_ids"]["bos"] == 0 and recorded["tokenizer"]["special_ids"]["bos"] == 2
    loaded = FlorenzProcessor.from_pretrained(saved)
    image = Image.new("RGB", (8, 8))
    assert loaded(images=image)["input_ids"].tolist() == tiny_processor(images=image)["input_ids"].tolist()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: shutil.rmtree(d / "encoder_tokenizer"), "encoder_tokenizer (encoder_tokenizer/tokenizer.json"),
        (
            lambda d: (d / "encoder_tokenizer" / "tokenizer.json").write_text(
                (d / "encoder_tokenizer" / "tokenizer.json").read_text()[:300]
            ),
            "encoder_tokenizer (encoder_tokenizer/tokenizer.json",
        ),
        (lambda d: (d / "encoder_tokenizer" / "tokenizer.json").unlink(), "vocabulary size"),
        (lambda d: (d / "tokenizer_config.json").unlink(), "tokenizer (tokenizer.json / tokenizer_config.json)"),
    ],
    ids=["encoder-folder-removed", "encoder-json-truncated", "encoder-json-removed", "root-config-removed"],
)
def test_missing_or_damaged_tokenizer_is_refused_at_load(saved, tmp_path, damage, message):
    folder = _damaged(saved, tmp_path, damage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError) as err:
            FlorenzProcessor.from_pretrained(folder)
    assert message in str(err.value) and "not the tokenizer this processor was saved with" in str(err.value)


def test_empty_processor_config_is_refused_at_load(saved, tmp_path):
    folder = _damaged(saved, tmp_path, lambda d: (d / "processor_config.json").write_bytes(b""))
    with pytest.raises(OSError, match="processor_config.json' is not a valid JSON file"):
        FlorenzProcessor.from_pretrained(folder)


# ------------------------------------------------------------------------------------------------------ pixels


def _grey(processor, image) -> float:
    """The 8-bit grey level the processor made of a uniform image (inverse of the red channel's normalisation)."""
    red = processor(images=image)["pixel_values"][0, 0].mean().item()
    return red * 0.229 * 255 + 0.485 * 255


def test_orientation_6_jpeg_is_rotated_like_a_viewer_shows_it(tiny_processor):
    array = np.zeros((20, 40, 3), dtype=np.uint8)
    array[:, :20] = (255, 0, 0)  # left half red, right half blue
    array[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=95, exif=exif)
    stored = Image.open(io.BytesIO(buffer.getvalue()))
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(buffer.getvalue())))
    assert upright.size == (20, 40) and stored.size == (40, 20)
    got = tiny_processor(images=buffer.getvalue())["pixel_values"]
    assert torch.equal(got, tiny_processor(images=upright.convert("RGB"))["pixel_values"])
    as_stored = Image.fromarray(np.asarray(stored.convert("RGB")))  # same pixels, no EXIF tag
    assert not torch.equal(got, tiny_processor(images=as_stored)["pixel_values"])
    # Orientation 6 = rotate 90° clockwise for display: the red left half becomes the top half.
    assert got[0, 0, :16].mean() > got[0, 0, 16:].mean()


def test_float_images_follow_a_fixed_rule_not_the_pixel_values(tiny_processor):
    flat = np.full((8, 8), 0.5, dtype=np.float32)
    assert _grey(tiny_processor, Image.fromarray(flat, "F")) == pytest.approx(128, abs=0.01)
    bright = flat.copy()
    bright[0, 0] = 1.01  # used to switch the whole image to another scale
    grey = tiny_processor(images=Image.fromarray(bright, "F"))["pixel_values"][0, 0]
    assert grey[16:, 16:].mean().item() * 0.229 * 255 + 0.485 * 255 == pytest.approx(128, abs=0.01)
    with pytest.raises(ValueError, match=r"image 0 \(mode F\) holds NaN or infinite values"):
        tiny_processor(images=Image.fromarray(np.full((4, 4), np.nan, dtype=np.float32), "F"))


@pytest.mark.parametrize(("mode", "dtype"), [("I;16", np.uint16), ("I", np.int32)])
def test_sixteen_bit_images_map_65535_to_255(tiny_processor, mode, dtype):
    for value, expected in ((65535, 255), (257 * 100, 100), (0, 0)):
        image = Image.fromarray(np.full((6, 6), value, dtype=dtype), None if mode == "I;16" else mode)
        assert image.mode == mode
        assert _grey(tiny_processor, image) == pytest.approx(expected, abs=0.01)


# --------------------------------------------------------------------------------------------------- prompts


def test_over_long_prompt_is_cut_with_a_warning_or_refused(tiny_processor):
    tiny_processor.max_prompt_length = 24
    long_text = "a red circle " * 40
    with pytest.warns(UserWarning, match="prompt 0 has .* tokens, more than the limit of 24; cut to 24 tokens"):
        out = tiny_processor(images=Image.new("RGB", (4, 4)), task="translate", language="de", text=long_text)
    assert out["input_ids"].shape == (1, 24) and out["input_ids"][0, -1].item() == 2  # `</s>` kept
    with pytest.raises(ValueError, match="more than the limit of 24 .*pass truncation=True"):
        tiny_processor(
            images=Image.new("RGB", (4, 4)), task="translate", language="de", text=long_text, truncation=False
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit max_length within the limit truncates silently, as asked
        short = tiny_processor(
            images=Image.new("RGB", (4, 4)), task="translate", language="de", text=long_text, max_length=10
        )
    assert short["input_ids"].shape == (1, 10)


def test_prompt_limit_is_saved_with_the_processor(tiny_processor, tmp_path):
    tiny_processor.max_prompt_length = 24
    tiny_processor.save_pretrained(tmp_path)
    assert FlorenzProcessor.from_pretrained(tmp_path).max_prompt_length == 24


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"task": "translate", "text": "ok \udc80 bad"},
            "text[0] holds invalid Unicode (lone surrogate U+DC80 at character 3)",
        ),
        ({"text_target": "\ud800"}, "text_target[0] holds invalid Unicode (lone surrogate U+D800 at character 0)"),
        ({"language": "de\udcff"}, "language[0] holds invalid Unicode"),
    ],
)
def test_lone_surrogates_name_the_argument(tiny_processor, kwargs, message):
    with pytest.raises(ValueError) as err:
        tiny_processor(images=Image.new("RGB", (4, 4)), **kwargs)
    assert message in str(err.value)


def test_errors_quote_at_most_150_characters_of_user_text(tiny_processor):
    with pytest.raises(ValueError) as err:
        tiny_processor(images=Image.new("RGB", (4, 4)), task="caption", text="x" * 100_000)
    assert len(str(err.value)) < 300 and "(100000 characters)" in str(err.value)


# ------------------------------------------------------------------------------------------------------ fuzz

_TEXT = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3),  # lone surrogates
    st.builds(
        lambda a, b, c: a + b + c, st.text(max_size=5), st.characters(categories=["Cs"]).map(str), st.text(max_size=5)
    ),
    st.text(min_size=1, max_size=8).map(lambda t: t * 2_000),  # over-long
    st.integers(),
    st.lists(st.text(max_size=5), max_size=3),
)
_IMAGE = st.one_of(
    st.builds(
        lambda mode, w, h: Image.new(mode, (w, h)),
        st.sampled_from(["RGB", "RGBA", "L", "LA", "P", "1", "I", "I;16", "F", "CMYK", "YCbCr", "HSV"]),
        st.integers(1, 40),
        st.integers(1, 40),
    ),
    st.binary(max_size=64),
    st.none(),
    st.integers(),
    st.text(max_size=10).map(lambda t: f"/nonexistent/{t}"),
)


def _fuzz(processor, images, text, task, language, text_target, max_length, truncation, prefix) -> None:
    processor.max_prompt_length = 48
    try:
        out = processor(
            images=images,
            text=text,
            task=task,
            language=language,
            text_target=text_target,
            max_length=max_length,
            truncation=truncation,
            prefix=prefix,
        )
    except (ValueError, TypeError) as error:
        assert len(str(error)) <= 300, f"message of {len(str(error))} characters: {str(error)[:120]}…"
        return
    assert out["input_ids"].shape[1] <= min(48, max_length or 48)
    assert out["pixel_values"].shape[1:] == (3, 32, 32) and torch.isfinite(out["pixel_values"]).all()


_FUZZ_ARGS = {
    "images": st.one_of(_IMAGE, st.lists(_IMAGE, max_size=3)),
    "text": _TEXT,
    "task": st.one_of(st.sampled_from(TASKS), _TEXT),
    "language": st.one_of(st.sampled_from(sorted(LANGUAGES)), _TEXT),
    "text_target": _TEXT,
    "max_length": st.one_of(st.none(), st.integers(-3, 80), st.booleans()),
    "truncation": st.one_of(st.booleans(), st.none()),
    "prefix": st.booleans(),
}
_FUZZ_SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


@settings(max_examples=300, **_FUZZ_SETTINGS)
@given(**_FUZZ_ARGS)
def test_fuzzed_inputs_give_outputs_or_short_documented_errors(tiny_processor, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _fuzz(tiny_processor, **kwargs)


@pytest.mark.slow
@settings(max_examples=2_500, **_FUZZ_SETTINGS)
@given(**_FUZZ_ARGS)
def test_fuzzed_inputs_slow(tiny_processor, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _fuzz(tiny_processor, **kwargs)
