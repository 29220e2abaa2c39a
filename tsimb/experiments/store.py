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
result.
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

Config = Mapping[str, object]
STORE_ENV = "TSIMB_STORE"
CACHE_ENV = "TSIMB_CACHE"


def config_key(config: Config) -> str:
    """A stable hash of a configuration (key order does not matter)."""
    return hashlib.sha256(canonical(config).encode()).hexdigest()[:24]


def canonical(config: Config) -> str:
    """The configuration as sorted JSON, the form that is hashed and compared."""
    return json.dumps(config, sort_keys=True, default=str)


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
        return self.folder / f"{chapter}.jsonl"

    def records(self, chapter: str) -> dict[str, dict]:
        """Every readable run of ``chapter`` by key (a later line with the same key wins).
        Unreadable lines are skipped with a warning that names the file and line."""
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
                    record = json.loads(line)
                    key = record["key"]
                    if key != config_key(record["config"]):
                        raise ValueError("its key is not the hash of its config")
                    if not isinstance(record.get("metrics"), dict):
                        raise ValueError("it has no metrics")
                except (ValueError, KeyError, TypeError) as error:
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

    def check_writable(self) -> None:
        """Raise :class:`StoreError` now, before any run is computed, if runs cannot be written here."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            probe = self.folder / f".write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as error:
            raise StoreError(f"cannot write runs to {self.folder} ({error.strerror or error}); choose "
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
        """Append one run as one line, under the chapter's lock, synced to disk."""
        bad = [k for k, v in record["metrics"].items() if not isinstance(v, (int, float)) or not math.isfinite(v)]
        if bad:
            raise StoreError(f"run {record['key']}: metric(s) {bad} are not finite numbers; not stored")
        line = json.dumps(record, sort_keys=True, default=str, allow_nan=False)
        path = self.path(chapter)
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.lock(chapter):
            with open(path, "ab") as f:
                if f.tell() > 0:  # a kill may have cut the last line short: start a fresh one
                    with open(path, "rb") as r:
                        r.seek(-1, os.SEEK_END)
                        if r.read(1) != b"\n":
                            f.write(b"\n")
                f.write(line.encode() + b"\n")
                f.flush()
                os.fsync(f.fileno())
