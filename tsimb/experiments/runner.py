"""Run a grid of (data set, method, seed, ...) configurations into one tidy table.

Each configuration is looked up in the book's run store, then in the local cache (see
:mod:`tsimb.experiments.store`); what is missing is computed, in this process or on any
``concurrent.futures.Executor`` (a process pool, or a Dask cluster's
``Client.get_executor()``), or on ``jobs`` single-threaded worker processes of this
machine (:func:`plan_jobs`), and appended by this process alone, one line per run as it
finishes. Concurrent drivers on one store split the grid: each run is claimed with a
lock, and a run another process is computing is read when it is done.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import signal
import subprocess
import threading
import time
import warnings
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Literal, Mapping

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..runtime import get_device, threads
from ..train import show_progress
from .store import (
    Config,
    RunStore,
    StoreError,
    config_key,
    default_run_cache_dir,
    default_store,
)


class SkipRun(Exception):
    """Raised by a run function for a configuration that cannot run by design (e.g. SMOTE
    on a class of one series). :func:`run_grid` records it as a ``skipped`` row instead
    of stopping the grid."""


@dataclass
class RunOutput:
    """What a run function returns: scalar ``metrics`` and the per-epoch training loss
    ``trace`` of its classifier (what ``tsimb verify`` replays)."""

    metrics: dict[str, float]
    trace: list[float] = field(default_factory=list)


# run(config, epochs=None) -> RunOutput; with ``epochs`` it trains only that many epochs and
# may skip the evaluation (a replay for ``tsimb verify``)
RunFn = Callable[..., RunOutput | Mapping[str, float]]
# configurations that differ only in their seed -> one output each, trained together
# (Experiment.run_ensemble)
EnsembleFn = Callable[[list[dict]], list[RunOutput]]
DEFAULT = "default"


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the checkout tsimb runs from (``+dirty`` with uncommitted changes), or ``unknown``."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "tsimb"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def numerics(device: torch.device, n_threads: int, ensemble: int = 1) -> str:
    """What decides the last bits of a result: device kind, kernel ISA cap, threads, torch,
    and whether the run was trained as one of ``ensemble`` members (batched kernels).
    Two runs with the same string compute the same bits (``tsimb verify`` compares exactly)."""
    members = f"/ensemble{ensemble}" if ensemble > 1 else ""
    if device.type == "cuda":
        return f"cuda/{torch.cuda.get_device_name(device)}/torch{torch.__version__}{members}"
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "native")
    return f"cpu/{platform.machine()}/isa-{isa}/{n_threads}threads/torch{torch.__version__}{members}"


def provenance(seconds: float, n_threads: int, ensemble: int = 1) -> dict:
    """A run's provenance; ``ensemble``: the members it was trained with (``seconds`` is
    then its share of the ensemble's wall time)."""
    from .. import __version__

    device = get_device()
    return dict(tsimb=__version__, commit=git_commit(), torch=torch.__version__, device=device_name(device),
                device_type=device.type, numerics=numerics(device, n_threads, ensemble), threads=n_threads,
                seconds=round(seconds, 3), date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                **({"ensemble": ensemble} if ensemble > 1 else {}))


def run_threads() -> int:
    """Intra-op threads for a run: ``$TSIMB_THREADS``, else torch's default."""
    value = os.environ.get("TSIMB_THREADS")
    if value is None:
        return torch.get_num_threads()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"TSIMB_THREADS={value!r} must be a positive integer")
    return int(value)


def usable_cores() -> int:
    """The CPU cores this process may use: its affinity mask (``taskset``, a batch
    scheduler's allocation), further capped by a cgroup v2 CPU quota (a container started
    with ``--cpus``), which the affinity mask does not show."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


@dataclass(frozen=True)
class JobPlan:
    """How a grid's missing runs are computed: ``workers`` processes (1: in this process)
    with ``threads`` intra-op threads each (None: :func:`run_threads`, in this process)."""

    workers: int
    threads: int | None


def plan_jobs(jobs: int | None, runs: int, device: torch.device | None = None,
              cores: int | None = None) -> JobPlan:
    """Worker processes and threads per run for ``runs`` missing runs.

    The rule (measured on the reference protocol, the ResNet on 2-series batches, on two
    cores: two 1-thread processes did ~1.7x the work of one 2-thread process, and a
    2-thread run beside another busy process slowed 17x while a 1-thread run slowed 2x):
    processes first, threads only for cores no run would otherwise use.

    - ``jobs=None`` (automatic): on the CPU, one worker per core, at most one per run;
      each run gets ``cores // workers`` threads (1 whenever the grid has at least as many
      runs as there are cores). On a GPU one process (the runs share the device).
    - ``jobs=N``: N workers, capped at the cores with a warning (never oversubscribed).
    - ``$TSIMB_THREADS`` fixes the threads per run; the workers are then capped at
      ``cores // TSIMB_THREADS``.
    - One worker means the runs are computed in this process with :func:`run_threads`
      threads, exactly as without ``jobs``.

    Raises ``ValueError`` for ``jobs`` below 1.
    """
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs={jobs!r} must be a positive integer (or None: one worker process per core)")
    device = device if device is not None else get_device()
    cores = cores or usable_cores()
    fixed = os.environ.get("TSIMB_THREADS")
    per_run = run_threads() if fixed is not None else 1
    if jobs is None:
        workers = 1 if device.type != "cpu" else max(1, min(runs, cores // per_run))
    else:
        workers = min(jobs, runs) if device.type != "cpu" else min(jobs, runs, max(1, cores // per_run))
        if device.type == "cpu" and jobs > max(1, cores // per_run):
            warnings.warn(f"jobs={jobs} with {per_run} thread(s) a run would oversubscribe this machine's "
                          f"{cores} core(s); using {max(1, cores // per_run)} worker process(es)", stacklevel=3)
    if workers <= 1:
        return JobPlan(1, None)
    threads = per_run if fixed is not None else (max(1, cores // workers) if device.type == "cpu" else 1)
    return JobPlan(workers, threads)


def _init_worker(n_threads: int) -> None:
    """A worker process of ``run_grid(jobs=...)``: ``n_threads`` threads for torch and for
    the BLAS/OpenMP pools numpy, scipy and scikit-learn use, so workers never compete for
    cores; ``TSIMB_THREADS`` tells anything in the worker that reads it the same."""
    os.environ["TSIMB_THREADS"] = str(n_threads)
    torch.set_num_threads(n_threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set (torch allows it once, before any inter-op work)
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n_threads)
    except ImportError:
        pass


def worker_pool(workers: int, threads: int) -> ProcessPoolExecutor:
    """``workers`` fresh processes with ``threads`` threads each. ``spawn``, not ``fork``: a
    forked child inherits torch's OpenMP state and may deadlock, and spawn is what macOS and
    Windows use anyway; a worker starts in a few seconds (it imports torch and tsimb)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(threads,))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def terminate_as_interrupt():
    """Inside: SIGTERM (``kill``, ``pkill``) acts as Ctrl-C, so that a driver stopped that
    way stops its worker processes too instead of leaving them computing runs nobody will
    store. Only in the main thread (where Python handles signals); the previous handler is
    restored on leaving."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def execute(run: RunFn, config: Config, n_threads: int | None = None, epochs: int | None = None) -> dict:
    """Run one configuration and return its record (without ``key``): metrics or the
    skip reason, trace, provenance. Module-level, so process pools and Dask can ship it."""
    n_threads = n_threads or run_threads()
    start = time.perf_counter()
    with threads(n_threads):
        try:
            output = run(dict(config)) if epochs is None else run(dict(config), epochs=epochs)
        except SkipRun as reason:
            return _skipped(config, reason, time.perf_counter() - start, n_threads)
    return _record(config, output, time.perf_counter() - start, n_threads, expect_metrics=epochs is None)


def execute_ensemble(run: EnsembleFn, configs: list[dict], n_threads: int | None = None) -> list[dict]:
    """Run configurations that differ only in their seed together (``run``:
    :meth:`Experiment.run_ensemble`) and return one record each, as :func:`execute` does;
    each record's provenance names the ensemble and its share of the wall time."""
    n_threads = n_threads or run_threads()
    start = time.perf_counter()
    with threads(n_threads):
        try:
            outputs = run([dict(c) for c in configs])
        except SkipRun as reason:
            share = (time.perf_counter() - start) / len(configs)
            return [_skipped(c, reason, share, n_threads, len(configs)) for c in configs]
    share = (time.perf_counter() - start) / len(configs)
    return [_record(c, output, share, n_threads, ensemble=len(configs)) for c, output in zip(configs, outputs)]


def _skipped(config: Config, reason: SkipRun, seconds: float, n_threads: int, ensemble: int = 1) -> dict:
    return dict(config=dict(config), metrics={}, skipped=str(reason), trace=[],
                provenance=provenance(seconds, n_threads, ensemble))


def _record(config: Config, output: RunOutput | Mapping[str, float], seconds: float, n_threads: int,
            expect_metrics: bool = True, ensemble: int = 1) -> dict:
    if not isinstance(output, RunOutput):
        output = RunOutput(dict(output))
    metrics = {k: float(v) for k, v in output.metrics.items()}
    if expect_metrics and not metrics:
        raise StoreError(f"the run of {dict(config)} returned no metrics; a run must return at least one")
    bad = [k for k, v in metrics.items() if not np.isfinite(v)]
    if bad:
        raise StoreError(f"the run of {dict(config)} returned non-finite metric(s) {bad}; not stored")
    return dict(config=dict(config), metrics=metrics, trace=[float(v) for v in output.trace],
                provenance=provenance(seconds, n_threads, ensemble))


def _rows(config: Config, record: dict) -> list[dict]:
    if "skipped" in record:
        return [{**config, "metric": "skipped", "value": float("nan"), "note": record["skipped"]}]
    return [{**config, "metric": name, "value": value} for name, value in record["metrics"].items()]


def run_grid(configs: Iterable[Config], run: RunFn, *, chapter: str,
             store: RunStore | None | str = DEFAULT, cache: RunStore | None | str = DEFAULT,
             write: Literal["store", "cache"] = "cache", recompute: bool = False,
             executor: Executor | None = None, jobs: int | None = 1, progress: bool | None = None,
             desc: str = "runs", ensemble: EnsembleFn | None = None) -> pd.DataFrame:
    """Read or compute every configuration; return a tidy table with one row per
    configuration and metric (the configuration's keys as columns, then ``metric`` and
    ``value``). A configuration whose run raises :class:`SkipRun` gives one row with
    metric ``skipped``, value NaN and the reason in a ``note`` column.

    Args:
        chapter: the store file the runs belong to (``<store>/<chapter>.jsonl``).
        store: the book's run store (default :func:`default_store_dir`; None: none).
        cache: the local cache (default ``$TSIMB_CACHE``; None: none).
        write: where computed runs go: the ``store`` (``python -m tsimb run``) or the ``cache``.
        recompute: ignore stored and cached runs and compute every configuration again.
        executor: compute missing runs there (results are written by this process only);
            each run gets :func:`run_threads` threads (set ``$TSIMB_THREADS`` to match the
            executor's workers).
        jobs: compute missing runs on this many worker processes of this machine (None:
            one per core; the rule is :func:`plan_jobs`'s); each run records the threads it
            used. 1 (the default): in this process. Not together with ``executor``.
        progress: a progress bar with runs done and left and an ETA (also in Jupyter).
        ensemble: train the missing configurations that differ only in their seed together
            with this function (:meth:`Experiment.run_ensemble`: one batched model, where a
            GPU is otherwise idle), in this process (``jobs`` 1, no ``executor``); a
            configuration without siblings is computed by ``run``.
    """
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs={jobs!r} must be a positive integer (or None: one worker process per core)")
    if executor is not None and jobs not in (1, None):
        raise ValueError(f"pass either executor or jobs={jobs}, not both: jobs starts its own worker processes")
    if ensemble is not None and (executor is not None or jobs != 1):
        raise ValueError("ensembles are trained in this process: pass jobs=1 and no executor with ensemble")
    store = default_store() if store == DEFAULT else store
    cache = RunStore(default_run_cache_dir()) if cache == DEFAULT else cache
    sources = [] if recompute else [s for s in (store, cache) if s is not None]
    target = store if write == "store" else cache
    configs = [dict(c) for c in configs]
    found: dict[str, dict] = {}
    missing: dict[str, dict] = {}  # key -> config, each configuration once
    for config in configs:
        record = _lookup(sources, chapter, config)
        if record is not None:
            found[config_key(config)] = record
        else:
            missing.setdefault(config_key(config), config)
    if missing:
        if target is None:
            raise StoreError(f"{len(missing)} run(s) of {chapter} must be computed but there is nowhere to "
                             f"write them (write={write!r} and that store is None)")
        target.check_writable(chapter)
        plan = JobPlan(1, None) if executor is not None else plan_jobs(jobs, len(missing))
        found.update(_compute(list(missing.values()), run, chapter, target, sources, recompute, executor, plan,
                              show_progress(progress), desc, total=len(configs), done=len(configs) - len(missing),
                              ensemble=ensemble))
    rows = [row for config in configs for row in _rows(config, found[config_key(config)])]
    return pd.DataFrame(rows)


def _lookup(sources: list[RunStore], chapter: str, config: Config) -> dict | None:
    """The first stored record of ``config`` in ``sources``, or None."""
    return next((r for r in (s.get(chapter, config) for s in sources) if r is not None), None)


def _compute(missing: list[dict], run: RunFn, chapter: str, target: RunStore, sources: list[RunStore],
             recompute: bool, executor: Executor | None, plan: JobPlan, progress: bool, desc: str,
             total: int, done: int, ensemble: EnsembleFn | None = None) -> dict[str, dict]:
    results: dict[str, dict] = {}
    bar = tqdm(total=total, initial=done, desc=desc, unit="run", disable=not progress)

    def finish(config: dict, record: dict) -> None:
        record = {"key": config_key(config), **record}
        target.append(chapter, record)
        results[record["key"]] = record
        bar.update(1)

    def already_done(config: dict) -> dict | None:  # finished by another process meanwhile?
        return None if recompute else _lookup(sources, chapter, config)

    def take(config: dict, record: dict) -> None:
        results[config_key(config)] = record
        bar.update(1)

    deferred: list[dict] = []
    try:
        if ensemble is not None:
            deferred = _as_ensembles(missing, run, ensemble, target, already_done, take, finish)
        elif executor is None and plan.workers > 1:
            with worker_pool(plan.workers, plan.threads) as pool, terminate_as_interrupt():
                deferred = _on_workers(pool, plan, missing, run, target, already_done, take, finish)
        elif executor is None:
            for config in missing:
                with target.lock(config_key(config), blocking=False) as mine:
                    if not mine:  # another process is computing it: come back at the end
                        deferred.append(config)
                        continue
                    record = already_done(config)
                    if record is not None:
                        take(config, record)
                        continue
                    finish(config, execute(run, config))
        else:
            futures: dict[Future, dict] = {executor.submit(execute, run, c, run_threads()): c for c in missing}
            for future in _as_completed(futures):
                finish(futures[future], future.result())
        for config in deferred:
            with target.lock(config_key(config)):
                record = already_done(config)
                if record is not None:
                    take(config, record)
                else:
                    finish(config, execute(run, config))
    finally:
        bar.close()
    return results


def _as_ensembles(missing: list[dict], run: RunFn, ensemble: EnsembleFn, target: RunStore,
                  already_done: Callable, take: Callable, finish: Callable) -> list[dict]:
    """Compute ``missing`` in groups of configurations that differ only in their seed, each
    group as one ensemble (a group of one by ``run``), every run claimed (locked) first;
    returns the runs another driver held."""
    groups: dict[str, list[dict]] = {}
    for config in missing:
        groups.setdefault(config_key({k: v for k, v in config.items() if k != "seed"}), []).append(config)
    deferred = []
    for group in groups.values():
        with ExitStack() as claims:
            mine = []
            for config in group:
                if not claims.enter_context(target.lock(config_key(config), blocking=False)):
                    deferred.append(config)
                    continue
                record = already_done(config)
                if record is not None:
                    take(config, record)
                else:
                    mine.append(config)
            if len(mine) > 1:
                for config, record in zip(mine, execute_ensemble(ensemble, mine)):
                    finish(config, record)
            elif mine:
                finish(mine[0], execute(run, mine[0]))
    return deferred


def _on_workers(pool: ProcessPoolExecutor, plan: JobPlan, missing: list[dict], run: RunFn, target: RunStore,
                already_done: Callable, take: Callable, finish: Callable) -> list[dict]:
    """Compute ``missing`` on ``pool``, at most ``plan.workers`` at a time, each run claimed
    (locked) by this driver while a worker computes it, so that another driver on the same
    store skips it; returns the runs another driver held (computed after, in this process).
    On an error (a run's, or Ctrl-C) the queued runs are cancelled and the workers are
    stopped at once: the runs in progress would not be stored anyway, and waiting for them
    would hold the error back for up to a run's length."""
    queue, deferred = deque(missing), []
    running: dict[Future, tuple[dict, ExitStack]] = {}
    try:
        while queue or running:
            while queue and len(running) < plan.workers:
                config = queue.popleft()
                claim = ExitStack()
                if not claim.enter_context(target.lock(config_key(config), blocking=False)):
                    claim.close()
                    deferred.append(config)
                    continue
                record = already_done(config)
                if record is not None:
                    claim.close()
                    take(config, record)
                    continue
                running[pool.submit(execute, run, config, plan.threads)] = (config, claim)
            if not running:
                break
            for future in wait(running, return_when=FIRST_COMPLETED).done:
                config, claim = running.pop(future)
                with claim:
                    finish(config, future.result())
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        # ProcessPoolExecutor has no public way to stop running workers before Python 3.14
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        raise
    finally:
        for _, claim in running.values():
            claim.close()
    return deferred


def _as_completed(futures: dict) -> Iterable[Future]:
    from concurrent.futures import as_completed

    try:  # a Dask executor's futures are concurrent.futures-compatible
        yield from as_completed(futures)
    finally:
        for future in futures:
            future.cancel()


def summarise(table: pd.DataFrame, by: list[str], metrics: Iterable[str] | None = None) -> pd.DataFrame:
    """Mean, sample standard deviation and count of ``value`` over seeds, grouped by ``by``
    and ``metric``."""
    if metrics is not None:
        table = table[table["metric"].isin(list(metrics))]
    grouped = table.groupby([*by, "metric"], sort=False)["value"]
    out = grouped.agg(mean="mean", std="std", n="count").reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


def mean_of(table: pd.DataFrame, method: str, metric: str) -> float:
    """The mean of ``metric`` over every run of ``method`` in a tidy table (NaN if none)."""
    rows = table[(table["method"] == method) & (table["metric"] == metric)]
    return float(rows["value"].mean())


def format_summary(summary: pd.DataFrame, index: list[str], columns: str | list[str] = "metric",
                   digits: int = 3, scale: float = 1.0) -> pd.DataFrame:
    """A wide table of ``mean ± std`` strings (``scale=100`` for percentages)."""
    text = summary.assign(
        cell=[f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}" for m, s in zip(summary["mean"], summary["std"])]
    )
    wide = text.pivot(index=index, columns=columns, values="cell")
    wide.columns.name = None
    return wide


def describe_runs(records: Iterable[dict]) -> str:
    """One provenance line for a chapter's results: how many runs, on what devices, the
    total compute time, the tsimb commits and dates."""
    records = list(records)
    if not records:
        return "no stored runs"
    prov = pd.DataFrame([r["provenance"] for r in records])
    devices = ", ".join(f"{n} on {d}" for d, n in prov.groupby("device")["seconds"].count().items())
    hours = prov["seconds"].sum() / 3600
    commits = sorted({c[:7] + ("+dirty" if c.endswith("+dirty") else "") for c in prov["commit"]})
    dates = prov["date"].str[:10]
    return (f"{len(records)} runs ({devices}), {hours:.2f} device-hours of compute, tsimb "
            f"{', '.join(sorted(set(prov['tsimb'])))} at commit{'s' if len(commits) > 1 else ''} "
            f"{', '.join(commits)}, {dates.min()} to {dates.max()} (UTC)")
