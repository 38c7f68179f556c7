"""`florenz model convert caption-via-translation` on tiny checkpoints written in the paper authors' released layout.

The tiny checkpoints follow the authors' published `data/pretrained/*/config.json` schema (model_type `florence2`,
`text_config` of type `florence2_language` with `use_encoder_tokenizer` or a `gemma_config`, DaViT `vision_config`)
and their parameter names (Florence-2 original names for vision/projector/encoder, `language_model.model.decoder.*`,
`language_model.lm_head.weight`, `encoder_attn.{q,k,v,o}_proj`, `encoder_attn_gate`,
`post_encoder_attention_layernorm`). They are assembled from transformers' native Florence-2 and Gemma-2 weights by
the authors' own recipe (`prepare.py`: Gemma `model.*` → `language_model.model.decoder.*`), not by our converter.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
from florence2_tiny import IMAGE, NUM_IMAGE_TOKENS, twin_config, twin_state
from safetensors.torch import load_file, save_file

from florenz_cli import main as florenz_main
from model_tools.convert_caption_via_translation import convert_caption_via_translation

GEMMA = {
    "vocab_size": 384,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "query_pre_attn_scalar": 8,
    "sliding_window": 64,
    "max_position_embeddings": 256,
    "attn_logit_softcapping": 50.0,
    "final_logit_softcapping": 30.0,
    "pad_token_id": 0,
    "eos_token_id": 1,
    "bos_token_id": 2,
}
BART_DECODER_VOCAB = 512  # the authors' 257024 = Gemma's 256000 + 1024 spare rows, scaled down


def _authors_config(native_dir, kind: str) -> dict:
    """The authors' config.json schema (top-level florence2, florence2_language text_config, davit vision)."""
    config = twin_config(json.loads((native_dir / "config.json").read_text()))
    text = config["text_config"]
    source_vocab = text["vocab_size"]
    ids = {"pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 1, "decoder_start_token_id": 1}
    text.update(
        ids,
        encoder_pad_token_id=1,
        encoder_bos_token_id=0,
        encoder_eos_token_id=2,
        no_repeat_ngram_size=3,
        early_stopping=True,
        init_std=0.02,
    )
    config.update(ids, is_encoder_decoder=True, tie_word_embeddings=True, torch_dtype="float16")
    if kind == "bart":
        encoder_vocab = -(-source_vocab // 128) * 128  # prepare.py pads the prompt vocabulary to a multiple of 128
        text.update(
            use_encoder_tokenizer=True,
            vocab_size=BART_DECODER_VOCAB,
            encoder_vocab_size=encoder_vocab,
            forced_bos_token_id=2,
            forced_eos_token_id=1,
        )
        config.update(use_encoder_tokenizer=True, vocab_size=BART_DECODER_VOCAB, encoder_vocab_size=encoder_vocab)
    else:
        text.update(
            use_encoder_tokenizer=False,
            vocab_size=GEMMA["vocab_size"],
            encoder_vocab_size=source_vocab,
            forced_bos_token_id=None,  # as in the released 3.5B text_config
            forced_eos_token_id=None,
            gemma_config={
                **GEMMA,
                "model_type": "gemma2",
                "architectures": ["Gemma2ForCausalLM"],
                "hidden_act": "gelu_pytorch_tanh",
                "hidden_activation": "gelu_pytorch_tanh",
                "rope_theta": 10000.0,
                "rms_norm_eps": 1e-6,
                "initializer_range": 0.02,
                "attention_bias": False,
                "attention_dropout": 0.0,
                "cache_implementation": "hybrid",
                "encoder_hidden_size": text["d_model"],
                "tie_word_embeddings": True,
                "torch_dtype": "float32",
            },
        )
        config.update(vocab_size=GEMMA["vocab_size"], encoder_vocab_size=source_vocab)
    return config


def _gemma2():
    from transformers import Gemma2Config, Gemma2ForCausalLM

    torch.manual_seed(3)
    model = Gemma2ForCausalLM(Gemma2Config(**GEMMA)).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.normal_(0.0, 0.3)
    return model


def _authors_state(native_dir, kind: str, config: dict, gemma, gate: float, with_head: bool) -> dict:
    """Authors' tensors: Florence-2 original names (independent twin), separate encoder/decoder embeddings."""
    native = load_file(native_dir / "model.safetensors")
    state = {
        key: tensor
        for key, tensor in twin_state(native).items()
        if not key.startswith(("language_model.lm_head", "language_model.final_logits_bias"))
        and "embed_tokens" not in key
        and "shared" not in key
    }
    shared = native["model.language_model.shared.weight"]
    generator = torch.Generator().manual_seed(5)
    encoder_rows = config["text_config"]["encoder_vocab_size"]
    encoder_embedding = 0.02 * torch.randn(encoder_rows, shared.shape[1], generator=generator)
    encoder_embedding[: shared.shape[0]] = shared
    state["language_model.model.encoder.embed_tokens.weight"] = encoder_embedding
    if kind == "bart":
        decoder_embedding = torch.randn(BART_DECODER_VOCAB, shared.shape[1], generator=generator)
        state["language_model.model.decoder.embed_tokens.weight"] = decoder_embedding
    else:
        state = {key: value for key, value in state.items() if not key.startswith("language_model.model.decoder.")}
        for key, tensor in gemma.state_dict().items():  # prepare.py's rename
            if key == "lm_head.weight":
                continue
            state[key.replace("model.", "language_model.model.decoder.", 1)] = tensor.clone()
        hidden, heads, kv, head_dim = 32, 4, 2, 8
        width = config["text_config"]["d_model"]
        for i in range(GEMMA["num_hidden_layers"]):
            prefix = f"language_model.model.decoder.layers.{i}."
            state[prefix + "encoder_attn.q_proj.weight"] = 0.2 * torch.randn(
                heads * head_dim, hidden, generator=generator
            )
            state[prefix + "encoder_attn.k_proj.weight"] = 0.2 * torch.randn(kv * head_dim, width, generator=generator)
            state[prefix + "encoder_attn.v_proj.weight"] = 0.2 * torch.randn(kv * head_dim, width, generator=generator)
            state[prefix + "encoder_attn.o_proj.weight"] = 0.2 * torch.randn(
                hidden, heads * head_dim, generator=generator
            )
            state[prefix + "encoder_attn_gate"] = torch.tensor([gate])
            state[prefix + "post_encoder_attention_layernorm.weight"] = 0.3 * torch.randn(hidden, generator=generator)
    if with_head:
        state["language_model.lm_head.weight"] = state["language_model.model.decoder.embed_tokens.weight"].clone()
    return state


def _write(folder, config, state, fmt: str):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    state = {key: value.contiguous() for key, value in state.items()}
    if fmt == "safetensors":
        save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    elif fmt == "sharded":
        keys = sorted(state)
        halves = {"model-00001-of-00002.safetensors": keys[::2], "model-00002-of-00002.safetensors": keys[1::2]}
        for name, part in halves.items():
            save_file({key: state[key] for key in part}, folder / name, metadata={"format": "pt"})
        weight_map = {key: name for name, part in halves.items() for key in part}
        (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    else:
        torch.save(state, folder / "pytorch_model.bin")
    return folder


@pytest.fixture(scope="module")
def gemma_tokenizers(native_dir, tmp_path_factory):
    from florence2_tiny import TEXTS

    from model_tools.tokenizer_training import train_decoder_tokenizer

    folder = tmp_path_factory.mktemp("gemma-tok")
    train_decoder_tokenizer(TEXTS, GEMMA["vocab_size"]).save_pretrained(folder)
    return folder


def _convert(native_dir, tokenizer_dir, source, out, **kwargs):
    return convert_caption_via_translation(
        source, out, encoder_tokenizer=native_dir, decoder_tokenizer=tokenizer_dir, image_size=IMAGE, **kwargs
    )


def _native_florence2(native_dir):
    from transformers import Florence2ForConditionalGeneration

    return Florence2ForConditionalGeneration.from_pretrained(native_dir).eval()


def _batch(native_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(native_dir)
    prompt = tokenizer(["What does the image describe?", "A red circle"], padding=True, return_tensors="pt")
    pixels = torch.randn(2, 3, IMAGE, IMAGE, generator=torch.Generator().manual_seed(2))
    image_ids = torch.full((2, NUM_IMAGE_TOKENS), tokenizer.convert_tokens_to_ids("<image>"))
    return tokenizer, prompt, pixels, image_ids


def _encoder_equals_florence2(model, native_dir):
    """Florenz's encoder output equals transformers' Florence-2 encoder output on the same weights and prompt."""
    native = _native_florence2(native_dir)
    _, prompt, pixels, image_ids = _batch(native_dir)
    with torch.no_grad():
        reference = native(
            input_ids=torch.cat([image_ids, prompt.input_ids], 1),
            attention_mask=torch.cat([torch.ones_like(image_ids), prompt.attention_mask], 1),
            pixel_values=pixels,
            decoder_input_ids=torch.tensor([[2], [2]]),
        ).encoder_last_hidden_state
        ours = model.get_encoder()(
            input_ids=prompt.input_ids, attention_mask=prompt.attention_mask, pixel_values=pixels
        ).last_hidden_state
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
    return ours, prompt, pixels


@pytest.mark.parametrize("fmt", ["safetensors", "sharded", "bin"])
def test_gemma2_kind_with_closed_gates_is_gemma2(native_dir, gemma_tokenizers, tmp_path, fmt):
    from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration

    gemma = _gemma2()
    config = _authors_config(native_dir, "gemma2")
    source = _write(
        tmp_path / "src", config, _authors_state(native_dir, "gemma2", config, gemma, 0.0, fmt == "bin"), fmt
    )
    out = _convert(native_dir, gemma_tokenizers, source, tmp_path / "out", dtype="float32")
    model = FlorenzForConditionalGeneration.from_pretrained(out).eval()
    _, prompt, pixels = _encoder_equals_florence2(model, native_dir)
    ids = torch.tensor([[1, 2, 17, 45, 99, 150, 201, 7], [1, 2, 5, 6, 7, 8, 9, 10]])
    with torch.no_grad():
        reference = gemma(input_ids=ids, use_cache=False).logits
        ours = model(
            input_ids=prompt.input_ids, attention_mask=prompt.attention_mask, pixel_values=pixels, decoder_input_ids=ids
        ).logits
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)


def _independent_gemma_cross_forward(gemma, state, encoder_states, encoder_mask, ids):
    """The authors' layer order, written out: self-attn block → ungated-query cross-attention (no RoPE, GQA,
    scale query_pre_attn_scalar^-0.5, soft-cap 50) → RMSNorm(1+w) → residual + tanh(gate)·h → MLP block."""
    import torch.nn.functional as F

    model = gemma.model
    hidden = F.embedding(ids, model.embed_tokens.weight) * torch.tensor(GEMMA["hidden_size"] ** 0.5)
    positions = torch.arange(ids.shape[1]).unsqueeze(0)
    rope = model.rotary_emb(hidden, positions)
    length = ids.shape[1]
    causal = torch.full((length, length), torch.finfo(hidden.dtype).min).triu(1)[None, None]
    cross_bias = (1.0 - encoder_mask[:, None, None, :].float()) * torch.finfo(hidden.dtype).min
    heads, kv, head_dim = 4, 2, 8

    def rms(x, weight):
        x32 = x.float()
        return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + 1e-6) * (1.0 + weight.float())).type_as(x)

    for i, layer in enumerate(model.layers):
        prefix = f"language_model.model.decoder.layers.{i}."
        residual = hidden
        attn, _ = layer.self_attn(
            hidden_states=layer.input_layernorm(hidden), position_embeddings=rope, attention_mask=causal
        )
        hidden = residual + layer.post_attention_layernorm(attn)
        batch = hidden.shape[0]
        q = F.linear(hidden, state[prefix + "encoder_attn.q_proj.weight"]).view(batch, length, heads, head_dim)
        k = F.linear(encoder_states, state[prefix + "encoder_attn.k_proj.weight"]).view(batch, -1, kv, head_dim)
        v = F.linear(encoder_states, state[prefix + "encoder_attn.v_proj.weight"]).view(batch, -1, kv, head_dim)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        k, v = k.repeat_interleave(heads // kv, dim=1), v.repeat_interleave(heads // kv, dim=1)
        scores = q @ k.transpose(-1, -2) * GEMMA["query_pre_attn_scalar"] ** -0.5
        scores = 50.0 * torch.tanh(scores / 50.0) + cross_bias
        cross = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, heads * head_dim)
        cross = F.linear(cross, state[prefix + "encoder_attn.o_proj.weight"])
        cross = rms(cross, state[prefix + "post_encoder_attention_layernorm.weight"])
        hidden = hidden + torch.tanh(state[prefix + "encoder_attn_gate"]) * cross
        residual = hidden
        hidden = residual + layer.post_feedforward_layernorm(layer.mlp(layer.pre_feedforward_layernorm(hidden)))
    logits = gemma.lm_head(model.norm(hidden))
    return 30.0 * torch.tanh(logits / 30.0)


def test_gemma2_kind_with_open_gates_matches_the_published_layer_order(native_dir, gemma_tokenizers, tmp_path):
    from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration

    gemma = _gemma2()
    config = _authors_config(native_dir, "gemma2")
    state = _authors_state(native_dir, "gemma2", config, gemma, 0.7, with_head=False)
    source = _write(tmp_path / "src", config, state, "safetensors")
    out = _convert(native_dir, gemma_tokenizers, source, tmp_path / "out")
    model = FlorenzForConditionalGeneration.from_pretrained(out).eval()
    encoder_states, prompt, pixels = _encoder_equals_florence2(model, native_dir)
    encoder_mask = torch.cat([torch.ones(2, NUM_IMAGE_TOKENS, dtype=torch.long), prompt.attention_mask], 1)
    ids = torch.tensor([[1, 2, 17, 45, 99, 150], [1, 2, 5, 6, 7, 8]])
    with torch.no_grad():
        reference = _independent_gemma_cross_forward(gemma, state, encoder_states, encoder_mask, ids)
        closed = gemma(input_ids=ids, use_cache=False).logits
        ours = model(
            input_ids=prompt.input_ids, attention_mask=prompt.attention_mask, pixel_values=pixels, decoder_input_ids=ids
        ).logits
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-4)
    assert (ours - closed).abs().max() > 1e-2  # the open gates matter


def test_bart_kind_keeps_every_tensor_and_the_encoder(native_dir, gemma_tokenizers, tmp_path, capsys):
    from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration

    config = _authors_config(native_dir, "bart")
    state = _authors_state(native_dir, "bart", config, None, 0.0, with_head=True)
    source = _write(tmp_path / "src", config, {k: v.half() for k, v in state.items()}, "safetensors")
    code = florenz_main(
        [
            "model",
            "convert",
            "caption-via-translation",
            "--checkpoint",
            str(source),
            "--out",
            str(tmp_path / "out"),
            "--encoder-tokenizer",
            str(native_dir),
            "--decoder-tokenizer",
            str(gemma_tokenizers),
            "--image-size",
            str(IMAGE),
            "--dtype",
            "float32",
            "--source-name",
            "Spravil/caption-via-translation-0_4B-ft",
        ]
    )
    assert code == 0, capsys.readouterr().err
    out = tmp_path / "out"
    saved = json.loads((out / "config.json").read_text())
    assert saved["text_config"]["model_type"] == "bart" and saved["text_config"]["vocab_size"] == BART_DECODER_VOCAB
    assert saved["encoder_config"]["vocab_size"] == config["text_config"]["encoder_vocab_size"]
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["no_repeat_ngram_size"] == 3 and generation["forced_bos_token_id"] == 2
    assert generation["num_beams"] == 4
    assert "Spravil/caption-via-translation-0_4B-ft" in (out / "README.md").read_text()
    assert (out / "encoder_tokenizer").is_dir() and (out / "processor_config.json").is_file()
    assert florenz_main(["model", "verify", str(out)]) == 0
    model = FlorenzForConditionalGeneration.from_pretrained(out).eval()
    weights = load_file(out / "model.safetensors")
    for key, tensor in state.items():  # every source tensor landed (fp16 round trip)
        if key.startswith("language_model.model.decoder.") and "embed_positions" not in key:
            ours = weights["model.decoder." + key.removeprefix("language_model.model.decoder.")]
            torch.testing.assert_close(ours, tensor.half().float(), rtol=0, atol=0)
    # the encoder equals transformers' Florence-2 on the source's fp16-rounded weights
    rounded = tmp_path / "rounded"
    native = _native_florence2(native_dir).half().float()
    native.save_pretrained(rounded)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (native_dir / name).is_file():
            (rounded / name).write_bytes((native_dir / name).read_bytes())
    _encoder_equals_florence2(model, rounded)


def test_dtype_option_and_layout_errors(native_dir, gemma_tokenizers, tmp_path, capsys):
    config = _authors_config(native_dir, "bart")
    state = _authors_state(native_dir, "bart", config, None, 0.0, with_head=False)
    source = _write(tmp_path / "src", config, state, "safetensors")
    out = _convert(native_dir, gemma_tokenizers, source, tmp_path / "bf16", dtype="bfloat16")
    assert {t.dtype for t in load_file(out / "model.safetensors").values()} == {torch.bfloat16}

    broken = dict(state)
    del broken["language_model.model.decoder.layers.1.fc2.weight"]
    broken["language_model.model.decoder.layers.1.extra.weight"] = torch.zeros(2)
    bad = _write(tmp_path / "bad", config, broken, "safetensors")
    with pytest.raises(ValueError, match=r"missing=\['model\.decoder\.layers\.1\.fc2\.weight'\].*extra"):
        _convert(native_dir, gemma_tokenizers, bad, tmp_path / "x")

    untied = dict(state, **{"language_model.lm_head.weight": torch.randn(BART_DECODER_VOCAB, 32)})
    with pytest.raises(ValueError, match="lm_head.weight differs"):
        _convert(native_dir, gemma_tokenizers, _write(tmp_path / "untied", config, untied, "bin"), tmp_path / "y")

    plain = copy.deepcopy(config)
    plain["text_config"]["use_encoder_tokenizer"] = False
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "config.json").write_text(json.dumps(plain))
    code = florenz_main(
        [
            "model",
            "convert",
            "caption-via-translation",
            "--checkpoint",
            str(tmp_path / "plain"),
            "--out",
            str(tmp_path / "z"),
            "--encoder-tokenizer",
            str(native_dir),
            "--decoder-tokenizer",
            str(gemma_tokenizers),
        ]
    )
    assert code == 2 and "florenz model convert florence2" in capsys.readouterr().err


def test_help_documents_the_inputs(capsys):
    with pytest.raises(SystemExit):
        florenz_main(["model", "convert", "caption-via-translation", "--help"])
    text = capsys.readouterr().out
    for needle in ("--checkpoint", "--encoder-tokenizer", "--decoder-tokenizer", "--dtype", "pytorch_model.bin"):
        assert needle in text
