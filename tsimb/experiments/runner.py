"""Run a grid of (data set, method, seed, ...) configurations into one tidy table.

Each finished run is stored as a JSON file named by the hash of its configuration, written
to a temporary file and renamed into place (an atomic step), so an interrupted grid loses
at most the run in progress and a rerun resumes where it stopped. The cache lives in
``$TSIMB_CACHE`` or ``~/.cache/tsimb/runs``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..training import show_progress

Config = Mapping[str, object]
RunFn = Callable[[Config], Mapping[str, float]]


class SkipRun(Exception):
    """Raised by a run function for a configuration that cannot run by design (e.g. SMOTE
    on a class of one series). :func:`run_grid` records it as a ``skipped`` row instead
    of stopping the grid."""


def default_cache_dir() -> Path:
    return Path(os.environ.get("TSIMB_CACHE", Path.home() / ".cache" / "tsimb" / "runs"))


def config_key(config: Config) -> str:
    """A stable hash of a configuration (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class RunCache:
    """A folder of finished runs, one JSON file per configuration. ``enabled=False`` keeps nothing."""

    def __init__(self, folder: str | Path | None = None, enabled: bool = True) -> None:
        self.folder = Path(folder) if folder is not None else default_cache_dir()
        self.enabled = enabled

    def path(self, config: Config) -> Path:
        return self.folder / f"{config_key(config)}.json"

    def get(self, config: Config) -> dict | None:
        if not self.enabled:
            return None
        path = self.path(config)
        if not path.exists():
            return None
        with open(path) as f:
            return json.load(f)["metrics"]

    def put(self, config: Config, metrics: Mapping[str, float]) -> None:
        if not self.enabled:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump({"config": dict(config), "metrics": dict(metrics)}, f, default=str)
        os.replace(tmp, self.path(config))


def run_grid(configs: Iterable[Config], run: RunFn, cache: RunCache | None = None,
             progress: bool | None = None, desc: str = "runs") -> pd.DataFrame:
    """Run (or read from ``cache``) every configuration; return a tidy table with one row
    per configuration and metric: the configuration's keys as columns, then
    ``metric`` and ``value``. A configuration whose run raises :class:`SkipRun` gives one
    row with metric ``skipped``, value NaN and the reason in a ``note`` column."""
    cache = cache if cache is not None else RunCache()
    configs = list(configs)
    rows = []
    for config in tqdm(configs, desc=desc, disable=not show_progress(progress)):
        metrics = cache.get(config)
        if metrics is None:
            try:
                metrics = {k: float(v) for k, v in run(config).items()}
            except SkipRun as reason:
                metrics = {"skipped": float("nan"), "reason": str(reason)}
            cache.put(config, metrics)
        if "skipped" in metrics:
            rows.append({**config, "metric": "skipped", "value": float("nan"), "note": metrics["reason"]})
            continue
        rows.extend({**config, "metric": name, "value": value} for name, value in metrics.items())
    return pd.DataFrame(rows)


def tidy(table: pd.DataFrame, bookkeeping: Iterable[str]) -> pd.DataFrame:
    """A chapter's grid for readers: drop the ``bookkeeping`` columns of its configurations
    (chapter, code version, budgets) and add ``protocol``, the label of each row's
    imbalance protocol (``balanced``, ``step-10``, ...)."""
    from ..imbalance import Imbalance

    table = table.drop(columns=list(bookkeeping))
    table["protocol"] = [Imbalance(k, r).label for k, r in zip(table["imbalance"], table["ratio"])]
    return table


def summarise(table: pd.DataFrame, by: list[str], metrics: Iterable[str] | None = None) -> pd.DataFrame:
    """Mean, sample standard deviation and count of ``value`` over seeds, grouped by ``by``
    and ``metric``."""
    if metrics is not None:
        table = table[table["metric"].isin(list(metrics))]
    grouped = table.groupby([*by, "metric"], sort=False)["value"]
    out = grouped.agg(mean="mean", std="std", n="count").reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


def format_summary(summary: pd.DataFrame, index: list[str], columns: str | list[str] = "metric",
                   digits: int = 3, scale: float = 1.0) -> pd.DataFrame:
    """A wide table of ``mean ± std`` strings (``scale=100`` for percentages)."""
    text = summary.assign(
        cell=[f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}" for m, s in zip(summary["mean"], summary["std"])]
    )
    wide = text.pivot(index=index, columns=columns, values="cell")
    wide.columns.name = None
    return wide


def seeds_for(n: int, base: int = 0) -> list[int]:
    """``n`` replicate seeds."""
    return list(np.arange(base, base + n).tolist())
