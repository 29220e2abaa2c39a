"""The data set type and its conventions: one split as ``(n, channels, length)`` float32
series with integer labels ``0..K-1``; label encoding, z-normalisation, resampling to one
length, and the checks every entry point runs on series (book chapter *Introduction*,
section "Data sets")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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
    """Map arbitrary class labels to ``0..K-1`` (numeric order when all are numbers).

    Labels that spell the same number are one class (``"1"``, ``"1.0"`` and ``"01"``:
    UEA headers write ``1.0`` where the UCR files write ``1``); its name is the number's
    shortest form (:func:`canonical_label`)."""
    names = [canonical_label(n) for n in np.asarray(labels).astype(str).tolist()]
    unique = sorted(set(names), key=_class_sort_key)
    lookup = {name: i for i, name in enumerate(unique)}
    return np.array([lookup[n] for n in names], dtype=np.int64), tuple(unique)


def canonical_label(name: str) -> str:
    """The class name ``name`` stands for: a finite number in its shortest form (``"1.0"``,
    ``"01"`` and ``"1"`` are ``"1"``; ``"2.50"`` is ``"2.5"``), any other text stripped of
    surrounding spaces."""
    text = str(name).strip()
    try:
        value = float(text)
    except ValueError:
        return text
    if not np.isfinite(value):  # "nan", "inf" as class names stay text
        return text
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def _class_sort_key(name: str) -> tuple[int, float | str]:
    try:
        return (0, float(name))
    except ValueError:
        return (1, name)


def z_normalise(X: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Each channel of each series to zero mean and unit standard deviation.

    Constant channels (standard deviation below ``eps``) become all zeros rather than NaN.
    Computed in ``X``'s own precision (so stored runs replay bit for bit); a channel whose
    mean or standard deviation overflows there (float32 squares of values beyond ~1e19)
    is recomputed in float64 after dividing by its largest magnitude, which leaves the
    z-scores unchanged and cannot overflow.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is the case handled below
        mean = X.mean(axis=-1, keepdims=True)
        std = X.std(axis=-1, keepdims=True)
        out = ((X - mean) / np.where(std < eps, 1.0, std)).astype(np.float32)
    overflow = ~(np.isfinite(mean) & np.isfinite(std))[..., 0]
    if overflow.any() and np.isfinite(X[overflow]).all():
        rows = np.asarray(X[overflow], dtype=np.float64)
        scale = np.abs(rows).max(axis=-1, keepdims=True)  # > 0: a zero row does not overflow
        scaled = rows / scale
        scaled_mean, scaled_std = scaled.mean(axis=-1, keepdims=True), scaled.std(axis=-1, keepdims=True)
        constant = scaled_std * scale < eps
        out[overflow] = ((scaled - scaled_mean) / np.where(constant, 1.0, scaled_std)).astype(np.float32)
    return out


def resample_to_length(series: list[np.ndarray], length: int) -> np.ndarray:
    """Linearly interpolate each ``(channels, l_i)`` series onto ``length`` evenly spaced points."""
    out = np.empty((len(series), series[0].shape[0], length), dtype=np.float32)
    target = np.linspace(0.0, 1.0, length)
    for i, s in enumerate(series):
        source = np.linspace(0.0, 1.0, s.shape[-1])
        for c in range(s.shape[0]):
            out[i, c] = np.interp(target, source, s[c])
    return out
