"""Florenz generation: cache == no cache (greedy/beam), incremental == teacher forcing, batching, forced prefixes.

Tiny presets have sliding_window 4 and an encoder output of 5 image + prompt tokens, so a cross-attention cache built
with sliding layers (the generate() default) would truncate the encoder states.
"""

from __future__ import annotations

import pytest
import torch
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

from modeling_florenz.configuration_florenz import FlorenzConfig
from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration

TINY = ["tiny-bart", "tiny-gemma2", "tiny-gemma3"]
GEMMA = ["tiny-gemma2", "tiny-gemma3"]


def build(preset: str) -> FlorenzForConditionalGeneration:
    torch.manual_seed(0)
    model = FlorenzForConditionalGeneration(FlorenzConfig.from_preset(preset)).eval()
    if model.config.decoder_kind != "bart":
        with torch.no_grad():
            for layer in model.model.decoder.layers:
                layer.encoder_attn_gate.fill_(1.0)  # make the decoder depend on the encoder
    return model


def inputs(seed: int = 3):
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(3, 500, (2, 8), generator=g)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 5:] = 0
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "pixel_values": torch.randn(2, 3, 64, 64, generator=g),
    }


GEN = {"max_new_tokens": 8, "min_new_tokens": 8, "do_sample": False}


@pytest.mark.parametrize("preset", TINY)
@pytest.mark.parametrize("num_beams", [1, 4])
def test_generate_cache_equals_no_cache(preset, num_beams):
    model = build(preset)
    kw = inputs()
    with torch.no_grad():
        cached = model.generate(**kw, **GEN, num_beams=num_beams, use_cache=True)
        uncached = model.generate(**kw, **GEN, num_beams=num_beams, use_cache=False)
    assert cached.shape == (2, 9)
    assert torch.equal(cached, uncached)
    assert (cached[:, 0] == model.config.decoder_start_token_id).all()


@pytest.mark.parametrize("preset", TINY)
def test_incremental_logits_match_teacher_forcing(preset):
    model = build(preset)
    kw = inputs()
    decoder_input_ids = torch.randint(3, 500, (2, 7))
    decoder_input_ids[:, 0] = 1
    with torch.no_grad():
        full = model(**kw, decoder_input_ids=decoder_input_ids, use_cache=False).logits
        encoder_outputs = model.get_encoder()(**kw)
        # the cache generate() would build: the cross cache gets the decoder's sliding layer types
        text_config = model.config.text_config
        cache = EncoderDecoderCache(DynamicCache(config=text_config), DynamicCache(config=text_config))
        steps = []
        for t in range(decoder_input_ids.shape[1]):
            out = model(
                encoder_outputs=encoder_outputs,
                attention_mask=kw["attention_mask"],
                decoder_input_ids=decoder_input_ids[:, t : t + 1],
                cache=cache,
                use_cache=True,
            )
            cache = out.cache
            steps.append(out.logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=0, atol=1e-4)
    encoder_length = encoder_outputs.last_hidden_state.shape[1]
    assert encoder_length > 4
    assert all(layer.keys.shape[-2] == encoder_length for layer in cache.cross_attention_cache.layers)


@pytest.mark.parametrize("preset", TINY)
def test_item_alone_equals_item_in_padded_batch(preset):
    model = build(preset)
    kw = inputs()
    with torch.no_grad():
        batched = model.generate(**kw, **GEN)
        short = model.generate(input_ids=kw["input_ids"][1:, :5], pixel_values=kw["pixel_values"][1:], **GEN)
        long = model.generate(input_ids=kw["input_ids"][:1], pixel_values=kw["pixel_values"][:1], **GEN)
    assert torch.equal(batched[1:], short)
    assert torch.equal(batched[:1], long)


def _greedy_reference(model, kw, prefix: torch.Tensor, steps: int) -> torch.Tensor:
    """Greedy continuation by repeated full (uncached) forward passes."""
    ids = prefix
    with torch.no_grad():
        for _ in range(steps):
            logits = model(**kw, decoder_input_ids=ids, use_cache=False).logits[:, -1]
            logits[:, model.config.eos_token_id] = -float("inf")  # as min_new_tokens does
            ids = torch.cat([ids, logits.argmax(-1, keepdim=True)], dim=1)
    return ids


@pytest.mark.parametrize("preset", TINY)
def test_forced_decoder_prefix(preset):
    model = build(preset)
    kw = {k: v[:1] for k, v in inputs().items()}
    prefix = torch.tensor([[1, 2, 17, 42]])  # [<eos>, <bos>, prefix tokens…]
    with torch.no_grad():
        out = model.generate(**kw, decoder_input_ids=prefix, **GEN)
    assert torch.equal(out[:, :4], prefix)
    assert torch.equal(out, _greedy_reference(model, kw, prefix, 8))


@pytest.mark.parametrize("preset", GEMMA)
def test_left_padded_prefix_batch(preset):
    model = build(preset)
    kw = inputs()
    prefixes = [[1, 2, 17, 42, 99], [1, 2, 23]]
    decoder_input_ids = torch.tensor([prefixes[0], [0, 0] + prefixes[1]])
    decoder_attention_mask = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])
    with torch.no_grad():
        batched = model.generate(
            **kw, decoder_input_ids=decoder_input_ids, decoder_attention_mask=decoder_attention_mask, **GEN
        )
        for row, prefix in enumerate(prefixes):
            solo_kw = {k: v[row : row + 1] for k, v in kw.items()}
            solo = model.generate(**solo_kw, decoder_input_ids=torch.tensor([prefix]), **GEN)
            assert torch.equal(batched[row, -solo.shape[1] :], solo[0])


@pytest.mark.parametrize("preset", TINY)
def test_generation_config_holds_only_gemma_ids(preset):
    config = build(preset).generation_config
    assert (config.pad_token_id, config.bos_token_id, config.eos_token_id, config.decoder_start_token_id) == (
        0,
        2,
        1,
        1,
    )
    assert config.forced_eos_token_id is None and config.forced_bos_token_id is None
    assert config.max_new_tokens is None
