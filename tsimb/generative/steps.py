"""The minibatch steps of the generative models, for the one loop :func:`tsimb.train.fit`:
alternating adversarial updates (:class:`TwoPlayerStep`: Goodfellow et al. 2014), an
autoencoder's reconstruction (:class:`AutoencoderStep`: BAGAN's pre-training, Mariani et
al. 2018, sec. 3.1), and the optimiser helpers they share. IB-GAN's three-player step is
:class:`tsimb.generative.ibgan.IBGANStep` (Deng et al. 2022, eq. 2.4).

Every step draws its fakes from one ``torch.Generator`` on the data's device, the same one
that orders the minibatches, so a seed fixes the whole run.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..train import FitState, Step
from .common import draw_labels

# draw_fake(labels, generator) -> fake series with gradients into the generator
DrawFake = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def adam(modules: nn.Module | Sequence[nn.Module], lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """Adam over the parameters of ``modules`` (Kingma and Ba 2015; Deng et al. 2022, App. 6.3)."""
    group = [modules] if isinstance(modules, nn.Module) else list(modules)
    return torch.optim.Adam([p for m in group for p in m.parameters()], lr=lr, betas=betas)


def update(optimiser: torch.optim.Optimizer, loss: torch.Tensor) -> torch.Tensor:
    """One gradient step on ``loss``; returns it detached (it stays on the device). Gradients
    are cleared first, so those another player's loss left behind never leak into this step
    (the alternating updates of a GAN)."""
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return loss.detach()


def bce(logits: torch.Tensor, target: float | torch.Tensor) -> torch.Tensor:
    """Mean binary cross entropy on logits against a constant or tensor target (the GAN value
    function, Goodfellow et al. 2014, eq. 1)."""
    if not torch.is_tensor(target):
        target = torch.full_like(logits, float(target))
    return F.binary_cross_entropy_with_logits(logits, target)


class GenerativeStep(Step):
    """What the generative steps share: the data set on the device and the run's generator."""

    def __init__(self, x_all: torch.Tensor, y_all: torch.Tensor, generator: torch.Generator) -> None:
        self.x_all, self.y_all, self.generator = x_all, y_all, generator
        self.n, self.device = int(x_all.shape[0]), x_all.device

    def divergence_hint(self) -> str:
        return "lower the learning rates, z-normalise the series, or check the classifier's outputs"

    def epoch_means(self, per_batch: torch.Tensor, seen: int) -> list[float]:
        # A running sum over the batches and a mean in single precision: how the GAN loop
        # before the one loop reduced an epoch. The last bit of a mean depends on it, and the
        # stored IB-GAN runs' loss traces are re-executed bit for bit by ``tsimb verify``;
        # drop this override (and bump the chapter's CODE_VERSION) when they are recomputed.
        totals = torch.zeros(per_batch.shape[1], device=per_batch.device)
        for row in per_batch:
            totals += row
        return (totals / seen).tolist()


class TwoPlayerStep(GenerativeStep):
    """The alternating discriminator-then-generator update of a minibatch (Goodfellow et al.
    2014, Algorithm 1, one D step per G step): fakes of uniformly drawn labels,
    ``d_loss(real x, real y, fake x, fake y)`` for D, ``g_loss(fake x, fake y)`` for G."""

    loss_names = ("d_loss", "g_loss")

    def __init__(self, x_all: torch.Tensor, y_all: torch.Tensor, n_classes: int, generator: torch.Generator,
                 G: nn.Module, D: nn.Module, draw_fake: DrawFake, d_loss: Callable[..., torch.Tensor],
                 g_loss: Callable[..., torch.Tensor], opt_d: torch.optim.Optimizer,
                 opt_g: torch.optim.Optimizer) -> None:
        super().__init__(x_all, y_all, generator)
        self.n_classes, self.draw_fake, self.d_loss, self.g_loss = n_classes, draw_fake, d_loss, g_loss
        self.model, self.modules, self.optimiser, self.opt_d = G, (G, D), opt_g, opt_d

    def __call__(self, state: FitState, batch: torch.Tensor) -> tuple[torch.Tensor, int]:
        xr, yr = self.x_all[batch], self.y_all[batch]
        yf = draw_labels(batch.numel(), self.n_classes, self.generator)
        xf = self.draw_fake(yf, self.generator)
        d = update(self.opt_d, self.d_loss(xr, yr, xf.detach(), yf))
        g = update(self.optimiser, self.g_loss(xf, yf))
        return torch.stack([d, g]), batch.numel()


class AutoencoderStep(GenerativeStep):
    """Reconstruction of a minibatch by an autoencoder, mean squared error (BAGAN's
    pre-training, Mariani et al. 2018, sec. 3.1; the latent-space chapter's autoencoders)."""

    loss_names = ("reconstruction",)

    def __init__(self, x_all: torch.Tensor, y_all: torch.Tensor, generator: torch.Generator,
                 autoencoder: nn.Module, optimiser: torch.optim.Optimizer) -> None:
        super().__init__(x_all, y_all, generator)
        self.model, self.modules, self.optimiser = autoencoder, (autoencoder,), optimiser

    def __call__(self, state: FitState, batch: torch.Tensor) -> tuple[torch.Tensor, int]:
        xb = self.x_all[batch]
        return update(self.optimiser, F.mse_loss(self.model(xb), xb)).reshape(1), batch.numel()
