"""The one training loop of every GAN in :mod:`tsimb.generative`: epochs of minibatches
indexed straight into device tensors (no DataLoader), a seeded permutation per epoch, a
progress bar that CI never shows, per-batch losses kept on the device and synced once per
epoch, and a clear error when a loss stops being finite. What differs between IB-GAN
(Deng et al. 2022, "IB-GAN: A Unified Approach for Multivariate Time Series Classification
under Class Imbalance", SDM, sec. 2.2.3: alternating D, C and G updates of eq. 2.4) and the
baselines (alternating D and G) is only the ``step`` callable. Used by the book's chapter
"IB-GAN" (``book/ib_gan``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..train import show_progress

# step(real minibatch indices) -> detached tensor([d_loss, g_loss, c_loss]) of that batch
Step = Callable[[torch.Tensor], torch.Tensor]
LOSS_NAMES = ("d_loss", "g_loss", "c_loss")


class GANDivergedError(RuntimeError):
    """A loss of eqs. 2.4-2.6 (Deng et al. 2022) or of a baseline GAN became NaN or infinite;
    the run is not usable (the message names the epoch). Used by the book's chapter "IB-GAN" (``book/ib_gan``)."""


@dataclass
class GANHistory:
    """Per-epoch mean losses of the discriminator, generator and (IB-GAN only, eq. 2.6)
    classifier, and each epoch's wall seconds (Deng et al. 2022, eqs. 2.4-2.6).
    Used by the book's chapter "IB-GAN" (``book/ib_gan``)."""

    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    c_loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def adam(modules: nn.Module | Sequence[nn.Module], lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """Adam over the parameters of ``modules`` (Deng et al. 2022, App. 6.3: "Adam optimizer").
    Used by the book's chapter "IB-GAN" (``book/ib_gan``)."""
    group = [modules] if isinstance(modules, nn.Module) else list(modules)
    return torch.optim.Adam([p for m in group for p in m.parameters()], lr=lr, betas=betas)


def update(optimiser: torch.optim.Optimizer, loss: torch.Tensor) -> torch.Tensor:
    """One gradient step on ``loss``; returns it detached (stays on the device). Gradients are
    cleared first, so those another player's loss left behind never leak into this step (the
    alternating updates of Deng et al. 2022, eq. 2.4).
    Used by the book's chapter "IB-GAN" (``book/ib_gan``)."""
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return loss.detach()


def bce(logits: torch.Tensor, target: float | torch.Tensor) -> torch.Tensor:
    """Mean binary cross entropy on logits against a constant or tensor target (the GAN value
    function, Goodfellow et al. 2014; eq. 2.5 of Deng et al. 2022).
    Used by the book's chapter "IB-GAN" (``book/ib_gan``)."""
    if not torch.is_tensor(target):
        target = torch.full_like(logits, float(target))
    return F.binary_cross_entropy_with_logits(logits, target)


def run_epochs(step: Step, n: int, *, epochs: int, batch_size: int, generator: torch.Generator,
               modules: Sequence[nn.Module], progress: bool | None = None, desc: str = "GAN epochs") -> GANHistory:
    """Run ``epochs`` passes over ``n`` real series in seeded random minibatches of
    ``batch_size``, calling ``step`` on each batch's indices; the alternating D/G (and C)
    updates of Deng et al. (2022), eq. 2.4, live in ``step``.

    A last batch of a single series is dropped when there are others (a one-series batch
    carries little signal and breaks batch norm in classifiers). Returns a :class:`GANHistory`.

    Raises:
        GANDivergedError: a loss is NaN or infinite; names the epoch and the loss.

    Used by the book's chapter "IB-GAN" (``book/ib_gan``).
    """
    history = GANHistory()
    for module in modules:
        module.train()
    device = generator.device
    for epoch in tqdm(range(epochs), desc=desc, disable=not show_progress(progress), leave=False):
        began = time.perf_counter()
        batches = list(torch.randperm(n, generator=generator, device=device).split(batch_size))
        if len(batches) > 1 and batches[-1].numel() == 1:
            batches.pop()
        totals = torch.zeros(len(LOSS_NAMES), device=device)
        seen = 0
        for batch in batches:
            totals += step(batch) * batch.numel()
            seen += batch.numel()
        means = dict(zip(LOSS_NAMES, (totals / seen).tolist()))  # the one host sync of the epoch
        bad = {name: value for name, value in means.items() if not math.isfinite(value)}
        if bad:
            raise GANDivergedError(
                f"not finite at epoch {epoch} of {epochs}: {bad}; lower the learning rates, "
                "z-normalise the series, or check the classifier's outputs")
        for name, value in means.items():
            getattr(history, name).append(value)
        history.seconds.append(time.perf_counter() - began)
    return history
