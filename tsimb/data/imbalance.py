"""Imbalance protocols: seeded, exact subsampling of a *training* split.

Each protocol returns the indices of the series to keep, so it can be applied to any
array aligned with the labels; :meth:`Imbalance.apply` does it on a :class:`Dataset`.
The test split is never touched: papers evaluate on the published, (near) balanced
test sets. Explained in the book's *Introduction*, section "Imbalance protocols".

Protocols:

* ``step`` (Wang 2023, dissertation ch. 4 sec. 4.4.1 and ch. 5 sec. 5.4.1, after
  Buda et al. 2018): the first half of the classes (by label) keep ``n`` series each,
  the last ``floor(K/2)`` classes keep ``max(1, round(n / ratio))``, where ``n`` is the
  smallest class count, so all majority classes and all minority classes are equal.
* ``exp`` (same chapters, after Cui et al. 2019): class ``i`` keeps
  ``max(1, round(n * ratio ** (-i / (K - 1))))`` series, ``n_i = n tau^i`` with
  ``tau = ratio ** (-1 / (K - 1))``, so the first class keeps ``n`` and the last ``n / ratio``.
* ``drop`` (IB-GAN paper, sec. 3.1): a seeded random half of the classes lose
  ``fraction`` (default 75%) of their series; each keeps ``max(1, round(n_c (1 - fraction)))``.
* ``binary`` (dissertation ch. 2 sec. 2.4.1, GL-GAN): two classes, relabelled 0
  (majority, all its series) and 1 (minority, ``max(1, round(ratio * n_majority))``
  series), ``ratio`` being the minority ratio ``r``.

``ratio`` means the imbalance ratio ``K = n_max / n_min`` for ``step`` and ``exp``,
the dropped fraction for ``drop``, and the minority ratio ``r`` for ``binary``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Literal

import numpy as np

from ..registry import Registry
from .datasets import Dataset

Kind = Literal["none", "step", "exp", "drop", "binary"]


def _check_labels(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise ValueError("labels must be a non-empty vector of integers 0..K-1")
    return y


def _take(y: np.ndarray, keep: dict[int, int], rng: np.random.Generator) -> np.ndarray:
    """For each class ``c`` a seeded random choice of ``keep[c]`` of its indices, sorted."""
    chosen = []
    for c, k in keep.items():
        members = np.flatnonzero(y == c)
        if k > members.size:
            raise ValueError(f"class {c} has {members.size} series, cannot keep {k}")
        chosen.append(rng.choice(members, size=k, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.int64)


def step_counts(n: int, n_classes: int, ratio: float) -> np.ndarray:
    """Per-class counts of step imbalance: ``n`` for the first ceil(K/2) classes, ``n/ratio`` after."""
    n_minority = n_classes // 2
    counts = np.full(n_classes, n, dtype=np.int64)
    counts[n_classes - n_minority:] = max(1, int(round(n / ratio)))
    return counts


def exp_counts(n: int, n_classes: int, ratio: float) -> np.ndarray:
    """Per-class counts of exponential imbalance: ``n * ratio ** (-i / (K-1))`` for class ``i``."""
    if n_classes == 1:
        return np.array([n], dtype=np.int64)
    i = np.arange(n_classes)
    return np.maximum(1, np.round(n * float(ratio) ** (-i / (n_classes - 1)))).astype(np.int64)


def _ratio_protocol(y: np.ndarray, ratio: float, seed: int, counts_of) -> np.ndarray:
    """Indices giving class ``c`` the count ``counts_of(n, K, ratio)[c]``, ``n`` the smallest class."""
    y = _check_labels(y)
    if not (isinstance(ratio, (int, float, np.number)) and np.isfinite(ratio) and ratio >= 1):
        raise ValueError(f"imbalance ratio must be a finite number >= 1, got {ratio!r}")
    counts = np.bincount(y)
    present = np.flatnonzero(counts)  # a label with no series is not a class of this split
    targets = counts_of(int(counts[present].min()), present.size, ratio)
    return _take(y, dict(zip(present.tolist(), targets.tolist())), np.random.default_rng(seed))


def step_imbalance(y: np.ndarray, ratio: float, seed: int = 0) -> np.ndarray:
    """Indices for step imbalance with ratio ``K`` (see module docstring)."""
    return _ratio_protocol(y, ratio, seed, step_counts)


def exponential_imbalance(y: np.ndarray, ratio: float, seed: int = 0) -> np.ndarray:
    """Indices for exponential imbalance with ratio ``K`` (see module docstring)."""
    return _ratio_protocol(y, ratio, seed, exp_counts)


def drop_half_of_classes(y: np.ndarray, fraction: float = 0.75, seed: int = 0, min_keep: int = 1) -> np.ndarray:
    """Indices after dropping ``fraction`` of the series of a random half of the classes.

    IB-GAN paper, sec. 3.1: "randomly dropping 75% of half of the classes". The half is
    ``floor(K/2)`` of the ``K`` classes that have series (a label with none is not a
    class), chosen with ``seed`` (:func:`dropped_classes`); the other
    classes keep every series. A dropped class keeps ``max(min_keep, round(n_c (1 -
    fraction)))`` series, never more than it has: the paper does not say what it does
    with classes of two or three series (Handwriting has them), where 75% leaves one,
    from which no generative model learns a distribution; the IB-GAN chapter keeps two.
    """
    y = _check_labels(y)
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction to drop must be in [0, 1), got {fraction}")
    if not (isinstance(min_keep, (int, np.integer)) and min_keep >= 1):
        raise ValueError(f"min_keep must be a positive integer, got {min_keep!r}")
    rng = np.random.default_rng(seed)
    counts = np.bincount(y)
    present = np.flatnonzero(counts)  # a label with no series is not a class of this split
    dropped = _draw_dropped(rng, present)
    keep = {c: int(n) for c, n in enumerate(counts)}
    for c in dropped:
        keep[int(c)] = min(int(counts[c]), max(min_keep, int(round(counts[c] * (1 - fraction)))))
    return _take(y, keep, rng)


def _draw_dropped(rng: np.random.Generator, present: np.ndarray) -> np.ndarray:
    """``floor(K/2)`` of the ``K`` present classes. With every label ``0..K-1`` present this
    is ``rng.choice(K, K // 2)``, the draw the stored runs were made with."""
    if present.size and present[-1] == present.size - 1:  # labels 0..K-1, all present
        return rng.choice(present.size, size=present.size // 2, replace=False)
    return present[rng.choice(present.size, size=present.size // 2, replace=False)]


def dropped_classes(n_classes: int, seed: int = 0, present: np.ndarray | None = None) -> list[int]:
    """The classes :func:`drop_half_of_classes` thins for ``seed`` (the same draw), sorted:
    recorded with every run of the IB-GAN chapter, since they change from seed to seed.
    ``present``: the labels that have series, where some of ``0..n_classes-1`` have none
    (``np.flatnonzero(np.bincount(y))``); by default all of them."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_classes) if present is None else np.asarray(present, dtype=np.int64)
    return sorted(int(c) for c in _draw_dropped(rng, labels))


def binary_pair(
    y: np.ndarray, ratio: float, classes: tuple[int, int] | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and new 0/1 labels for a binary majority/minority pair with minority ratio ``r``.

    Dissertation ch. 2 sec. 2.4.1: "randomly choose one class as majority class and
    another one as minority class", then keep ``r`` minority series per majority series.
    ``classes=(majority, minority)`` fixes the pair; otherwise ``seed`` draws it.
    """
    y = _check_labels(y)
    if not 0 < ratio <= 1:
        raise ValueError(f"minority ratio r must be in (0, 1], got {ratio}")
    rng = np.random.default_rng(seed)
    counts = np.bincount(y)
    if classes is None:
        present = np.flatnonzero(counts > 0)
        if present.size < 2:
            raise ValueError("binary_pair needs at least two classes")
        majority, minority = (int(c) for c in rng.choice(present, size=2, replace=False))
    else:
        majority, minority = classes
        if majority == minority:
            raise ValueError("majority and minority classes must differ")
    n_major = int(counts[majority])
    index = _take(y, {majority: n_major, minority: max(1, int(round(ratio * n_major)))}, rng)
    return index, (y[index] == minority).astype(np.int64)


# protocol name -> (labels, ratio, seed) -> indices to keep; what Imbalance(kind) runs
PROTOCOLS: Registry[Callable[[np.ndarray, float, int], np.ndarray]] = Registry("imbalance protocol")
PROTOCOLS.add("none", lambda y, ratio, seed: np.arange(len(y)), "the split as published")
PROTOCOLS.add("step", step_imbalance, "half the classes keep n/ratio series (Buda et al. 2018)")
PROTOCOLS.add("exp", exponential_imbalance, "class i keeps n ratio^(-i/(K-1)) series (Cui et al. 2019)")
PROTOCOLS.add("drop", drop_half_of_classes, "a random half of the classes lose a fraction (IB-GAN sec. 3.1)")
PROTOCOLS.add("binary", lambda y, ratio, seed: binary_pair(y, ratio, seed=seed)[0],
              "a majority/minority pair with minority ratio r (GL-GAN, dissertation ch. 2)")
# what each protocol's ratio must be
_RATIO_RULES: dict[str, tuple[Callable[[float], bool], str]] = {
    "none": (lambda r: r == 1, "1"), "step": (lambda r: r >= 1, ">= 1"), "exp": (lambda r: r >= 1, ">= 1"),
    "drop": (lambda r: 0 <= r < 1, "in [0, 1)"), "binary": (lambda r: 0 < r <= 1, "in (0, 1]"),
}


def match_classes(test: Dataset, train: Dataset) -> Dataset:
    """The series of ``test`` whose class occurs in ``train``, relabelled with ``train``'s labels.

    Needed after :func:`binary_pair`, whose training set keeps two classes relabelled
    0/1: the test split must be restricted to the same pair (dissertation ch. 2).
    """
    lookup = {name: k for k, name in enumerate(train.class_names)}
    names = [test.class_names[k] for k in test.y]
    keep = np.array([n in lookup for n in names])
    if not keep.any():
        raise ValueError(f"no test series belongs to the training classes {train.class_names}")
    labels = np.array([lookup[n] for n, k in zip(names, keep) if k], dtype=np.int64)
    return Dataset(test.name, test.split, test.X[keep], labels, train.class_names, test.source)


def class_halves(counts: np.ndarray) -> tuple[list[int], list[int]]:
    """Split classes into the majority ("well-represented") and minority
    ("under-represented") halves by training count.

    Classes are ordered by count, most frequent first (ties by label); the first
    ``ceil(K/2)`` are the majority half. The dissertation (ch. 4 sec. 4.4.1 and ch. 5
    sec. 5.4.1) and IB-GAN report accuracy on each half.
    """
    counts = np.asarray(counts)
    order = sorted(range(counts.size), key=lambda c: (-counts[c], c))
    n_major = counts.size - counts.size // 2
    return sorted(order[:n_major]), sorted(order[n_major:])


@dataclass(frozen=True)
class Imbalance:
    """A protocol and its parameter, hashable and serialisable (used in cache keys).

    ``Imbalance("step", 10)`` is the dissertation's "Step-10"; ``Imbalance("none")``
    keeps the split as published.
    """

    kind: Kind = "none"
    ratio: float | None = None

    def __post_init__(self) -> None:
        PROTOCOLS.check(self.kind)
        if self.ratio is None:  # defaults where the papers fix one; step/exp/binary must say
            if self.kind not in ("none", "drop"):
                raise ValueError(f"the {self.kind} protocol needs a ratio")
            object.__setattr__(self, "ratio", 1.0 if self.kind == "none" else 0.75)
        if isinstance(self.ratio, bool) or not isinstance(self.ratio, (int, float, np.number)):
            raise ValueError(f"the imbalance ratio must be a number, got {self.ratio!r}")
        ratio = float(self.ratio)
        object.__setattr__(self, "ratio", ratio)
        valid, need = _RATIO_RULES[self.kind]
        if not (np.isfinite(ratio) and valid(ratio)):
            raise ValueError(f"{self.kind} imbalance needs a ratio {need}, got {ratio}")

    @property
    def label(self) -> str:
        return "balanced" if self.kind == "none" else f"{self.kind}-{self.ratio:g}"

    def indices(self, y: np.ndarray, seed: int = 0) -> np.ndarray:
        """Indices to keep (for ``binary`` the labels change too: use :meth:`apply`)."""
        return PROTOCOLS[self.kind](y, self.ratio, seed)

    def apply(self, train: Dataset, seed: int = 0) -> Dataset:
        """The imbalanced training set. Never call it on a test split."""
        if train.split != "train":
            raise ValueError("imbalance protocols apply to the training split only")
        if self.kind != "binary":
            return train.subset(self.indices(train.y, seed))
        index, labels = binary_pair(train.y, self.ratio, seed=seed)
        old = np.unique(train.y[index][labels == 0])[0], np.unique(train.y[index][labels == 1])[0]
        names = (train.class_names[old[0]], train.class_names[old[1]])
        return Dataset(train.name, "train", train.X[index], labels, names, train.source)

    def as_dict(self) -> dict:
        return asdict(self)


def pooled_balanced_split(train: Dataset, test: Dataset, test_fraction: float = 1 / 3, seed: int = 0,
                          max_test_per_class: int | None = None) -> tuple[Dataset, Dataset]:
    """A balanced test split and a training pool from the pooled published splits
    (Wang 2023, dissertation ch. 4 sec. 4.4.1 and ch. 5 sec. 5.4.1 test on balanced splits;
    the UCR test splits of e.g. MedicalImages are not balanced, and their training splits
    are too small to thin to ``K = 10``).

    The two splits are pooled; every class gives the same number of series to the test
    split, ``m = floor(test_fraction * n_min)`` (``n_min``: the smallest pooled class),
    capped at ``max_test_per_class``, drawn with ``seed``; the rest is the training pool,
    which an imbalance protocol (:class:`Imbalance`) then thins. Returns ``(pool, test)``,
    the pool labelled ``"train"``.
    """
    if train.class_names != test.class_names:
        raise ValueError(f"{train.name}: the training and test splits have different classes "
                         f"({train.class_names} vs {test.class_names}); pool splits of one data set")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    X = np.concatenate([train.X, test.X])
    y = np.concatenate([train.y, test.y])
    counts = np.bincount(y, minlength=train.n_classes)
    if counts.min() < 2:
        raise ValueError(f"{train.name}: class {int(counts.argmin())} has {int(counts.min())} series in both "
                         "splits together; a balanced test split needs at least 2 per class")
    per_class = max(1, int(np.floor(test_fraction * counts.min())))
    if max_test_per_class is not None:
        if isinstance(max_test_per_class, bool) or not isinstance(max_test_per_class, (int, np.integer)) \
                or max_test_per_class < 1:
            raise ValueError(f"max_test_per_class must be a positive integer or None, got {max_test_per_class!r}")
        per_class = min(per_class, int(max_test_per_class))
    test_index = _take(y, {c: per_class for c in range(train.n_classes)}, np.random.default_rng(seed))
    pool_index = np.setdiff1d(np.arange(y.size), test_index)
    pool = Dataset(train.name, "train", X[pool_index], y[pool_index], train.class_names, train.source)
    return pool, Dataset(train.name, "test", X[test_index], y[test_index], train.class_names, test.source)
