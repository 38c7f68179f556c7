"""Tokenizer builders: BART / Gemma special-id layouts, lossless six-language round trip, determinism, reload."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from model_tools.tokenizer_training import train_decoder_tokenizer, train_encoder_tokenizer

SIX_LANGUAGES = {
    "en": "The image shows a small brown dog running across a green meadow.",
    "de": "Das Bild zeigt einen kleinen braunen Hund, der über eine grüne Wiese läuft.",
    "fr": "La photo montre un petit chien brun qui court à travers une prairie verte.",
    "es": "La imagen muestra un pequeño perro marrón que corre por un prado verde.",
    "ru": "На картинке изображен маленькая коричневая собака, бегущая по зелёному лугу.",
    "zh": "图为一只棕色的小狗在绿色的草地上奔跑。",
}
CORPUS = list(SIX_LANGUAGES.values()) * 3 + ["A cat sleeps.", "Eine Katze schläft.", "一只猫在睡觉。"]


@pytest.fixture(scope="module")
def decoder():
    return train_decoder_tokenizer(CORPUS, 500)


@pytest.fixture(scope="module")
def encoder():
    return train_encoder_tokenizer(CORPUS, 500)


def test_encoder_has_bart_ids_and_template(encoder):
    assert [encoder.convert_tokens_to_ids(t) for t in ("<s>", "<pad>", "</s>", "<unk>")] == [0, 1, 2, 3]
    assert encoder.mask_token == "<mask>" and encoder.mask_token_id == 4
    assert (encoder.bos_token_id, encoder.pad_token_id, encoder.eos_token_id) == (0, 1, 2)
    ids = encoder("A cat sleeps.")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2 and ids[1:-1] == encoder("A cat sleeps.", add_special_tokens=False)["input_ids"]
    batch = encoder(["A cat.", "A cat sleeps on a sofa."], padding=True)
    assert batch["input_ids"][0][-1] == 1 and batch["attention_mask"][0][-1] == 0  # right padding with <pad>=1


def test_decoder_has_gemma_ids_bos_only_and_right_padding(decoder):
    assert [decoder.convert_tokens_to_ids(t) for t in ("<pad>", "<eos>", "<bos>", "<unk>")] == [0, 1, 2, 3]
    assert (decoder.pad_token_id, decoder.eos_token_id, decoder.bos_token_id, decoder.unk_token_id) == (0, 1, 2, 3)
    assert decoder.padding_side == "right"
    plain = decoder("A cat sleeps.", add_special_tokens=False)["input_ids"]
    assert decoder("A cat sleeps.")["input_ids"] == [2, *plain]  # like Gemma: <bos> only
    batch = decoder(["A cat.", "A cat sleeps on a sofa."], padding=True)
    assert batch["input_ids"][0][-1] == 0 and batch["attention_mask"][0][-1] == 0


@pytest.mark.parametrize("language", sorted(SIX_LANGUAGES))
def test_six_languages_round_trip_losslessly(decoder, encoder, language):
    text = SIX_LANGUAGES[language]
    for tokenizer in (decoder, encoder):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.unk_token_id not in ids
        assert tokenizer.decode(ids) == text
    # Trained on this text: merges must compress it well below one token per UTF-8 byte.
    assert len(decoder(text, add_special_tokens=False)["input_ids"]) < len(text.encode()) / 2


@settings(max_examples=50, deadline=None)
@given(text=st.text(max_size=80))
def test_decoder_round_trips_any_unicode(decoder, text):
    if any(special in text for special in ("<pad>", "<eos>", "<bos>", "<unk>")):
        return  # literal special-token strings are parsed as specials, as in every HF tokenizer
    ids = decoder(text, add_special_tokens=False)["input_ids"]
    assert all(0 <= i < len(decoder) for i in ids)
    assert decoder.decode(ids) == text


def test_vocab_size_is_honoured():
    small = train_decoder_tokenizer(CORPUS, 270)
    large = train_decoder_tokenizer(CORPUS * 5 + [f"word{i} token{i * 7}" for i in range(300)], 600)
    assert len(small) == 270
    assert len(large) == 600


def test_save_and_autotokenizer_reload(decoder, encoder, tmp_path):
    for name, tokenizer in (("decoder", decoder), ("encoder", encoder)):
        tokenizer.save_pretrained(tmp_path / name)
        reloaded = AutoTokenizer.from_pretrained(tmp_path / name)
        assert type(reloaded) is type(tokenizer)
        for text in SIX_LANGUAGES.values():
            assert reloaded(text)["input_ids"] == tokenizer(text)["input_ids"]
        assert reloaded.padding_side == "right"
        assert reloaded.pad_token_id == tokenizer.pad_token_id


def test_training_is_deterministic_across_processes(tmp_path):
    script = (
        "import json, sys\n"
        "from model_tools.tokenizer_training import train_decoder_tokenizer, train_encoder_tokenizer\n"
        "corpus = json.loads(sys.argv[1])\n"
        "for name, train in (('decoder', train_decoder_tokenizer), ('encoder', train_encoder_tokenizer)):\n"
        "    train(corpus, 450).save_pretrained(sys.argv[2] + '/' + name)\n"
    )
    corpus = CORPUS + [f"{w} {w}s" for w in ("dog", "cat", "tree", "house", "car", "bird", "boat")]
    for run, seed in (("a", "1"), ("b", "2")):  # different hash seeds: no dependence on set/dict ordering
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script, json.dumps(corpus), str(tmp_path / run)],
            env=env,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    for name in ("decoder", "encoder"):
        first = json.loads((tmp_path / "a" / name / "tokenizer.json").read_text())
        second = json.loads((tmp_path / "b" / name / "tokenizer.json").read_text())
        assert first["model"] == second["model"]
        assert len(first["model"]["merges"]) > 0
    in_process = train_decoder_tokenizer(list(reversed(corpus)), 450)
    assert (
        json.loads(in_process.backend_tokenizer.to_str())["model"]
        == json.loads((tmp_path / "a" / "decoder" / "tokenizer.json").read_text())["model"]
    )


@pytest.mark.parametrize(
    ("texts", "vocab_size", "message"),
    [
        (CORPUS, 100, "vocab_size must be an int >= 261"),
        (CORPUS, 300.0, "vocab_size must be an int"),
        ("a single string", 400, "not a single string"),
        (["ok", None], 400, r"texts\[1\] is a NoneType; allowed: str"),
    ],
)
def test_bad_arguments_raise_value_error(texts, vocab_size, message):
    with pytest.raises(ValueError, match=message):
        train_encoder_tokenizer(texts, vocab_size)
