"""Save -> load in a fresh process through trust_remote_code (AutoModelForImageTextToText / AutoModelForSeq2SeqLM)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import torch

from modeling_florenz.configuration_florenz import FlorenzConfig
from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration

TINY = ["tiny-bart", "tiny-gemma2", "tiny-gemma3"]
GEN = {"max_new_tokens": 6, "min_new_tokens": 6, "do_sample": False, "num_beams": 2}

LOADER = textwrap.dedent(
    """
    import json, sys, torch
    from transformers import AutoModelForImageTextToText, AutoModelForSeq2SeqLM
    results = {}
    for directory in sys.argv[1:]:
        inputs = torch.load(f"{directory}/inputs.pt")
        model = AutoModelForImageTextToText.from_pretrained(directory, trust_remote_code=True).eval()
        seq2seq = AutoModelForSeq2SeqLM.from_pretrained(directory, trust_remote_code=True).eval()
        with torch.no_grad():
            ids = model.generate(**inputs, **json.loads(open(f"{directory}/gen.json").read()))
        results[directory] = {
            "ids": ids.tolist(),
            "class": type(model).__name__,
            "module": type(model).__module__,
            "seq2seq_class": type(seq2seq).__name__,
            "tied": model.lm_head.weight is model.model.decoder.embed_tokens.weight,
            "same_weights": all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), seq2seq.state_dict().values())),
        }
    print("RESULT" + json.dumps(results))
    """
)


def test_remote_code_round_trip(tmp_path):
    expected = {}
    for preset in TINY:
        torch.manual_seed(0)
        model = FlorenzForConditionalGeneration(FlorenzConfig.from_preset(preset)).eval()
        if model.config.decoder_kind != "bart":
            with torch.no_grad():
                for layer in model.model.decoder.layers:
                    layer.encoder_attn_gate.fill_(1.0)
        inputs = {
            "input_ids": torch.randint(3, 500, (2, 6)),
            "attention_mask": torch.tensor([[1] * 6, [1] * 4 + [0] * 2]),
            "pixel_values": torch.randn(2, 3, 64, 64),
        }
        directory = tmp_path / preset
        model.save_pretrained(directory)
        torch.save(inputs, directory / "inputs.pt")
        (directory / "gen.json").write_text(json.dumps(GEN))
        with torch.no_grad():
            expected[str(directory)] = model.generate(**inputs, **GEN).tolist()

        files = {p.name for p in directory.iterdir()}
        assert {
            "config.json",
            "generation_config.json",
            "model.safetensors",
            "configuration_florenz.py",
            "modeling_florenz.py",
        } <= files
        auto_map = json.loads((directory / "config.json").read_text())["auto_map"]
        assert auto_map == {
            "AutoConfig": "configuration_florenz.FlorenzConfig",
            "AutoModelForImageTextToText": "modeling_florenz.FlorenzForConditionalGeneration",
            "AutoModelForSeq2SeqLM": "modeling_florenz.FlorenzForConditionalGeneration",
            "AutoModel": "modeling_florenz.FlorenzForConditionalGeneration",
        }
        generation = json.loads((directory / "generation_config.json").read_text())
        assert generation["decoder_start_token_id"] == 1 and "max_new_tokens" not in generation

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    proc = subprocess.run(
        [sys.executable, "-c", LOADER, *expected],
        check=False,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(proc.stdout.split("RESULT", 1)[1])
    for directory, ids in expected.items():
        got = results[directory]
        assert got["ids"] == ids
        assert got["class"] == got["seq2seq_class"] == "FlorenzForConditionalGeneration"
        assert got["module"].startswith("transformers_modules.")  # loaded from the saved files, not our package
        assert got["tied"] and got["same_weights"]
