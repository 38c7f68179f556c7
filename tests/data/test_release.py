"""Release layout: Hub-style Parquet + README configs, offline loading, byte-identical rebuilds, atomic resumable shards."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from datasets import get_dataset_config_names, load_dataset
from huggingface_hub import DatasetCard
from PIL import Image

from dataset_builder import release
from dataset_builder.balancing import PRETRAIN_KEYS

corpus = pytest.importorskip("dataset_builder.corpus")

NUM_TRAIN, NUM_EVAL, ROWS_PER_SHARD = 21, 3, 2


def _config(seed: int = 0):
    return corpus.ScenesConfig(seed=seed, image_size=32)


def _build(out: Path, seed: int = 0, **kwargs):
    return release.build_scenes_release(
        out, _config(seed), num_train=NUM_TRAIN, num_eval=NUM_EVAL, rows_per_shard=ROWS_PER_SHARD, **kwargs
    )


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "scenes"
    _build(out)
    return out


def test_layout_and_configs(built):
    names = get_dataset_config_names(str(built))
    assert set(PRETRAIN_KEYS) | {"pretrain", "caption-fr", "caption-zh"} <= set(names)
    assert any(name.startswith("disambiguation-") for name in names)
    shards = sorted(p.relative_to(built).as_posix() for p in built.glob("data/caption-en/train-*.parquet"))
    assert shards == ["data/caption-en/train-00000-of-00002.parquet", "data/caption-en/train-00001-of-00002.parquet"]
    assert not list(built.rglob("*.tmp")), "no temp file may stay behind"


def test_uncovered_caption_language_has_eval_but_no_train(built):
    caption_fr = load_dataset(str(built), "caption-fr")
    assert "train" not in caption_fr
    assert set(caption_fr) == {"test", "heldout"}
    assert caption_fr["test"].num_rows == NUM_EVAL
    assert set(caption_fr["test"]["language"]) == {"fr"}


def test_rows_have_the_contract_columns_and_embedded_images(built):
    caption_en = load_dataset(str(built), "caption-en", split="train")
    assert caption_en.num_rows == 3  # 21 train rows over 7 covered keys
    row = caption_en[0]
    assert set(row) == set(release.FEATURES)
    assert isinstance(row["image"], Image.Image) and row["image"].size == (32, 32)
    assert row["prompt"].startswith("The target language is English.")
    assert json.loads(row["scene"])  # the scene graph round-trips as JSON
    translation = load_dataset(str(built), "translation-zh", split="train")[0]
    assert (
        translation["task"] == "translate" and translation["source"] and translation["source"] in translation["prompt"]
    )
    disambiguation = next(n for n in get_dataset_config_names(str(built)) if n.startswith("disambiguation-"))
    row = load_dataset(str(built), disambiguation, split="test")[0]
    assert row["target_incorrect"] and row["target_incorrect"] != row["target"]


def test_pretrain_mixture_holds_only_covered_train_keys(built):
    mixture = load_dataset(str(built), "pretrain", split="train")
    assert mixture.num_rows == NUM_TRAIN
    keys = {
        f"{'translation' if t == 'translate' else 'caption'}-{lang}"
        for t, lang in zip(mixture["task"], mixture["language"])
    }
    assert keys == set(PRETRAIN_KEYS)


def test_card_and_summary(built):
    card = DatasetCard.load(built / "README.md")
    assert {c["config_name"] for c in card.data.configs} == set(get_dataset_config_names(str(built)))
    assert "| caption | train+eval | train+eval | eval only |" in card.text
    summary = release.release_summary(built)
    assert summary["configs"]["pretrain"]["train"] == NUM_TRAIN
    assert summary["configs"]["caption-fr"] == {"test": NUM_EVAL, "heldout": NUM_EVAL}
    assert summary["parameters"]["num_train"] == NUM_TRAIN


def test_same_seed_is_byte_identical_other_seed_differs(built, tmp_path):
    _build(tmp_path / "again")
    assert _hashes(tmp_path / "again") == _hashes(built)
    _build(tmp_path / "other", seed=1)
    assert (
        _hashes(tmp_path / "other")["data/caption-en/train-00000-of-00002.parquet"]
        != _hashes(built)["data/caption-en/train-00000-of-00002.parquet"]
    )


def test_interrupted_build_leaves_no_partial_shard_and_resumes_identically(built, tmp_path, monkeypatch):
    out = tmp_path / "interrupted"
    real_make_row = corpus.make_row
    calls = {"n": 0}

    def failing_make_row(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 8:  # after some complete shards, in the middle of another
            raise KeyboardInterrupt("simulated crash")
        return real_make_row(*args, **kwargs)

    monkeypatch.setattr(corpus, "make_row", failing_make_row)
    with pytest.raises(KeyboardInterrupt):
        _build(out)
    monkeypatch.setattr(corpus, "make_row", real_make_row)
    visible = sorted(out.rglob("*.parquet"))
    expected_rows = {
        relative: len(indices)
        for (key, split), count in release.scenes_plan(_config(), NUM_TRAIN, NUM_EVAL).items()
        for relative, indices in release.shard_layout(key, split, count, ROWS_PER_SHARD)
    }
    assert 0 < len(visible) < len(expected_rows)
    for path in visible:  # every visible shard is complete
        assert pq.read_metadata(path).num_rows == expected_rows[path.relative_to(out).as_posix()]
    assert not list(out.rglob("*.tmp"))
    with pytest.raises(ValueError, match="this Florenz release is unfinished"):
        load_dataset(str(out), "caption-en")
    assert any("unfinished" in problem for problem in release.release_problems(out))
    kept = {p: p.stat().st_mtime_ns for p in visible}
    _build(out)
    assert {p: p.stat().st_mtime_ns for p in visible} == kept, "complete shards are not rewritten on resume"
    assert _hashes(out) == _hashes(built)


def test_resume_with_other_parameters_or_into_foreign_folder_is_refused(built, tmp_path):
    with pytest.raises(ValueError, match="different parameters"):
        _build(built, seed=7)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        _build(foreign)


def test_bad_sizes_are_rejected_before_writing(tmp_path):
    with pytest.raises(ValueError, match="num_train"):
        release.build_scenes_release(tmp_path / "x", _config(), num_train=3, num_eval=1)
    with pytest.raises(ValueError, match="rows_per_shard"):
        release.build_scenes_release(tmp_path / "y", _config(), num_train=7, num_eval=1, rows_per_shard=0)
    assert not (tmp_path / "x").exists()
