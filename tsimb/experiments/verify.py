"""``python -m tsimb verify``: re-execute a sample of a chapter's stored runs and compare.

What it proves: the code at this commit, on this machine, still computes the stored
numbers. Every stored run records its numerics (device kind, CPU kernel ISA cap,
threads, torch version; see :func:`tsimb.experiments.runner.numerics`).

* A run made with the same numerics as here, that took at most ``full_seconds``, is
  re-executed in full: every metric and every epoch's training loss must be equal, bit
  for bit.
* Any other run (a long one, or one made on a GPU) is *replayed*: its first
  ``replay_epochs`` epochs are trained again, from the same seed, and their losses are
  compared with the stored trace: exactly where the numerics match, else within a
  relative ``tolerance`` (2% by default: the first epochs of a GPU-made run agree with
  the CPU's to about 1e-4; a changed loss, model, data set or seed moves them by more).

The sample is deterministic: it is drawn with the commit as seed, so successive commits
cover the grid, and it always holds a run of the chapter's uncorrected reference and
one of its own method.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..runtime import get_device
from . import experiment, written_chapters
from .runner import execute, git_commit, numerics
from .store import RunStore, StoreError, default_store, default_store_dir

FULL_SECONDS = 20.0
REPLAY_EPOCHS = 2
SAMPLE = 4
TOLERANCE = 0.02


@dataclass
class Check:
    chapter: str
    key: str
    dataset: str
    method: str
    seed: int
    mode: str
    ok: bool
    detail: str


def sample_runs(records: dict[str, dict], n: int, commit: str, reference: str,
                own: tuple[str, ...], full_seconds: float = FULL_SECONDS) -> list[dict]:
    """``n`` (at least 3) stored runs, drawn with ``commit`` as seed: one of the
    ``reference`` method, one of an ``own`` method, the rest at random. Skipped runs are
    not drawn (there is nothing to compare), nor runs without a training trace (the
    IB-GAN chapter's generation-quality scores) unless they can be re-executed in full
    here: at most ``full_seconds`` long, made with this machine's numerics."""
    def checkable(record: dict) -> bool:  # a run without a trace can only be re-executed exactly, here
        prov = record.get("provenance", {})
        return bool(record.get("trace")) or (prov.get("seconds", math.inf) <= full_seconds and prov.get(
            "numerics") == numerics(get_device(), int(prov.get("threads") or 1)))

    usable = [records[k] for k in sorted(records) if "skipped" not in records[k] and checkable(records[k])]
    rng = np.random.default_rng(int(hashlib.sha256(commit.encode()).hexdigest()[:12], 16))
    chosen: list[dict] = []
    for wanted in ((reference,), own):
        pool = [r for r in usable if r["config"].get("method") in wanted and r not in chosen]
        if pool:
            chosen.append(pool[rng.integers(len(pool))])
    rest = [r for r in usable if r not in chosen]
    extra = max(n, 3) - len(chosen)
    if extra > 0 and rest:
        chosen += [rest[i] for i in rng.choice(len(rest), size=min(extra, len(rest)), replace=False)]
    return chosen


def _close(a: float, b: float, exact: bool, tolerance: float) -> bool:
    return a == b if exact else math.isclose(a, b, rel_tol=tolerance, abs_tol=1e-6)


def verify_run(chapter: str, record: dict, full_seconds: float = FULL_SECONDS,
               replay_epochs: int = REPLAY_EPOCHS, tolerance: float = TOLERANCE) -> Check:
    """Re-execute or replay one stored run and compare (see the module docstring)."""
    exp = experiment(chapter)
    config, prov = record["config"], record["provenance"]
    threads = int(prov.get("threads") or 1)
    same = prov.get("numerics") == numerics(get_device(), threads)
    check = Check(chapter, record["key"], str(config.get("dataset")), str(config.get("method")),
                  int(config.get("seed", -1)), "", True, "")
    if same and prov.get("seconds", math.inf) <= full_seconds:
        check.mode = "full, exact"
        new = execute(exp.run_one, config, threads)
        problems = [f"{name}: stored {value!r}, now {new['metrics'].get(name)!r}"
                    for name, value in record["metrics"].items() if new["metrics"].get(name) != value]
        problems += [f"metric {name!r} is new" for name in new["metrics"] if name not in record["metrics"]]
        if record.get("trace") and new["trace"] != record["trace"]:
            problems.append("the training-loss trace differs")
    else:
        epochs = min(replay_epochs, len(record.get("trace") or []))
        check.mode = f"replay {epochs} epochs, " + ("exact" if same else f"within {tolerance:.0%}")
        if epochs == 0:
            return Check(**{**check.__dict__, "ok": False, "detail": "no stored trace to replay"})
        new = execute(exp.run_one, config, threads, epochs=epochs)
        problems = [f"epoch {i} loss: stored {a!r}, now {b!r}"
                    for i, (a, b) in enumerate(zip(record["trace"][:epochs], new["trace"]))
                    if not _close(a, b, same, tolerance)]
        if len(new["trace"]) < epochs:
            problems.append(f"the replay trained {len(new['trace'])} epochs, not {epochs}")
    check.ok = not problems
    check.detail = "; ".join(problems) if problems else "matches"
    return check


def verify(chapters: list[str] | None = None, sample: int = SAMPLE, store: RunStore | None = None,
           commit: str | None = None, full_seconds: float = FULL_SECONDS, replay_epochs: int = REPLAY_EPOCHS,
           tolerance: float = TOLERANCE) -> pd.DataFrame:
    """Verify a sample of every chapter's stored runs; one row per run checked."""
    store = store or default_store()
    if store is None:
        raise StoreError("no run store to verify: pass one (or set TSIMB_STORE)")
    commit = (commit or git_commit()).removesuffix("+dirty")
    rows = []
    for chapter in chapters or written_chapters():
        exp = experiment(chapter)
        records = store.records(exp.chapter)
        if not records:
            rows.append(Check(chapter, "-", "-", "-", -1, "-", False, f"no stored runs in {store.path(chapter)}"))
            continue
        for record in sample_runs(records, sample, f"{commit}/{chapter}", exp.reference_method,
                                  tuple(exp.own_methods), full_seconds):
            rows.append(verify_run(chapter, record, full_seconds, replay_epochs, tolerance))
    return pd.DataFrame([r.__dict__ for r in rows])


def verify_cli(args) -> int:
    folder = args.store or default_store_dir()
    if folder is None:
        print("no run store: pass --store DIR (or set TSIMB_STORE)")
        return 2
    report = verify(args.chapters or None, args.sample or SAMPLE, RunStore(folder), args.commit,
                    args.full_seconds if args.full_seconds is not None else FULL_SECONDS,
                    args.replay_epochs or REPLAY_EPOCHS)
    with pd.option_context("display.max_colwidth", 120, "display.width", 200):
        print(report.drop(columns=["detail"]).to_string(index=False))
    for chapter, part in report.groupby("chapter", sort=False):
        print(f"{chapter}: re-executed {len(part)} stored run(s), {int(part['ok'].sum())} match")
    failed = report[~report["ok"]]
    for row in failed.itertuples():
        print(f"MISMATCH {row.chapter} run {row.key} ({row.dataset}, {row.method}, seed {row.seed}): {row.detail}")
    passed, n_failed = int(report["ok"].sum()), len(failed)
    print(f"verify: {passed} passed, {n_failed} failed")
    return 1 if n_failed else 0
