"""Every saved model folder carries the README's decoding defaults, so a bare `generate()` uses them."""

from __future__ import annotations

import json
import warnings

import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

from model_tools.checkpoint_init import GENERATION_DEFAULTS, init_checkpoint


def test_bare_generate_uses_the_saved_defaults(tmp_path):
    folder = init_checkpoint("tiny-bart", tmp_path / "tiny", seed=1)
    saved = json.loads((folder / "generation_config.json").read_text())
    assert {key: saved[key] for key in GENERATION_DEFAULTS} == {
        "num_beams": 4,
        "max_new_tokens": 32,
        "early_stopping": True,
    }
    assert (saved["pad_token_id"], saved["eos_token_id"], saved["bos_token_id"]) == (0, 1, 2)

    model = AutoModelForImageTextToText.from_pretrained(folder, trust_remote_code=True)
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    inputs = processor(images=Image.new("RGB", (64, 64), (0, 90, 200)), text="Caption this image in German.")
    eos = processor.tokenizer.eos_token_id
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("error")  # 5.x warns "Using the model-agnostic default `max_length` (=21)" otherwise
        ids = model.generate(**inputs, suppress_tokens=[eos])  # no length or beam arguments
    assert ids.shape == (1, 1 + 32)  # decoder start + max_new_tokens, not the library's 21
