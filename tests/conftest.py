"""Shared fixtures: tiny synthetic data sets, so that tests run in seconds on a CPU."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
import torch
from hypothesis import settings

from tsimb.data import Dataset

# Keep Hypothesis's files out of the repository (it writes a constants cache even without an
# example database); the variable is read lazily, on first use, so setting it here works.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "tsimb-hypothesis"))
# No example database either: nothing of Hypothesis's is stored between runs.
settings.register_profile("tsimb", database=None, deadline=None)
settings.load_profile("tsimb")

# The tensors here are tiny: one intra-op thread is fastest, and it avoids OpenMP threads
# spinning against each other (100x slow-downs were seen on a busy 2-core machine).
torch.set_num_threads(1)


def synthetic_series(counts, channels: int = 1, length: int = 16, seed: int = 0,
                     separation: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian-noise series, ``counts[k]`` of class ``k``; class ``k`` is shifted by
    ``k * separation`` so ``separation=0`` gives overlapping (indistinguishable) classes."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts).astype(np.int64)
    X = rng.normal(size=(y.size, channels, length)) + separation * y[:, None, None]
    return X.astype(np.float32), y


@pytest.fixture
def make_series():
    """Factory fixture: ``make_series([20, 5], channels=1, length=16, seed=0)`` -> ``(X, y)``."""
    return synthetic_series


@pytest.fixture
def make_dataset():
    """Factory fixture building a :class:`tsimb.data.Dataset` from class counts."""

    def build(counts, channels: int = 1, length: int = 16, seed: int = 0, split: str = "train",
              separation: float = 0.0, name: str = "toy") -> Dataset:
        X, y = synthetic_series(counts, channels, length, seed, separation)
        names = tuple(f"c{k}" for k in range(len(counts)))
        return Dataset(name, split, X, y, names, "synthetic")

    return build
