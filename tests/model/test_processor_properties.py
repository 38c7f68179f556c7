"""Property tests: any image mode/size, arbitrary bytes and unicode give well-formed outputs or documented ValueErrors."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from modeling_florenz.processing_florenz import LANGUAGES, TASKS

MODES = (
    "1",
    "L",
    "LA",
    "La",
    "P",
    "PA",
    "RGB",
    "RGBA",
    "RGBa",
    "RGBX",
    "CMYK",
    "YCbCr",
    "LAB",
    "HSV",
    "I",
    "I;16",
    "F",
)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SPECIAL_STRINGS = ("<pad>", "<eos>", "<bos>", "<unk>")


def _random_image(mode: str, width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, size=(height, width, 4), dtype=np.uint8), "RGBA")
    if mode == "P":
        image = base.convert("RGB").convert("P")
        image.info["transparency"] = 0  # palette index 0 transparent
        return image
    if mode in ("I", "I;16", "F"):
        values = rng.integers(0, 65536, size=(height, width))
        array = (
            values.astype(np.float32) / 65535
            if mode == "F"
            else values.astype(np.uint16 if mode == "I;16" else np.int32)
        )
        return Image.fromarray(array, mode if mode != "I;16" else None)
    try:
        return base.convert(mode)
    except ValueError:  # modes PIL cannot convert to directly (La, RGBa…) still exist as raw data
        bands = len(Image.new(mode, (1, 1)).getbands())
        return Image.frombytes(
            mode, (width, height), rng.integers(0, 256, size=width * height * bands, dtype=np.uint8).tobytes()
        )


@SETTINGS
@given(
    mode=st.sampled_from(MODES),
    width=st.integers(1, 48),
    height=st.integers(1, 48),
    seed=st.integers(0, 2**16),
)
@example(mode="RGB", width=1, height=1, seed=0)
@example(mode="RGBA", width=4000, height=3000, seed=1)
@example(mode="I;16", width=4000, height=3000, seed=2)
def test_any_mode_and_size_gives_normalised_pixels(tiny_processor, mode, width, height, seed):
    image = _random_image(mode, width, height, seed)
    assert image.mode == mode
    out = tiny_processor(images=[image, image.copy()], task="caption", language="de")
    pixels = out["pixel_values"]
    assert pixels.shape == (2, 3, 32, 32) and pixels.dtype == torch.float32
    assert torch.isfinite(pixels).all()
    # Every value is a normalised 8-bit colour: (x/255 - mean)/std within [(-mean)/std, (1-mean)/std].
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    assert (pixels >= -mean / std - 1e-4).all() and (pixels <= (1 - mean) / std + 1e-4).all()
    assert torch.equal(pixels[0], pixels[1])


@SETTINGS
@given(data=st.binary(max_size=256))
@example(data=b"")
@example(data=b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)  # truncated PNG header
def test_arbitrary_bytes_decode_or_raise_documented_error(tiny_processor, data):
    try:
        out = tiny_processor(images=data)
    except ValueError as error:
        assert "image 0 could not be read" in str(error) or "image 0 has size" in str(error)
        return
    assert out["pixel_values"].shape == (1, 3, 32, 32)


def test_corrupted_real_png_raises_value_error(tiny_processor):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, format="PNG")
    data = buffer.getvalue()
    with pytest.raises(ValueError, match="image 0 could not be read"):
        tiny_processor(images=data[: len(data) // 2])


@SETTINGS
@given(
    source=st.text(max_size=60),
    target=st.text(max_size=60),
    task=st.sampled_from(TASKS),
    language=st.sampled_from(sorted(LANGUAGES)),
)
@example(source="", target="", task="translate", language="zh")
@example(source="一只狗 🐕 Собака", target="На картинке", task="translate", language="ru")
def test_unicode_text_round_trips_through_labels(tiny_processor, source, target, task, language):
    source_argument = source if task == "translate" else None
    try:
        out = tiny_processor(
            images=Image.new("RGB", (5, 5)), task=task, language=language, text=source_argument, text_target=target
        )
    except ValueError as error:
        assert task == "translate" and not source.strip()
        assert "non-empty source" in str(error)
        return
    assert out["input_ids"].dtype == torch.long and out["input_ids"][0, 0] == 0 and out["input_ids"][0, -1] == 2
    labels = out["labels"][0].tolist()
    assert labels[0] == 2 and labels[-1] == 1
    if not any(special in target for special in SPECIAL_STRINGS):
        # Byte-level decoder vocabulary: targets in any script are reproduced exactly.
        assert tiny_processor.tokenizer.decode(labels[1:-1]) == target
