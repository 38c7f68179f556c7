"""Release integrity: the manifest's per-shard rows and sha256, `florenz data verify`, repair by re-building, the
unfinished-release placeholder card, same-named releases through the plain `load_dataset`, and the card's YAML."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from datasets import load_dataset
from huggingface_hub import DatasetCard
from huggingface_hub.repocard import metadata_load

from dataset_builder import release
from dataset_builder.corpus import ScenesConfig
from florenz_cli import main

SHARD = "data/caption-en/train-00000-of-00002.parquet"


def _build(out: Path, seed: int = 0):
    return release.build_scenes_release(
        out, ScenesConfig(seed=seed, image_size=32), num_train=21, num_eval=2, rows_per_shard=2
    )


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("integrity") / "scenes"
    _build(out)
    return out


def test_manifest_records_every_shard(built):
    manifest = json.loads((built / release.MANIFEST_NAME).read_text())
    assert manifest["complete"] is True
    shards = sorted(p.relative_to(built).as_posix() for p in built.glob("data/*/*.parquet"))
    assert sorted(manifest["shards"]) == shards
    record = manifest["shards"][SHARD]
    assert record["num_rows"] == pq.read_metadata(built / SHARD).num_rows == 2
    assert record["sha256"] == hashlib.sha256((built / SHARD).read_bytes()).hexdigest()
    assert release.release_problems(built) == []


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x01
    path.write_bytes(bytes(data))


def _bad_footer(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-6:-4] = b"\xff\xff"  # footer length
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda p: p.unlink(), f"{SHARD} is missing"),
        (_truncate, f"{SHARD} has "),
        (lambda p: p.write_bytes(b""), f"{SHARD} has 0 bytes"),
        (_flip_bit, f"{SHARD} has another sha256"),
        (_bad_footer, f"{SHARD} has another sha256"),
    ],
    ids=["deleted", "truncated", "zero-byte", "bit-flip", "bad-footer"],
)
def test_damage_is_named_by_verify_info_and_training_and_a_rebuild_repairs_it(built, tmp_path, capsys, damage, problem):
    out = tmp_path / "scenes"
    shutil.copytree(built, out)
    damage(out / SHARD)
    assert any(problem in p for p in release.release_problems(out))
    assert main(["data", "verify", str(out)]) == 1
    assert problem in capsys.readouterr().err
    assert main(["data", "info", str(out)]) == 2
    assert SHARD in capsys.readouterr().err
    with pytest.raises(ValueError, match="incomplete or damaged"):
        release.check_release(out)
    _build(out)  # the same build again re-writes exactly the damaged shard
    assert _hashes(out) == _hashes(built)
    assert main(["data", "verify", str(out)]) == 0
    assert "every shard matches" in capsys.readouterr().out


def test_deleted_shard_is_caught_by_the_plain_load_dataset_too(built, tmp_path):
    out = tmp_path / "scenes"
    shutil.copytree(built, out)
    (out / SHARD).unlink()
    with pytest.raises(Exception, match="num_examples"):  # datasets' NonMatchingSplitsSizesError from the card
        load_dataset(str(out), "caption-en")


def test_stray_parquet_file_is_reported(built, tmp_path):
    out = tmp_path / "scenes"
    shutil.copytree(built, out)
    shutil.copy(out / SHARD, out / "data" / "caption-en" / "train-extra.parquet")
    assert any("train-extra.parquet is not part of the release" in p for p in release.release_problems(out))


def test_unfinished_release_is_never_loadable_as_complete(built, tmp_path, monkeypatch):
    from dataset_builder import corpus

    real = corpus.make_row
    calls = {"n": 0}

    def dies(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 9:
            raise KeyboardInterrupt("kill")
        return real(*args, **kwargs)

    out = tmp_path / "scenes"
    monkeypatch.setattr(corpus, "make_row", dies)
    with pytest.raises(KeyboardInterrupt):
        _build(out)
    monkeypatch.setattr(corpus, "make_row", real)
    for config in ("caption-en", None):
        with pytest.raises(ValueError, match=r"this Florenz release is unfinished \(\d+ of \d+ shards written\)"):
            load_dataset(str(out), config)
    assert main(["data", "verify", str(out)]) == 1
    with pytest.raises(ValueError, match="the release is unfinished"):
        release.check_release(out)
    _build(out)
    assert _hashes(out) == _hashes(built)


def test_same_named_releases_load_their_own_rows_with_the_plain_call(tmp_path):
    """Both loads share one datasets cache (the user's situation): each must return its own release's rows."""
    first, second = tmp_path / "a" / "scenes", tmp_path / "b" / "scenes"
    _build(first, seed=0)
    _build(second, seed=1)
    for folder in (first, second):
        rows = load_dataset(str(folder), "caption-en", split="train")["target"]
        own = [
            t
            for p in sorted(folder.glob("data/caption-en/train-*.parquet"))
            for t in pq.read_table(p)["target"].to_pylist()
        ]
        assert rows == own
    assert (
        load_dataset(str(first), "caption-en", split="train")["target"]
        != load_dataset(str(second), "caption-en", split="train")["target"]
    )
    assert not list(first.rglob(".cache")) and not list(second.rglob("*.lock")), "no cache inside a release"


def test_card_yaml_has_hub_metadata_and_nulls(built):
    metadata = metadata_load(built / "README.md")
    card = DatasetCard.load(built / "README.md").data
    assert metadata["size_categories"] == ["n<1K"] and card.size_categories == ["n<1K"]
    assert metadata["multilinguality"] == "multilingual"
    assert metadata["source_datasets"] == ["original"]
    infos = {info["config_name"]: info for info in metadata["dataset_info"]}
    assert set(infos) == {c["config_name"] for c in metadata["configs"]}
    assert {f["name"] for f in infos["caption-en"]["features"]} == set(release.FEATURES)
    assert {s["name"]: s["num_examples"] for s in infos["caption-en"]["splits"]} == {
        "train": 3,
        "test": 2,
        "heldout": 2,
    }
    assert sum(s["num_examples"] for s in infos["pretrain"]["splits"] if s["name"] == "train") == 21
    caption = load_dataset(str(built), "caption-en", split="train")[0]
    assert caption["source"] is None and caption["target_incorrect"] is None and caption["scene"]
    translation = load_dataset(str(built), "translation-de", split="train")[0]
    assert translation["source"] and translation["target_incorrect"] is None


def test_kill_9_during_a_build_leaves_an_unfinished_release_that_the_same_build_completes(built, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "scenes"
    script = (
        "from pathlib import Path; from dataset_builder import release; from dataset_builder.corpus import ScenesConfig; "
        f"release.build_scenes_release(Path({str(out)!r}), ScenesConfig(seed=0, image_size=32), num_train=21, "
        "num_eval=2, rows_per_shard=2, progress=lambda shard: __import__('time').sleep(0.2))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen([sys.executable, "-c", script], env=env)
    deadline = time.monotonic() + 120
    while len(list(out.glob("data/*/*.parquet"))) < 6:
        assert process.poll() is None, "the build ended before the kill"
        assert time.monotonic() < deadline, "the build did not start"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert release.release_problems(out)[0].startswith("the release is unfinished")
    with pytest.raises(ValueError, match="this Florenz release is unfinished"):
        load_dataset(str(out), "caption-en")
    _build(out)
    assert _hashes(out) == _hashes(built)
    assert release.release_problems(out) == []
