"""The library's model contract on every decoder kind: outputs, cache argument names, return_dict, checkpointing,
tensor-parallel plan, cache continuation and input checks."""

from __future__ import annotations

import re

import pytest
import torch

from modeling_florenz.configuration_florenz import FlorenzConfig
from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration

PRESETS = ("tiny-bart", "tiny-gemma2", "tiny-gemma3")
IMAGE_SIZE = 64
IMAGE_TOKENS = (IMAGE_SIZE // 32) ** 2 + 1


def tiny(preset: str, attn: str = "eager") -> FlorenzForConditionalGeneration:
    torch.manual_seed(0)
    config = FlorenzConfig.from_preset(preset, image_size=IMAGE_SIZE)
    model = FlorenzForConditionalGeneration(config)
    with torch.no_grad():  # open the gates so that cross-attention influences the logits
        for name, param in model.named_parameters():
            if name.endswith("encoder_attn_gate"):
                param.fill_(0.5)
    model.set_attn_implementation(attn)
    return model.eval()


def inputs(batch: int = 2, prompt: int = 5, target: int = 4) -> dict:
    generator = torch.Generator().manual_seed(1)
    return {
        "pixel_values": torch.randn(batch, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator),
        "input_ids": torch.randint(4, 500, (batch, prompt), generator=generator),
        "attention_mask": torch.ones(batch, prompt, dtype=torch.long),
        "decoder_input_ids": torch.randint(4, 500, (batch, target), generator=generator),
    }


def decoder_layers(model) -> int:
    text = model.config.text_config
    return text.decoder_layers if model.config.decoder_kind == "bart" else text.num_hidden_layers


@pytest.mark.parametrize("preset", PRESETS)
def test_hidden_states_and_attentions_are_returned(preset):
    model = tiny(preset)
    batch = inputs()
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True, output_attentions=True)
    layers = decoder_layers(model)
    encoder_len = IMAGE_TOKENS + batch["input_ids"].shape[1]
    target_len = batch["decoder_input_ids"].shape[1]
    assert len(out.encoder_hidden_states) == model.config.encoder_config.encoder_layers + 1
    assert torch.equal(out.encoder_hidden_states[-1], out.encoder_last_hidden_state)
    assert len(out.encoder_attentions) == model.config.encoder_config.encoder_layers
    assert len(out.decoder_hidden_states) == layers + 1
    assert all(h.shape[:2] == (2, target_len) for h in out.decoder_hidden_states)
    assert len(out.decoder_attentions) == layers and len(out.cross_attentions) == layers
    assert all(a.shape[-2:] == (target_len, target_len) for a in out.decoder_attentions)
    assert all(a.shape[-2:] == (target_len, encoder_len) for a in out.cross_attentions)
    # the last decoder hidden state is what the head reads
    logits = model.lm_head(out.decoder_hidden_states[-1])
    if model.config.final_logit_softcapping:
        cap = model.config.final_logit_softcapping
        logits = cap * torch.tanh(logits / cap)
    torch.testing.assert_close(logits, out.logits)


@pytest.mark.parametrize("preset", PRESETS)
def test_generate_returns_hidden_states_and_assisted_decoding_works(preset):
    model = tiny(preset)
    batch = inputs(batch=1)
    batch.pop("decoder_input_ids")
    kwargs = {"max_new_tokens": 4, "min_new_tokens": 4, "do_sample": False}
    with torch.no_grad():
        out = model.generate(**batch, **kwargs, output_hidden_states=True, return_dict_in_generate=True)
        greedy = model.generate(**batch, **kwargs)
        assisted = model.generate(**batch, **kwargs, assistant_model=model)
    assert len(out.decoder_hidden_states) == 4
    for step in out.decoder_hidden_states:
        assert len(step) == decoder_layers(model) + 1
        assert all(isinstance(h, torch.Tensor) for h in step)
    assert torch.equal(assisted, greedy)


@pytest.mark.parametrize("preset", PRESETS)
def test_past_key_values_is_used_with_a_warning(preset):
    model = tiny(preset)
    batch = inputs()
    with torch.no_grad():
        full = model(**batch).logits
        prefix = model(**{**batch, "decoder_input_ids": batch["decoder_input_ids"][:, :-1]}, use_cache=True)
        step = {**batch, "decoder_input_ids": batch["decoder_input_ids"][:, -1:]}
        with pytest.warns(FutureWarning, match="past_key_values"):
            cached = model(**step, past_key_values=prefix.cache, use_cache=True).logits
    torch.testing.assert_close(cached[:, -1], full[:, -1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("preset", PRESETS)
def test_unknown_keyword_is_refused(preset):
    model = tiny(preset)
    with pytest.raises(TypeError, match=re.escape("['past_key_value']")):
        model(**inputs(), past_key_value=None)
    with pytest.raises(TypeError, match="output_hidden_state"):
        model.model(**inputs(), output_hidden_state=True)


@pytest.mark.parametrize("preset", PRESETS)
def test_return_dict_false_gives_a_tuple(preset):
    model = tiny(preset)
    batch = inputs()
    labels = batch["decoder_input_ids"]
    with torch.no_grad():
        as_dict = model(**batch, labels=labels)
        as_tuple = model(**batch, labels=labels, return_dict=False)
        base_tuple = model.model(**batch, return_dict=False)
    assert isinstance(as_tuple, tuple) and isinstance(base_tuple, tuple)
    assert torch.equal(as_tuple[0], as_dict.loss)
    assert torch.equal(as_tuple[1], as_dict.logits)
    assert base_tuple[0].shape[:2] == labels.shape


def _encoder_grads(preset: str, checkpointing: dict | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model = tiny(preset, attn="sdpa" if preset != "tiny-gemma2" else "eager")
    model.train()
    if checkpointing is not None:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=checkpointing)
    batch = inputs()
    loss = model(**batch, labels=batch.pop("decoder_input_ids")).loss
    loss.backward()
    names = ("model.encoder.layers.0.fc1.weight", "model.decoder.layers.0.self_attn.q_proj.weight")
    params = dict(model.named_parameters())
    return loss.detach(), {name: params[name].grad.clone() for name in names}


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("reentrant", [True, False])
def test_gradient_checkpointing_matches_plain_backward(preset, reentrant):
    loss, grads = _encoder_grads(preset, None)
    ck_loss, ck_grads = _encoder_grads(preset, {"use_reentrant": reentrant})
    torch.testing.assert_close(ck_loss, loss)
    for name, grad in grads.items():
        assert grad.abs().sum() > 0, name
        torch.testing.assert_close(ck_grads[name], grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("preset", PRESETS)
def test_tensor_parallel_plan_is_consistent(preset):
    model = tiny(preset)
    plan = model.tp_plan
    modules = [name for name, _ in model.named_modules()]
    for pattern in plan:
        regex = re.compile("^" + re.escape(pattern).replace(r"\*", r"\d+") + "$")
        assert any(regex.match(name) for name in modules), f"plan entry {pattern} names no module"
    if preset == "tiny-bart":
        assert "lm_head" not in plan and "model.decoder.embed_tokens" not in plan
    else:
        # the tied head is sharded along the vocabulary exactly when the embedding is
        assert plan["model.decoder.embed_tokens"] == "embedding_rowwise"
        assert plan["lm_head"] == "colwise_gather_output"
        assert plan["model.decoder.layers.*.encoder_attn.q_proj"] == "colwise"
        assert plan["model.decoder.layers.*.encoder_attn.o_proj"] == "rowwise"
        assert model.lm_head.weight is model.get_input_embeddings().weight


@pytest.mark.parametrize("preset", PRESETS)
def test_continuing_from_a_cache_needs_the_same_encoder_output(preset):
    model = tiny(preset)
    batch = inputs(batch=1)
    with torch.no_grad():
        first = model(**batch, use_cache=True)
        full = model(**{**batch, "decoder_input_ids": torch.cat([batch["decoder_input_ids"], torch.tensor([[7]])], 1)})
        step = {"decoder_input_ids": torch.tensor([[7]]), "cache": first.cache, "use_cache": True}
        with pytest.raises(ValueError, match="cache holds cross-attention states of"):
            model(input_ids=batch["input_ids"], **step)
        with pytest.raises(ValueError, match="encoder_outputs the cache was built from"):
            model(**step)
        resumed = model(encoder_outputs=(first.encoder_last_hidden_state,), **step).logits
    torch.testing.assert_close(resumed[:, -1], full.logits[:, -1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("pixels", "message"),
    [
        (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8), "floating tensor"),
        (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.int64), "floating tensor"),
        (torch.zeros(1, 3, 96, 96), f"expects {IMAGE_SIZE}x{IMAGE_SIZE}"),
        (torch.zeros(1, 1, IMAGE_SIZE, IMAGE_SIZE), r"shape \(batch, 3, 64, 64\)"),
        (torch.full((1, 3, IMAGE_SIZE, IMAGE_SIZE), float("nan")), "NaN or infinite"),
        (torch.full((1, 3, IMAGE_SIZE, IMAGE_SIZE), float("inf")), "NaN or infinite"),
    ],
)
def test_wrong_pixel_values_are_refused(pixels, message):
    model = tiny("tiny-gemma3")
    batch = inputs(batch=1)
    with pytest.raises(ValueError, match=message):
        model(**{**batch, "pixel_values": pixels})


def test_any_square_size_without_a_configured_size():
    model = tiny("tiny-bart")
    model.config.image_size = None
    batch = inputs(batch=1)
    with torch.no_grad():
        out = model(**{**batch, "pixel_values": torch.randn(1, 3, 96, 96)})
    assert out.encoder_last_hidden_state.shape[1] == 3 * 3 + 1 + batch["input_ids"].shape[1]
    with pytest.raises(ValueError, match="must be square"):
        model(**{**batch, "pixel_values": torch.randn(1, 3, 64, 96)})


@pytest.mark.parametrize("bad_id", [-1, 10**6])
def test_out_of_vocabulary_prompt_ids_are_refused(bad_id):
    model = tiny("tiny-bart")
    batch = inputs(batch=1)
    batch["input_ids"][0, 2] = bad_id
    vocab = model.config.encoder_config.vocab_size
    with pytest.raises(
        ValueError, match=rf"input_ids \(the encoder prompt\) holds ids outside the vocabulary \[0, {vocab}\)"
    ):
        model(**batch)
