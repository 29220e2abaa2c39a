"""``tsimb verify``: the rotation that re-executes every run in turn, the replays' label,
records of another code version or chapter, and a store that is not there (issue 20)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from tsimb.cli import main
from tsimb.data import Imbalance
from tsimb.experiments import baselines as experiment
from tsimb.experiments import provenance_line
from tsimb.experiments.runner import execute, numerics, run_grid
from tsimb.experiments.store import RunStore, StoreError, config_key
from tsimb.experiments.verify import FULL_MODE, draw, rotation_pool, rotation_turn, verify, verify_run
from tsimb.runtime import get_device
from tsimb.train import Budget

ROOT = Path(__file__).resolve().parents[2]


def tiny_store(folder: Path, methods=("none", "ldam-drw", "ros")) -> RunStore:
    """One cheap baselines run per method in a fresh store (about a second each)."""
    store = RunStore(folder)
    configs = [experiment._config("ItalyPowerDemand", Imbalance("step", 10), "cnn", method, 0,
                                  Budget(epochs=2, batch_size=16)) for method in methods]
    run_grid(configs, experiment.EXPERIMENT.run_one, chapter="baselines", store=store, cache=None, write="store",
             progress=False)
    return store


def rewrite(store: RunStore, edit) -> list[dict]:
    """Apply ``edit(record)`` to every line of the baselines file; returns the records."""
    path = store.path("baselines")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        edit(record)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return records


def fake(i: int, seconds: float, method: str = "x", where: str | None = None, trace=(0.5,)) -> dict:
    return dict(key=f"k{i:02d}", config=dict(method=method, seed=i), metrics={"m": 1.0}, trace=list(trace),
                provenance=dict(seconds=seconds, threads=1, numerics=where or numerics(get_device(), 1)))


def test_the_rotation_takes_every_run_within_the_budget_once_over_successive_commits():
    records = {r["key"]: r for r in [fake(i, seconds) for i, seconds in enumerate([1, 5, 30, 89, 91, 400, 2])]}
    records["k07"] = fake(7, 1.0, where="cuda/H100/torch2.13")  # made elsewhere: cannot be re-executed exactly
    records["k08"] = {**fake(8, 1.0), "skipped": "too few series"}
    pool = [r["key"] for r in rotation_pool(records, budget=90)]
    assert pool == ["k00", "k01", "k02", "k03", "k06"]
    taken = [draw(records, 1, "c", "none", ("x",), budget=90, turn=turn)[0] for turn in range(100, 100 + len(pool))]
    assert all(role == "rotation" for role, _ in taken)
    assert sorted(r["key"] for _, r in taken) == pool  # each once, in as many commits as the pool has runs


def test_rotation_turns_count_commits_so_successive_commits_take_successive_runs():
    git = ["git", "-C", str(ROOT)]
    try:
        shallow = subprocess.run([*git, "rev-parse", "--is-shallow-repository"], capture_output=True, text=True,
                                 check=True).stdout.strip()
        count = int(subprocess.run([*git, "rev-list", "--count", "HEAD"], capture_output=True, text=True,
                                   check=True).stdout)
    except (OSError, subprocess.CalledProcessError, ValueError):
        pytest.skip("not a git checkout")
    if shallow != "false" or count < 2:
        pytest.skip("a shallow clone has no history to count")
    parent = int(subprocess.run([*git, "rev-list", "--count", "HEAD~1"], capture_output=True, text=True,
                                check=True).stdout)  # count - 1, or fewer when HEAD merges a branch
    assert rotation_turn("HEAD") == count and rotation_turn("HEAD~1") == parent < count
    assert rotation_turn("not-a-commit") == rotation_turn("not-a-commit")  # drawn from the id, stable


def test_the_sample_size_is_honoured_not_replaced():
    records = {r["key"]: r for r in [fake(i, 1.0, method=m) for i, m in enumerate(["none", "x", "y", "z"])]}
    roles = {n: [role for role, _ in draw(records, n, "c", "none", ("x",), turn=3)] for n in (1, 2, 3, 4)}
    assert roles == {1: ["rotation"], 2: ["rotation", "reference"], 3: ["rotation", "reference", "own method"],
                     4: ["rotation", "reference", "own method", "random"]}


def test_verify_re_executes_the_rotation_run_in_full_and_catches_an_edited_metric(tmp_path, capsys):
    # the case: a metric edited in the store, every other sampled run replayed
    store = tiny_store(tmp_path / "runs")
    rewrite(store, lambda r: r["metrics"].update(balanced_accuracy=0.99))
    report = verify(["baselines"], sample=3, store=RunStore(store.folder), full_seconds=0.0, replay_epochs=1)
    rotation = report[report["role"] == "rotation"].iloc[0]
    assert rotation["mode"] == FULL_MODE and not rotation["ok"]
    assert "balanced_accuracy: stored 0.99" in rotation["detail"]
    replays = report[report["role"] != "rotation"]
    assert len(replays) == 2 and replays["ok"].all()
    assert replays["mode"].str.contains("trace checked, metrics not").all()

    code = main(["verify", "baselines", "--store", str(store.folder), "--full-seconds", "0", "--replay-epochs", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "1 re-executed in full (metrics and trace checked), 2 replayed (trace checked, metrics not)" in out
    assert f"MISMATCH baselines run {rotation['key']}" in out and "within the 90 s budget" in out


def test_verify_leaves_out_and_reports_runs_of_another_code_version_or_chapter(tmp_path, capsys):
    store = tiny_store(tmp_path / "runs", methods=("none", "ldam-drw"))
    records = rewrite(store, lambda r: None)
    old = json.loads(json.dumps(records[0]))
    old["config"]["version"] = "baselines-0"
    old["key"] = config_key(old["config"])
    other = json.loads(json.dumps(records[1]))
    other["config"] = {**other["config"], "chapter": "ib-gan"}
    other["key"] = config_key(other["config"])
    with open(store.path("baselines"), "a") as f:
        f.write(json.dumps(old) + "\n" + json.dumps(other) + "\n")
    report = verify(["baselines"], sample=10, store=RunStore(store.folder))
    assert set(report["key"]) == {records[0]["key"], records[1]["key"]} and report["ok"].all()
    notes = " ".join(report.attrs["notes"]["baselines"])
    assert "1 run(s) of another code version (baselines-0; this code is baselines-3)" in notes
    assert "1 line(s) of another chapter (ib-gan)" in notes


def test_verify_run_reports_rather_than_crashes_on_a_foreign_or_bare_record(tmp_path):
    store = tiny_store(tmp_path / "runs", methods=("none",))
    record = next(iter(store.records("baselines").values()))
    foreign = {**record, "config": {k: v for k, v in record["config"].items() if k != "dataset"}}
    check = verify_run("baselines", foreign, full=True)
    assert not check.ok and "raised KeyError" in check.detail
    bare = {k: v for k, v in record.items() if k != "provenance"}
    check = verify_run("baselines", bare, replay_epochs=1)
    assert check.ok and "within 2%" in check.mode  # how it was made is unknown: a replay within the tolerance


def test_a_run_made_on_another_processor_is_replayed_not_compared_exactly():
    from tsimb.experiments.runner import device_name
    from tsimb.experiments.verify import made_here

    here = fake(0, 1.0)
    assert made_here(here)  # no processor recorded: the numerics string decides
    assert made_here({**here, "provenance": {**here["provenance"], "device": device_name(get_device())}})
    elsewhere = {**here, "provenance": {**here["provenance"], "device": "another processor"}}
    assert not made_here(elsewhere)


def test_runs_that_train_upstream_are_checked_only_where_they_were_made():
    from dataclasses import replace as replace_field

    from tsimb.experiments.verify import screen

    here, elsewhere = fake(0, 1.0), fake(1, 1.0, where="cpu/other/numerics")
    for record in (here, elsewhere):
        record["config"].update(chapter="baselines", version=experiment.EXPERIMENT.code_version)
    records = {"k00": here, "k01": elsewhere}
    kept, notes = screen(experiment.EXPERIMENT, records)
    assert set(kept) == {"k00", "k01"} and not notes  # a replay elsewhere is a check
    upstream = replace_field(experiment.EXPERIMENT, not_replayable=lambda config: "it trains a reference network")
    kept, notes = screen(upstream, records)
    assert set(kept) == {"k00"} and "1 run(s) made on another processor" in notes[0]
    assert "it trains a reference network" in notes[0]
    # the ODE chapter: only the augmentations that take a sign at every point
    from tsimb.experiments import ode_augmentation as ode

    assert ode.sign_dependent({"method": "out-sign-grad+fs"}) and ode.sign_dependent({"method": "in-sign-grad"})
    assert ode.sign_dependent({"method": "none"}) is None and ode.sign_dependent({"method": "spec-den"}) is None


def test_a_run_without_a_trace_made_here_is_re_executed_in_full_however_long_it_took():
    # the ODE chapter's step-reach measurements train nothing: there is no trace to replay
    from tsimb.experiments import ode_augmentation as ode

    tiny = replace(ode.SETTINGS["quick"], ode_budget=ode.ODEBudget(epochs=1))
    config = {**ode._config("ItalyPowerDemand", Imbalance("none"), "out-sign-grad", 0, tiny), "kind": "data"}
    metrics = execute(ode.EXPERIMENT.run_one, config, 1)["metrics"]  # on one thread, as the record says
    record = dict(key=config_key(config), config=config, metrics=metrics, trace=[],
                  provenance=dict(seconds=1000.0, threads=1, numerics=numerics(get_device(), 1)))
    check = verify_run("ode-augmentation", record, full_seconds=0.0)
    assert check.mode == FULL_MODE and check.ok, check.detail
    check = verify_run("ode-augmentation", {**record, "metrics": {**metrics, "step_mean": 1.0}}, full_seconds=0.0)
    assert not check.ok and "step_mean" in check.detail


def test_provenance_line_counts_runs_without_provenance_instead_of_failing(tmp_path):
    from tsimb.experiments import chapter_cost
    from tsimb.experiments import ib_gan

    store = RunStore(tmp_path / "runs")
    config = ib_gan.EXPERIMENT.grids("quick")["paper"][0]
    store.append("ib-gan", dict(key=config_key(config), config=config, metrics={"balanced_accuracy": 0.5}, trace=[]))
    line = provenance_line("ib-gan", "quick", store)
    assert "1 stored run(s) without provenance" in line
    assert chapter_cost("ib-gan", "quick", store)["runs"] == 1


def test_stored_traces_are_tidy_and_filtered(tmp_path):
    from tsimb.experiments import ib_gan, stored_traces

    store = RunStore(tmp_path / "runs")
    configs = ib_gan.EXPERIMENT.grids("quick")["paper"][:2]
    for config, trace in zip(configs, ([0.9, 0.5, 0.4], [0.8, 0.7])):
        store.append("ib-gan", dict(key=config_key(config), config=config, metrics={"balanced_accuracy": 0.5},
                                    trace=trace))
    every = stored_traces("ib-gan", "quick", store)
    derived = list(ib_gan.EXPERIMENT.derived)  # the chapter's own columns, e.g. pmiss
    assert list(every.columns) == ["dataset", "method", "seed", *derived, "epoch", "loss"] and len(every) == 5
    one = stored_traces("ib-gan", "quick", store, method=configs[1]["method"], seed=configs[1]["seed"],
                        dataset=configs[1]["dataset"])
    assert one["loss"].tolist() == [0.8, 0.7] and one["epoch"].tolist() == [0, 1]
    assert stored_traces("ib-gan", "quick", store, grids=["pmiss"]).empty  # the runs are the paper grid's


def test_stored_provenance_is_a_table_of_the_chosen_fields(tmp_path):
    from tsimb.experiments import ib_gan, stored_provenance

    store = RunStore(tmp_path / "runs")
    configs = ib_gan.EXPERIMENT.grids("quick")["paper"][:2]
    store.append("ib-gan", dict(key=config_key(configs[0]), config=configs[0], metrics={"balanced_accuracy": 0.5},
                                trace=[], provenance={"threads": 2, "seconds": 3.5}))
    store.append("ib-gan", dict(key=config_key(configs[1]), config=configs[1], metrics={"balanced_accuracy": 0.5},
                                trace=[]))  # a hand-merged line without provenance
    table = stored_provenance("ib-gan", "quick", store, fields=("threads", "seconds")).sort_values("seconds")
    assert list(table.columns) == ["dataset", "method", "seed", *ib_gan.EXPERIMENT.derived, "kind", "threads",
                                   "seconds"]
    assert table["threads"].tolist()[0] == 2 and table["seconds"].tolist()[0] == 3.5
    assert table["threads"].isna().sum() == 1
    one = stored_provenance("ib-gan", "quick", store, method=configs[0]["method"], seed=configs[0]["seed"],
                            dataset=configs[0]["dataset"])
    assert len(one) == 1 and one["kind"].isna().all()
    assert stored_provenance("ib-gan", "quick", store, grids=["pmiss"]).empty


def test_verify_refuses_a_missing_store_and_bad_settings_before_any_run(tmp_path):
    with pytest.raises(StoreError, match="that folder does not exist"):
        verify(["baselines"], store=RunStore(tmp_path / "nowhere"))
    for bad in (dict(sample=0), dict(replay_epochs=0), dict(full_seconds=float("nan")), dict(budget=-1.0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            verify(["baselines"], store=RunStore(tmp_path), **bad)
    with pytest.raises(ValueError, match="did you mean 'ode-augmentation'"):
        verify(["ode-augmentaton"], store=RunStore(tmp_path))
