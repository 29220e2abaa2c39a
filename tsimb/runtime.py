"""Device choice and seeding, shared by every chapter."""

from __future__ import annotations

import os
import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch


def get_device(prefer: str | None = None) -> torch.device:
    """``prefer`` if given, else ``$TSIMB_DEVICE``, else CUDA when present, else the CPU."""
    name = prefer or os.environ.get("TSIMB_DEVICE")
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch and ask PyTorch for deterministic kernels.

    On the CPU a fixed seed then gives bit-identical training runs; on CUDA a few
    kernels have no deterministic version and PyTorch warns instead of failing.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def in_ci() -> bool:
    """True on a continuous-integration runner (``CI`` set to anything but false/0)."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Run ``model`` in evaluation mode (batch norm uses its running statistics, dropout is
    off) and restore its previous mode afterwards, also on error."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
