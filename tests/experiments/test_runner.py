"""The cached, tidy experiment runner and profiles (tsimb.experiments)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tsimb.experiments.profiles import PROFILES, resolve_profile
from tsimb.experiments.runner import format_summary, run_grid, summarise
from tsimb.experiments.store import RunStore, StoreError, config_key

CONFIGS = [dict(dataset=d, method=m, seed=s) for d in ("A", "B") for m in ("none", "ros") for s in (0, 1)]


def metrics_of(config):
    base = {"A": 0.5, "B": 0.8}[config["dataset"]] + (0.1 if config["method"] == "ros" else 0.0)
    return {"accuracy": base + 0.01 * config["seed"], "macro_f1": base / 2}


class Counter:
    """A run function that counts its calls and can fail on the n-th one."""

    def __init__(self, fail_on: int | None = None):
        self.calls: list[dict] = []
        self.fail_on = fail_on

    def __call__(self, config):
        self.calls.append(dict(config))
        if self.fail_on is not None and len(self.calls) == self.fail_on:
            raise RuntimeError("interrupted")
        return metrics_of(config)


def never(config):
    raise AssertionError(f"should have come from the store: {config}")


def grid(configs, run, folder, **kwargs):
    """run_grid on one store folder that is read and written, no cache."""
    kwargs.setdefault("progress", False)
    return run_grid(configs, run, chapter="toy", store=RunStore(folder), cache=None, write="store", **kwargs)


def test_run_grid_returns_a_tidy_table(tmp_path):
    table = grid(CONFIGS, metrics_of, tmp_path)
    assert list(table.columns) == ["dataset", "method", "seed", "metric", "value"]
    assert len(table) == len(CONFIGS) * 2
    assert table.groupby(["dataset", "method", "seed", "metric"]).size().eq(1).all()
    for config in CONFIGS:
        rows = table[(table.dataset == config["dataset"]) & (table.method == config["method"])
                     & (table.seed == config["seed"])]
        assert dict(zip(rows.metric, rows.value)) == pytest.approx(metrics_of(config))


def test_second_run_is_served_from_the_store(tmp_path):
    first = grid(CONFIGS, metrics_of, tmp_path)
    assert len((tmp_path / "toy.jsonl").read_text().splitlines()) == len(CONFIGS)
    pd.testing.assert_frame_equal(first, grid(CONFIGS, never, tmp_path))


def test_the_store_is_json_lines_pandas_reads(tmp_path):
    grid(CONFIGS, metrics_of, tmp_path)
    frame = pd.read_json(tmp_path / "toy.jsonl", lines=True)
    assert len(frame) == len(CONFIGS)
    assert {"key", "config", "metrics", "trace", "provenance"} <= set(frame.columns)
    prov = frame["provenance"].iloc[0]
    assert {"tsimb", "commit", "torch", "device", "threads", "seconds", "date", "numerics"} <= set(prov)
    assert frame["config"].tolist() == CONFIGS


def test_store_then_cache_then_compute(tmp_path):
    store, cache = RunStore(tmp_path / "store"), RunStore(tmp_path / "cache")
    run_grid(CONFIGS[:2], metrics_of, chapter="toy", store=store, cache=None, write="store", progress=False)
    counter = Counter()
    run_grid(CONFIGS, counter, chapter="toy", store=store, cache=cache, write="cache", progress=False)
    assert counter.calls == CONFIGS[2:]  # the store served the first two; the rest went to the cache
    assert len(store.records("toy")) == 2 and len(cache.records("toy")) == len(CONFIGS) - 2
    run_grid(CONFIGS, never, chapter="toy", store=store, cache=cache, progress=False)
    forced = Counter()
    run_grid(CONFIGS, forced, chapter="toy", store=store, cache=cache, recompute=True, progress=False)
    assert forced.calls == CONFIGS


def test_interrupted_grid_resumes(tmp_path):
    failing = Counter(fail_on=3)
    with pytest.raises(RuntimeError, match="interrupted"):
        grid(CONFIGS, failing, tmp_path)
    assert len(failing.calls) == 3
    assert len(RunStore(tmp_path).records("toy")) == 2
    resumed = Counter()
    table = grid(CONFIGS, resumed, tmp_path)
    assert resumed.calls == CONFIGS[2:]
    pd.testing.assert_frame_equal(table, grid(CONFIGS, metrics_of, tmp_path / "fresh"))


def test_a_line_cut_short_is_skipped_with_a_warning_and_recomputed(tmp_path):
    grid(CONFIGS[:2], metrics_of, tmp_path)
    path = tmp_path / "toy.jsonl"
    path.write_bytes(path.read_bytes()[:-40])  # a kill in the middle of the second line
    with pytest.warns(UserWarning, match=r"toy.jsonl:2: skipped an unreadable run"):
        counter = Counter()
        grid(CONFIGS[:2], counter, tmp_path)
    assert counter.calls == CONFIGS[1:2]
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[2])["config"] == CONFIGS[1]  # the new run on a line of its own


def test_a_stored_run_with_another_config_under_its_key_is_not_served(tmp_path):
    grid(CONFIGS[:1], metrics_of, tmp_path)
    path = tmp_path / "toy.jsonl"
    record = json.loads(path.read_text())
    record["config"]["seed"] = 99  # hand edit: the key no longer matches
    path.write_text(json.dumps(record) + "\n")
    with pytest.warns(UserWarning, match="not the hash of its config"):
        counter = Counter()
        grid(CONFIGS[:1], counter, tmp_path)
    assert counter.calls == CONFIGS[:1]


@pytest.mark.parametrize("bad", [{}, {"accuracy": float("nan")}], ids=["empty", "nan"])
def test_runs_without_usable_metrics_are_refused_not_stored(tmp_path, bad):
    with pytest.raises(StoreError, match="metric"):
        grid(CONFIGS[:1], lambda config: bad, tmp_path)
    assert RunStore(tmp_path).records("toy") == {}


def test_an_unwritable_store_is_found_before_computing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    counter = Counter()
    with pytest.raises(StoreError, match="cannot write runs"):
        grid(CONFIGS, counter, blocker / "runs")
    assert counter.calls == []


def test_default_cache_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TSIMB_CACHE", str(tmp_path / "env-cache"))
    run_grid(CONFIGS[:2], metrics_of, chapter="toy", store=None, progress=False)
    assert len(RunStore(tmp_path / "env-cache").records("toy")) == 2


def test_config_key_ignores_key_order():
    a = {"dataset": "A", "seed": 1, "budget": {"epochs": 3, "lr": 0.1}}
    b = {"budget": {"lr": 0.1, "epochs": 3}, "seed": 1, "dataset": "A"}
    assert config_key(a) == config_key(b)
    assert len(config_key(a)) == 24 and all(ch in "0123456789abcdef" for ch in config_key(a))
    assert config_key(a) != config_key({**a, "seed": 2})
    assert config_key(a) != config_key({**a, "budget": {"epochs": 4, "lr": 0.1}})


def test_a_process_pool_gives_the_in_process_table(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        parallel = grid(CONFIGS, metrics_of, tmp_path / "pool", executor=pool)
    pd.testing.assert_frame_equal(parallel, grid(CONFIGS, metrics_of, tmp_path / "serial"))


def test_two_processes_on_one_store_split_the_grid(tmp_path):
    """Two drivers started together compute every run exactly once between them."""
    import subprocess
    import sys

    script = (
        "import sys, time, json\n"
        "from tsimb.experiments.runner import run_grid\n"
        "from tsimb.experiments.store import RunStore\n"
        "def run(c):\n"
        "    open(sys.argv[2], 'a').write(json.dumps(c) + '\\n'); time.sleep(0.3); return {'m': c['i']}\n"
        "run_grid([{'i': i} for i in range(6)], run, chapter='toy', store=RunStore(sys.argv[1]), cache=None,\n"
        "         write='store', progress=False)\n"
    )
    logs = [tmp_path / f"calls{i}.txt" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "store"), str(log)]) for log in logs]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    calls = [line for log in logs if log.exists() for line in log.read_text().splitlines()]
    assert sorted(json.loads(c)["i"] for c in calls) == list(range(6))
    assert len(RunStore(tmp_path / "store").records("toy")) == 6


def _table(values_by_group):
    rows = []
    for (method, metric), values in values_by_group.items():
        rows += [dict(method=method, seed=s, metric=metric, value=v) for s, v in enumerate(values)]
    return pd.DataFrame(rows)


def test_summarise_mean_std_n():
    table = _table({("none", "acc"): [0.5, 0.7, 0.9], ("ros", "acc"): [0.6], ("none", "f1"): [0.2, 0.4]})
    out = summarise(table, by=["method"])
    assert list(out.columns) == ["method", "metric", "mean", "std", "n"]
    rows = {(r.method, r.metric): r for r in out.itertuples()}
    assert rows[("none", "acc")].mean == pytest.approx(0.7)
    assert rows[("none", "acc")].std == pytest.approx(0.2)  # sample standard deviation
    assert rows[("none", "acc")].n == 3
    assert rows[("ros", "acc")].std == 0.0 and rows[("ros", "acc")].n == 1
    assert rows[("none", "f1")].mean == pytest.approx(0.3)
    assert rows[("none", "f1")].std == pytest.approx(np.std([0.2, 0.4], ddof=1))
    only_f1 = summarise(table, by=["method"], metrics=["f1"])
    assert list(only_f1.metric) == ["f1"]


def test_format_summary_strings():
    table = _table({("none", "acc"): [0.5, 0.7, 0.9], ("ros", "acc"): [0.6], ("none", "f1"): [0.2, 0.4]})
    summary = summarise(table, by=["method"])
    wide = format_summary(summary, index=["method"])
    assert list(wide.columns) == ["acc", "f1"]
    assert wide.loc["none", "acc"] == "0.700 ± 0.200"
    assert wide.loc["ros", "acc"] == "0.600 ± 0.000"
    assert wide.loc["none", "f1"] == "0.300 ± 0.141"
    assert pd.isna(wide.loc["ros", "f1"])
    pct = format_summary(summary, index=["method"], digits=1, scale=100)
    assert pct.loc["none", "acc"] == "70.0 ± 20.0"


def test_resolve_profile(monkeypatch):
    assert PROFILES == ("quick", "full")
    monkeypatch.delenv("TSIMB_PROFILE", raising=False)
    assert resolve_profile() == "quick"
    monkeypatch.setenv("TSIMB_PROFILE", "full")
    assert resolve_profile() == "full"
    assert resolve_profile("quick") == "quick"  # the argument wins over the environment
    monkeypatch.setenv("TSIMB_PROFILE", "FULL")
    assert resolve_profile() == "full"
    monkeypatch.setenv("TSIMB_PROFILE", "huge")
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        resolve_profile()
    with pytest.raises(ValueError, match="unknown profile"):
        resolve_profile("slow")


def test_skipped_runs_give_one_row_with_reason_and_are_stored(tmp_path):
    from tsimb.experiments.runner import SkipRun

    calls = []

    def run(config):
        calls.append(config["i"])
        if config["i"] == 1:
            raise SkipRun("too few series")
        return {"m": config["i"] * 1.0}

    configs = [{"i": 0}, {"i": 1}]
    table = grid(configs, run, tmp_path)
    skipped = table[table["metric"] == "skipped"]
    assert len(skipped) == 1 and skipped["note"].iloc[0] == "too few series" and skipped["value"].isna().all()
    assert table[table["metric"] == "m"]["value"].tolist() == [0.0]
    grid(configs, run, tmp_path)
    assert calls == [0, 1]


def test_tidy_drops_bookkeeping_adds_derived_columns_and_labels_protocols():
    from tsimb.experiments import experiment

    table = pd.DataFrame(dict(chapter="x", version="1", imbalance=["none", "step"], ratio=[1.0, 10.0],
                              budget=[{"epochs": 3}, {"epochs": 5}], augment=[{}, {"time_unit": "series"}],
                              metric="accuracy", value=[0.9, 0.7]))
    out = experiment("ode-augmentation").tidy(table)
    assert out["time_unit"].tolist() == ["step", "series"]  # a stored default is left out of the configuration
    assert "chapter" not in out and "version" not in out and "budget" not in out
    assert out["protocol"].tolist() == ["balanced", "step-10"]
    assert out["epochs"].tolist() == [3, 5]  # the ODE chapter's derived column


def test_a_grid_killed_at_random_points_resumes_to_the_same_table(tmp_path):
    """SIGKILL a driver at random moments (a bounded number of times); every restart
    resumes, and the final table equals an uninterrupted run's."""
    import random
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import sys, time\n"
        "from tsimb.experiments.runner import run_grid\n"
        "from tsimb.experiments.store import RunStore\n"
        "def run(c):\n"
        "    time.sleep(0.05); return {'m': c['i'] * 0.5, 'n': c['i'] + 0.25}\n"
        "run_grid([{'i': i} for i in range(20)], run, chapter='toy', store=RunStore(sys.argv[1]), cache=None,\n"
        "         write='store', progress=False)\n"
    )
    folder = tmp_path / "store"
    rng = random.Random(0)
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", script, str(folder)])
        time.sleep(rng.uniform(0.5, 2.5))  # import takes ~1 s: some kills land before any run
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    subprocess.run([sys.executable, "-c", script, str(folder)], check=True, timeout=120)

    def run(c):
        return {"m": c["i"] * 0.5, "n": c["i"] + 0.25}

    configs = [{"i": i} for i in range(20)]
    resumed = grid(configs, never, folder)
    pd.testing.assert_frame_equal(resumed, grid(configs, run, tmp_path / "clean"))


def test_a_dask_cluster_gives_the_in_process_table(tmp_path):
    """run_grid on a two-worker LocalCluster's executor: results written by the driver only."""
    distributed = pytest.importorskip("distributed")  # the [cluster] extra; the [test] extra has it

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        on_cluster = grid(CONFIGS, metrics_of, tmp_path / "dask", executor=client.get_executor())
    pd.testing.assert_frame_equal(on_cluster, grid(CONFIGS, metrics_of, tmp_path / "local"))
    assert len(RunStore(tmp_path / "dask").records("toy")) == len(CONFIGS)
