"""FlorenzProcessor: prompts, encoder/decoder/label layout, forced language prefix and its stripping, image inputs."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from modeling_florenz.processing_florenz import (
    LANGUAGE_PREFIXES,
    LANGUAGES,
    TASKS,
    FlorenzProcessor,
    build_prompt,
    florenz_image_processor,
)

# Written from the paper's processor (reference §2, §3), independently of the module's tables.
LANGUAGE_NAMES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "ru": "Russian",
    "zh": "simplified Chinese",
}
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def _normalised(rgb: tuple[int, int, int]) -> np.ndarray:
    return (np.array(rgb) / 255.0 - MEAN) / STD


@pytest.mark.parametrize("language", sorted(LANGUAGE_NAMES))
def test_prompts_are_exact(language):
    name = LANGUAGE_NAMES[language]
    assert build_prompt("caption", language) == f"The target language is {name}. What does the image describe?"
    assert (
        build_prompt("detailed_caption", language)
        == f"The target language is {name}. Describe in detail what is shown in the image."
    )
    assert (
        build_prompt("more_detailed_caption", language)
        == f"The target language is {name}. Describe with a paragraph what is shown in the image."
    )
    assert (
        build_prompt("translate", language, "A dog runs.")
        == f"The target language is {name}. Translate the following text: A dog runs."
    )


def test_tables_match_the_paper():
    assert set(LANGUAGES) == set(LANGUAGE_NAMES)
    assert TASKS == ("caption", "detailed_caption", "more_detailed_caption", "translate")
    assert LANGUAGE_PREFIXES == {
        "en": "In the image:",
        "de": "Auf dem Bild:",
        "fr": "Sur l'image :",
        "es": "En la imagen:",
        "ru": "На картинке:",
        "zh": "图中：",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("caption", "it"), "unknown language 'it'; allowed: en, de, fr, es, ru, zh"),
        (("ocr", "en"), "unknown task 'ocr'; allowed: caption, detailed_caption"),
        (("translate", "de"), "needs a non-empty source"),
        (("translate", "de", "  \n"), "needs a non-empty source"),
        (("caption", "de", "A dog."), "takes no source text"),
    ],
)
def test_build_prompt_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        build_prompt(*args)


def test_encoder_ids_are_bart_layout_and_right_padded(tiny_processor):
    processor = tiny_processor
    images = [Image.new("RGB", (20, 10), (10, 20, 30))] * 2
    out = processor(images=images, task=["caption", "translate"], language="zh", text=[None, "A dog runs on grass."])
    prompts = [build_prompt("caption", "zh"), build_prompt("translate", "zh", "A dog runs on grass.")]
    expected = [processor.encoder_tokenizer(prompt, add_special_tokens=False)["input_ids"] for prompt in prompts]
    width = max(len(ids) for ids in expected) + 2
    assert out["input_ids"].shape == (2, width)
    assert out["input_ids"].dtype == torch.long
    for row, mask, ids in zip(out["input_ids"].tolist(), out["attention_mask"].tolist(), expected):
        body = [0, *ids, 2]  # <s> … </s>
        assert row == body + [1] * (width - len(body))  # BART pad id 1 on the right
        assert mask == [1] * len(body) + [0] * (width - len(body))
    assert out["pixel_values"].shape == (2, 3, 32, 32)
    assert out["pixel_values"].dtype == torch.float32
    assert "decoder_input_ids" not in out and "labels" not in out


def test_max_length_truncates_prompt_but_keeps_end_token(tiny_processor):
    out = tiny_processor(images=Image.new("RGB", (4, 4)), task="translate", language="de", text="A " * 50, max_length=8)
    assert out["input_ids"].tolist()[0][0] == 0
    assert out["input_ids"].tolist()[0][-1] == 2
    assert out["input_ids"].shape == (1, 8)


def test_labels_are_bos_text_eos_right_padded_with_minus_100(tiny_processor):
    processor = tiny_processor
    targets = ["A cat.", "一只猫在睡觉。"]
    out = processor(images=[Image.new("RGB", (8, 8))] * 2, language=["en", "zh"], text_target=targets)
    pieces = [processor.tokenizer(t, add_special_tokens=False)["input_ids"] for t in targets]
    width = max(len(p) for p in pieces) + 2
    assert out["labels"].shape == (2, width)
    for row, ids in zip(out["labels"].tolist(), pieces):
        assert row == [2, *ids, 1] + [-100] * (width - len(ids) - 2)
    assert processor.tokenizer.decode(out["labels"][1, 1 : len(pieces[1]) + 1]) == targets[1]


def test_max_target_length_keeps_final_eos(tiny_processor):
    out = tiny_processor(
        images=Image.new("RGB", (8, 8)), text_target="Eine Katze schläft auf dem Sofa.", max_target_length=5
    )
    row = out["labels"].tolist()[0]
    assert len(row) == 5 and row[0] == 2 and row[-1] == 1


def test_single_language_prefix_ids(tiny_processor):
    processor = tiny_processor
    out = processor(images=Image.new("RGB", (8, 8)), task="caption", language="es", prefix=True)
    words = processor.tokenizer("En la imagen:", add_special_tokens=False)["input_ids"]
    assert out["decoder_input_ids"].tolist() == [[1, 2, *words]]  # <eos> as decoder start, then <bos>
    assert out["decoder_attention_mask"].tolist() == [[1] * (len(words) + 2)]


def test_mixed_language_prefixes_are_left_padded_with_mask(tiny_processor):
    processor = tiny_processor
    languages = ["ru", "zh", "de"]
    out = processor(images=[Image.new("RGB", (8, 8))] * 3, task="detailed_caption", language=languages, prefix=True)
    rows = [
        [1, 2, *processor.tokenizer(LANGUAGE_PREFIXES[lang], add_special_tokens=False)["input_ids"]]
        for lang in languages
    ]
    width = max(len(row) for row in rows)
    assert len({len(row) for row in rows}) > 1, "test needs prefixes of different token lengths"
    assert out["decoder_input_ids"].tolist() == [[0] * (width - len(row)) + row for row in rows]
    assert out["decoder_attention_mask"].tolist() == [[0] * (width - len(row)) + [1] * len(row) for row in rows]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "translate", "text": "A dog.", "prefix": True}, "only for caption tasks"),
        ({"prefix": True, "text_target": "A cat."}, "cannot be combined with text_target"),
        ({"language": ["en", "de"]}, "language has 2 entries but there are 1 images"),
        ({"task": ["caption"] * 3}, "task has 3 entries"),
        ({"language": "pt"}, "unknown language 'pt'"),
        ({"stride": 2}, r"unexpected argument\(s\) \['stride'\]"),
        ({"padding": "max_length"}, "padding must be True or 'longest'"),
        ({"max_length": 1}, "max_length must be None or an int >= 2"),
        ({"text_target": [None]}, r"text_target\[0\] is a NoneType"),
        ({"prefix": "yes"}, "prefix must be True or False"),
    ],
)
def test_call_rejects_bad_arguments(tiny_processor, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_processor(images=Image.new("RGB", (8, 8)), **kwargs)


def test_missing_images_and_empty_batch_are_rejected(tiny_processor):
    with pytest.raises(ValueError, match="images is required"):
        tiny_processor(text_target="A cat.")
    with pytest.raises(ValueError, match="empty list"):
        tiny_processor(images=[])


def _generated(processor, prefix_rows: torch.Tensor, continuation: str, repeats: int) -> torch.Tensor:
    """What generate() returns: the forced rows (repeated per beam) + new tokens + <eos> + end padding."""
    new = processor.tokenizer(continuation, add_special_tokens=False)["input_ids"]
    tail = torch.tensor([[*new, 1, 0, 0]] * (prefix_rows.shape[0] * repeats))
    return torch.cat([prefix_rows.repeat_interleave(repeats, dim=0), tail], dim=1)


def test_batch_decode_strips_exactly_the_prefix_and_capitalises(tiny_processor):
    processor = tiny_processor
    out = processor(images=[Image.new("RGB", (8, 8))] * 2, language=["fr", "zh"], prefix=True)
    ids = _generated(processor, out["decoder_input_ids"], " un chat noir.", repeats=2)
    assert processor.batch_decode(ids) == ["Un chat noir."] * 4
    kept = processor.batch_decode(ids, strip_prefix=False)
    assert kept[0] == "Sur l'image : un chat noir."
    assert kept[2] == "图中： un chat noir."


def test_batch_decode_accepts_a_prepended_start_token(tiny_processor):
    processor = tiny_processor
    out = processor(images=Image.new("RGB", (8, 8)), language="de", prefix=True)
    ids = _generated(processor, out["decoder_input_ids"], " einen roten Kreis.", repeats=1)
    with_start = torch.cat([torch.ones(1, 1, dtype=torch.long), ids], dim=1)
    assert processor.batch_decode(with_start) == ["Einen roten Kreis."]
    assert processor.decode(ids[0]) == "Einen roten Kreis."


def test_batch_decode_without_prefix_is_plain_and_out_of_vocab_safe(tiny_processor):
    processor = tiny_processor
    processor(images=Image.new("RGB", (8, 8)), language="de", text_target="x")
    text = "Eine Katze schläft."
    ids = processor.tokenizer(text, add_special_tokens=False)["input_ids"]
    huge = len(processor.tokenizer) + 1000
    assert processor.batch_decode([[1, 2, *ids, huge, 1, -100]]) == [text]
    with pytest.raises(ValueError, match="did not use prefix=True"):
        processor.batch_decode([[1, 2, *ids]], strip_prefix=True)


def test_batch_decode_rejects_sequences_from_another_call(tiny_processor):
    processor = tiny_processor
    out = processor(images=[Image.new("RGB", (8, 8))] * 2, language="es", prefix=True)
    with pytest.raises(ValueError, match="multiple"):
        processor.batch_decode(out["decoder_input_ids"][:1].repeat(3, 1))
    with pytest.raises(ValueError, match="does not start with the forced prefix"):
        processor.batch_decode(torch.tensor([[1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]] * 2))
    with pytest.raises(ValueError, match="2-D"):
        processor.batch_decode(torch.tensor([1, 2, 3]))


def test_images_from_path_bytes_and_modes(tiny_processor, tmp_path):
    red = Image.new("RGB", (30, 20), (255, 0, 0))
    path = tmp_path / "red.png"
    red.save(path)
    buffer = io.BytesIO()
    red.save(buffer, format="JPEG", quality=100)
    transparent = Image.new("RGBA", (5, 5), (0, 0, 255, 0))
    sixteen_bit = Image.fromarray(np.full((3, 3), 65535, dtype=np.uint16))
    grey = Image.new("L", (1, 1), 0)
    out = tiny_processor(images=[str(path), buffer.getvalue(), transparent, sixteen_bit, grey, path])
    pixels = out["pixel_values"][:, :, 16, 16].numpy()
    np.testing.assert_allclose(pixels[0], _normalised((255, 0, 0)), atol=1e-4)
    np.testing.assert_allclose(pixels[1], _normalised((255, 0, 0)), atol=0.05)  # JPEG rounding
    np.testing.assert_allclose(pixels[2], _normalised((255, 255, 255)), atol=1e-4)  # alpha 0 → white
    np.testing.assert_allclose(pixels[3], _normalised((255, 255, 255)), atol=1e-4)  # 16-bit max → white
    np.testing.assert_allclose(pixels[4], _normalised((0, 0, 0)), atol=1e-4)
    np.testing.assert_allclose(pixels[5], pixels[0])


def test_unreadable_and_wrong_type_images_raise(tiny_processor, tmp_path):
    with pytest.raises(ValueError, match="image 1 could not be read: .*; allowed: PIL.Image, path, bytes"):
        tiny_processor(images=[Image.new("RGB", (2, 2)), b"not an image"])
    with pytest.raises(ValueError, match="image 0 could not be read"):
        tiny_processor(images=str(tmp_path / "missing.png"))
    with pytest.raises(ValueError, match="image 0 is a ndarray; allowed: PIL.Image, path, bytes"):
        tiny_processor(images=np.zeros((4, 4, 3), dtype=np.uint8))


def test_missing_sub_processor_is_a_value_error(tiny_tokenizers):
    tokenizer, _ = tiny_tokenizers
    with pytest.raises(ValueError, match="needs image_processor, encoder_tokenizer"):
        FlorenzProcessor(None, tokenizer, None)


def test_torchvision_backend_is_pinned_to_pil(tiny_tokenizers):
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tokenizer, encoder_tokenizer = tiny_tokenizers
    # Stand-in for the torchvision CLIPImageProcessor that AutoProcessor picks where torchvision is installed.
    torchvision_named = type("CLIPImageProcessor", (CLIPImageProcessorPil,), {})(
        **florenz_image_processor(24).to_dict()
    )
    processor = FlorenzProcessor(torchvision_named, tokenizer, encoder_tokenizer)
    assert type(processor.image_processor) is CLIPImageProcessorPil
    assert processor.image_size == 24
    assert processor.image_processor.do_center_crop is False


def test_model_input_names_and_image_size(tiny_processor):
    assert tiny_processor.image_size == 32
    assert tiny_processor.model_input_names == [
        "pixel_values",
        "input_ids",
        "attention_mask",
        "decoder_input_ids",
        "decoder_attention_mask",
    ]


def test_lazily_opened_truncated_pil_image_raises_value_error(tiny_processor, tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:300])
    lazy = Image.open(path)  # header parses; pixel data is only read on load()
    with pytest.raises(ValueError, match="image 0 could not be read"):
        tiny_processor(images=lazy)
