"""The run store: finished runs as data, one JSON Lines file per chapter.

Every line is one run::

    {"key": ..., "config": {...}, "metrics": {...}, "trace": [...], "provenance": {...}}

``config`` holds every setting that can change the result (its hash is ``key``),
``metrics`` the scalar results, ``trace`` the mean training loss of each epoch (what
``tsimb verify`` replays) and ``provenance`` where and how the run was made (tsimb
version and git commit, torch version, device, CPU numerics, threads, wall seconds, UTC
date). ``pandas.read_json(path, lines=True)`` reads a file.

The book's store is ``book/runs/`` in the repository (committed; ``$TSIMB_STORE``
chooses another folder); a local cache with the same layout lives in ``$TSIMB_CACHE``
(default ``~/.cache/tsimb/runs``). A run is appended as one line, under a lock, flushed
and synced to disk, so an interrupted grid loses at most the run in progress; a line cut
short by a kill is skipped with a warning naming the file and line, and never read as a
result. Reading applies the writer's checks (:func:`check_record`), so a hand-merged line
with a NaN, text or missing metric is skipped the same way; an append that fails midway
(a full disk) is cut back, leaving the file as it was.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

Config = Mapping[str, object]
STORE_ENV = "TSIMB_STORE"
CACHE_ENV = "TSIMB_CACHE"


def config_key(config: Config) -> str:
    """A stable hash of a configuration (key order does not matter; numpy scalars hash as
    the Python numbers they hold, so ``np.int64(1)`` and ``1`` are one configuration)."""
    return hashlib.sha256(canonical(config).encode()).hexdigest()[:24]


def canonical(config: Config) -> str:
    """The configuration as sorted JSON, the form that is hashed and compared."""
    return json.dumps(config, sort_keys=True, default=_plain)


def _plain(value: object) -> object:
    """JSON form of what ``json`` cannot write itself: numpy scalars and arrays as the
    Python numbers and lists they hold (not their text, ``"1"``), anything else as text."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def check_chapter_name(chapter: object) -> str:
    """``chapter`` if it can name a store file (``<folder>/<chapter>.jsonl``), else
    ``ValueError``: a name with ``/``, ``\\`` or ``..`` would write outside the store."""
    if not isinstance(chapter, str) or not chapter.strip():
        raise ValueError(f"chapter name must be a non-empty string, got {chapter!r}")
    if any(bad in chapter for bad in ("/", "\\", "..", "\0")) or chapter.startswith("."):
        raise ValueError(f"chapter name {chapter!r} contains '/', '\\', '..' or starts with '.'; it names "
                         "a file in the store folder, e.g. 'baselines'")
    return chapter


def check_record(record: object) -> None:
    """``ValueError`` unless ``record`` is a run the store can hold: a JSON object whose
    ``key`` is the hash of its ``config`` (an object), with ``metrics`` an object of finite
    numbers, non-empty unless the run was skipped (``skipped`` gives the reason), and a
    ``trace`` (if any) of finite numbers. The writer and the reader both apply it."""
    if not isinstance(record, dict):
        raise ValueError(f"it is a JSON {type(record).__name__}, not an object")
    for field in ("key", "config", "metrics"):
        if field not in record:
            raise ValueError(f"it has no {field!r}")
    if not isinstance(record["config"], dict):
        raise ValueError("its config is not an object")
    if record["key"] != config_key(record["config"]):
        raise ValueError("its key is not the hash of its config")
    metrics = record["metrics"]
    if not isinstance(metrics, dict):
        raise ValueError(f"its metrics are a {type(metrics).__name__}, not an object")
    bad = [k for k, v in metrics.items() if not _finite_number(v)]
    if bad:
        raise ValueError(f"metric(s) {bad} are not finite numbers")
    if not metrics and not isinstance(record.get("skipped"), str):
        raise ValueError("it has no metrics and is not a skipped run")
    trace = record.get("trace", [])
    if not isinstance(trace, list) or not all(_finite_number(v) for v in trace):
        raise ValueError("its trace is not a list of finite numbers")


def _finite_number(value: object) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
            and math.isfinite(value))


def _refuse_constant(name: str) -> None:
    raise ValueError(f"it holds {name}, which JSON does not allow")


def default_store_dir() -> Path | None:
    """``$TSIMB_STORE``, else ``book/runs`` of the source checkout tsimb runs from, else the
    copy of it installed with the package (:func:`installed_store_dir`: a pip or Colab
    install reads the book's results too), else None (every run is computed, into the cache)."""
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV]).expanduser()
    folder = Path(__file__).resolve().parents[2] / "book" / "runs"
    return folder if folder.is_dir() else installed_store_dir()


INSTALLED_STORE = "share/tsimb/runs"  # where the wheel installs book/runs (pyproject's data-files)


def installed_store_dir() -> Path | None:
    """The folder of the run store installed with the package (the wheel carries
    ``book/runs/*.jsonl`` as data files under ``<prefix>/share/tsimb/runs``, wherever pip's
    scheme puts ``<prefix>``: a venv, ``--user``, Colab's system Python), or None."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        files = distribution("tsimb").files or []
    except PackageNotFoundError:
        return None
    for file in files:
        if file.name.endswith(".jsonl") and "/".join(file.parts[-4:-1]) == INSTALLED_STORE:
            folder = Path(file.locate()).resolve().parent
            if folder.is_dir():
                return folder
    return None


def default_store() -> "RunStore | None":
    """The book's run store (:func:`default_store_dir`), or None where there is none."""
    folder = default_store_dir()
    return RunStore(folder) if folder is not None else None


def default_run_cache_dir() -> Path:
    """The local run cache: ``$TSIMB_CACHE`` or ``~/.cache/tsimb/runs``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "tsimb" / "runs").expanduser()


class StoreError(RuntimeError):
    """A store folder that cannot be written, or a record that cannot be stored."""


class RunStore:
    """A folder of ``<chapter>.jsonl`` files of finished runs."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._loaded: dict[str, tuple[tuple[float, int], dict[str, dict]]] = {}

    def __repr__(self) -> str:
        return f"RunStore({str(self.folder)!r})"

    def path(self, chapter: str) -> Path:
        """The file of ``chapter``; ``ValueError`` for a name that is not a plain file name."""
        return self.folder / f"{check_chapter_name(chapter)}.jsonl"

    def records(self, chapter: str) -> dict[str, dict]:
        """Every readable run of ``chapter`` by key (a later line with the same key wins).
        A line the writer would refuse (cut short, not JSON, NaN or text metrics, no
        metrics, a key that is not its config's hash: :func:`check_record`) is skipped with
        a warning that names the file and line, and never served."""
        path = self.path(chapter)
        if not path.is_file():
            return {}
        stat = path.stat()
        stamp = (stat.st_mtime, stat.st_size)
        if chapter in self._loaded and self._loaded[chapter][0] == stamp:
            return self._loaded[chapter][1]
        runs: dict[str, dict] = {}
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line, parse_constant=_refuse_constant)
                    check_record(record)
                    key = record["key"]
                except (ValueError, KeyError, TypeError, RecursionError) as error:
                    warnings.warn(f"{path}:{lineno}: skipped an unreadable run ({error}); "
                                  "it will be recomputed if a grid needs it", stacklevel=2)
                    continue
                runs[key] = record
        self._loaded[chapter] = (stamp, runs)
        return runs

    def get(self, chapter: str, config: Config) -> dict | None:
        """The stored run of ``config``, or None. A record under the same key whose stored
        configuration differs (a hash collision or a hand edit) is ignored, with a warning."""
        record = self.records(chapter).get(config_key(config))
        if record is None:
            return None
        if canonical(record["config"]) != canonical(config):
            warnings.warn(f"{self.path(chapter)}: the run stored under {config_key(config)} has another "
                          "configuration than the one requested; recomputing", stacklevel=2)
            return None
        return record

    def check_writable(self, chapter: str | None = None) -> None:
        """Raise :class:`StoreError` now, before any run is computed, if runs cannot be
        written here: the folder, and ``chapter``'s file where it exists (a read-only
        ``<chapter>.jsonl`` in a writable folder)."""
        try:
            path = None if chapter is None else self.path(chapter)
            self.folder.mkdir(parents=True, exist_ok=True)
            probe = self.folder / f".write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
            if path is not None and path.exists():
                with open(path, "ab"):  # opening for append writes nothing
                    pass
        except OSError as error:
            where = error.filename or self.folder
            raise StoreError(f"cannot write runs to {where} ({error.strerror or error}); choose "
                             f"another folder with ${CACHE_ENV} / ${STORE_ENV} or --store") from None

    @contextmanager
    def lock(self, name: str, blocking: bool = True) -> Iterator[bool]:
        """An exclusive lock on ``name`` in this folder (``fcntl.flock``; released if the
        process dies). Yields False when ``blocking`` is off and another process holds it."""
        lock_dir = self.folder / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / f"{name}.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def append(self, chapter: str, record: dict) -> None:
        """Append one run as one line, under the chapter's lock, synced to disk.

        Raises :class:`StoreError` for a record :func:`check_record` refuses, and when the
        write fails (a full disk, a read-only file): the partial line is then cut off, so
        the file holds exactly the runs it held before, and the message says so."""
        path = self.path(chapter)
        try:
            line = json.dumps(record, sort_keys=True, default=_plain, allow_nan=False).encode() + b"\n"
            check_record(json.loads(line))  # what a reader will see: numpy scalars are plain numbers
        except (ValueError, TypeError) as error:
            raise StoreError(f"run {record.get('key')} of {chapter}: {error}; not stored") from None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # unbuffered, so that a failed write leaves nothing pending that closing would flush
            with self.lock(chapter), open(path, "ab", buffering=0) as f:
                start = f.tell()
                try:
                    if start > 0:  # a kill may have cut the last line short: start a fresh one
                        with open(path, "rb") as r:
                            r.seek(-1, os.SEEK_END)
                            if r.read(1) != b"\n":
                                line = b"\n" + line
                    rest = memoryview(line)
                    while rest:  # a write may be short (a nearly full disk): write the rest
                        rest = rest[f.write(rest):]
                    os.fsync(f.fileno())
                except OSError:
                    _cut_back(f.fileno(), start)
                    raise
        except OSError as error:
            raise StoreError(
                f"could not append run {record['key']} to {path} ({error.strerror or error}): the file was "
                f"cut back to its previous {_size(path)} bytes, so every run stored before is kept and only "
                "this run is lost; free space (or make the file writable) and run again: the grid resumes "
                "from the stored runs") from None


def _cut_back(fd: int, size: int) -> None:
    """Truncate the open file ``fd`` to ``size`` bytes (what it held before a failed append)."""
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:  # the file is unwritable: nothing was appended to cut
        pass


def _size(path: Path) -> int | str:
    try:
        return path.stat().st_size
    except OSError:
        return "?"
