"""Florenz-nano decoder = real Gemma-3 270M (from the bundled GGUF) with gated cross-attention inserted."""

from __future__ import annotations

import pytest
import torch

SENTENCES = [
    "The cat sleeps on the warm windowsill.",
    "Der Hund läuft schnell über die grüne Wiese.",
    "La photo montre une femme qui lit un livre.",
    "La imagen muestra un coche rojo en la calle.",
    "На картинке изображен большой белый дом.",
    "图为一只在草地上奔跑的小狗。",
]


@pytest.mark.slow
def test_nano_decoder_matches_gemma3_270m(tmp_path):
    from model_tools.gemma3_gguf import load_gemma3_270m, load_gemma3_decoder_into, load_gemma3_tokenizer
    from modeling_florenz.configuration_florenz import FlorenzConfig
    from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration

    torch.manual_seed(0)
    gemma = load_gemma3_270m().eval()
    tokenizer = load_gemma3_tokenizer()
    assert tokenizer.padding_side == "right"

    config = FlorenzConfig.from_preset("florenz-nano")
    reference = gemma.config
    for field in (
        "vocab_size",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "sliding_window",
        "layer_types",
        "query_pre_attn_scalar",
    ):
        assert getattr(config.text_config, field) == getattr(reference, field), field
    model = FlorenzForConditionalGeneration(config).eval()
    load_gemma3_decoder_into(model, gemma)
    for layer in model.model.decoder.layers:
        assert layer.encoder_attn_gate.item() == 0.0
        assert torch.equal(layer.post_encoder_attention_layernorm.weight, layer.post_attention_layernorm.weight)
    assert model.lm_head.weight is model.model.decoder.embed_tokens.weight

    batch = tokenizer(SENTENCES, return_tensors="pt", padding=True)
    prompt = torch.randint(3, 8000, (len(SENTENCES), 6))
    pixels = torch.randn(len(SENTENCES), 3, 64, 64)
    with torch.no_grad():
        ours = model(
            input_ids=prompt,
            pixel_values=pixels,
            decoder_input_ids=batch.input_ids,
            decoder_attention_mask=batch.attention_mask,
            use_cache=False,
        ).logits
        ref = gemma(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False).logits
    keep = batch.attention_mask.bool()
    assert (ours[keep] - ref[keep]).abs().max().item() <= 1e-4
