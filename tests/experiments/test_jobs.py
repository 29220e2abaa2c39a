"""``run_grid(jobs=N)`` / ``tsimb run --jobs N``: single-threaded worker processes that give
the records one thread in this process gives, with the store written by the driver once
per run; and the rule that chooses workers and threads (:func:`plan_jobs`)."""

from __future__ import annotations

import json

import pytest
import torch

from tsimb.experiments import experiment
from tsimb.experiments.runner import JobPlan, plan_jobs, run_grid
from tsimb.experiments.store import RunStore

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture
def no_thread_setting(monkeypatch):
    monkeypatch.delenv("TSIMB_THREADS", raising=False)


@pytest.mark.parametrize("jobs, runs, cores, plan", [
    (None, 40, 2, JobPlan(2, 1)),    # a grid on a laptop: one single-threaded worker per core
    (None, 40, 64, JobPlan(40, 1)),  # fewer runs than cores: one worker per run
    (None, 4, 16, JobPlan(4, 4)),    # cores left over go to the runs as threads
    (None, 1, 16, JobPlan(1, None)),  # one run: in this process, as without jobs
    (1, 40, 16, JobPlan(1, None)),
    (3, 40, 16, JobPlan(3, 5)),
])
def test_the_plan_uses_every_core_and_never_more(no_thread_setting, jobs, runs, cores, plan):
    assert plan_jobs(jobs, runs, CPU, cores=cores) == plan
    if plan.workers > 1:
        assert plan.workers * plan.threads <= cores


def test_more_jobs_than_cores_are_capped_with_a_warning(no_thread_setting):
    with pytest.warns(UserWarning, match="oversubscribe"):
        assert plan_jobs(8, 40, CPU, cores=2) == JobPlan(2, 1)


def test_a_thread_setting_is_kept_and_caps_the_workers(monkeypatch):
    monkeypatch.setenv("TSIMB_THREADS", "4")
    assert plan_jobs(None, 40, CPU, cores=16) == JobPlan(4, 4)
    assert plan_jobs(None, 40, CPU, cores=2) == JobPlan(1, None)


def test_a_gpu_is_shared_by_one_process_unless_asked(no_thread_setting):
    assert plan_jobs(None, 40, CUDA, cores=16) == JobPlan(1, None)
    assert plan_jobs(2, 40, CUDA, cores=16) == JobPlan(2, 1)


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_bad_jobs_are_refused_before_any_run(tmp_path, jobs):
    with pytest.raises(ValueError, match="positive integer"):
        run_grid([{"i": 1}], lambda c: {"m": 1.0}, chapter="toy", store=None, cache=RunStore(tmp_path),
                 jobs=jobs, progress=False)


def test_jobs_and_an_executor_are_not_combined(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="either executor or jobs"):
        run_grid([{"i": 1}], lambda c: {"m": 1.0}, chapter="toy", store=None, cache=RunStore(tmp_path),
                 executor=pool, jobs=2, progress=False)


def _tiny_grid() -> list[dict]:
    """Four real runs of the baselines chapter (a small CNN, two epochs, ItalyPowerDemand)."""
    base = json.loads(json.dumps(experiment("baselines").grids("quick")["main"][0]))
    base["model"], base["budget"]["epochs"] = "cnn", 2
    return [{**base, "seed": seed, "method": method} for seed in (0, 1) for method in ("none", "ros")]


def test_two_workers_give_the_records_of_one_thread_in_process(tmp_path, monkeypatch):
    """jobs=2 runs each configuration in a spawned single-threaded worker: every record
    (metrics, loss trace, numerics) equals the one computed here with one thread, the
    worker's provenance says 1 thread, and the driver appends each run once."""
    configs = _tiny_grid()
    exp = experiment("baselines")
    monkeypatch.setenv("TSIMB_THREADS", "1")
    serial = run_grid(configs, exp.run_one, chapter="toy", store=RunStore(tmp_path / "serial"), cache=None,
                      write="store", jobs=1, progress=False)
    monkeypatch.delenv("TSIMB_THREADS")
    before = torch.get_num_threads()
    parallel = run_grid(configs, exp.run_one, chapter="toy", store=RunStore(tmp_path / "jobs"), cache=None,
                        write="store", jobs=2, progress=False)
    assert torch.get_num_threads() == before  # the driver's own setting is untouched
    assert parallel.equals(serial)
    lines = (tmp_path / "jobs" / "toy.jsonl").read_text().splitlines()
    assert len(lines) == len(configs)  # written once per run, by the driver
    ours = RunStore(tmp_path / "jobs").records("toy")
    reference = RunStore(tmp_path / "serial").records("toy")
    assert ours.keys() == reference.keys()
    for key, record in ours.items():
        assert record["provenance"]["threads"] == 1
        assert record["provenance"]["numerics"] == reference[key]["provenance"]["numerics"]
        assert (record["metrics"], record["trace"]) == (reference[key]["metrics"], reference[key]["trace"])


def test_sigterm_stops_a_driver_as_ctrl_c_does_and_the_old_handler_comes_back():
    # a driver killed by `kill`/`pkill` must stop its workers too (as on Ctrl-C), not leave
    # them computing runs nobody will store
    import os
    import signal

    from tsimb.experiments.runner import terminate_as_interrupt

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with terminate_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)  # Python runs the handler right after this call
    assert signal.getsignal(signal.SIGTERM) is before
