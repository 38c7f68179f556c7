"""Saved model folders: incomplete weights are refused at load time; `florenz model verify` detects damaged files."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from florenz_cli import main
from modeling_florenz.configuration_florenz import FlorenzConfig
from modeling_florenz.modeling_florenz import CHECKSUMS_FILE, FlorenzForConditionalGeneration, verify_checksums


@pytest.fixture(scope="module", params=["tiny-bart", "tiny-gemma3"])
def saved(request, tmp_path_factory):
    torch.manual_seed(0)
    model = FlorenzForConditionalGeneration(FlorenzConfig.from_preset(request.param, image_size=64))
    folder = tmp_path_factory.mktemp(request.param)
    model.save_pretrained(folder)
    return folder, model


def copy_folder(source, target):
    target.mkdir()
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


def test_good_folder_loads_with_tied_head_and_verifies(saved, capsys):
    folder, model = saved
    weights = load_file(folder / "model.safetensors")
    assert "lm_head.weight" not in weights  # tied: transformers does not store it, and that is not an error
    loaded = FlorenzForConditionalGeneration.from_pretrained(folder)
    assert loaded.lm_head.weight is loaded.get_input_embeddings().weight
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor, msg=name)
    assert verify_checksums(folder) == ([], [])
    assert main(["model", "verify", str(folder)]) == 0
    assert "all recorded files match" in capsys.readouterr().out
    recorded = json.loads((folder / CHECKSUMS_FILE).read_text())["files"]
    assert {"config.json", "model.safetensors"} <= set(recorded)


def test_missing_tensor_is_an_error(saved, tmp_path):
    folder = copy_folder(saved[0], tmp_path / "missing")
    weights = load_file(folder / "model.safetensors")
    dropped = next(key for key in weights if "encoder.layers.0" in key)
    del weights[dropped]
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"1 missing keys .*" + dropped.replace(".", r"\.")):
        FlorenzForConditionalGeneration.from_pretrained(folder)


def test_unexpected_tensor_is_an_error(saved, tmp_path):
    folder = copy_folder(saved[0], tmp_path / "unexpected")
    weights = load_file(folder / "model.safetensors")
    weights["model.decoder.extra_gate"] = torch.zeros(1)
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"1 unexpected keys .*extra_gate"):
        FlorenzForConditionalGeneration.from_pretrained(folder)


def test_verify_reports_flipped_truncated_and_missing_files(saved, tmp_path, capsys):
    folder = copy_folder(saved[0], tmp_path / "damaged")
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-10] ^= 0xFF  # one flipped byte inside a tensor: loads silently, but the hash differs
    (folder / "model.safetensors").write_bytes(bytes(data))
    (folder / "generation_config.json").unlink()
    config = (folder / "config.json").read_bytes()
    (folder / "config.json").write_bytes(config[:-5])
    (folder / "notes.txt").write_text("added later")
    problems, unlisted = verify_checksums(folder)
    assert problems == [
        f"config.json: {len(config) - 5} bytes, expected {len(config)}",
        "generation_config.json: missing",
        "model.safetensors: sha256 differs from the one recorded at save time",
    ]
    assert unlisted == ["notes.txt"]
    assert main(["model", "verify", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "3 file(s) fail" in out and "damaged: model.safetensors" in out


def test_verify_without_manifest_is_a_clear_error(tmp_path, capsys):
    assert main(["model", "verify", str(tmp_path)]) != 0
    assert CHECKSUMS_FILE in capsys.readouterr().err
