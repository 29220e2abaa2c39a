"""Simulated annotators whose mistakes follow how hard each series is (Wang 2023, ch. 3,
sec. 3.3.1: "the higher the difficulty in inferring from a data sample, the higher the
mislabeling probability for all crowd workers"), and the reference network that judges
the difficulty (trained until it fits the training set above 98%).

The dissertation gives neither the map from difficulty to the mislabelling probability nor
how workers differ; both are explicit here (:func:`error_probability`,
:class:`AnnotatorSettings`) so the chapter can state and vary them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata

from ..data import Dataset
from ..data.votes import Votes
from ..models import Classifier, build_model
from ..runtime import seed_everything
from ..train import ClassifierStep, History, fit, predict_proba


@dataclass(frozen=True)
class AnnotatorSettings:
    """How simulated workers err (every constant the dissertation leaves open, sec. 3.3.1).

    Worker ``w`` mislabels series ``i`` of true class ``c`` with probability
    ``min(max_error, worker_scale[w] * class_scale[c] * error_probability(d_i))``
    (:func:`error_probability` maps the series' difficulty ``d_i`` to ``[low, high]``, with
    ``sharpness`` its knob); a wrong vote goes to class ``b != c`` with probability
    proportional to ``lean[b]`` (two classes: the other one).

    Attributes:
        n_workers: ``W`` (the dissertation: 7, 9, 11 by data set).
        low, high: the error probability of the easiest (``d = 0``) and hardest (``d = 1``) series.
        sharpness: ``> 0``; 1 is linear in difficulty, larger values keep all but the hardest
            series near ``low``.
        class_scale: a multiplier per true class (``None``: 1 for all). Errors on minority
            series above 1 make workers lean toward the majority.
        lean: where wrong votes go, a weight per class (``None``: uniform over the others);
            weight on the majority class makes errors among three or more classes lean to it.
        worker_spread: worker multipliers are drawn uniformly from ``[1 - s, 1 + s]``
            (workers of different reliability, which is what Dawid-Skene can learn).
        worker_scale: explicit multipliers, one per worker, instead of drawing them.
        max_error: the cap on any error probability.
        coverage: the chance that a worker votes on a series (1: every worker votes on every
            series, as in the dissertation); a series left without votes gets one from a
            worker drawn at random.
    """

    n_workers: int = 7
    low: float = 0.05
    high: float = 0.45
    sharpness: float = 1.0
    class_scale: tuple[float, ...] | None = None
    lean: tuple[float, ...] | None = None
    worker_spread: float = 0.5
    worker_scale: tuple[float, ...] | None = None
    max_error: float = 0.9
    coverage: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.n_workers, bool) or not isinstance(self.n_workers, (int, np.integer)) or self.n_workers < 1:
            raise ValueError(f"n_workers must be a positive integer, got {self.n_workers!r}")
        if not 0 <= self.low <= self.high <= 1:
            raise ValueError(f"need 0 <= low <= high <= 1, got low={self.low!r}, high={self.high!r}")
        if not self.sharpness > 0:
            raise ValueError(f"sharpness must be positive, got {self.sharpness!r}")
        if not 0 <= self.worker_spread <= 1:
            raise ValueError(f"worker_spread must be in [0, 1], got {self.worker_spread!r}")
        if not 0 < self.max_error <= 1:
            raise ValueError(f"max_error must be in (0, 1], got {self.max_error!r}")
        if not 0 < self.coverage <= 1:
            raise ValueError(f"coverage must be in (0, 1], got {self.coverage!r}")
        if self.worker_scale is not None and len(self.worker_scale) != self.n_workers:
            raise ValueError(f"worker_scale has {len(self.worker_scale)} entries for {self.n_workers} workers")
        for name in ("class_scale", "lean", "worker_scale"):
            values = getattr(self, name)
            if values is not None and (not np.all(np.isfinite(values)) or np.any(np.asarray(values) < 0)):
                raise ValueError(f"{name} must hold finite non-negative numbers, got {values!r}")


def error_probability(difficulty: np.ndarray, low: float = 0.05, high: float = 0.45,
                      sharpness: float = 1.0) -> np.ndarray:
    """The mislabelling probability of a series of difficulty ``d`` in ``[0, 1]``:
    ``low + (high - low) * d ** sharpness``. Our choice for the map Wang (2023, sec. 3.3.1)
    describes only as increasing ("the higher the difficulty ... the higher the mislabeling
    probability"); ``sharpness`` is its knob."""
    d = np.asarray(difficulty, dtype=np.float64)
    if d.size and (not np.isfinite(d).all() or d.min() < 0 or d.max() > 1):
        raise ValueError("difficulty must lie in [0, 1] (e.g. from difficulty_from_proba)")
    return low + (high - low) * d ** sharpness


def simulate_annotators(y: np.ndarray, settings: AnnotatorSettings | None = None, *,
                        difficulty: np.ndarray | None = None, n_classes: int | None = None,
                        seed: int = 0) -> Votes:
    """Votes of simulated workers on series with true labels ``y`` (Wang 2023, sec. 3.3.1):
    each worker mislabels a series with a probability that grows with its ``difficulty``
    (one number in ``[0, 1]`` per series, e.g. :func:`difficulty_from_proba` of a reference
    network; ``None``: every series 0.5), scaled per worker and per true class and routed
    by ``lean`` (see :class:`AnnotatorSettings`). Seeded by ``seed``.

    Returns a :class:`~tsimb.data.Votes` table with workers ``0..W-1``.

    Raises ``ValueError`` for labels that are not integers in ``0..K-1``, one class only,
    no series, a difficulty of the wrong length or outside ``[0, 1]``, or settings whose
    per-class entries do not match ``K``.
    """
    s = AnnotatorSettings() if settings is None else settings
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"true labels must be a non-empty integer vector, got shape {y.shape}, dtype {y.dtype}")
    K = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if y.min() < 0 or y.max() >= K:
        raise ValueError(f"true labels must lie in 0..{K - 1}, got {y.min()}..{y.max()}")
    if np.unique(y).size < 2:
        raise ValueError(f"every series is class {int(y[0])}: simulating annotators (and learning from them) "
                         "needs at least two classes")
    n = y.size
    d = np.full(n, 0.5) if difficulty is None else np.asarray(difficulty, dtype=np.float64)
    if d.shape != (n,):
        raise ValueError(f"difficulty needs one value per series ({n}), got shape {d.shape}")
    base = error_probability(d, s.low, s.high, s.sharpness)
    class_scale = _per_class("class_scale", s.class_scale, K, 1.0)
    lean = _per_class("lean", s.lean, K, 1.0)
    rng = np.random.default_rng(seed)
    worker_scale = (np.asarray(s.worker_scale, dtype=np.float64) if s.worker_scale is not None
                    else rng.uniform(1 - s.worker_spread, 1 + s.worker_spread, s.n_workers))
    p_error = np.minimum(s.max_error, worker_scale[None, :] * (class_scale[y] * base)[:, None])  # (n, W)
    wrong = rng.random((n, s.n_workers)) < p_error
    # where a wrong vote goes: classes b != y_i with weight lean[b]
    weights = np.tile(lean, (n, 1))
    weights[np.arange(n), y] = 0.0
    empty = weights.sum(axis=1) == 0
    weights[empty] = 1.0
    weights[empty, y[empty]] = 0.0  # lean puts no weight off the true class: fall back to uniform
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random((n, s.n_workers))
    wrong_label = (draws[:, :, None] > cumulative[:, None, :]).sum(axis=2).clip(max=K - 1)
    labels = np.where(wrong, wrong_label, y[:, None])
    voted = rng.random((n, s.n_workers)) < s.coverage
    silent = ~voted.any(axis=1)
    voted[silent, rng.integers(0, s.n_workers, silent.sum())] = True
    series, worker = np.nonzero(voted)
    return Votes(pd.DataFrame({"series": series, "worker": worker, "label": labels[series, worker]}), K, n)


def _per_class(name: str, values: tuple[float, ...] | None, K: int, default: float) -> np.ndarray:
    if values is None:
        return np.full(K, default)
    if len(values) != K:
        raise ValueError(f"{name} has {len(values)} entries for {K} classes")
    return np.asarray(values, dtype=np.float64)


def difficulty_from_proba(proba: np.ndarray, y: np.ndarray, how: Literal["rank", "raw"] = "rank") -> np.ndarray:
    """Each series' difficulty in ``[0, 1]`` from a reference network's class probabilities
    ``proba`` ``(n, K)`` and the true labels ``y`` (Wang 2023, sec. 3.3.1: "for each class, we
    use the softmax outputs ... to indicate the identification difficulties").

    ``how="raw"``: ``1 - proba[i, y_i]``. ``how="rank"`` (default): that score's rank within
    the series' own class, scaled to ``[0, 1]`` (ties share their mean rank; a class of one
    series gets 0.5). Our reading of "for each class ... relative ease": a network stopped
    above 98% training accuracy gives almost every training series ``p ~ 1``, so raw scores
    would leave nearly all series at the easiest error rate, while ranks spread them
    evenly within each class.
    """
    proba, y = np.asarray(proba, dtype=np.float64), np.asarray(y)
    if proba.ndim != 2 or y.shape != (proba.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"need probabilities (n, K) and n integer labels, got shapes {proba.shape} and {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= proba.shape[1]):
        raise ValueError(f"labels must lie in 0..{proba.shape[1] - 1}")
    raw = 1.0 - proba[np.arange(y.size), y]
    if how == "raw":
        return np.clip(raw, 0.0, 1.0)
    if how != "rank":
        raise ValueError(f"how must be 'rank' or 'raw', got {how!r}")
    out = np.empty(y.size)
    for c in np.unique(y):
        members = y == c
        ranks = rankdata(raw[members])  # 1..n_c, ties averaged
        out[members] = 0.5 if members.sum() == 1 else (ranks - 1) / (members.sum() - 1)
    return out


@dataclass
class ReferenceNetwork:
    """A trained reference network: the classifier, the epochs it took, its training accuracy
    then, and the loss history of all those epochs."""

    classifier: Classifier
    epochs: int
    train_accuracy: float
    history: History = field(default_factory=History)

    def difficulty(self, X: np.ndarray, y: np.ndarray, how: Literal["rank", "raw"] = "rank") -> np.ndarray:
        """:func:`difficulty_from_proba` of this network's probabilities on ``X``."""
        return difficulty_from_proba(predict_proba(self.classifier, X), y, how)


def train_reference(train: Dataset, *, model: str = "cnn", threshold: float = 0.98, max_epochs: int = 200,
                    batch_size: int = 16, lr: float = 1e-3, seed: int = 0,
                    device: torch.device | str | None = None) -> ReferenceNetwork:
    """The reference network that judges difficulty (Wang 2023, sec. 3.3.1): ``model``
    trained on the true labels until its training accuracy exceeds ``threshold`` (98%), or
    for ``max_epochs``. One :class:`~tsimb.train.ClassifierStep` (Adam, seeded) is trained one
    epoch at a time through :func:`~tsimb.train.fit`, the accuracy measured after each: the
    optimiser and the minibatch order carry on between epochs, so the run is the one a
    single ``fit`` would make, stopped at the first epoch past the threshold."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    seed_everything(seed)
    classifier = build_model(model, train.n_channels, train.n_classes, train.length)
    step = ClassifierStep(classifier, train.X, train.y, lr=lr, seed=seed, device=device)
    history = History(losses={"loss": []})
    accuracy, epoch = 0.0, 0
    for epoch in range(1, max_epochs + 1):
        part = fit(step, epochs=1, batch_size=batch_size, progress=False)
        history.loss += part.loss
        history.losses["loss"] += part.loss
        history.seconds += part.seconds
        accuracy = float((predict_proba(classifier, train.X).argmax(axis=1) == train.y).mean())
        if accuracy > threshold:
            break
    return ReferenceNetwork(classifier, epoch, accuracy, history)
