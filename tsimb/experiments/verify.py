"""``python -m tsimb verify``: re-execute stored runs of each chapter and compare with the store.

What it proves: the code at this commit, on this machine, still computes the stored
numbers. Every stored run records its numerics (device kind, CPU kernel ISA cap,
threads, torch version; see :func:`tsimb.experiments.runner.numerics`). For each chapter
it checks ``sample`` runs (3 by default):

* **The rotation's run**, re-executed in full whatever its length: every metric and every
  epoch's training loss must be equal, bit for bit. It is drawn from the chapter's
  *rotation pool*, every run made with this machine's numerics whose stored wall time is
  at most ``budget`` seconds (90 by default), taking the run at the commit's position in
  the git history: successive commits take successive runs, so over as many commits as
  the pool has runs, every metric of every run in it is re-computed.
* **One run of the uncorrected reference and one of the chapter's own method**, then random
  ones, drawn with the commit as seed. Each is re-executed in full when it was made with
  this machine's numerics and took at most ``full_seconds``; otherwise it is *replayed*:
  its first ``replay_epochs`` epochs are trained again from the same seed and their
  losses compared with the stored trace (exactly where the numerics match, else within a
  relative ``tolerance``, 2% by default: the first epochs of a GPU-made run agree with the
  CPU's to about 1e-4). A replay checks the trace, not the metrics.

Records that no page serves are left out and reported: runs of another code version
(``config["version"]`` is not the chapter's ``CODE_VERSION``; the chapters ask for runs
of the current version only) and lines of another chapter. A run without provenance can
only be replayed within the tolerance (how it was made is unknown) and is reported too.
"""

from __future__ import annotations

import hashlib
import math
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ..runtime import get_device
from . import experiment, written_chapters
from .experiment import Experiment
from .runner import device_name, execute, git_commit, numerics
from .store import RunStore, StoreError, default_store, default_store_dir

FULL_SECONDS = 20.0
BUDGET = 90.0  # fits a 100-epoch ODE run on TwoLeadECG (20-80 s): 82 of that chapter's 86 runs
REPLAY_EPOCHS = 2
SAMPLE = 3
TOLERANCE = 0.02

FULL_MODE = "full: metrics and trace, exact"


def replay_mode(epochs: int, exact: bool, tolerance: float) -> str:
    return f"replay {epochs} epochs: trace checked, metrics not ({'exact' if exact else f'within {tolerance:.0%}'})"


@dataclass
class Check:
    chapter: str
    key: str
    dataset: str
    method: str
    seed: int
    role: str  # rotation, reference, own method, random
    mode: str
    ok: bool
    detail: str


def _provenance(record: dict) -> dict:
    prov = record.get("provenance")
    return prov if isinstance(prov, dict) else {}


def _threads(record: dict) -> int:
    threads = _provenance(record).get("threads")
    return threads if isinstance(threads, int) and threads >= 1 else 1


def stored_seconds(record: dict) -> float:
    """The run's stored wall time (infinite where it is not recorded)."""
    seconds = _provenance(record).get("seconds")
    return float(seconds) if isinstance(seconds, (int, float)) and math.isfinite(seconds) else math.inf


def made_here(record: dict) -> bool:
    """Whether the run was made with this machine's numerics, so that re-executing it with
    its thread count must give the same bits: the same numerics string and, where the
    record names it, the same processor. The AVX2 cap (:data:`tsimb.runtime.REPRODUCIBLE_CPU_ENV`)
    does not make an AMD EPYC and an Intel Xeon agree: on a Xeon, 19 of 21 exact
    re-executions of EPYC-made runs differed (in the last digits of the first epochs'
    losses, more after many epochs), so a run made on another processor is replayed within
    the tolerance instead."""
    provenance = _provenance(record)
    stored = provenance.get("numerics")
    device = get_device()
    same_processor = provenance.get("device") in (None, device_name(device))
    return stored is not None and stored == numerics(device, _threads(record)) and same_processor


def screen(module: Experiment, records: dict[str, dict]) -> tuple[dict[str, dict], list[str]]:
    """The records of chapter ``module`` (its :class:`Experiment`) that verify draws from, and one note for each kind
    it leaves out or can check only partly."""
    version = module.code_version
    kept: dict[str, dict] = {}
    chapters: Counter = Counter()
    versions: Counter = Counter()
    for key, record in records.items():
        config = record.get("config")
        if not isinstance(config, dict) or config.get("chapter") != module.chapter:
            chapters[str(config.get("chapter")) if isinstance(config, dict) else "none"] += 1
        elif version is not None and config.get("version") != version:
            versions[str(config.get("version"))] += 1
        else:
            kept[key] = record
    notes = []
    if chapters:
        notes.append(f"{sum(chapters.values())} line(s) of another chapter ({', '.join(sorted(chapters))}) "
                     "are not this chapter's runs: left out")
    if versions:
        notes.append(f"{sum(versions.values())} run(s) of another code version ({', '.join(sorted(versions))}; "
                     f"this code is {version}) are not served by the chapter: left out, not verified")
    if module.not_replayable is not None:
        reasons: Counter = Counter()
        for key, record in list(kept.items()):
            reason = module.not_replayable(record["config"])
            if reason and _provenance(record) and not made_here(record):
                reasons[reason] += 1
                del kept[key]
        notes += [f"{n} run(s) made on another processor or with other numerics are left out: {reason}, so the "
                  "processor's last bits change the run's data and a replay here is not a check"
                  for reason, n in sorted(reasons.items())]
    bare = sum(not _provenance(r) for r in kept.values())
    if bare:
        notes.append(f"{bare} run(s) have no provenance: they can only be replayed within the tolerance")
    return kept, notes


def rotation_pool(records: dict[str, dict], budget: float = BUDGET) -> list[dict]:
    """The runs the rotation goes through, in a fixed order (by key): not skipped, made with
    this machine's numerics, and at most ``budget`` seconds long when stored."""
    return [records[k] for k in sorted(records) if "skipped" not in records[k]
            and made_here(records[k]) and stored_seconds(records[k]) <= budget]


def _seed(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


def rotation_turn(commit: str) -> int:
    """The rotation's position for ``commit``: the number of commits up to it, so successive
    commits of a branch take successive runs. Without that history (no git, a shallow
    clone) a number drawn from the commit id; without a commit, today's date."""
    if not commit or commit == "unknown":
        return date.today().toordinal()
    if commit.startswith("-"):  # never an option to git
        return _seed(commit)
    root = str(Path(__file__).resolve().parents[2])
    try:
        git = ["git", "-C", root]
        shallow = subprocess.run([*git, "rev-parse", "--is-shallow-repository"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout.strip()
        count = subprocess.run([*git, "rev-list", "--count", commit], capture_output=True, text=True,
                               timeout=10, check=True).stdout.strip()
        if shallow == "false" and count.isdigit():
            return int(count)
    except (OSError, subprocess.SubprocessError):
        pass
    return _seed(commit)


def draw(records: dict[str, dict], n: int, commit: str, reference: str, own: tuple[str, ...],
         full_seconds: float = FULL_SECONDS, budget: float = BUDGET,
         turn: int | None = None) -> list[tuple[str, dict]]:
    """``n`` runs to check, each with its role: the rotation's run (position ``turn``, by
    default drawn from ``commit``), one of the ``reference`` method, one of an ``own``
    method, then random ones (drawn with ``commit`` as seed). Skipped runs are not drawn
    (there is nothing to compare), nor, outside the rotation, runs without a training
    trace (the IB-GAN chapter's generation-quality scores) unless they can be re-executed
    in full here: at most ``full_seconds`` long, made with this machine's numerics."""
    chosen: list[tuple[str, dict]] = []
    pool = rotation_pool(records, budget)
    if n >= 1 and pool:
        chosen.append(("rotation", pool[(_seed(commit) if turn is None else turn) % len(pool)]))

    def checkable(record: dict) -> bool:  # a run without a trace can only be re-executed exactly, here
        return bool(record.get("trace")) or (stored_seconds(record) <= full_seconds and made_here(record))

    def free(record: dict) -> bool:
        return all(record is not other for _, other in chosen)

    usable = [records[k] for k in sorted(records) if "skipped" not in records[k] and checkable(records[k])]
    rng = np.random.default_rng(_seed(commit))
    for role, wanted in (("reference", (reference,)), ("own method", own)):
        picks = [r for r in usable if r["config"].get("method") in wanted and free(r)]
        if len(chosen) < n and picks:
            chosen.append((role, picks[rng.integers(len(picks))]))
    rest = [r for r in usable if free(r)]
    extra = n - len(chosen)
    if extra > 0 and rest:
        chosen += [("random", rest[i]) for i in rng.choice(len(rest), size=min(extra, len(rest)), replace=False)]
    return chosen


def sample_runs(records: dict[str, dict], n: int, commit: str, reference: str, own: tuple[str, ...],
                full_seconds: float = FULL_SECONDS, budget: float = BUDGET, turn: int | None = None) -> list[dict]:
    """The records :func:`draw` picks, without their roles."""
    return [record for _, record in draw(records, n, commit, reference, own, full_seconds, budget, turn)]


def _close(a: float, b: float, exact: bool, tolerance: float) -> bool:
    return a == b if exact else math.isclose(a, b, rel_tol=tolerance, abs_tol=1e-6)


def verify_run(chapter: str, record: dict, full_seconds: float = FULL_SECONDS,
               replay_epochs: int = REPLAY_EPOCHS, tolerance: float = TOLERANCE,
               full: bool | None = None, role: str = "") -> Check:
    """Re-execute or replay one stored run and compare (see the module docstring). ``full``
    forces a full re-execution (True) or a replay (False); by default a run made here that
    took at most ``full_seconds`` is re-executed in full. A full re-execution needs this
    machine's numerics; without them the run is replayed. A run made here without a trace
    is always re-executed in full: it has nothing to replay."""
    module = experiment(chapter)
    config = record["config"]
    threads = _threads(record)
    same = made_here(record)
    seed = config.get("seed", -1)
    check = Check(chapter, str(record.get("key")), str(config.get("dataset")), str(config.get("method")),
                  seed if isinstance(seed, int) else -1, role, "", True, "")
    trace = record.get("trace") or []
    try:
        # a run without a trace (a measurement, a generator's scores) has nothing to replay:
        # made here, it is re-executed in full whatever it took (the rotation's budget bounds it)
        if same and (full if full is not None else stored_seconds(record) <= full_seconds or not trace):
            check.mode = FULL_MODE
            new = execute(module.run_one, config, threads)
            stored = record.get("metrics", {})
            problems = [f"{name}: stored {value!r}, now {new['metrics'].get(name)!r}"
                        for name, value in stored.items() if new["metrics"].get(name) != value]
            problems += [f"metric {name!r} is new" for name in new["metrics"] if name not in stored]
            if trace and new["trace"] != trace:
                problems.append("the training-loss trace differs")
        else:
            epochs = min(replay_epochs, len(trace))
            check.mode = replay_mode(epochs, same, tolerance)
            if epochs == 0:
                check.ok, check.detail = False, "no stored trace to replay, and it cannot be re-executed exactly here"
                return check
            new = execute(module.run_one, config, threads, epochs=epochs)
            problems = [f"epoch {i} loss: stored {a!r}, now {b!r}"
                        for i, (a, b) in enumerate(zip(trace[:epochs], new["trace"]))
                        if not _close(a, b, same, tolerance)]
            if len(new["trace"]) < epochs:
                problems.append(f"the replay trained {len(new['trace'])} epochs, not {epochs}")
    except Exception as error:  # a stored configuration this code cannot run is a failed check
        problems = [f"re-executing it raised {type(error).__name__}: {error}"]
    check.ok = not problems
    check.detail = "; ".join(problems) if problems else "matches"
    return check


def _check_settings(sample: int, full_seconds: float, replay_epochs: int, tolerance: float, budget: float) -> None:
    for name, value in dict(sample=sample, replay_epochs=replay_epochs).items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"verify: {name} must be a whole number of at least 1, got {value!r}")
    for name, value in dict(full_seconds=full_seconds, tolerance=tolerance, budget=budget).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
            raise ValueError(f"verify: {name} must be a number of at least 0, got {value!r}")


def verify(chapters: list[str] | None = None, sample: int = SAMPLE, store: RunStore | None = None,
           commit: str | None = None, full_seconds: float = FULL_SECONDS, replay_epochs: int = REPLAY_EPOCHS,
           tolerance: float = TOLERANCE, budget: float = BUDGET) -> pd.DataFrame:
    """Verify ``sample`` stored runs of every chapter (see the module docstring); one row per
    run checked. ``report.attrs["notes"]`` holds, per chapter, what the rotation covered
    and what was left out.

    Raises ``ValueError`` for an unknown or planned chapter or a bad setting, and
    :class:`StoreError` when the store folder does not exist; both before any run."""
    _check_settings(sample, full_seconds, replay_epochs, tolerance, budget)
    store = store or default_store()
    if store is None:
        raise StoreError("no run store to verify: pass one (or set TSIMB_STORE)")
    modules = {name: experiment(name) for name in chapters or written_chapters()}
    if not store.folder.is_dir():
        raise StoreError(f"no run store at {store.folder}: "
                         f"{'it is not a folder' if store.folder.exists() else 'that folder does not exist'}; "
                         "pass --store DIR, the folder holding the chapters' .jsonl files (or set TSIMB_STORE)")
    commit = (commit or git_commit()).removesuffix("+dirty")
    turn = rotation_turn(commit)
    rows, notes = [], {}
    for chapter, module in modules.items():
        records = store.records(module.chapter)
        if not records:
            rows.append(Check(chapter, "-", "-", "-", -1, "-", "-", False,
                              f"no stored runs in {store.path(module.chapter)}: nothing to verify"))
            continue
        usable, notes[chapter] = screen(module, records)
        pool = rotation_pool(usable, budget)
        drawn = draw(usable, sample, f"{commit}/{chapter}", module.reference_method, tuple(module.own_methods),
                     full_seconds, budget, turn)
        if pool:
            over = sum(stored_seconds(r) > budget for r in usable.values() if "skipped" not in r)
            notes[chapter].insert(0, f"rotation turn {turn}: run {turn % len(pool) + 1} of the {len(pool)} "
                                     f"within the {budget:g} s budget re-executed in full"
                                     + (f"; {over} longer run(s) are never drawn by the rotation" if over else ""))
        else:
            notes[chapter].insert(0, f"no run re-executed in full by the rotation: none was made with this "
                                     f"machine's numerics within the {budget:g} s budget")
        for role, record in drawn:
            rows.append(verify_run(chapter, record, full_seconds, replay_epochs, tolerance,
                                   full=True if role == "rotation" else None, role=role))
    report = pd.DataFrame([r.__dict__ for r in rows], columns=list(Check.__dataclass_fields__))
    report.attrs["notes"] = notes
    return report


def verify_cli(args) -> int:
    """``python -m tsimb verify``: print the report; 0 when every check matches, 1 otherwise.
    A user error (unknown chapter, no store, bad setting) raises before any run."""
    get_device()  # a bad $TSIMB_DEVICE is refused before anything runs
    folder = args.store or default_store_dir()
    if folder is None:
        raise StoreError("no run store: pass --store DIR (or set TSIMB_STORE)")
    report = verify(args.chapters or None, args.sample or SAMPLE, RunStore(folder), args.commit,
                    FULL_SECONDS if args.full_seconds is None else args.full_seconds,
                    args.replay_epochs or REPLAY_EPOCHS, budget=BUDGET if args.budget is None else args.budget)
    checked = report[report["key"] != "-"]
    if len(checked):
        with pd.option_context("display.max_colwidth", 120, "display.width", 250):
            print(checked.drop(columns=["detail"]).to_string(index=False))
    for chapter, part in checked.groupby("chapter", sort=False):
        full = int((part["mode"] == FULL_MODE).sum())
        print(f"{chapter}: {len(part)} stored run(s) checked, {int(part['ok'].sum())} match; "
              f"{full} re-executed in full (metrics and trace checked), "
              f"{len(part) - full} replayed (trace checked, metrics not)")
    for chapter, lines in report.attrs.get("notes", {}).items():
        for line in lines:
            print(f"NOTE {chapter}: {line}")
    for row in report[~report["ok"]].itertuples():
        if row.key == "-":
            print(f"FAILED {row.chapter}: {row.detail}")
        else:
            print(f"MISMATCH {row.chapter} run {row.key} ({row.dataset}, {row.method}, seed {row.seed}, "
                  f"{row.mode}): {row.detail}")
    passed, failed = int(report["ok"].sum()), int((~report["ok"]).sum())
    print(f"verify: {passed} passed, {failed} failed")
    return 1 if failed else 0
