"""Device choice, seeding and reproducible CPU numerics, shared by every chapter.

torch and numpy are imported inside the functions: ``import tsimb`` imports this module
to pin the CPU numerics, and must stay light (``python -m tsimb --help`` answers at once).
"""

from __future__ import annotations

import os
import random
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    import torch

# Bit-for-bit reproducibility across x86-64 CPUs. oneDNN (PyTorch's CPU convolutions)
# dispatches to AVX-512 kernels where the CPU has them and to AVX2 kernels elsewhere, and
# the two sum in different orders: a ResNet trained three epochs on GunPoint gives other
# losses on one machine and the other (measured on an AVX-512 machine by switching the
# ISA; this is why outputs made on an AVX-512 machine failed nbval on an AVX2 one).
# Capping every library at AVX2 makes AVX2-capable x86-64 CPUs of one vendor take the same
# code path; an AMD EPYC and an Intel Xeon still differ in the last bits (MKL), which is why
# ``tsimb verify`` compares exactly only runs made on the same processor. oneDNN reads its variable lazily, at its first primitive, so setting it on import
# works even after ``import torch``; MKL reads MKL_CBWR when it loads. A variable the user
# has set is kept; TSIMB_NATIVE_ISA=1 leaves all three alone (faster on AVX-512 machines).
REPRODUCIBLE_CPU_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"}

DEVICE_ENV = "TSIMB_DEVICE"


def pin_cpu_numerics() -> None:
    """Cap the CPU kernels at AVX2 (see :data:`REPRODUCIBLE_CPU_ENV`) unless
    ``$TSIMB_NATIVE_ISA`` is set. Called when :mod:`tsimb` is imported."""
    if os.environ.get("TSIMB_NATIVE_ISA", "").lower() in ("1", "true", "yes"):
        return
    for name, value in REPRODUCIBLE_CPU_ENV.items():
        os.environ.setdefault(name, value)


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """``prefer`` if given, else ``$TSIMB_DEVICE``, else CUDA when present, else the CPU.

    Raises ``ValueError`` naming the setting for a device name torch does not know, or a
    CUDA or MPS device on a machine without one.
    """
    import torch

    if isinstance(prefer, torch.device):
        name, origin = str(prefer), "device"
    else:
        name, origin = (prefer, "device") if prefer else (os.environ.get(DEVICE_ENV), f"${DEVICE_ENV}")
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"{origin}={name!r} is not a device; use 'cpu', 'cuda' or 'cuda:N'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{origin}={name!r} asks for CUDA, but this machine has no CUDA device; "
                         f"use 'cpu' or unset {DEVICE_ENV}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{origin}={name!r} asks for Apple's MPS, but this machine has none; "
                         f"use 'cpu' or unset {DEVICE_ENV}")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{origin}={name!r}: tsimb runs on 'cpu', 'cuda' or 'mps'")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch and ask PyTorch for deterministic kernels.

    On the CPU a fixed seed then gives bit-identical training runs for the same thread
    count; on CUDA a few kernels have no deterministic version and PyTorch warns instead
    of failing.
    """
    import numpy as np
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


@contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op CPU threads (``None``: unchanged). The thread
    count changes how reductions are split, hence the last bits of a result, so stored
    runs record it and re-executions use the same."""
    import torch

    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
