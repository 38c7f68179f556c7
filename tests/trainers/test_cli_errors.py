"""Bad `florenz train`/`sweep`/`fit` arguments and folders give one-line errors naming the argument, before any work."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

import florenz_cli


def _train(tmp_path: Path, *extra: str) -> list[str]:
    return ["train", "--output_dir", str(tmp_path / "out"), "--model", "tiny-bart", "--seen_samples", "32",
            "--per_device_train_batch_size", "16", "--use_cpu", "true", *extra]  # fmt: skip


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, f"not one line: {err!r}"
    assert "Traceback" not in err and len(err) <= 330
    return err


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--per_device_train_batch_size", "--per_device_train_batch_size must be a positive integer, got 0"),
        ("--gradient_accumulation_steps", "--gradient_accumulation_steps must be a positive integer, got 0"),
    ],
)
def test_zero_batch_or_accumulation_is_named(tmp_path, capsys, flag, message):
    argv = _train(tmp_path)
    if flag in argv:
        argv[argv.index(flag) + 1] = "0"
    else:
        argv += [flag, "0"]
    assert florenz_cli.main(argv) == 2
    assert message in _error(capsys)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model: [tiny-bart\nseen_samples: 32\n", "is not valid YAML (line 2)"),
        ("- model: tiny-bart\n", "is a list; it must be a mapping of training fields"),
        ("", "is empty; it must be a mapping of training fields"),
        ("output_dir: x\nnot_a_field: 3\n", "not_a_field"),
    ],
)
def test_bad_yaml_config_is_named(tmp_path, capsys, text, message):
    config = tmp_path / "train.yaml"
    config.write_text(text)
    assert florenz_cli.main(["train", "--config", str(config)]) == 2
    assert message in _error(capsys)


def test_unwritable_output_folders_are_named(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert florenz_cli.main(["train", "--output_dir", str(blocker / "out"), "--model", "tiny-bart",
                             "--seen_samples", "32", "--per_device_train_batch_size", "16"]) == 2  # fmt: skip
    assert "--output_dir" in (err := _error(capsys)) and "is not writable" in err

    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    assert florenz_cli.main(["fit", str(blocker), "--out", str(tmp_path / "fit")]) == 2
    assert "--out" in (err := _error(capsys)) and "Read-only file system" in err
    assert florenz_cli.main(["sweep", "--out", str(tmp_path / "s"), "--presets", "scenes-xs", "--samples", "32"]) == 2
    assert "--out" in _error(capsys)


def test_model_and_dataset_folders_of_the_wrong_kind_are_named(tmp_path, capsys):
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    assert florenz_cli.main(_train(tmp_path) + ["--model", str(not_a_model)]) == 2
    assert "--model" in (err := _error(capsys)) and "is not a model folder: config.json is missing" in err

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps({"model_type": "florenz"}))
    assert florenz_cli.main(_train(tmp_path, "--dataset", str(model_dir))) == 2
    assert "--dataset" in (err := _error(capsys)) and "is a model folder" in err


def test_missing_dataset_is_refused_before_vision_pretraining(tmp_path, capsys):
    argv = _train(tmp_path, "--dataset", str(tmp_path / "nonexistent"), "--vision_pretraining_steps", "5")
    argv[argv.index("tiny-bart")] = "scenes-xs"
    assert florenz_cli.main(argv) == 2
    assert "--dataset" in (err := _error(capsys)) and "nonexistent" in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == [], "nothing may be written before the check"


def test_damaged_release_is_refused_naming_the_shard(tmp_path, capsys):
    from dataset_builder.corpus import ScenesConfig
    from dataset_builder.release import build_scenes_release

    release = tmp_path / "scenes"
    build_scenes_release(release, ScenesConfig(image_size=32), num_train=14, num_eval=0, rows_per_shard=10)
    shard = release / "data" / "caption-en" / "train-00000-of-00001.parquet"
    shard.unlink()
    assert florenz_cli.main(_train(tmp_path, "--dataset", str(release))) == 2
    err = _error(capsys)
    assert "data/caption-en/train-00000-of-00001.parquet is missing" in err and "florenz data build" in err


def test_lone_surrogate_names_the_argument(tmp_path, capsys):
    assert florenz_cli.main(["train", "--output_dir", "out\udcff", "--model", "tiny-bart"]) == 2
    assert "the value of --output_dir holds invalid Unicode (byte 0xff at character 3)" in _error(capsys)


def test_long_user_text_is_cut_in_errors(tmp_path, capsys):
    assert florenz_cli.main(_train(tmp_path, "--dataset", "x" * 100_000)) == 2
    err = _error(capsys)
    assert "100000 characters" in err


def test_reading_a_release_for_training_writes_nothing_into_it(tmp_path):
    """A release may be read-only: training's data loading keeps every cache outside it."""
    from dataset_builder.corpus import ScenesConfig
    from dataset_builder.release import build_scenes_release
    from trainers.config import FlorenzPretrainConfig
    from trainers.data import release_eval_sets
    from trainers.run import scenes_corpus_config, training_stream

    release = tmp_path / "scenes"
    build_scenes_release(release, ScenesConfig(image_size=32), num_train=14, num_eval=2, rows_per_shard=10)
    before = sorted(p.relative_to(release).as_posix() for p in release.rglob("*"))
    args = FlorenzPretrainConfig(
        output_dir=str(tmp_path / "out"), dataset=str(release), seen_samples=32, per_device_train_batch_size=16,
        image_size=32, use_cpu=True,
    )  # fmt: skip
    stream = training_stream(args, scenes_corpus_config(args))
    assert len(stream) == 32 and stream[0]["image"].size == (32, 32)
    assert release_eval_sets(str(release), 2)["caption-fr"]
    assert sorted(p.relative_to(release).as_posix() for p in release.rglob("*")) == before
