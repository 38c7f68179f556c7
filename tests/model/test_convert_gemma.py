"""Florence-2 + Gemma-2 / Gemma-3 → Florenz converters and the `florenz model convert` CLI, on tiny random checkpoints
saved by transformers' own `Gemma2ForCausalLM` / `Gemma3ForCausalLM`."""

from __future__ import annotations

import json

import pytest
import torch
from florence2_tiny import IMAGE, TEXTS
from huggingface_hub import ModelCard
from safetensors.torch import load_file

from florenz_cli import main as florenz_main
from model_tools.convert_gemma import convert_florence_gemma2, convert_nano, gemma2_to_florenz_decoder

GEMMA = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "query_pre_attn_scalar": 8,
    "sliding_window": 4,
    "max_position_embeddings": 256,
    "pad_token_id": 0,
    "eos_token_id": 1,
    "bos_token_id": 2,
}


def _save_gemma(model_class, config, folder):
    """Random causal LM + Gemma-layout tokenizer; RMSNorm weights (init 0) randomised so copies are visible."""
    from model_tools.tokenizer_training import train_decoder_tokenizer

    tokenizer = train_decoder_tokenizer(TEXTS, config.vocab_size)
    torch.manual_seed(1)
    model = model_class(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.normal_(0.0, 0.3)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def gemma2_dir(tmp_path_factory):
    from transformers import Gemma2Config, Gemma2ForCausalLM

    config = Gemma2Config(vocab_size=384, **GEMMA, attn_logit_softcapping=50.0, final_logit_softcapping=30.0)
    return _save_gemma(Gemma2ForCausalLM, config, tmp_path_factory.mktemp("gemma2"))


@pytest.fixture(scope="module")
def gemma3_dir(tmp_path_factory):
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    config = Gemma3TextConfig(
        vocab_size=384,
        **{**GEMMA, "num_hidden_layers": 3, "num_key_value_heads": 1},
        layer_types=["sliding_attention", "sliding_attention", "full_attention"],
    )
    return _save_gemma(Gemma3ForCausalLM, config, tmp_path_factory.mktemp("gemma3"))


def _check_decoder_is_source(out, source_dir, source_class):
    """Gemma weights copied, only cross-attention new (norms = post_attention_layernorm, gates 0), and with gates 0
    the Florenz decoder logits equal the source causal LM's on the same ids (longer than the sliding window)."""
    from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration

    source = source_class.from_pretrained(source_dir).eval()
    ours = FlorenzForConditionalGeneration.from_pretrained(out).eval()
    saved = load_file(out / "model.safetensors")
    new = {key for key in saved if "encoder_attn" in key or "post_encoder_attention_layernorm" in key}
    for key, tensor in source.state_dict().items():
        if key != "lm_head.weight":
            assert torch.equal(saved["model.decoder." + key.removeprefix("model.")], tensor), key
    decoder_keys = {key for key in saved if key.startswith("model.decoder.")}
    assert decoder_keys - new == {
        "model.decoder." + k.removeprefix("model.") for k in source.state_dict() if k.startswith("model.")
    }
    for index, layer in enumerate(ours.model.decoder.layers):
        assert layer.encoder_attn_gate.item() == 0.0
        assert torch.equal(
            layer.post_encoder_attention_layernorm.weight, source.model.layers[index].post_attention_layernorm.weight
        )
    assert ours.lm_head.weight.data_ptr() == ours.get_input_embeddings().weight.data_ptr()

    ids = torch.tensor([[2, 17, 45, 99, 150, 201, 7, 8, 300], [2, 5, 6, 7, 8, 9, 10, 11, 12]])
    prompt = torch.randint(5, 300, (2, 6), generator=torch.Generator().manual_seed(0))
    pixels = torch.randn(2, 3, IMAGE, IMAGE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = source(input_ids=ids, use_cache=False).logits
        got = ours(input_ids=prompt, pixel_values=pixels, decoder_input_ids=ids, use_cache=False).logits
        assert torch.allclose(got, ref, atol=1e-5, rtol=0)
        for layer in ours.model.decoder.layers:  # the encoder only matters once a gate opens
            layer.encoder_attn_gate.fill_(1.0)
        opened = ours(input_ids=prompt, pixel_values=pixels, decoder_input_ids=ids, use_cache=False).logits
    assert (opened - ref).abs().max() > 1e-3


def test_florence_gemma2_conversion_keeps_gemma_exact(native_dir, gemma2_dir, tmp_path):
    from transformers import Gemma2ForCausalLM

    out = convert_florence_gemma2(native_dir, gemma2_dir, tmp_path / "f-g2", image_size=IMAGE)
    config = json.loads((out / "config.json").read_text())
    assert config["text_config"]["model_type"] == "gemma2"
    assert ModelCard.load(out / "README.md").data.pipeline_tag == "image-text-to-text"  # converted folders get a card
    assert config["encoder_config"]["vocab_size"] == 401  # the source's, unpadded (51289 for Florence-2-large)
    assert config["text_config"]["cross_attention_hidden_size"] == 32
    saved = load_file(out / "model.safetensors")
    assert not any(key.startswith("model.decoder.layers.0.self_attn_layer_norm") for key in saved)  # BART decoder gone
    native = load_file(native_dir / "model.safetensors")
    assert torch.equal(saved["model.encoder.embed_tokens.weight"], native["model.language_model.shared.weight"])
    _check_decoder_is_source(out, gemma2_dir, Gemma2ForCausalLM)


def test_original_layout_florence_with_gemma2_gives_same_weights(native_dir, original_dir, gemma2_dir, tmp_path):
    a = load_file(
        convert_florence_gemma2(native_dir, gemma2_dir, tmp_path / "a", image_size=IMAGE) / "model.safetensors"
    )
    b = load_file(
        convert_florence_gemma2(original_dir, gemma2_dir, tmp_path / "b", image_size=IMAGE) / "model.safetensors"
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_nano_conversion_from_gemma3_folder(native_dir, gemma3_dir, tmp_path):
    from transformers import Gemma3ForCausalLM

    out = convert_nano(native_dir, gemma3_dir, tmp_path / "nano", image_size=IMAGE)
    config = json.loads((out / "config.json").read_text())
    assert config["text_config"]["model_type"] == "gemma3_text"
    assert config["text_config"]["layer_types"] == ["sliding_attention", "sliding_attention", "full_attention"]
    _check_decoder_is_source(out, gemma3_dir, Gemma3ForCausalLM)


def test_gemma_rename_rejects_foreign_keys_and_untied_heads():
    embed = torch.ones(3, 2)
    assert gemma2_to_florenz_decoder({"model.embed_tokens.weight": embed, "lm_head.weight": embed.clone()}).keys() == {
        "model.decoder.embed_tokens.weight"
    }
    with pytest.raises(ValueError, match="lm_head differs"):
        gemma2_to_florenz_decoder({"model.embed_tokens.weight": embed, "lm_head.weight": embed * 2})
    with pytest.raises(ValueError, match="not Gemma causal-LM keys"):
        gemma2_to_florenz_decoder({"language_model.model.embed_tokens.weight": embed})


def test_wrong_decoder_family_fails_before_loading(native_dir, gemma2_dir, gemma3_dir, tmp_path):
    with pytest.raises(ValueError, match="expected a Gemma-2 checkpoint .* got 'gemma3_text'"):
        convert_florence_gemma2(native_dir, gemma3_dir, tmp_path / "x")
    with pytest.raises(ValueError, match="expected a Gemma-3 checkpoint .* got 'gemma2'"):
        convert_nano(native_dir, gemma2_dir, tmp_path / "x")
    not_gguf = tmp_path / "weights.bin"
    not_gguf.write_bytes(b"0")
    with pytest.raises(ValueError, match="not a .gguf file"):
        convert_nano(native_dir, not_gguf, tmp_path / "x")
    with pytest.raises(ValueError, match="does not exist"):
        convert_nano(native_dir, tmp_path / "missing", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_cli_converts_and_reports_clean_errors(native_dir, original_dir, gemma2_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    code = florenz_main(
        [
            "model",
            "convert",
            "florence2",
            "--florence2",
            str(original_dir),
            "--gemma-tokenizer",
            str(gemma2_dir),
            "--out",
            str(out),
            "--image-size",
            str(IMAGE),
        ]
    )
    assert code == 0 and (out / "model.safetensors").is_file()
    assert "matched no BART piece" in capsys.readouterr().out

    code = florenz_main(
        [
            "model",
            "convert",
            "florence2",
            "--florence2",
            str(native_dir),
            "--gemma-tokenizer",
            str(gemma2_dir),
            "--out",
            str(tmp_path / "y"),
            "--layout",
            "original",
        ]
    )
    assert code == 2
    assert "native-layout" in capsys.readouterr().err
    code = florenz_main(
        [
            "model",
            "convert",
            "florence-gemma2",
            "--florence2",
            str(native_dir),
            "--gemma2",
            str(tmp_path / "nowhere"),
            "--out",
            str(tmp_path / "z"),
        ]
    )
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
    code = florenz_main(
        ["model", "convert", "nano", "--florence2", str(native_dir), "--gemma3", str(gemma2_dir), "--out", str(out)]
    )  # out is not empty
    assert code == 2
    assert "not empty" in capsys.readouterr().err


@pytest.mark.slow
def test_nano_conversion_from_bundled_gguf(native_dir, tmp_path):
    """The real Gemma-3 270M GGUF path (dequantised and cached once per machine)."""
    from model_tools.gemma3_gguf import load_gemma3_270m
    from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration

    out = convert_nano(native_dir, "bundled", tmp_path / "nano-gguf", image_size=IMAGE)
    ours = FlorenzForConditionalGeneration.from_pretrained(out).eval()
    gemma = load_gemma3_270m().eval()
    assert ours.config.text_config.vocab_size == gemma.config.vocab_size
    ids = torch.tensor([[2, 818, 5279, 529, 7001, 563]])
    with torch.no_grad():
        ref = gemma(input_ids=ids, use_cache=False).logits
        got = ours(
            input_ids=torch.tensor([[0, 100, 2]]),
            pixel_values=torch.zeros(1, 3, IMAGE, IMAGE),
            decoder_input_ids=ids,
            use_cache=False,
        ).logits
    assert (got - ref).abs().max().item() <= 1e-4
