"""save_pretrained → AutoProcessor(trust_remote_code) in a fresh process reproduces the processor's outputs."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import textwrap

import torch
from PIL import Image

INPUTS = """
from PIL import Image
images = [Image.new("RGBA", (40, 30), (200, 10, 10, 128)), Image.new("L", (7, 3), 90)]
calls = {
    "mixed": dict(images=images, task=["caption", "translate"], language=["en", "ru"], text=[None, "A dog."],
                  text_target=["A cat.", "Собака."]),
    "prefix": dict(images=images, task="caption", language=["fr", "zh"], prefix=True),  # last: decode strips it
}
"""


def test_save_and_reload_in_fresh_process(tiny_processor, tmp_path):
    repo = tmp_path / "florenz-processor"
    tiny_processor.save_pretrained(repo)
    assert (repo / "encoder_tokenizer" / "tokenizer.json").is_file()
    assert (repo / "processing_florenz.py").is_file()
    config = json.loads((repo / "processor_config.json").read_text())
    assert config["auto_map"]["AutoProcessor"] == "processing_florenz.FlorenzProcessor"

    inputs_file = tmp_path / "inputs.py"
    inputs_file.write_text(INPUTS)
    namespace = runpy.run_path(str(inputs_file))  # the same inputs in both processes
    expected = {name: dict(tiny_processor(**kwargs)) for name, kwargs in namespace["calls"].items()}
    expected_text = tiny_processor.batch_decode(
        torch.cat([expected["prefix"]["decoder_input_ids"], expected["mixed"]["labels"][:, 1:3]], dim=1)
    )

    script = INPUTS + textwrap.dedent(
        f"""
        import sys, torch
        from transformers import AutoProcessor
        processor = AutoProcessor.from_pretrained({str(repo)!r}, trust_remote_code=True)
        assert type(processor).__module__.startswith("transformers_modules."), type(processor).__module__
        outputs = {{name: dict(processor(**kwargs)) for name, kwargs in calls.items()}}
        prefix = outputs["prefix"]["decoder_input_ids"]
        text = processor.batch_decode(torch.cat([prefix, outputs["mixed"]["labels"][:, 1:3]], dim=1))
        names = [type(processor.tokenizer).__name__, type(processor.encoder_tokenizer).__name__]
        torch.save({{"outputs": outputs, "text": text, "names": names}}, sys.argv[1])
        """
    )
    result_file = tmp_path / "reloaded.pt"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    done = subprocess.run(
        [sys.executable, "-c", script, str(result_file)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    reloaded = torch.load(result_file)
    assert reloaded["names"] == [
        type(tiny_processor.tokenizer).__name__,
        type(tiny_processor.encoder_tokenizer).__name__,
    ]
    for name, tensors in expected.items():
        assert sorted(reloaded["outputs"][name]) == sorted(tensors)
        for key, value in tensors.items():
            assert torch.equal(reloaded["outputs"][name][key], value), (name, key)
    assert reloaded["text"] == expected_text
    assert expected_text[0] and not expected_text[0].startswith("Sur l'image")


def test_from_pretrained_in_process_keeps_both_tokenizers(tiny_processor, tmp_path):
    from modeling_florenz.processing_florenz import FlorenzProcessor

    tiny_processor.save_pretrained(tmp_path)
    reloaded = FlorenzProcessor.from_pretrained(tmp_path)
    assert reloaded.tokenizer.pad_token_id == 0 and reloaded.tokenizer.bos_token_id == 2
    assert reloaded.encoder_tokenizer.pad_token_id == 1 and reloaded.encoder_tokenizer.bos_token_id == 0
    assert reloaded.tokenizer.padding_side == "right"
    image = Image.new("RGB", (9, 9), (1, 2, 3))
    a = tiny_processor(images=image, task="translate", language="de", text="A red circle.")
    b = reloaded(images=image, task="translate", language="de", text="A red circle.")
    for key in a:
        assert torch.equal(a[key], b[key]), key
