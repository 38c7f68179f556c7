"""The `florenz` command line: model info/init, experiment smoke run."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
PAPER_TOTALS = {"florenz-0.4b": 0.429e9, "florenz-1.0b": 1.040e9, "florenz-3.5b": 3.485e9, "florenz-11.2b": 11.222e9}


def florenz(*args: str, cwd: Path = REPO, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "florenz_cli", *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("preset", sorted(PAPER_TOTALS))
def test_model_info_matches_paper_sizes(preset):
    result = florenz("model", "info", preset, "--json")
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    assert abs(counts["total_params"] - PAPER_TOTALS[preset]) / PAPER_TOTALS[preset] < 0.005
    assert 0 < counts["trainable_params"] < counts["total_params"]


def test_model_info_unknown_preset_is_a_clear_error():
    result = florenz("model", "info", "florenz-2b", "--json")
    assert result.returncode == 2
    assert "florenz-2b" in result.stderr and "allowed" in result.stderr


def test_model_init_writes_a_folder_a_fresh_process_loads(tmp_path):
    out = tmp_path / "tiny"
    result = florenz("model", "init", "tiny-gemma2", "--out", str(out), "--image-size", "64")
    assert result.returncode == 0, result.stderr
    assert (out / "model.safetensors").exists() and (out / "encoder_tokenizer").is_dir()
    assert not list(out.glob("*.bin"))
    script = (
        "import sys, torch\n"
        "from PIL import Image\n"
        "from transformers import AutoModelForImageTextToText, AutoProcessor\n"
        "model = AutoModelForImageTextToText.from_pretrained(sys.argv[1], trust_remote_code=True)\n"
        "processor = AutoProcessor.from_pretrained(sys.argv[1], trust_remote_code=True)\n"
        "inputs = processor(images=Image.new('RGB', (40, 30), 'red'), task='caption', language='fr', prefix=True)\n"
        "ids = model.generate(**inputs, max_new_tokens=4, num_beams=2)\n"
        "print(ids.shape[0], type(processor.batch_decode(ids)[0]).__name__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"HF_HUB_OFFLINE": "1"}
    loaded = subprocess.run(
        [sys.executable, "-c", script, str(out)],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == ["1", "str"]
    again = florenz("model", "init", "tiny-gemma2", "--out", str(out))
    assert again.returncode == 2 and "not empty" in again.stderr


def test_experiment_smoke_writes_runs_fit_and_report(tmp_path):
    result = florenz("experiment", "--preset", "smoke", "--out", str(tmp_path), timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = (tmp_path / "runs.csv").read_text().splitlines()
    assert len(runs) == 1 + 16  # header + 2 sizes × 2 budgets × 2 seeds × 2 T levels
    table = pd.read_csv(tmp_path / "runs.csv")
    _assert_grid_at_swept_rates(tmp_path, table)
    assert set(table.tokenizer) == {"scenes"} and set(table.experiment) == {"grid"}
    assert set(table.lm_languages) == {0, 6} and set(table.initial_multilinguality) == {0.0, 1.0}
    assert ((table.lm_pretraining_compute > 0) == (table.lm_languages > 0)).all()
    assert (table.vision_pretraining_compute > 0).all()
    total = table.compute + table.vision_pretraining_compute + table.lm_pretraining_compute
    assert np.allclose(table.compute_all, total, rtol=1e-12)
    assert table["ce_gap_unseen"].notna().all()  # CE and gaps at every budget, the rest at the largest only
    largest = table.seen_samples == table.seen_samples.max()
    for column in ("bleu_translation-fr", "ce_heldout_unseen_caption", "acc_shuffled_disambiguation-fr"):
        assert table.loc[largest, column].notna().all() and table.loc[~largest, column].isna().all(), column
    fit = json.loads((tmp_path / "fit" / "fit.json").read_text())
    assert {"seen_caption", "unseen_caption", "translation"} <= set(fit)
    report = (tmp_path / "report.md").read_text()
    for section in ("## Runs", "## Fitted laws", "## Emergence", "## Scenes-CoMMuTE", "## Shapes compared"):
        assert section in report
    # The best model's downstream evaluation on the release's exports is in the report, as results.json holds it.
    downstream = json.loads((tmp_path / "downstream" / "eval" / "results.json").read_text())
    assert {r["benchmark"] for r in downstream["results"]} == {"multi30k", "commute", "xm3600", "coco-karpathy"}
    section = report.split("## Downstream", 1)[1].split("\n## ", 1)[0]
    assert "### XM3600 CIDEr-D" in section and "### CoMMuTE" in section
    coco = next(r for r in downstream["results"] if r["benchmark"] == "coco-karpathy" and r["metric"] == "cider")
    assert "| COCO Karpathy test en | " in section and f"| {coco['n']} |" in section
    # The best model is exported with a card whose model-index holds its runs.csv numbers, and the outputs release.
    from huggingface_hub import ModelCard

    card = ModelCard.load(tmp_path / "best-model" / "README.md")
    best = next(r for r in csv.DictReader(runs) if r["run_id"] == card.data.to_dict()["florenz"]["training"]["run_id"])
    cards_ce = {r.metric_name: r.metric_value for r in card.data.eval_results if r.metric_type == "cross_entropy"}
    assert sorted(cards_ce.values()) == sorted(float(best[c]) for c in ("ce_seen_caption", "ce_unseen_caption",
                                                                       "ce_translation"))  # fmt: skip
    release = florenz("release", "--model", str(tmp_path / "best-model"), "--dataset", str(tmp_path / "scenes"),
                      "--space", "--out", str(tmp_path / "hub"), "--dry-run")  # fmt: skip
    assert release.returncode == 0, release.stderr[-3000:]
    for repo in (
        "model repo florenz/florenz-",
        "dataset repo florenz/florenz-scenes",
        "space repo florenz/florenz-demo",
    ):
        assert repo in release.stdout
    rerun = florenz("experiment", "--preset", "smoke", "--out", str(tmp_path), timeout=1500)
    assert rerun.returncode == 0
    assert len((tmp_path / "runs.csv").read_text().splitlines()) == 17  # finished runs are not repeated


def test_experiment_unknown_preset():
    result = florenz("experiment", "--preset", "huge", "--out", "/tmp/never-written")
    assert result.returncode == 2 and "quick" in result.stderr
    assert not Path("/tmp/never-written").exists()


def _assert_grid_at_swept_rates(out: Path, table: pd.DataFrame) -> None:
    """The default experiment sweeps the rate per (size, T level), trains the grid at the picked rates and takes the
    sweep's runs at those rates over as the grid points they are: retraining one gives the same numbers."""
    from trainers.experiment import PLANS, _prepare, chosen_learning_rates
    from trainers.sweep import run_sweep

    plan = PLANS["smoke"]
    sweep = pd.read_csv(out / "lr_sweep" / "runs.csv")
    picked = chosen_learning_rates(out)
    assert set(picked) == {(p, k) for p in plan.presets for k in plan.lm_languages}
    for (preset, k), rates in sweep.groupby(["preset", "lm_languages"]).learning_rate:
        # The sweep stops once the best rate is inside the tried range, or at the plan's most rates.
        inside = rates.min() < picked[preset, k] < rates.max()
        assert len(plan.lr_factors) <= rates.nunique() <= plan.lr_max_rates, (preset, k)
        assert inside or rates.nunique() == plan.lr_max_rates, (preset, k)
    for (preset, k), rates in table.groupby(["preset", "lm_languages"]).learning_rate:
        assert rates.tolist() == pytest.approx([picked[preset, k]] * len(rates)), (preset, k)
    adopted = table[table.adopted_from.notna()]
    assert sorted(adopted.run_id) == sorted(f"{p}__S{plan.lr_samples}__seed0" + (f"__lm{k}" if k else "")
                                            for p in plan.presets for k in plan.lm_languages)  # fmt: skip
    assert "picked = the sweep's choice" in (out / "report.md").read_text()
    row = adopted.iloc[0]
    again = out / "retrained"
    _, _, common = _prepare("smoke", out, None)
    run_sweep(again, [row.preset], [plan.lr_samples], (0,), batch_size=plan.batch_size, assets_dir=out,
              lm_languages=(int(row.lm_languages),), lm_pretraining_steps=plan.lm_pretraining_steps,
              preset_learning_rates=picked, generate_at=(), **common)  # fmt: skip
    retrained = pd.read_csv(again / "runs.csv").iloc[0]
    assert (out / "runs" / row.run_id / "final").is_dir()
    for column in ("ce_seen_caption", "ce_unseen_caption", "ce_translation", "ce_gap_unseen"):
        assert retrained[column] == pytest.approx(row[column], rel=1e-6), column


def test_experiment_no_lr_sweep_flag():
    from florenz_cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["experiment", "--out", "x"]).lr_sweep is True
    assert parser.parse_args(["experiment", "--out", "x", "--no-lr-sweep"]).lr_sweep is False
