"""The cached, tidy experiment runner and profiles (tsimb.experiments)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import tsimb.experiments.runner as runner_module
from tsimb.experiments.profiles import PROFILES, resolve_profile
from tsimb.experiments.runner import RunCache, config_key, format_summary, run_grid, summarise

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
    raise AssertionError(f"should have come from the cache: {config}")


def test_run_grid_returns_a_tidy_table(tmp_path):
    table = run_grid(CONFIGS, metrics_of, RunCache(tmp_path), progress=False)
    assert list(table.columns) == ["dataset", "method", "seed", "metric", "value"]
    assert len(table) == len(CONFIGS) * 2
    assert table.groupby(["dataset", "method", "seed", "metric"]).size().eq(1).all()
    for config in CONFIGS:
        rows = table[(table.dataset == config["dataset"]) & (table.method == config["method"])
                     & (table.seed == config["seed"])]
        assert dict(zip(rows.metric, rows.value)) == pytest.approx(metrics_of(config))


def test_second_run_is_served_from_the_cache(tmp_path):
    cache = RunCache(tmp_path)
    first = run_grid(CONFIGS, metrics_of, cache, progress=False)
    assert len(list(tmp_path.glob("*.json"))) == len(CONFIGS)
    second = run_grid(CONFIGS, never, cache, progress=False)
    pd.testing.assert_frame_equal(first, second)
    # a fresh cache object on the same folder reads the same files
    third = run_grid(CONFIGS, never, RunCache(tmp_path), progress=False)
    pd.testing.assert_frame_equal(first, third)


def test_interrupted_grid_resumes(tmp_path):
    cache = RunCache(tmp_path)
    failing = Counter(fail_on=3)
    with pytest.raises(RuntimeError, match="interrupted"):
        run_grid(CONFIGS, failing, cache, progress=False)
    assert len(failing.calls) == 3
    assert cache.get(CONFIGS[0]) == pytest.approx(metrics_of(CONFIGS[0]))
    assert cache.get(CONFIGS[1]) == pytest.approx(metrics_of(CONFIGS[1]))
    assert cache.get(CONFIGS[2]) is None
    assert len(list(tmp_path.glob("*.json"))) == 2

    resumed = Counter()
    table = run_grid(CONFIGS, resumed, cache, progress=False)
    assert resumed.calls == CONFIGS[2:]
    assert len(table) == len(CONFIGS) * 2
    pd.testing.assert_frame_equal(table, run_grid(CONFIGS, metrics_of, RunCache(enabled=False), progress=False))


def test_cache_files_are_complete_json_and_no_temporary_files_remain(tmp_path):
    cache = RunCache(tmp_path / "nested" / "runs")  # created on first write
    run_grid(CONFIGS, metrics_of, cache, progress=False)
    folder = tmp_path / "nested" / "runs"
    assert list(folder.glob("*.tmp")) == []
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{config_key(c)}.json" for c in CONFIGS)
    for config in CONFIGS:
        with open(cache.path(config)) as f:
            stored = json.load(f)
        assert stored["config"] == config
        assert stored["metrics"] == pytest.approx(metrics_of(config))


def test_failed_write_leaves_no_partial_cache_entry(tmp_path, monkeypatch):
    cache = RunCache(tmp_path)
    config = CONFIGS[0]

    def broken_dump(obj, f, **kwargs):
        f.write('{"config": {"dataset"')  # half a file, then the process "dies"
        raise OSError("disk full")

    monkeypatch.setattr(runner_module.json, "dump", broken_dump)
    with pytest.raises(OSError):
        cache.put(config, {"accuracy": 1.0})
    monkeypatch.undo()
    assert not cache.path(config).exists()
    assert cache.get(config) is None


def test_disabled_cache_stores_nothing(tmp_path):
    cache = RunCache(tmp_path, enabled=False)
    counter = Counter()
    run_grid(CONFIGS[:3], counter, cache, progress=False)
    run_grid(CONFIGS[:3], counter, cache, progress=False)
    assert len(counter.calls) == 6
    assert list(tmp_path.iterdir()) == []


def test_default_cache_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TSIMB_CACHE", str(tmp_path / "env-cache"))
    run_grid(CONFIGS[:2], metrics_of, progress=False)
    assert len(list((tmp_path / "env-cache").glob("*.json"))) == 2


def test_config_key_ignores_key_order():
    a = {"dataset": "A", "seed": 1, "budget": {"epochs": 3, "lr": 0.1}}
    b = {"budget": {"lr": 0.1, "epochs": 3}, "seed": 1, "dataset": "A"}
    assert config_key(a) == config_key(b)
    assert len(config_key(a)) == 24 and all(ch in "0123456789abcdef" for ch in config_key(a))
    assert config_key(a) != config_key({**a, "seed": 2})
    assert config_key(a) != config_key({**a, "budget": {"epochs": 4, "lr": 0.1}})
    assert RunCache("x").path(a) == RunCache("x").path(b)


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


def test_skipped_runs_give_one_row_with_reason_and_are_cached(tmp_path):
    from tsimb.experiments.runner import SkipRun

    calls = []

    def run(config):
        calls.append(config["i"])
        if config["i"] == 1:
            raise SkipRun("too few series")
        return {"m": config["i"] * 1.0}

    cache = RunCache(tmp_path)
    grid = [{"i": 0}, {"i": 1}]
    table = run_grid(grid, run, cache)
    skipped = table[table["metric"] == "skipped"]
    assert len(skipped) == 1 and skipped["note"].iloc[0] == "too few series" and skipped["value"].isna().all()
    assert table[table["metric"] == "m"]["value"].tolist() == [0.0]
    run_grid(grid, run, cache)
    assert calls == [0, 1]


def test_tidy_drops_bookkeeping_and_labels_protocols():
    from tsimb.experiments.runner import tidy

    table = pd.DataFrame(dict(chapter="x", version="1", imbalance=["none", "step"], ratio=[1.0, 10.0],
                              metric="accuracy", value=[0.9, 0.7]))
    out = tidy(table, ["chapter", "version"])
    assert "chapter" not in out and "version" not in out
    assert out["protocol"].tolist() == ["balanced", "step-10"]
