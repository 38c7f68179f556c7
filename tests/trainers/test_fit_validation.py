"""`florenz fit` refuses impossible run tables up front, naming the column, the CSV line and what is allowed."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_scaling_laws import synthetic_runs, write_csv

from trainers.scaling_laws import validate_runs


def _with(column: str, value, row: int = 3):
    runs = synthetic_runs(n_seeds=2)
    runs[column] = runs[column].astype(object)
    runs.loc[row, column] = value
    return runs


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("ce_translation", -1.5, "column 'ce_translation' has -1.5 on line 5; allowed: finite numbers > 0"),
        ("ce_translation", 0.0, "column 'ce_translation' has 0.0 on line 5"),
        ("ce_seen_caption", math.inf, "column 'ce_seen_caption' has inf on line 5"),
        ("ce_unseen_caption", "abc", "column 'ce_unseen_caption' holds non-numeric values ('abc' on line 5)"),
        (
            "ce_translation",
            1e308,
            "column 'ce_translation' has 1e+308 on line 5; allowed: finite numbers > 0 and ≤ 1000",
        ),
        ("compute", math.inf, "column 'compute' has inf on line 5"),
        ("compute", 1e308, "column 'compute' has 1e+308"),
        ("params", "12 M", "column 'params' holds non-numeric values ('12 M' on line 5)"),
        ("seen_samples", None, "column 'seen_samples' is empty on line 5"),
        ("seed", math.nan, "column 'seed' must hold integers; found nan on line 5"),
        ("seed", 0.5, "column 'seed' must hold integers; found 0.5 on line 5"),
    ],
)
def test_impossible_values_are_refused_naming_column_and_line(column, value, message):
    with pytest.raises(ValueError) as err:
        validate_runs(_with(column, value))
    assert message in str(err.value)
    assert len(str(err.value)) < 300


def test_duplicated_rows_are_refused_not_counted_as_seeds():
    runs = synthetic_runs(n_seeds=2)
    duplicated = pd.concat([runs, runs.iloc[[4]]], ignore_index=True)
    with pytest.raises(ValueError, match=r"repeats a run .* on lines 6, \d+; each run may appear once"):
        validate_runs(duplicated)
    renamed = duplicated.copy()
    renamed.loc[len(renamed) - 1, "run_id"] = "another-id"  # same configuration and seed under another id
    with pytest.raises(ValueError, match="repeats a run"):
        validate_runs(renamed)


def test_missing_ce_means_not_measured_and_a_gap_may_be_negative():
    runs = _with("ce_unseen_caption", math.nan).assign(ce_gap_unseen=-0.01)
    checked = validate_runs(runs)
    assert checked["ce_unseen_caption"].isna().sum() == 1


def test_cli_exits_2_with_one_line_before_fitting(tmp_path, capsys, monkeypatch):
    from florenz_cli import main
    from trainers import scaling_laws

    monkeypatch.setattr(scaling_laws, "fit_runs", lambda *a, **k: pytest.fail("fitted a bad table"))
    path = write_csv(_with("ce_translation", -1.5), tmp_path / "runs.csv")
    assert main(["fit", str(path), "--out", str(tmp_path / "fit")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'ce_translation' has -1.5 on line 5" in err
    assert not (tmp_path / "fit" / "fit.json").exists()
