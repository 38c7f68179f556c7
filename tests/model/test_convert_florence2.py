"""Florence-2 → Florenz converter on tiny random checkpoints saved by transformers' own Florence-2 class.

The original (Microsoft remote-code) twin is written here by an explicit, independent rename (the per-key lists of
transformers' `convert_florence2_original_pytorch_to_hf.py`, inverted), not by the converter's own table.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from florence2_tiny import IMAGE, NUM_IMAGE_TOKENS, VISION, twin_state
from huggingface_hub import ModelCard
from safetensors.torch import load_file

from model_tools.convert_florence2 import (
    convert_florence2,
    detect_florence2_layout,
    florence2_native_to_original,
    florence2_original_to_native,
    match_vocabularies,
    remap_embeddings,
)


def _weights(folder) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


# --------------------------------------------------------------------------------------------------------------------


def test_key_renames_are_inverse_and_transpose_the_projection(native_dir):
    native = load_file(native_dir / "model.safetensors")
    original = florence2_native_to_original(native)
    assert original.keys() == {
        k for k in twin_state(native) if k not in ("language_model.lm_head.weight", "language_model.final_logits_bias")
    }
    assert torch.equal(original["image_projection"], native["model.multi_modal_projector.image_projection.weight"].t())
    back = florence2_original_to_native(twin_state(native))
    assert back.keys() == native.keys() | {"lm_head.weight"}
    for key, tensor in native.items():
        assert torch.equal(back[key], tensor), key
    assert detect_florence2_layout(native) == "native"
    assert detect_florence2_layout(original) == "original"


def test_unknown_keys_are_rejected():
    with pytest.raises(ValueError, match="not original-layout"):
        florence2_original_to_native({"vision_tower.head.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="neither"):
        detect_florence2_layout(["encoder.weight"])


def test_native_and_original_convert_to_identical_florenz_weights(
    native_dir, original_dir, gemma_tokenizer_dir, tmp_path
):
    a, unmatched_a = convert_florence2(native_dir, gemma_tokenizer_dir, tmp_path / "a", image_size=IMAGE)
    b, unmatched_b = convert_florence2(
        original_dir, gemma_tokenizer_dir, tmp_path / "b", layout="original", image_size=IMAGE
    )
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    assert unmatched_a == unmatched_b
    for key, tensor in wa.items():
        assert torch.isfinite(tensor).all(), key
    config = json.loads((a / "config.json").read_text())
    assert config["text_config"]["model_type"] == "bart"
    card = ModelCard.load(a / "README.md").data  # the converted folder carries its model card
    assert card.library_name == "transformers" and card.pipeline_tag == "image-text-to-text" and not card.base_model
    assert config["encoder_config"]["vocab_size"] == 512  # 401 source rows padded to a multiple of 128
    assert config["vision_config"]["depths"] == VISION["depths"]
    native = load_file(native_dir / "model.safetensors")
    assert torch.equal(wa["model.encoder.embed_tokens.weight"][:401], native["model.language_model.shared.weight"])
    assert torch.equal(
        wa["model.multi_modal_projector.image_projection.weight"],
        native["model.multi_modal_projector.image_projection.weight"],
    )


def test_one_to_one_vocabulary_reproduces_florence2(native_dir, tmp_path):
    """Gemma side = the BART tokenizer itself: every row maps 1:1, so the converted model is Florence-2 itself
    (encoder outputs exactly; logits up to the Florenz soft-cap)."""
    from transformers import AutoTokenizer, Florence2ForConditionalGeneration

    from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration

    bart = AutoTokenizer.from_pretrained(native_dir)
    matching = match_vocabularies(bart, bart)
    assert matching == [[i] for i in range(len(bart))]

    out, unmatched = convert_florence2(
        native_dir, native_dir, tmp_path / "same", image_size=IMAGE, text_vocab_size=len(bart)
    )
    assert unmatched == []
    source = Florence2ForConditionalGeneration.from_pretrained(native_dir).eval()
    ours = FlorenzForConditionalGeneration.from_pretrained(out).eval()
    assert torch.equal(ours.get_input_embeddings().weight, source.get_input_embeddings().weight)

    prompt = bart(
        ["The target language is English. What does the image describe?", "A red circle."],
        return_tensors="pt",
        padding=True,
    )
    assert prompt.attention_mask.all(dim=1).logical_not().any()  # padding present in the second row
    image_id = source.config.image_token_id
    pixels = torch.randn(2, 3, IMAGE, IMAGE, generator=torch.Generator().manual_seed(3))
    decoder_ids = torch.tensor([[2, 0, 50, 60, 70], [2, 0, 80, 90, 100]])
    # native Florence-2 scatters image features into <image> slots; Florenz prepends them: same sequence
    placeholders = torch.full((2, NUM_IMAGE_TOKENS), image_id)
    with torch.no_grad():
        ref = source(
            input_ids=torch.cat([placeholders, prompt.input_ids], 1),
            attention_mask=torch.cat([torch.ones_like(placeholders), prompt.attention_mask], 1),
            pixel_values=pixels,
            decoder_input_ids=decoder_ids,
        )
        got = ours(
            input_ids=prompt.input_ids,
            attention_mask=prompt.attention_mask,
            pixel_values=pixels,
            decoder_input_ids=decoder_ids,
        )
    assert got.encoder_last_hidden_state.shape == ref.encoder_last_hidden_state.shape
    assert torch.equal(got.encoder_last_hidden_state, ref.encoder_last_hidden_state)
    cap = ours.config.final_logit_softcapping
    assert torch.allclose(got.logits, cap * torch.tanh(ref.logits / cap), atol=1e-5, rtol=0)


def test_remap_averages_pieces_and_guards_empty_rows():
    embedding = torch.arange(12, dtype=torch.float32).reshape(6, 2)
    initial = torch.full((5, 2), -7.0)
    out = remap_embeddings(embedding, [[1], [2, 4], [], [0, 1, 5]], 5, initial=initial)
    assert torch.equal(out[0], embedding[1])
    assert torch.equal(out[1], (embedding[2] + embedding[4]) / 2)
    assert torch.equal(out[2], initial[2])  # no pieces: keeps its init, never NaN
    assert torch.allclose(out[3], (embedding[0] + embedding[1] + embedding[5]) / 3)
    assert torch.equal(out[4], initial[4])  # beyond the matching: spare row
    fresh = remap_embeddings(embedding, [[], [3]], 4)
    assert torch.isfinite(fresh).all() and torch.equal(fresh[1], embedding[3])
    assert 0 < fresh[0].abs().max() < 0.2  # normal(0, 0.02) init
    half = remap_embeddings(embedding.half(), [[1], []], 2, initial=torch.full((2, 2), 0.001))
    assert half.dtype == torch.float32 and half[1, 0].item() == pytest.approx(0.001)  # init rows keep fp32
    with pytest.raises(ValueError, match="outside"):
        remap_embeddings(embedding, [[6]], 2)
    with pytest.raises(ValueError, match="num_rows"):
        remap_embeddings(embedding, [[0]] * 3, 2)


def test_match_vocabularies_maps_specials_and_gemma_pieces(native_dir, gemma_tokenizer_dir):
    from transformers import AutoTokenizer

    bart = AutoTokenizer.from_pretrained(native_dir)
    gemma = AutoTokenizer.from_pretrained(gemma_tokenizer_dir)
    matching = match_vocabularies(gemma, bart)
    assert len(matching) == len(gemma)
    assert matching[gemma.bos_token_id] == [bart.bos_token_id]
    assert matching[gemma.eos_token_id] == [bart.eos_token_id]
    assert matching[gemma.pad_token_id] == [bart.pad_token_id]
    assert matching[gemma.unk_token_id] == [bart.unk_token_id]
    for gemma_id in range(4, len(gemma)):  # every other id: its text re-encodes exactly by BART
        text = gemma.decode([gemma_id])
        assert bart.decode(matching[gemma_id]) == text, gemma_id


def test_sentencepiece_style_tokens_use_spaces_and_empty_texts_are_reported(native_dir, caplog):
    """A Gemma-like vocabulary ("▁" for spaces, byte-fallback tokens): "▁the" → " the", "<0x0A>" → newline,
    "<0xE4>" → that byte; a token whose text is empty maps to [] and is reported."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "▁the": 4, "<0x0A>": 5, "▁▁": 6, "<0xE4>": 7, "": 8}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    gemma = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>", unk_token="<unk>"
    )
    bart = AutoTokenizer.from_pretrained(native_dir)
    with caplog.at_level("WARNING"):
        matching = match_vocabularies(gemma, bart)
    enc = lambda text: bart(text, add_special_tokens=False).input_ids
    assert matching[4] == enc(" the")
    assert matching[5] == enc("\n")
    assert matching[6] == enc("  ")
    # a lone byte of a multi-byte character has no text: BART's byte symbol for 0xE4 ("ä" in the byte alphabet)
    assert matching[7] == [bart.convert_tokens_to_ids("ä")]
    assert matching[8] == []
    assert "1 Gemma tokens map to no BART piece" in caplog.text


def test_layout_mismatch_and_missing_files_fail_early(native_dir, original_dir, gemma_tokenizer_dir, tmp_path):
    with pytest.raises(ValueError, match="native-layout .* layout='original'"):
        convert_florence2(native_dir, gemma_tokenizer_dir, tmp_path / "x", layout="original")
    with pytest.raises(ValueError, match="allowed"):
        convert_florence2(native_dir, gemma_tokenizer_dir, tmp_path / "x", layout="microsoft")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no config.json"):
        convert_florence2(empty, gemma_tokenizer_dir, tmp_path / "x")
    with pytest.raises(ValueError, match="no tokenizer files"):
        convert_florence2(native_dir, empty, tmp_path / "x")
    with pytest.raises(ValueError, match="image_size must be an int >= 32"):
        convert_florence2(native_dir, gemma_tokenizer_dir, tmp_path / "x", image_size=16)
    assert not (tmp_path / "x").exists()


def test_output_is_a_loadable_florenz_folder(native_dir, gemma_tokenizer_dir, tmp_path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    out, _ = convert_florence2(native_dir, gemma_tokenizer_dir, tmp_path / "m", image_size=IMAGE)
    files = {p.name for p in out.iterdir()}
    assert "model.safetensors" in files and not any(name.endswith(".bin") for name in files)
    model = AutoModelForImageTextToText.from_pretrained(out, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(out, trust_remote_code=True)
    assert processor.image_size == IMAGE
    assert model.config.text_config.vocab_size == 380 + 1024
    assert model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    from PIL import Image

    inputs = processor(images=[Image.new("RGB", (80, 60), "red")], task="caption", language="de", return_tensors="pt")
    with torch.no_grad():
        generated = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    assert generated.shape[0] == 1 and math.isfinite(float(generated.float().sum()))
