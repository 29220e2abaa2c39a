"""The baselines chapter's experiment, the command line and the benchmark, on tiny budgets."""

from __future__ import annotations

import numpy as np
import pytest

from tsimb.experiments import baselines as experiment
from tsimb.experiments.runner import SkipRun
from tsimb.experiments.store import RunStore, config_key
from tsimb.train import Budget
from tsimb.data import Imbalance


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
    metrics = experiment.EXPERIMENT.run_one(config).metrics
    assert 0 <= metrics["balanced_accuracy"] <= 1
    assert {"majority_accuracy", "minority_accuracy", "macro_f1", "recall_0", "recall_1"} <= set(metrics)


def test_smote_on_a_one_series_class_is_skipped_not_crashed():
    # BasicMotions has 10 series per class: step-10 leaves one, too few for SMOTE
    config = experiment._config("BasicMotions", Imbalance("step", 10), "cnn", "smote", 0, Budget(epochs=1))
    with pytest.raises(SkipRun, match="only 1 training series"):
        experiment.EXPERIMENT.run_one(config)


def test_cli_datasets_lists_bundled_and_downloads(capsys):
    from tsimb.cli import main

    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "GunPoint" in out and "Trace" in out and "needs a download" in out
    assert "TwoLeadECG" in out and "archive" in out


def test_cli_rejects_unknown_chapter():
    from tsimb.cli import main

    assert main(["run", "no-such-chapter"]) == 2


def test_benchmark_reports_both_loops():
    from tsimb.bench import benchmark

    result = benchmark(n=16, length=16, epochs=1, batch_size=8, repeats=1, jobs=0)
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
    assert main(["run", "baselines", "--out", str(out), "--store", str(tmp_path / "runs")]) == 0
    table = pd.read_csv(out)
    assert set(table[table["grid"] != "ldam_schedule"]["method"]) == {"none", "smote"}
    assert set(table[table["grid"] == "main"]["protocol"]) == {"balanced", "step-10"}
    assert set(table["grid"]) == {"main", "sweep", "ldam_schedule"}
    assert {"dataset", "model", "seed", "metric", "value"} <= set(table.columns)


def test_augment_benchmark_times_every_operation():
    from tsimb.bench import benchmark_augment

    rows = benchmark_augment(sizes=((4, 16),), repeats=1)
    names = {r["what"] for r in rows}
    assert {"ode_solve", "ode_derivative", "in_clamp_grad", "out_sign_grad", "spec_den", "fgsm", "bim"} <= names
    assert all(r["series_per_s"] > 0 and r["points_per_s"] == pytest.approx(16 * r["series_per_s"]) for r in rows)


def _tiny_store(tmp_path):
    """One cheap baselines run of each of none and ldam-drw in a fresh store."""
    from tsimb.experiments.runner import run_grid

    store = RunStore(tmp_path / "runs")
    configs = [experiment._config("ItalyPowerDemand", Imbalance("step", 10), "cnn", method, 0,
                                  Budget(epochs=2, batch_size=16)) for method in ("none", "ldam-drw", "ros")]
    run_grid(configs, experiment.EXPERIMENT.run_one, chapter="baselines", store=store, cache=None, write="store",
             progress=False)
    return store


def test_verify_re_executes_stored_runs_and_fails_on_a_tampered_metric(tmp_path, capsys):
    import json

    from tsimb.cli import main

    store = _tiny_store(tmp_path)
    args = ["verify", "baselines", "--store", str(store.folder), "--sample", "3"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "baselines: 3 stored run(s) checked, 3 match" in out and "3 passed, 0 failed" in out

    path = store.path("baselines")
    lines = path.read_text().splitlines()
    record = json.loads(lines[0])
    record["metrics"]["balanced_accuracy"] += 0.01
    path.write_text("\n".join([json.dumps(record)] + lines[1:]) + "\n")
    assert main(args) == 1
    out = capsys.readouterr().out
    assert f"MISMATCH baselines run {record['key']}" in out and "balanced_accuracy" in out


def test_verify_replays_long_runs_and_compares_their_trace(tmp_path):
    import json

    from tsimb.experiments.verify import verify

    store = _tiny_store(tmp_path)
    report = verify(["baselines"], sample=3, store=store, full_seconds=0.0, replay_epochs=1, budget=0.0)
    assert report["ok"].all() and report["mode"].str.startswith("replay 1 epochs: trace checked, metrics not").all()
    path = store.path("baselines")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        record["trace"][0] *= 1.001
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    report = verify(["baselines"], sample=3, store=RunStore(store.folder), full_seconds=0.0, replay_epochs=1,
                    budget=0.0)
    assert not report["ok"].any() and report["detail"].str.contains("epoch 0 loss").all()


def test_the_verify_sample_rotates_with_the_commit_and_keeps_reference_and_own_method():
    from tsimb.experiments.verify import sample_runs

    records = {f"k{i}": dict(key=f"k{i}", config=dict(method=m, seed=i), metrics={}, trace=[0.5])
               for i, m in enumerate(["none", "ros", "smote", "ldam-drw", "focal", "rus"] * 3)}
    picks = {c: [r["key"] for r in sample_runs(records, 3, c, "none", ("ldam-drw",))] for c in ("a", "b", "c")}
    for keys in picks.values():
        methods = [records[k]["config"]["method"] for k in keys]
        assert len(keys) == 3 and "none" in methods and "ldam-drw" in methods
    assert len({tuple(v) for v in picks.values()}) > 1  # other commits, other runs
    assert picks["a"] == [r["key"] for r in sample_runs(records, 3, "a", "none", ("ldam-drw",))]


def test_verify_never_draws_a_run_without_a_trace_it_could_not_re_execute_exactly():
    from tsimb.experiments.runner import numerics
    from tsimb.experiments.verify import sample_runs
    from tsimb.runtime import get_device

    here = numerics(get_device(), 1)

    def record(i, trace, seconds, where=here):
        return dict(key=f"k{i}", config=dict(method="none" if i == 0 else "x", seed=i), metrics={}, trace=trace,
                    provenance=dict(seconds=seconds, numerics=where, threads=1))

    records = {"k0": record(0, [0.5], 100.0), "k1": record(1, [], 100.0), "k2": record(2, [], 1.0),
               "k3": record(3, [0.4], 1.0), "k4": record(4, [], 1.0, where="cuda/H100/torch2.13")}
    drawn = {r["key"] for r in sample_runs(records, 5, "a", "none", ("x",), full_seconds=20.0)}
    # k1: no trace to replay and too long to re-execute; k4: no trace, made elsewhere
    assert drawn == {"k0", "k2", "k3"}
