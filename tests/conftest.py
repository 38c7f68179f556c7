"""Test environment: offline Hub, private module/Gradio caches, deterministic single-thread torch."""

from __future__ import annotations

import os
import tempfile

import pytest

_TMP = tempfile.mkdtemp(prefix="florenz-tests-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("HF_MODULES_CACHE", os.path.join(_TMP, "hf_modules"))
os.environ.setdefault("HF_DATASETS_CACHE", os.path.join(_TMP, "hf_datasets"))
os.environ.setdefault("GRADIO_TEMP_DIR", os.path.join(_TMP, "gradio"))
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _private_datasets_cache(tmp_path, monkeypatch):
    """A fresh datasets cache per test keeps tests independent of each other's cached tables. (Releases in
    same-named folders are kept apart by the content fingerprint in their card; tests/data/test_release_integrity.py
    checks that with one cache shared by both loads.)"""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_datasets_cache")


def pytest_sessionfinish(session, exitstatus) -> None:
    import shutil

    shutil.rmtree(_TMP, ignore_errors=True)


# --- Tiny Florenz tokenizers/processor shared by processor and model tests -------------------------------------------

TINY_CORPUS = (
    "The target language is English. What does the image describe?",
    "The target language is German. Describe in detail what is shown in the image.",
    "The target language is French. Describe with a paragraph what is shown in the image.",
    "The target language is Spanish. Translate the following text: A dog runs.",
    "The target language is Russian. The target language is simplified Chinese.",
    "The image shows a red circle. Das Bild zeigt einen roten Kreis.",
    "La photo montre un chat noir. La imagen muestra un perro blanco.",
    "На картинке изображен синий квадрат. 图为一只狗在草地上奔跑。",
    "A cat sleeps on a sofa. Eine Katze schläft. Un gato duerme. Кошка спит. 一只猫在睡觉。",
)


@pytest.fixture(scope="session")
def tiny_tokenizers():
    """(decoder Gemma-layout tokenizer, encoder BART-layout tokenizer), byte-level BPE with ~400 ids each."""
    from model_tools.tokenizer_training import train_decoder_tokenizer, train_encoder_tokenizer

    texts = list(TINY_CORPUS) * 4
    return train_decoder_tokenizer(texts, 400), train_encoder_tokenizer(texts, 400)


@pytest.fixture
def tiny_processor(tiny_tokenizers):
    """A fresh FlorenzProcessor at 32 px (fresh per test: the processor remembers its last forced prefix)."""
    from modeling_florenz.processing_florenz import FlorenzProcessor, florenz_image_processor

    tokenizer, encoder_tokenizer = tiny_tokenizers
    return FlorenzProcessor(florenz_image_processor(32), tokenizer, encoder_tokenizer)
