"""Florenz config, parameter counts, forward/loss, tying, gate identity and freeze policy (tiny presets, random init)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from model_tools.parameter_count import count_parameters
from modeling_florenz.configuration_florenz import FLORENZ_PRESETS, FlorenzConfig
from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration

TINY = ["tiny-bart", "tiny-gemma2", "tiny-gemma3"]
IMAGE = 64  # tiny DaViT: total stride 32 -> 2x2 map -> 1 + 4 image tokens


def build(preset: str, seed: int = 0) -> FlorenzForConditionalGeneration:
    torch.manual_seed(seed)
    return FlorenzForConditionalGeneration(FlorenzConfig.from_preset(preset)).eval()


def open_gates(model: FlorenzForConditionalGeneration, value: float = 1.0) -> FlorenzForConditionalGeneration:
    """Gemma gates start at 0 (decoder ignores the encoder); open them so encoder-side checks can fail."""
    if model.config.decoder_kind != "bart":
        with torch.no_grad():
            for layer in model.model.decoder.layers:
                layer.encoder_attn_gate.fill_(value)
    return model


def batch(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(3, 500, (2, 7), generator=g)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 4:] = 0
    pixel_values = torch.randn(2, 3, IMAGE, IMAGE, generator=g)
    labels = torch.randint(3, 500, (2, 6), generator=g)
    labels[1, 4:] = -100
    return input_ids, attention_mask, pixel_values, labels


@pytest.mark.parametrize(
    ("preset", "total", "trainable"),
    [
        ("florenz-0.4b", 0.429e9, 0.338e9),
        ("florenz-1.0b", 1.040e9, 0.677e9),
        ("florenz-3.5b", 3.485e9, 1.098e9),
        ("florenz-11.2b", 11.222e9, 2.535e9),
    ],
)
def test_paper_parameter_counts(preset, total, trainable):
    counts = count_parameters(preset)
    assert abs(counts["total_params"] - total) / total < 0.005
    assert abs(counts["trainable_params"] - trainable) / trainable < 0.01


def test_nano_preset_shapes():
    cfg = FlorenzConfig.from_preset("florenz-nano")
    text = cfg.text_config
    assert cfg.decoder_kind == "gemma3_text"
    assert (text.hidden_size, text.num_hidden_layers, text.num_attention_heads, text.num_key_value_heads) == (
        640,
        18,
        4,
        1,
    )
    assert (text.head_dim, text.intermediate_size, text.vocab_size, text.sliding_window) == (256, 2048, 262144, 512)
    assert text.layer_types.count("full_attention") == 3 and text.layer_types[5] == "full_attention"
    assert text.rope_parameters["full_attention"]["rope_theta"] == 1e6
    assert text.rope_parameters["sliding_attention"]["rope_theta"] == 1e4
    assert cfg.final_logit_softcapping is None


@pytest.mark.parametrize("preset", TINY)
def test_config_round_trip(preset, tmp_path):
    cfg = FlorenzConfig.from_preset(preset, text_vocab_size=640, encoder_vocab_size=300)
    cfg.save_pretrained(tmp_path)
    loaded = FlorenzConfig.from_pretrained(tmp_path)
    assert loaded.decoder_kind == cfg.decoder_kind
    assert type(loaded.text_config) is type(cfg.text_config)
    assert loaded.text_config.vocab_size == 640 and loaded.encoder_config.vocab_size == 300
    assert (loaded.pad_token_id, loaded.eos_token_id, loaded.bos_token_id, loaded.decoder_start_token_id) == (
        0,
        1,
        2,
        1,
    )
    assert loaded.encoder_config.pad_token_id == 1
    assert loaded.is_encoder_decoder and loaded.tie_word_embeddings
    assert loaded.get_text_config(decoder=True) is loaded.text_config
    if preset == "tiny-bart":
        assert loaded.final_logit_softcapping == 30.0
    else:
        assert loaded.text_config.cross_attention_hidden_size == loaded.encoder_config.d_model
        assert loaded.final_logit_softcapping == loaded.text_config.final_logit_softcapping


def test_config_validation():
    with pytest.raises(ValueError, match="unknown Florenz preset"):
        FlorenzConfig.from_preset("florenz-7b")
    preset = FLORENZ_PRESETS["tiny-gemma2"]
    with pytest.raises(ValueError, match="projection_dim"):
        FlorenzConfig(
            vision_config={**preset["vision"], "projection_dim": 48},
            encoder_config=preset["encoder"],
            text_config=preset["text"],
        )
    with pytest.raises(ValueError, match="not a supported Florenz decoder"):
        FlorenzConfig(
            vision_config=preset["vision"],
            encoder_config=preset["encoder"],
            text_config={"model_type": "llama", "hidden_size": 32, "num_attention_heads": 4},
        )


@pytest.mark.parametrize("preset", TINY)
def test_loss_matches_manual_cross_entropy_and_backward(preset):
    model = build(preset).train()
    input_ids, attention_mask, pixel_values, labels = batch()
    out = model(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values, labels=labels)
    assert torch.isfinite(out.loss)
    # the encoder sees 1 + 2*2 image tokens before the prompt
    assert out.encoder_last_hidden_state.shape[1] == 5 + input_ids.shape[1]

    decoder_input_ids = torch.cat([torch.ones(2, 1, dtype=torch.long), labels[:, :-1]], dim=1)
    decoder_input_ids[decoder_input_ids == -100] = 0
    assert torch.equal(model.prepare_decoder_input_ids_from_labels(labels), decoder_input_ids)
    model.eval()
    logits = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        pixel_values=pixel_values,
        decoder_input_ids=decoder_input_ids,
    ).logits
    cap = model.config.final_logit_softcapping
    if cap is not None:
        assert logits.abs().max() <= cap
    keep = labels != -100
    manual = F.cross_entropy(logits[keep], labels[keep])
    model_loss = model(
        input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values, labels=labels
    ).loss
    torch.testing.assert_close(model_loss, manual, rtol=1e-5, atol=1e-6)

    model.train()
    out.loss.backward()
    assert model.lm_head.weight.grad.abs().sum() > 0
    if preset == "tiny-bart":
        assert model.model.encoder.layers[0].fc1.weight.grad.abs().sum() > 0
    else:  # tanh gate at 0: at step 0 only the gates receive gradient from the cross-attention path
        assert all(layer.encoder_attn_gate.grad.abs().item() > 0 for layer in model.model.decoder.layers)


@pytest.mark.parametrize("preset", TINY)
def test_out_of_vocab_labels_raise(preset):
    model = build(preset)
    input_ids, attention_mask, pixel_values, labels = batch()
    labels[0, 0] = model.config.text_config.vocab_size
    with pytest.raises(ValueError, match="outside"):
        model(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values, labels=labels)


@pytest.mark.parametrize("preset", TINY)
def test_head_tied_to_decoder_embeddings(preset):
    model = build(preset)
    assert model.lm_head.weight is model.model.decoder.embed_tokens.weight
    assert model.get_input_embeddings() is model.model.decoder.embed_tokens
    assert model.model.decoder.embed_tokens.weight[0].abs().sum() == 0  # Gemma <pad> row zeroed
    assert model.model.encoder.embed_tokens.weight.shape[0] == model.config.encoder_config.vocab_size


@pytest.mark.parametrize("preset", TINY)
def test_text_padding_is_honoured(preset):
    model = open_gates(build(preset))
    input_ids, attention_mask, pixel_values, labels = batch()
    changed = input_ids.clone()
    changed[1, 4:] = 7  # only padded prompt positions of item 1
    kwargs = {"attention_mask": attention_mask, "pixel_values": pixel_values, "labels": labels}
    a = model(input_ids=input_ids, **kwargs).logits
    b = model(input_ids=changed, **kwargs).logits
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    c = model(input_ids=changed, pixel_values=pixel_values, labels=labels).logits  # unmasked: must differ
    assert (c[1] - a[1]).abs().max() > 1e-4


@pytest.mark.parametrize("preset", ["tiny-gemma2", "tiny-gemma3"])
def test_zero_gate_decoder_equals_plain_gemma_stack(preset):
    from transformers import Gemma2Model, Gemma3TextModel

    model = build(preset)
    decoder = model.model.decoder
    assert all(layer.encoder_attn_gate.item() == 0.0 for layer in decoder.layers)
    plain_cls = Gemma2Model if preset == "tiny-gemma2" else Gemma3TextModel
    plain = plain_cls(model.config.text_config).eval()
    with torch.no_grad():  # random non-trivial norms so the equality is not vacuous
        for p in decoder.parameters():
            p.add_(0.1 * torch.randn_like(p)) if p.ndim else None
        for layer in decoder.layers:
            layer.encoder_attn_gate.zero_()
    missing, unexpected = plain.load_state_dict(decoder.state_dict(), strict=False)
    assert not missing
    assert unexpected and all("encoder_attn" in k or "post_encoder_attention_layernorm" in k for k in unexpected)

    ids = torch.randint(3, 500, (2, 9))
    encoder_states = torch.randn(2, 11, model.config.encoder_config.d_model)
    with torch.no_grad():
        ours = decoder(input_ids=ids, encoder_hidden_states=encoder_states, use_cache=False).last_hidden_state
        ref = plain(input_ids=ids, use_cache=False).last_hidden_state
        torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
        for layer in decoder.layers:
            layer.encoder_attn_gate.fill_(1.0)
        gated = decoder(input_ids=ids, encoder_hidden_states=encoder_states, use_cache=False).last_hidden_state
    assert (gated - ref).abs().max() > 1e-3


def test_init_cross_attention_from_decoder():
    model = build("tiny-gemma2")
    with torch.no_grad():
        for layer in model.model.decoder.layers:
            layer.post_attention_layernorm.weight.normal_()
            layer.encoder_attn_gate.fill_(0.3)
    model.init_cross_attention_from_decoder()
    for layer in model.model.decoder.layers:
        assert torch.equal(layer.post_encoder_attention_layernorm.weight, layer.post_attention_layernorm.weight)
        assert layer.encoder_attn_gate.item() == 0.0
    with pytest.raises(ValueError, match="Gemma decoders"):
        build("tiny-bart").init_cross_attention_from_decoder()


def _trainable_names(model):
    return {n for n, p in model.named_parameters() if p.requires_grad}


def test_freeze_policy_gemma():
    model = build("tiny-gemma2")
    counts = model.apply_freeze_policy("paper")
    names = _trainable_names(model)
    assert not any(n.startswith(("model.vision_tower", "model.multi_modal_projector")) for n in names)
    assert all(n.startswith("model.encoder.") for n in names if not n.startswith("model.decoder."))
    decoder_names = {n for n in names if n.startswith("model.decoder.")}
    assert "model.decoder.embed_tokens.weight" in decoder_names
    assert all(
        ("encoder_attn" in n or "post_encoder_attention_layernorm" in n or "embed_tokens" in n) for n in decoder_names
    )
    assert "model.decoder.layers.0.self_attn.q_proj.weight" not in names
    assert "model.decoder.layers.1.encoder_attn_gate" in names
    frozen = sum(p.numel() for n, p in model.named_parameters() if n not in names)
    assert counts["trainable_params"] + frozen == counts["total_params"] == sum(p.numel() for p in model.parameters())
    assert model.num_parameters(only_trainable=True) == counts["trainable_params"]

    all_counts = model.apply_freeze_policy("all")
    vision = sum(
        p.numel()
        for n, p in model.named_parameters()
        if n.startswith(("model.vision_tower", "model.multi_modal_projector"))
    )
    assert all_counts["trainable_params"] == all_counts["total_params"] - vision
    with pytest.raises(ValueError, match="freeze policy"):
        model.apply_freeze_policy("none")


def test_freeze_policy_bart_trains_all_but_vision():
    model = build("tiny-bart")
    counts = model.apply_freeze_policy("paper")
    vision = sum(
        p.numel()
        for n, p in model.named_parameters()
        if n.startswith(("model.vision_tower", "model.multi_modal_projector"))
    )
    assert counts["trainable_params"] == counts["total_params"] - vision
    assert "model.decoder.layers.0.self_attn.q_proj.weight" in _trainable_names(model)


def test_bart_rejects_left_padded_decoder_inputs():
    model = build("tiny-bart")
    input_ids, attention_mask, pixel_values, _ = batch()
    decoder_input_ids = torch.tensor([[1, 2, 5, 6], [0, 1, 2, 5]])
    decoder_attention_mask = torch.tensor([[1, 1, 1, 1], [0, 1, 1, 1]])
    with pytest.raises(ValueError, match="right-padded"):
        model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            pixel_values=pixel_values,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
        )


def test_gemma2_decoder_uses_eager_attention():
    model = build("tiny-gemma2")
    assert model.config.text_config._attn_implementation == "eager"
