"""Scaling-law fits recover known coefficients from noisy synthetic sweeps; fit.json, plots and the `florenz fit` CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trainers.fit_cli import run_fit
from trainers.scaling_laws import (
    REQUIRED_COLUMNS,
    T_DEFINITION,
    chinchilla_law,
    comparable_groups,
    compute_law,
    fit_runs,
    load_runs,
    pareto_frontier,
    significance,
    validate_runs,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Factor-law truth per group: (beta0, beta1 for P, beta2 for S, beta3 for T).
TRUTH = {
    "ce_seen_caption": (30.0, -0.15, -0.10, -0.20),
    "ce_unseen_caption": (20.0, -0.12, -0.04, -0.50),
    "ce_translation": (40.0, -0.10, -0.20, -0.10),
}


def synthetic_runs(
    seed: int = 0, noise: float = 0.02, inits: tuple[str, ...] = ("pretrained", "scratch"), n_seeds: int = 3
) -> pd.DataFrame:
    """A 4 sizes x 4 budgets x inits x seeds sweep whose CEs follow the factor law with multiplicative noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for preset, params in zip(("xs", "s", "m", "l"), (2e5, 5e5, 1.2e6, 3e6)):
        for init in inits:
            for samples in (1e4, 3e4, 1e5, 3e5):
                for run_seed in range(n_seeds):
                    t = 2.0 if init == "pretrained" else 1.0
                    row = {
                        "run_id": f"{preset}-{init}-{samples:g}-{run_seed}",
                        "preset": f"{preset}-{init}",
                        "decoder_kind": "gemma3",
                        "decoder_init": init,
                        "tokenizer": "scenes",
                        "vocab_size": 2048,
                        "seed": run_seed,
                        "params": params,
                        "trainable_params": params,
                        "seen_samples": samples,
                        "flops_per_sample": 6 * params,
                        "compute": samples * 6 * params * 2,
                        "wall_seconds": 1.0,
                    }
                    for column, (b0, b1, b2, b3) in TRUTH.items():
                        row[column] = b0 * params**b1 * samples**b2 * t**b3 * np.exp(rng.normal(0, noise))
                    rows.append(row)
    return pd.DataFrame(rows)


def test_pareto_frontier_keeps_points_better_than_all_cheaper_ones():
    compute = np.array([5.0, 1.0, 3.0, 2.0, 4.0, 5.0])
    ce = np.array([2.5, 5.0, 4.0, 6.0, 4.0, 3.0])
    # By compute: 1→5.0 (first), 2→6.0 (worse), 3→4.0 (better), 4→4.0 (tie: not better), 5→{2.5, 3.0}: only 2.5.
    assert pareto_frontier(compute, ce).tolist() == [True, True, True, False, False, False]


def test_compute_law_recovers_exponent_on_frontier_and_ignores_dominated_runs():
    rng = np.random.default_rng(1)
    alpha0, alpha1 = 30.0, -0.12
    compute = np.geomspace(1e10, 1e14, 30)
    ce = alpha0 * compute**alpha1 * np.exp(rng.normal(0, 0.01, compute.size))
    # Undertrained / too-small runs: same compute, clearly worse CE; they must not enter the fit.
    dominated_c = compute[::3] * 1.01
    dominated_ce = alpha0 * dominated_c**alpha1 * 1.5
    entry, fit = compute_law(np.concatenate([compute, dominated_c]), np.concatenate([ce, dominated_ce]))
    assert fit is not None
    assert entry["n"] <= 30 and entry["n"] >= 15 and entry["n_points"] == 40
    low, high = entry["alpha1_ci"]
    assert low < alpha1 < high and high - low < 0.05
    assert entry["log10_alpha0_ci"][0] < np.log10(alpha0) < entry["log10_alpha0_ci"][1]
    assert entry["alpha1_p"] < 1e-6 and entry["r2"] > 0.95


def test_compute_law_with_too_few_frontier_points_says_so():
    entry, fit = compute_law(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 2.5]))
    assert fit is None and "need at least 3" in entry["note"]


def test_factor_law_recovers_betas_with_cis_from_seed_means():
    fit = fit_runs(validate_runs(synthetic_runs()), n_bootstrap=0)
    for group, column in (("seen_caption", "ce_seen_caption"), ("unseen_caption", "ce_unseen_caption")):
        entry = fit.to_json()[group]["factor_law"]
        b0, b1, b2, b3 = TRUTH[column]
        assert entry["n"] == 32  # 4 sizes x 4 budgets x 2 inits, seeds averaged
        for name, true in (("beta1", b1), ("beta2", b2), ("beta3", b3)):
            low, high = entry[f"{name}_ci"]
            assert low < true < high, (group, name, entry[name], entry[f"{name}_ci"])
            assert entry[name] == pytest.approx(true, abs=0.03)
        assert entry["beta0"] == pytest.approx(b0, rel=0.25)
    spread = fit.to_json()["seen_caption"]["seed_spread"]
    assert spread["n_seeds"] == [3, 3] and 0 < spread["mean_std"] < spread["max_std"]


def test_factor_law_prediction_intervals_are_wider_than_confidence_intervals():
    fit = fit_runs(validate_runs(synthetic_runs()), n_bootstrap=0)
    band = fit.groups["seen_caption"].factor_fit.predict(
        P=np.array([1e6, 1e8]), S=np.array([3e5, 3e5]), T=np.array([2.0, 2.0])
    )
    assert (band["pi_lower"] < band["ci_lower"]).all() and (band["ci_lower"] < band["mean"]).all()
    assert (band["mean"] < band["ci_upper"]).all() and (band["ci_upper"] < band["pi_upper"]).all()
    # Extrapolating two orders of magnitude beyond the largest model widens the band.
    width = band["ci_upper"] / band["ci_lower"]
    assert width[1] > width[0]


def test_constant_t_drops_the_t_term_with_a_note():
    document = fit_runs(validate_runs(synthetic_runs(inits=("pretrained",))), n_bootstrap=0).to_json()
    entry = document["unseen_caption"]["factor_law"]
    assert entry["beta3"] is None and entry["beta3_note"] == "T is constant in these runs"
    assert entry["beta1"] == pytest.approx(TRUTH["ce_unseen_caption"][1], abs=0.03)
    assert document["T_definition"] == T_DEFINITION


def test_chinchilla_fit_recovers_known_parameters_with_bootstrap_cis():
    rng = np.random.default_rng(2)
    params = np.repeat(np.geomspace(1e5, 1e7, 5), 5)
    samples = np.tile(np.geomspace(1e4, 1e6, 5), 5)
    e, a, alpha, b, beta = 0.5, 50.0, 0.30, 80.0, 0.35
    loss = (e + a / params**alpha + b / samples**beta) * np.exp(rng.normal(0, 0.01, params.size))
    entry = chinchilla_law(params, samples, loss, n_bootstrap=40, seed=0)
    assert entry["converged"] and not entry["at_bound"]
    assert entry["alpha"] == pytest.approx(alpha, abs=0.03) and entry["beta"] == pytest.approx(beta, abs=0.03)
    assert entry["E"] == pytest.approx(e, abs=0.1)
    assert entry["A"] == pytest.approx(a, rel=0.3) and entry["B"] == pytest.approx(b, rel=0.3)
    for name, true in (("alpha", alpha), ("beta", beta), ("E", e), ("A", a), ("B", b)):
        low, high = entry[f"{name}_ci"]
        assert low < true < high, (name, entry[f"{name}_ci"])
    assert entry["n_bootstrap"] == 40
    again = chinchilla_law(params, samples, loss, n_bootstrap=40, seed=0)
    assert again["alpha_ci"] == entry["alpha_ci"]  # seeded bootstrap is reproducible


def test_chinchilla_without_bootstrap_reports_missing_cis():
    params = np.repeat(np.geomspace(1e5, 1e7, 3), 3)
    samples = np.tile(np.geomspace(1e4, 1e6, 3), 3)
    entry = chinchilla_law(params, samples, 1.0 + 40 / params**0.3 + 60 / samples**0.3, n_bootstrap=0)
    assert entry["alpha_ci"] is None and "no confidence intervals" in entry["bootstrap_note"]
    assert entry["alpha"] == pytest.approx(0.3, abs=0.02)


def test_chinchilla_with_too_few_configurations_says_so():
    entry = chinchilla_law(np.array([1e5, 1e6, 1e5, 1e6]), np.array([1e4, 1e4, 1e5, 1e5]), np.ones(4))
    assert "needs at least 5" in entry["note"] and "alpha" not in entry


def write_csv(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def test_run_fit_writes_schema_and_plots(tmp_path):
    runs = synthetic_runs(n_seeds=2)
    runs["ce_gap_unseen"] = 0.01 * runs["params"] ** 0.2
    runs["bleu_unseen_prefix"] = np.log10(runs["params"]) * 5
    runs["bleu_unseen_noprefix"] = np.log10(runs["params"]) * 2
    runs["lang_share_unseen_prefix"] = 1.0
    runs["lang_share_unseen_noprefix"] = 0.3
    path = run_fit(write_csv(runs, tmp_path / "runs.csv"), tmp_path / "fit", n_bootstrap=5, seed=3)
    document = json.loads(path.read_text())
    for group in ("seen_caption", "unseen_caption", "translation"):
        entry = document[group]
        assert {"alpha0", "alpha1", "alpha1_ci", "r2", "n"} <= set(entry["compute_law"])
        assert {"beta0", "beta1", "beta2", "beta3", "beta1_ci", "beta2_ci", "beta3_ci", "r2", "n"} <= set(
            entry["factor_law"]
        )
        assert {"E", "A", "alpha", "B", "beta", "alpha_ci", "beta_ci"} <= set(entry["chinchilla"])
        assert len(entry["compute_law"]["alpha1_ci"]) == 2 and entry["chinchilla"]["n_bootstrap"] == 5
        assert "T = 2" in entry["chinchilla"]["subset_note"]
        predictions = entry["factor_law"]["predictions_at_max_S"]
        assert len(predictions) == 8 and {p["S"] for p in predictions} == {3e5}  # 4 sizes x 2 inits
        for p in predictions:
            assert p["pi"][0] < p["ci"][0] < p["mean"] < p["ci"][1] < p["pi"][1]
    assert "grounding_gap_unseen" not in document  # no law on the gap: grounded fractions as a table instead
    fractions = document["meta"]["grounded_fractions"]
    assert len(fractions) == 32 and all(f["n_seeds"] == 2 for f in fractions)  # per (preset, S), inits apart
    assert "T = 1 + m" in document["T_definition"]
    assert document["meta"]["runs_csv"]["name"] == "runs.csv" and len(document["meta"]["runs_csv"]["sha256"]) == 64
    assert str(tmp_path) not in path.read_text()
    for name in ("compute_law", "params_law", "emergence"):
        png = tmp_path / "fit" / f"{name}.png"
        assert document["meta"]["plots"][name] == png.name  # relative to fit.json: no local path is published
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5000


def test_missing_optional_columns_are_skipped_with_notes(tmp_path):
    runs = synthetic_runs(n_seeds=1, inits=("scratch",))
    path = run_fit(write_csv(runs, tmp_path / "runs.csv"), tmp_path / "fit", n_bootstrap=0)
    document = json.loads(path.read_text())
    assert document["meta"]["grounded_fractions"] == []
    assert any("ce_gap_unseen" in note for note in document["meta"]["skipped"])
    assert document["meta"]["plots"]["emergence"].startswith("skipped")
    assert not (tmp_path / "fit" / "emergence.png").exists()
    assert document["seen_caption"]["seed_spread"]["mean_std"] is None  # one seed: no spread, not NaN


def test_grounded_fractions_count_seeds_over_the_line_without_selecting_fits():
    runs = synthetic_runs(n_seeds=2, inits=("scratch",))
    runs["ce_gap_unseen"] = np.where((runs["params"] > 1e6) & (runs["seed"] == 0), 0.3, 0.001)
    runs["ce_gap_seen"] = 0.5
    fit = fit_runs(validate_runs(runs), n_bootstrap=0).to_json()
    fractions = {(f["preset"], f["S"]): f for f in fit["meta"]["grounded_fractions"]}
    assert fractions[("l-scratch", 300000)]["grounded_unseen"] == 1 and fractions[("l-scratch", 300000)]["n_seeds"] == 2
    assert fractions[("xs-scratch", 10000)]["grounded_unseen"] == 0
    assert all(f["grounded_seen"] == 2 for f in fractions.values())
    # The laws use every configuration, grounded or not.
    assert fit["unseen_caption"]["factor_law"]["n"] == 16


def _nano_pair(seed: int = 0) -> pd.DataFrame:
    """A real-Gemma-style pair: CE per Gemma token, P = 3e8, S = 128, other tokenizer and decoder."""
    rng = np.random.default_rng(seed)
    rows = []
    for init, ce in (("pretrained", 2.0), ("scratch", 9.5)):
        for run_seed in range(3):
            row = {
                "run_id": f"nano-{init}-{run_seed}", "preset": f"nano-{init}", "decoder_kind": "gemma3_text",
                "decoder_init": init, "tokenizer": "gemma3", "vocab_size": 262144, "seed": run_seed, "params": 3e8,
                "trainable_params": 3e8, "seen_samples": 128.0, "flops_per_sample": 6e8, "compute": 128 * 6e8 * 2,
                "wall_seconds": 1.0,
            }  # fmt: skip
            row.update({column: ce * np.exp(rng.normal(0, 0.05)) for column in TRUTH})
            rows.append(row)
    return pd.DataFrame(rows)


def test_fitter_refuses_to_pool_different_tokenizers_with_a_clear_message(tmp_path, capsys):
    from florenz_cli import main

    mixed = pd.concat([synthetic_runs(n_seeds=2), _nano_pair()], ignore_index=True)
    with pytest.raises(ValueError, match=r"runs mix tokenizer values \['gemma3', 'scenes'\].*cannot be pooled"):
        fit_runs(validate_runs(mixed), n_bootstrap=0)
    csv = write_csv(mixed, tmp_path / "runs.csv")
    assert main(["fit", csv, "--out", str(tmp_path / "out")]) == 2
    assert "cannot be pooled" in capsys.readouterr().err
    assert main(["fit", csv, "--out", str(tmp_path / "out"), "--where", "tokenizer=scenes", "--bootstrap", "0"]) == 0
    with pytest.raises(ValueError, match="neither a 'tokenizer' nor a 'vocab_size' column"):
        validate_runs(mixed.drop(columns=["tokenizer", "vocab_size"]))


def test_mixed_tokenizer_table_still_recovers_the_grids_betas():
    """The issue's failure: a different-tokenizer pair pooled into the grid reversed beta1/beta2. Grouped, it cannot."""
    mixed = validate_runs(pd.concat([synthetic_runs(seed=4, n_seeds=3), _nano_pair()], ignore_index=True))
    groups = comparable_groups(mixed)
    assert sorted(groups) == [
        "tokenizer=gemma3, vocab_size=262144, decoder_kind=gemma3_text",
        "tokenizer=scenes, vocab_size=2048, decoder_kind=gemma3",
    ]
    grid = fit_runs(groups["tokenizer=scenes, vocab_size=2048, decoder_kind=gemma3"], 10, chinchilla_bootstrap=0)
    grid = grid.to_json()
    for column, (_, b1, b2, b3) in TRUTH.items():
        entry = grid[column.removeprefix("ce_")]["factor_law"]
        for name, truth in (("beta1", b1), ("beta2", b2), ("beta3", b3)):
            assert entry[name] == pytest.approx(truth, abs=0.015), (column, name)
            assert entry[f"{name}_significance"] == "significant"
        assert entry["bootstrap_clusters"] == 3 and entry["n"] == 32


def test_seed_bootstrap_redoes_the_pareto_selection_and_flags_zero_crossings():
    runs = synthetic_runs(n_seeds=3, inits=("scratch",))
    # A trend well below the noise: the OLS fit on one Pareto selection may look steep, the resamples do not.
    weak = runs.assign(
        ce_unseen_caption=3.0 * runs["compute"] ** -0.003 * np.exp(np.random.default_rng(2).normal(0, 0.05, len(runs)))
    )
    document = fit_runs(validate_runs(weak), n_bootstrap=40, seed=1, chinchilla_bootstrap=0).to_json()
    law = document["unseen_caption"]["compute_law"]
    assert law["n_bootstrap"] > 0 and len(law["alpha1_boot_ci"]) == 2
    assert law["alpha1_significance"] == "not significant"  # no trend: some interval crosses 0
    steep = document["translation"]["compute_law"]
    assert steep["alpha1_boot_ci"][1] < 0 and steep["alpha1_significance"] == "significant"
    assert significance([-0.2, -0.1], [-0.3, 0.01]) == "not significant"
    assert significance([-0.2, -0.1], None) == "significant"


def test_compute_law_with_all_compute_is_a_separate_sensitivity_entry():
    runs = synthetic_runs(n_seeds=1, inits=("scratch",))
    runs["compute_all"] = runs["compute"] + 5e12  # a shared vision-pretraining cost shifts small runs the most
    document = fit_runs(validate_runs(runs), n_bootstrap=0).to_json()
    paper, everything = document["unseen_caption"]["compute_law"], document["unseen_caption"]["compute_law_all_compute"]
    assert paper["compute_column"] == "compute" and everything["compute_column"] == "compute_all"
    assert paper["alpha1"] != everything["alpha1"]


def test_bad_csv_lists_missing_columns(tmp_path):
    runs = synthetic_runs(n_seeds=1).drop(columns=["compute", "ce_translation"])
    with pytest.raises(ValueError) as err:
        load_runs(write_csv(runs, tmp_path / "runs.csv"))
    assert "'compute'" in str(err.value) and "'ce_translation'" in str(err.value)
    assert set(REQUIRED_COLUMNS) >= {"compute", "ce_translation"}


def test_bad_values_are_rejected():
    runs = synthetic_runs(n_seeds=1)
    with pytest.raises(ValueError, match="decoder_init values \\['frozen'\\]"):
        validate_runs(runs.assign(decoder_init="frozen"))
    with pytest.raises(ValueError, match="'params' has 0"):
        validate_runs(runs.assign(params=0))


def test_florenz_fit_cli(tmp_path, capsys):
    from florenz_cli import main

    csv = write_csv(synthetic_runs(n_seeds=1, inits=("pretrained",)), tmp_path / "runs.csv")
    assert main(["fit", csv, "--out", str(tmp_path / "out"), "--bootstrap", "3", "--seed", "1"]) == 0
    assert (tmp_path / "out" / "fit.json").is_file()
    assert "unseen_caption" in capsys.readouterr().out
    bad = write_csv(synthetic_runs(n_seeds=1).drop(columns=["seed"]), tmp_path / "bad.csv")
    assert main(["fit", bad, "--out", str(tmp_path / "out2")]) == 2
    assert "lacks required columns ['seed']" in capsys.readouterr().err


def test_t_collinear_with_size_is_dropped_with_a_note():
    runs = synthetic_runs(n_seeds=1)
    # Two sizes, each with a single decoder init: log T is a linear function of log P.
    runs = runs[
        ((runs["params"] == 2e5) & (runs["decoder_init"] == "scratch"))
        | ((runs["params"] == 3e6) & (runs["decoder_init"] == "pretrained"))
    ]
    entry = fit_runs(validate_runs(runs), n_bootstrap=0).to_json()["seen_caption"]["factor_law"]
    assert entry["beta3"] is None and "collinear" in entry["beta3_note"]
    assert entry["beta2"] == pytest.approx(TRUTH["ce_seen_caption"][2], abs=0.03)
