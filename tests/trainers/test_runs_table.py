"""The runs table: append, replace, validate, atomic rewrite."""

from __future__ import annotations

import pytest

from trainers.runs_table import REQUIRED_COLUMNS, append_run, completed_run_ids, read_runs


def test_runs_table_appends_replaces_and_validates(tmp_path):
    table = tmp_path / "runs.csv"
    row = {column: 1 for column in REQUIRED_COLUMNS} | {"run_id": "a", "ce_caption-fr": 2.5}
    append_run(table, row)
    append_run(table, row | {"run_id": "b", "extra": 7})
    append_run(table, row | {"run_id": "a", "ce_seen_caption": 0.5})
    rows = read_runs(table, as_text=True).to_dict("records")
    assert [r["run_id"] for r in rows] == ["b", "a"]
    assert rows[1]["ce_seen_caption"] == "0.5" and rows[0]["extra"] == "7" and rows[1]["extra"] == ""
    assert completed_run_ids(table) == {"a", "b"}
    with pytest.raises(ValueError, match="lacks required columns"):
        append_run(table, {"run_id": "c"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.csv"]  # no temp file left behind
