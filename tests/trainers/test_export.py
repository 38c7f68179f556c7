"""The experiment's best-model export: which run, what is copied, and a card whose numbers are the run's."""

from __future__ import annotations

import csv

import pytest
from huggingface_hub import ModelCard

from model_tools.model_card import RESULT_LABELS, build_model_card, write_model_card
from trainers.export import BEST_MODEL_DIR, export_best_model

COLUMNS = ["run_id", "preset", "params", "seen_samples", "ce_unseen_caption", "ce_gap_unseen", "bleu_unseen_prefix",
           "acc_disambiguation"]  # fmt: skip


def _runs_folder(root, rows):
    """runs.csv plus a final model folder per run (config, weights stand-in, training card)."""
    with (root / "runs.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        final = root / "runs" / row["run_id"] / "final"
        final.mkdir(parents=True)
        (final / "config.json").write_text('{"model_type": "florenz"}')
        (final / "model.safetensors").write_bytes(row["run_id"].encode())
        (final / "training_args.bin").write_bytes(b"pickle")
        card = build_model_card(
            model_id=str(final), summary="trained", preset=row["preset"], caption_languages=["en", "de"],
            translation_languages=["de", "fr", "es", "ru", "zh"], training={"seen_samples": row["seen_samples"]},
        )  # fmt: skip
        write_model_card(final, card)


def _row(run_id, preset, params, ce, gap):
    return {"run_id": run_id, "preset": preset, "params": params, "seen_samples": 32768, "ce_unseen_caption": ce,
            "ce_gap_unseen": gap, "bleu_unseen_prefix": 12.5, "acc_disambiguation": 0.625}  # fmt: skip


def test_exports_the_largest_grounded_run_with_lowest_unseen_ce(tmp_path):
    rows = [
        _row("s__seed0", "scenes-s", 100_000, 3.0, 0.5),
        _row("l__seed0", "scenes-l", 4_000_000, 2.6, 0.8),
        _row("l__seed1", "scenes-l", 4_000_000, 2.4, 0.9),
        _row("xl__seed0", "scenes-xl", 9_000_000, 2.0, 0.01),  # larger and lower CE, but not looking at the image
        _row("nano__seed0", "scenes-nano", 270_000_000, 1.5, ""),
    ]
    _runs_folder(tmp_path, rows)
    folder = export_best_model(tmp_path)
    assert folder == tmp_path / BEST_MODEL_DIR
    assert (folder / "model.safetensors").read_bytes() == b"l__seed1"
    assert not (folder / "training_args.bin").exists()
    card = ModelCard.load(folder / "README.md")
    values = {r.metric_name: r.metric_value for r in card.data.eval_results}
    assert values == {RESULT_LABELS[c][1]: float(rows[2][c]) for c in COLUMNS[4:]}
    assert "run `l__seed1`" in card.text and "shuffled-image CE gap 0.900 > 0.05" in card.text
    info = card.data.to_dict()["florenz"]
    assert info["caption_languages"] == ["en", "de"] and info["training"]["run_id"] == "l__seed1"
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    export_best_model(tmp_path)  # a re-run replaces the folder whole and leaves no staging folders behind
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_without_a_grounded_run_the_card_says_so(tmp_path):
    _runs_folder(tmp_path, [_row("a", "scenes-xs", 1000, 3.1, 0.0), _row("b", "scenes-s", 5000, 2.9, -0.01)])
    card = ModelCard.load(export_best_model(tmp_path) / "README.md")
    assert "run `b`" in card.text and "no run used the image" in card.text


def test_export_errors(tmp_path):
    with pytest.raises(ValueError, match="no run with a finite ce_unseen_caption"):
        export_best_model(tmp_path)
    _runs_folder(tmp_path, [_row("a", "scenes-xs", 1000, 3.1, 0.2)])
    (tmp_path / "runs" / "a" / "final" / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="best run's model folder .* is missing"):
        export_best_model(tmp_path)


def test_training_card_records_coverage_and_budget(tmp_path):
    from trainers.config import FlorenzPretrainConfig
    from trainers.run import training_card

    args = FlorenzPretrainConfig(output_dir=str(tmp_path), model="scenes-xs", seen_samples=64, use_cpu=True)
    info = training_card(args, "scratch", str(tmp_path)).data.to_dict()["florenz"]
    assert info["caption_languages"] == list(args.caption_languages) == ["en", "de"]
    assert info["translation_languages"] == list(args.translation_languages)
    assert info["training"]["seen_samples"] == 64 and info["preset"] == "scenes-xs"
