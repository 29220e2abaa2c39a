"""The baselines chapter's experiment, the command line and the benchmark, on tiny budgets."""

from __future__ import annotations

import numpy as np
import pytest

from tsimb.baselines import Budget
from tsimb.experiments import baselines as experiment
from tsimb.experiments.runner import SkipRun, config_key
from tsimb.imbalance import Imbalance


def test_grid_covers_every_combination_once():
    s = experiment.SETTINGS["quick"]
    grid = experiment.configs(s)
    settings = sum(len(experiment.distinct_protocols(d, s.imbalances)) for d in s.datasets)
    main = settings * len(s.models) * len(s.methods) * len(s.seeds)
    reference = len(s.datasets) * len(s.models) * len(s.seeds)
    assert len(grid) == main + reference
    assert len({config_key(c) for c in grid}) == len(grid)
    assert {c["imbalance"] for c in grid} == {"none"} | {i.kind for i in s.imbalances}


def test_exponential_equals_step_for_two_classes_and_is_dropped():
    step, exp = Imbalance("step", 10), Imbalance("exp", 10)
    assert experiment.distinct_protocols("ItalyPowerDemand", (step, exp)) == [step]
    assert experiment.distinct_protocols("JapaneseVowels", (step, exp)) == [step, exp]


def test_profiles_share_code_and_differ_in_settings():
    quick, full = experiment.SETTINGS["quick"], experiment.SETTINGS["full"]
    assert set(quick.__dataclass_fields__) == set(full.__dataclass_fields__)
    assert full.budget.epochs > quick.budget.epochs and len(full.seeds) > len(quick.seeds)


def test_run_one_evaluates_on_the_untouched_test_split():
    config = experiment._config("ItalyPowerDemand", Imbalance("step", 10), "cnn", "class-weights", 0,
                                Budget(epochs=1, batch_size=16))
    metrics = experiment.run_one(config)
    assert 0 <= metrics["balanced_accuracy"] <= 1
    assert {"majority_accuracy", "minority_accuracy", "macro_f1", "recall_0", "recall_1"} <= set(metrics)


def test_smote_on_a_one_series_class_is_skipped_not_crashed():
    # BasicMotions has 10 series per class: step-10 leaves one, too few for SMOTE
    config = experiment._config("BasicMotions", Imbalance("step", 10), "cnn", "smote", 0, Budget(epochs=1))
    with pytest.raises(SkipRun, match="only 1 training series"):
        experiment.run_one(config)


def test_cli_datasets_lists_bundled_and_downloads(capsys):
    from tsimb.cli import main

    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "GunPoint" in out and "Trace" in out and "needs a download" in out


def test_cli_rejects_unknown_chapter():
    from tsimb.cli import main

    with pytest.raises(SystemExit):
        main(["run", "no-such-chapter"])


def test_benchmark_reports_both_loops():
    from tsimb.bench import benchmark

    result = benchmark(n=16, length=16, epochs=1, batch_size=8, repeats=1)
    assert result["fit_samples_per_s"] > 0 and result["bare_samples_per_s"] > 0
    assert np.isclose(result["fit_over_bare"], result["fit_samples_per_s"] / result["bare_samples_per_s"])


def test_cli_run_writes_the_tidy_table(tmp_path, monkeypatch):
    import pandas as pd

    from tsimb.cli import main

    tiny = experiment.BaselineSettings(
        datasets=("ItalyPowerDemand",), models=("cnn",), methods=("none", "smote"),
        imbalances=(Imbalance("step", 10),), seeds=(0,), budget=Budget(epochs=1),
        sweep_dataset="ItalyPowerDemand", sweep_model="cnn", sweep_methods=("none",), sweep_ratios=(1,),
    )
    monkeypatch.setitem(experiment.SETTINGS, "quick", tiny)
    monkeypatch.delenv("TSIMB_PROFILE", raising=False)
    out = tmp_path / "table.csv"
    assert main(["run", "baselines", "--out", str(out), "--cache", str(tmp_path / "runs")]) == 0
    table = pd.read_csv(out)
    assert set(table["method"]) == {"none", "smote"}
    assert set(table["protocol"]) == {"balanced", "step-10"}
    assert {"dataset", "model", "seed", "metric", "value"} <= set(table.columns)


def test_augment_benchmark_times_every_operation():
    from tsimb.bench import benchmark_augment

    rows = benchmark_augment(sizes=((4, 16),), repeats=1)
    names = {r["what"] for r in rows}
    assert {"ode_solve", "ode_derivative", "in_clamp_grad", "out_sign_grad", "spec_den", "fgsm", "bim"} <= names
    assert all(r["series_per_s"] > 0 and r["points_per_s"] == pytest.approx(16 * r["series_per_s"]) for r in rows)
