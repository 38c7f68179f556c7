"""The processor contract end to end with tiny random Florenz models: inputs → generate → batch_decode; labels → loss."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from modeling_florenz.processing_florenz import LANGUAGE_PREFIXES


@pytest.fixture(scope="module", params=["tiny-gemma2", "tiny-bart"])
def model_and_processor(request):
    from model_tools.checkpoint_init import build_model_and_processor

    model, processor = build_model_and_processor(request.param, seed=0, image_size=32)
    return request.param, model.eval(), processor


def _expected_text(processor, row: list[int], forced_width: int) -> str:
    text = processor.tokenizer.decode(
        [t for t in row[forced_width:] if t < len(processor.tokenizer)], skip_special_tokens=True
    ).strip()
    return text[:1].upper() + text[1:]


def test_generate_with_forced_prefix_then_decode(model_and_processor):
    preset, model, processor = model_and_processor
    # BART decoders have absolute positions and reject left-padded decoder inputs: one prefix length per batch there.
    languages = ["es", "es"] if preset == "tiny-bart" else ["es", "zh"]
    images = [Image.new("RGB", (40, 30), (255, 0, 0)), Image.new("LA", (5, 5), (30, 100))]
    inputs = processor(images=images, task="caption", language=languages, prefix=True)
    width = inputs["decoder_input_ids"].shape[1]
    with torch.no_grad():
        ids = model.generate(**inputs, max_new_tokens=4, num_beams=2, num_return_sequences=2, do_sample=False)
    assert ids.shape[0] == 4
    # generate() keeps the forced rows in front of the new tokens, one copy per returned sequence.
    assert torch.equal(ids[:, :width], inputs["decoder_input_ids"].repeat_interleave(2, dim=0))
    texts = processor.batch_decode(ids)
    assert texts == [_expected_text(processor, row, width) for row in ids.tolist()]
    kept = processor.batch_decode(ids, strip_prefix=False)
    for text, language in zip(kept, [languages[0]] * 2 + [languages[1]] * 2):
        assert text.startswith(LANGUAGE_PREFIXES[language])


def test_labels_give_a_finite_loss(model_and_processor):
    _, model, processor = model_and_processor
    batch = processor(
        images=[Image.new("RGB", (10, 10))] * 2,
        task=["caption", "translate"],
        language=["en", "zh"],
        text=[None, "A dog."],
        text_target=["A cat.", "一只狗。"],
    )
    with torch.no_grad():
        loss = model(**batch).loss
    assert torch.isfinite(loss) and loss.item() > 0
