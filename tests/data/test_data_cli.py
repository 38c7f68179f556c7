"""`florenz data …`: a build and an info round trip, and clean errors (exit 2) before any work on bad arguments."""

from __future__ import annotations

import pytest

from florenz_cli import main

pytest.importorskip("dataset_builder.corpus")


def _fail_if_called(*args, **kwargs):
    raise AssertionError("no generation work may start for bad arguments")


def test_build_scenes_then_info(tmp_path, capsys):
    out = tmp_path / "release"
    code = main(
        [
            "data",
            "build",
            "scenes",
            "--out",
            str(out),
            "--num-train",
            "12",
            "--num-eval",
            "1",
            "--seed",
            "3",
            "--image-size",
            "32",
            "--caption-langs",
            "en",
            "--translation-langs",
            "fr,zh",
            "--alignment-noise",
            "0.1",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in (out / "data").iterdir() if p.name.startswith(("caption", "translation"))) == [
        f"caption-{lang}" for lang in ("de", "en", "es", "fr", "ru", "zh")
    ] + [f"translation-{lang}" for lang in ("de", "es", "fr", "ru", "zh")]
    assert sorted(p.name for p in out.glob("data/*/train-*.parquet")) == ["train-00000-of-00001.parquet"] * 3
    capsys.readouterr()
    assert main(["data", "info", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pretrain" in printed and "train=12" in printed
    assert "| caption | train+eval | eval only |" in printed  # en covered, de not
    assert "| translation | — | eval only | train+eval |" in printed  # no En→En; de eval only; fr covered
    # Overlap of eval captions with training targets, per language (fr: translation-only, 2 eval captions).
    assert "exact-sentence overlap" in printed and "| fr | unseen | 2 | 4 | 0 (0.000) |" in printed
    assert "## Caption overlap with training targets" in (out / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--caption-langs", "en", "xx"], "allowed"),
        (["--translation-langs", "en"], "allowed"),
        (["--caption-langs", ""], "empty"),
        (["--num-train", "3"], "num_train"),
    ],
)
def test_bad_scenes_arguments_fail_before_work(tmp_path, capsys, monkeypatch, extra, message):
    from dataset_builder import corpus

    monkeypatch.setattr(corpus, "make_row", _fail_if_called)
    argv = ["data", "build", "scenes", "--out", str(tmp_path / "out"), "--num-train", "14", "--image-size", "32"]
    assert main(argv + extra) == 2
    err = capsys.readouterr().err
    assert "error" in err and message in err
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder_fails_before_work(tmp_path, capsys, monkeypatch):
    from dataset_builder import corpus

    monkeypatch.setattr(corpus, "make_row", _fail_if_called)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    argv = ["data", "build", "scenes", "--out", str(blocker / "release"), "--num-train", "14", "--image-size", "32"]
    assert main(argv) == 2
    assert "not writable" in capsys.readouterr().err


def test_bad_aligned_arguments_fail_before_loading_models(tmp_path, capsys, monkeypatch):
    from dataset_builder import aligned

    monkeypatch.setattr(aligned.SentenceEmbedder, "from_pretrained", _fail_if_called)
    tsv = tmp_path / "en-fr.tsv"
    tsv.write_text("a\tb\n")
    base = ["data", "build", "aligned", "--out", str(tmp_path / "out"), "--captions", str(tmp_path)]
    cases = [
        (["--parallel", f"xx={tsv}", "--caption-translation-language", ""], "unknown target language"),
        (["--parallel", f"fr={tmp_path / 'missing.tsv'}", "--caption-translation-language", ""], "not found"),
        (["--parallel", f"fr={tsv}"], "--mt-model is required"),
        (["--parallel", f"fr={tsv}", "--caption-translation-language", "", "--retriever", "image"], "needs --embedder"),
    ]
    for extra, message in cases:
        assert main(base + extra) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_info_on_a_folder_that_is_not_a_release(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path)]) == 2
    assert "not a finished release" in capsys.readouterr().err
