"""Pieces every GAN of :mod:`tsimb.generative` shares: input checks, moving a data set onto
the device, the seeded draws (noise, MCAR masks, labels, weighted resamples) and class
priors, after Deng et al. (2022),
"IB-GAN: A Unified Approach for Multivariate Time Series Classification under Class
Imbalance", SDM.

Every draw takes a ``torch.Generator`` living on the data's device, so a seed fixes the
whole run and nothing is copied between host and device per minibatch.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import numpy as np
import torch

from ..data import validate_series
from ..registry import closest
from ..runtime import get_device, seed_everything

S = TypeVar("S")


def check_data(X: Any, y: Any, n_classes: int | None = None, *,
               who: str = "the GAN") -> tuple[np.ndarray, np.ndarray, int]:
    """Validate series ``(n, channels, length)`` and labels ``0..K-1`` for a generative model
    (Deng et al. 2022, sec. 2.2.1: every class is resampled, so every class must be present).

    Returns ``(X float32, y int64, K)``. Raises ``ValueError`` naming the problem and the fix:
    wrong shape, NaN or infinite values, non-integer labels, labels outside ``0..K-1``, a class
    without series or with a single series (nothing to learn a distribution from).
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
        raise ValueError(f"series must be numbers, got dtype {X.dtype}")
    validate_series(X, y, n_classes)
    counts = np.bincount(y, minlength=n_classes or 0)
    k = int(n_classes) if n_classes is not None else counts.size
    if k < 2:
        raise ValueError(f"{who} needs at least two classes, got labels {np.unique(y).tolist()}")
    empty = np.flatnonzero(counts == 0).tolist()
    if empty:
        raise ValueError(f"labels must cover 0..{k - 1}, but classes {empty} have no series; "
                         "re-encode the labels (tsimb.data.encode_labels) or pass the right n_classes")
    single = np.flatnonzero(counts == 1).tolist()
    if single:
        raise ValueError(f"classes {single} have a single series; {who} needs at least two per class "
                         "to learn a class distribution: drop or merge those classes, or collect more series")
    return X.astype(np.float32, copy=False), y.astype(np.int64, copy=False), k


def class_prior(counts: np.ndarray) -> np.ndarray:
    """The empirical prior ``w_y = P(Y = y)`` of Deng et al. (2022), sec. 2.1."""
    counts = np.asarray(counts, dtype=np.float64)
    return counts / counts.sum()


def start(seed: int, device: torch.device | str | None) -> tuple[torch.device, torch.Generator]:
    """Seed everything (module initialisation included) and return the device and a
    ``torch.Generator`` on it for every later draw (Deng et al. 2022 give no seeds; this is
    what makes the book's runs repeatable)."""
    dev = get_device(device)
    seed_everything(seed)
    return dev, torch.Generator(device=dev).manual_seed(seed)


def to_device(X: np.ndarray, y: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole data set on the device once; minibatches are then direct index lookups (the
    minibatches of Deng et al. 2022, sec. 2.2.1, without a DataLoader)."""
    return torch.as_tensor(X, device=device), torch.as_tensor(y, device=device)


def draw_noise(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """White noise ``Z ~ N(0, 1)`` (Deng et al. 2022, sec. 2.2.2 say "random white noise"
    without a law; standard normal matches z-normalised series)."""
    return torch.randn(shape, generator=generator, device=generator.device)


def draw_mask(shape: tuple[int, ...], pmiss: float, generator: torch.Generator) -> torch.Tensor:
    """The MCAR indicator ``I`` of Deng et al. (2022), sec. 2.2.2: every entry (channel and
    time step) independently masked with probability ``pmiss``; 1 = masked. ``pmiss = 0``
    masks nothing and ``pmiss = 1`` everything, exactly."""
    if not 0.0 <= pmiss <= 1.0:
        raise ValueError(f"pmiss must lie in [0, 1], got {pmiss!r}")
    u = torch.rand(shape, generator=generator, device=generator.device)  # in [0, 1)
    return (u < pmiss).float()


def draw_labels(n: int, n_classes: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform class labels for the fakes of the baseline GANs (balanced, so the minority
    classes get as many generator updates as the majority; Deng et al. 2022, sec. 3.1 do not say)."""
    return torch.randint(0, n_classes, (n,), generator=generator, device=generator.device)


def draw_weighted(sample_probs: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` indices drawn with replacement with per-series probabilities (the weighted
    resample of Deng et al. 2022, sec. 2.2.1)."""
    return torch.multinomial(sample_probs, n, replacement=True, generator=generator)


def top_up_labels(y: np.ndarray, n_classes: int) -> np.ndarray:
    """The labels to generate so that every class reaches the majority count (the oversampling
    target of the baselines in Deng et al. 2022, sec. 3.1)."""
    counts = np.bincount(y, minlength=n_classes)
    return np.repeat(np.arange(n_classes), counts.max() - counts).astype(np.int64)


def with_overrides(settings: S, overrides: dict[str, Any]) -> S:
    """``dataclasses.replace`` with a clear error for an unknown setting name (closest names
    offered), for the run settings of Deng et al. (2022), sec. 3."""
    names = [f.name for f in dataclasses.fields(settings)]  # type: ignore[arg-type]
    for key in overrides:
        if key not in names:
            raise ValueError(closest(f"{type(settings).__name__} setting", key, names))
    return dataclasses.replace(settings, **overrides)  # type: ignore[type-var]


def check_positive(owner: object, ints: tuple[str, ...], floats: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming the field unless each of ``ints`` is a positive integer and
    each of ``floats`` a positive finite number (the settings of Deng et al. 2022, sec. 3)."""
    name = type(owner).__name__
    for field in ints:
        value = getattr(owner, field)
        if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1):
            raise ValueError(f"{name}.{field} must be a positive integer, got {value!r}")
    for field in floats:
        value = getattr(owner, field)
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise ValueError(f"{name}.{field} must be a positive number, got {value!r}")
