"""One sweep point end to end: a runs.csv row with every column, skipped on rerun."""

from __future__ import annotations

import pytest
import torch

from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration
from modeling_florenz.processing_florenz import FlorenzProcessor
from trainers.compute import forward_flops_per_sample
from trainers.runs_table import REQUIRED_COLUMNS, read_runs


def test_sweep_point_writes_row_and_is_skipped_on_rerun(tmp_path):
    from trainers.sweep import run_sweep

    torch.manual_seed(0)
    table = run_sweep(tmp_path, ["scenes-xs"], [32], seeds=[0], batch_size=16, num_eval=4, generation_rows=2,
                      overrides={"learning_rate": 2e-3})  # fmt: skip
    rows = read_runs(table, as_text=True).to_dict("records")
    assert len(rows) == 1
    row = rows[0]
    for column in (
        *REQUIRED_COLUMNS,
        "ce_caption-fr",
        "ce_gap_seen",
        "ce_gap_unseen",
        "bleu_unseen_prefix",
        "acc_disambiguation",
    ):
        assert row[column] != "", column
    assert float(row["compute"]) == pytest.approx(
        32 * float(row["flops_per_sample"]) * (1 + float(row["trainable_params"]) / float(row["params"]))
    )
    assert row["decoder_init"] == "scratch" and row["decoder_kind"] == "bart"
    assert float(row["learning_rate"]) == 2e-3  # overrides replace the per-size rule's settings
    assert (tmp_path / "runs" / row["run_id"] / "final" / "model.safetensors").exists()
    final = tmp_path / "runs" / row["run_id"] / "final" / "model.safetensors"
    # FLOPs are counted at the image size the model saw (the processor's), the default corpus's 96 px
    trained = FlorenzForConditionalGeneration.from_pretrained(final.parent)
    assert FlorenzProcessor.from_pretrained(final.parent).image_size == 96
    assert float(row["flops_per_sample"]) == forward_flops_per_sample(trained, 64, 64, 96)
    written, table_before = final.stat().st_mtime_ns, table.read_text()
    run_sweep(tmp_path, ["scenes-xs"], [32], seeds=[0], batch_size=16, num_eval=4, generation_rows=2)
    assert final.stat().st_mtime_ns == written  # nothing retrained
    assert table.read_text() == table_before
