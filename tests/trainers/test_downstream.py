"""`florenz evaluate` and `florenz finetune` on tiny official-layout fixtures with a tiny random model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from model_tools.checkpoint_init import init_checkpoint
from tests.data.benchmark_fixtures import write_all
from trainers import benchmark_eval
from trainers.benchmark_eval import evaluate_benchmarks
from trainers.config import FlorenzSFTConfig
from trainers.finetune import finetune, finetune_sources

FAST = {"num_beams": 1, "max_new_tokens": 6, "batch_size": 4}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("downstream")
    root = write_all(base / "data")
    model = init_checkpoint("tiny-bart", base / "model", image_size=32)
    return root, model


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_evaluate_all_writes_table_signatures_and_resumes(setup, tmp_path, monkeypatch):
    root, model = setup
    out = tmp_path / "eval"
    first = evaluate_benchmarks(model, root, out, **FAST)
    results = first["results"]
    by_key = {(r["benchmark"], r["kind"], r["split"], r["language"], r["prefix"], r["metric"]): r for r in results}
    bleu = by_key[("multi30k", "translation", "test_2016_flickr", "de", False, "bleu")]
    assert bleu["n"] == 4 and bleu["signature"].startswith("BLEU|nrefs:1|case:mixed|eff:no|tok:13a|")
    assert by_key[("multi30k", "translation", "test_2017_mscoco", "fr", False, "chrf")]["signature"].startswith(
        "chrF2|"
    )
    assert by_key[("multi30k", "caption", "test_2016", "en", False, "bleu")]["signature"].startswith("BLEU|nrefs:5|")
    assert "tok:zh" in by_key[("xm3600", "caption", "test", "zh", False, "bleu")]["signature"]
    assert "tok:jieba" in by_key[("xm3600", "caption", "test", "zh", True, "cider")]["signature"]
    accuracy = by_key[("commute", "ambiguity", "test", "fr", False, "accuracy")]
    assert accuracy["n"] == 10 and accuracy["ci_low"] <= accuracy["value"] <= accuracy["ci_high"]
    assert ("commute", "ambiguity", "test", "fr", False, "accuracy_shuffled") in by_key
    assert by_key[("coco-karpathy", "caption", "test", "en", False, "cider")]["n"] == 2
    table = (out / "results.md").read_text(encoding="utf-8")
    for heading in ("## Multi30K translation", "## CoMMuTE", "## Captioning", "## XM3600 CIDEr-D"):
        assert heading in table
    assert "| with language prefix |" in table and "COMET not computed" in table

    predictions = _lines(out / "predictions.jsonl")
    generated = [p for p in predictions if "prediction" in p]
    assert len(generated) == sum(r["n"] for r in results if r["metric"] == "bleu")
    assert len(predictions) - len(generated) == 10  # one perplexity record per CoMMuTE line

    # Kill simulation: drop the last 10 records and leave a torn line; the re-run generates only the missing ones.
    lines = (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (out / "predictions.jsonl").write_text("".join(lines[:-10]) + '{"task": "multi', encoding="utf-8")
    calls = []
    original = benchmark_eval.BenchmarkRunner.generate
    monkeypatch.setattr(
        benchmark_eval.BenchmarkRunner,
        "generate",
        lambda self, rows, prefix: calls.append(len(rows["id"])) or original(self, rows, prefix),
    )
    second = evaluate_benchmarks(model, root, out, **FAST)
    missing_generated = sum(1 for p in predictions[-10:] if "prediction" in p)
    assert sum(calls) == missing_generated
    assert [r["value"] for r in second["results"]] == [r["value"] for r in results]
    assert len(_lines(out / "predictions.jsonl")) == len(predictions)
    with pytest.raises(ValueError, match="other settings"):
        evaluate_benchmarks(model, root, out, **{**FAST, "num_beams": 2})


def test_evaluate_limit_guards_cider_and_rejects_bad_input(setup, tmp_path):
    root, model = setup
    payload = evaluate_benchmarks(model, root, tmp_path / "e", benchmarks=["xm3600"], languages=["en"], limit=1, **FAST)
    cider = [r for r in payload["results"] if r["metric"] == "cider"]
    assert cider and all(r["value"] is None and "at least 2 images" in r["note"] for r in cider)
    with pytest.raises(ValueError, match="unknown benchmark"):
        evaluate_benchmarks(model, root, tmp_path / "x", benchmarks=["flickr8k"], **FAST)
    with pytest.raises(ValueError, match="requested but .* lacks it"):
        evaluate_benchmarks(
            model, tmp_path, tmp_path / "y", benchmarks=["multi30k"], splits=["test_2018_flickr"], **FAST
        )


def test_evaluate_reads_a_parquet_copy_instead_of_files(setup, tmp_path):
    from dataset_builder.benchmarks import commute

    root, model = setup
    folder = tmp_path / "copy" / "data"
    folder.mkdir(parents=True)
    commute.load_commute(root, "fr").to_parquet(str(folder / "test-00000-of-00001.parquet"))
    payload = evaluate_benchmarks(
        model,
        tmp_path / "empty",
        tmp_path / "e",
        benchmarks=["commute"],
        copies={"commute": str(tmp_path / "copy")},
        **FAST,
    )
    from_files = evaluate_benchmarks(model, root, tmp_path / "f", benchmarks=["commute"], **FAST)
    assert [(r["metric"], r["n"], r["value"]) for r in payload["results"]] == [
        (r["metric"], r["n"], r["value"]) for r in from_files["results"]
    ]


def test_finetune_sources_exclude_mscoco_test_images(setup, tmp_path):
    root, _ = setup
    karpathy = json.loads((root / "coco" / "annotations" / "coco_karpathy.json").read_text())
    leaked = "COCO_train2014_000000000011.jpg"
    assert any(i["filename"] == leaked and i["split"] == "train" for i in karpathy["images"])  # the trap is set
    user = tmp_path / "user.jsonl"
    shutil.copy(root / "coco" / "train2014" / leaked, tmp_path / leaked)
    shutil.copy(root / "xm3600" / "images" / f"{0:016x}.jpg", tmp_path / "own.jpg")
    rows = [
        {"image": "own.jpg", "language": "fr", "target": "Un cercle rouge."},
        {"image": "own.jpg", "language": "es", "source": "A red circle.", "target": "Un círculo rojo."},
        {"image": leaked, "language": "zh", "target": "泄漏的测试图像。"},
    ]
    user.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    sources, notes = finetune_sources(root, [user])
    assert "excluded 2 COCO images" in notes[0]
    paths = [
        p
        for rows in sources.values()
        for p in rows.cast_column("image", rows.features["image"].__class__(decode=False))["image"]
    ]
    names = {Path(p["path"]).name for p in paths}
    assert leaked not in names
    assert len(sources["caption-en"]) == 4 * 5 + 2 + 1  # task2 train 4×5, Karpathy train 2 sentences, restval 1
    assert (
        len(sources["translation-de"]) == 4 and len(sources["caption-fr"]) == 1 and len(sources["translation-es"]) == 1
    )
    assert "caption-zh" not in sources  # its only row was the leaked test image
    user.write_text(json.dumps({"image": "own.jpg", "language": "it", "target": "Un cerchio."}) + "\n")
    with pytest.raises(ValueError, match=r"user\.jsonl row 1: language 'it' not allowed"):
        finetune_sources(None, [user])


# Steps (batches of 8, peak lr 1e-2) that let the random 2-layer, 32-wide tiny-bart memorise the 4+4 fixture
# translations (loss ~0.04, chrF ~89; at 80 steps it still mixes up de and fr). At the former 40 steps of the full
# generalist mix (a quarter of it en→de) the loss stays at the unigram level (~4.2 nats) and greedy decoding repeats
# one frequent token, so the chrF "gain" there was the luck of the random init.
FT_STEPS = 100


def _config(out: Path, model: Path) -> FlorenzSFTConfig:
    return FlorenzSFTConfig(
        output_dir=str(out),
        model=str(model),
        image_size=32,
        seen_samples=FT_STEPS * 8,
        per_device_train_batch_size=8,
        learning_rate=1e-2,
        warmup_steps=5,
        save_steps=FT_STEPS // 4,
        logging_steps=FT_STEPS // 4,
        use_cpu=True,
        max_encoder_length=48,
        max_decoder_length=32,
    )


def _translation_root(root: Path, out: Path) -> Path:
    """A data root with Multi30K task 1 only: the whole fine-tune mix (en→de, en→fr) is the task evaluated after it."""
    shutil.copytree(root / "multi30k", out / "multi30k", ignore=shutil.ignore_patterns("task2"))
    return out


def _chrf(out: Path) -> float:
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))["results"]
    (value,) = [r["value"] for r in results if r["metric"] == "chrf"]
    return value


def test_finetune_resumes_and_improves_the_fixture_task(setup, tmp_path):
    fixtures, model = setup
    root = _translation_root(fixtures, tmp_path / "data")
    evaluation = {"benchmarks": ["multi30k"], "splits": ["test_2016_flickr"], "languages": ["de"], **FAST}
    evaluation["max_new_tokens"] = 16
    evaluate_benchmarks(model, root, tmp_path / "before", **evaluation)
    config = _config(tmp_path / "ft", model)
    flags = [f"--{name}={getattr(config, name)}" for name in ("output_dir", "model", "image_size", "seen_samples")]
    flags += [f"--{name}={getattr(config, name)}" for name in ("per_device_train_batch_size", "learning_rate")]
    flags += [f"--{name}={getattr(config, name)}" for name in ("warmup_steps", "save_steps", "logging_steps")]
    flags += ["--use_cpu=true", "--max_encoder_length=48", "--max_decoder_length=32"]
    from florenz_cli import main

    assert main(["finetune", "--data-root", str(root), *flags]) == 0  # the CLI path of the same config
    final = tmp_path / "ft" / "final"
    from model_tools.model_card import card_metadata

    card = card_metadata(final)  # the fine-tuned folder carries its card
    assert card["training"]["seen_samples"] == FT_STEPS * 8 and card["translation_languages"] == ["de", "fr"]
    evaluate_benchmarks(final, root, tmp_path / "after", **evaluation)
    before, after = _chrf(tmp_path / "before"), _chrf(tmp_path / "after")
    assert after > before + 30, (before, after)  # learnt translations, not one lucky frequent word (~9 chrF)
    predictions = [p["prediction"] for p in _lines(tmp_path / "after" / "predictions.jsonl")]
    assert len(set(predictions)) > 1, predictions  # the output depends on the source sentence

    # Interrupted run: drop the last checkpoint, run again → it resumes from the one before and ends with the same
    # weights (save_total_limit=2 keeps the checkpoints at 3/4 and 4/4 of the run).
    kept_step, full = FT_STEPS * 3 // 4, FT_STEPS
    uninterrupted = load_file(str(final / "model.safetensors"))
    shutil.rmtree(final)
    shutil.rmtree(tmp_path / "ft" / f"checkpoint-{full}")
    kept = tmp_path / "ft" / f"checkpoint-{kept_step}" / "model.safetensors"
    mtime = kept.stat().st_mtime_ns
    resumed = finetune(_config(tmp_path / "ft", model), root)
    assert kept.stat().st_mtime_ns == mtime  # a run from scratch would have rewritten it
    state = json.loads((tmp_path / "ft" / f"checkpoint-{full}" / "trainer_state.json").read_text())
    assert state["global_step"] == full
    weights = load_file(str(resumed / "model.safetensors"))
    assert weights.keys() == uninterrupted.keys()
    assert all(torch.allclose(weights[k], uninterrupted[k], atol=1e-5) for k in weights)


def test_cli_evaluate_and_clear_errors(setup, tmp_path, capsys):
    from florenz_cli import main

    root, model = setup
    out = tmp_path / "cli"
    args = ["evaluate", "--model", str(model), "--data-root", str(root), "--out", str(out), "--benchmark", "commute"]
    assert main([*args, "--num-beams", "1", "--max-new-tokens", "4", "--limit", "4"]) == 0
    results = json.loads((out / "results.json").read_text())["results"]
    assert {r["metric"] for r in results} == {"bleu", "chrf", "accuracy", "accuracy_shuffled"}
    assert all(r["n"] == 4 for r in results)
    capsys.readouterr()
    bad = ["evaluate", "--model", str(model), "--data-root", str(tmp_path), "--out", str(out), "--benchmark", "xm3600"]
    assert main(bad) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("florenz evaluate: error: XM3600 requested but")
    assert main(["data", "export-benchmarks", "--release", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "is not a Florenz release folder" in capsys.readouterr().err
