"""Small 1-D convolutional generators and discriminators for series ``(n, channels, length)``,
for IB-GAN (Deng et al. 2022, "IB-GAN: A Unified Approach for Multivariate Time Series
Classification under Class Imbalance", SDM) and its GAN baselines (sec. 3.1: naive
conditional GAN, AC-GAN, BAGAN).

The paper only says "2 Conv1D layers with relu-activation" for the generator and the
discriminator (App. 6.2). Choices made here, the same for every GAN so that the comparison
is about the method, not the network:

* convolutions are stride 1 with "same" padding (odd kernels), dilated 1, 2, 4 so that the
  receptive field (29 steps) sees a few periods, and every network works for any length;
  the BAGAN decoder interpolates to the exact length;
* LeakyReLU instead of ReLU and no batch norm: GAN minibatches mix real and fake series,
  which batch statistics would leak between;
* the class enters as a learned embedding broadcast over time (conditional GAN, Mirza &
  Osindero 2014), and the dense-output networks also see the normalised time ``t`` (three
  channels) and a global-average context, so that a per-time-step noise input can still be
  turned into a series of the right shape at the right place;
* sample-level discriminators pool adaptively to 8 positions (coarse location kept) and the
  naive conditional GAN's discriminator conditions by projection (Miyato & Koyama 2018).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

SLOPE = 0.2  # LeakyReLU slope of DCGAN (Radford et al. 2016)
TIME_CHANNELS = 3
POOLED = 8


def conv_body(c_in: int, hidden: int, dilations: tuple[int, ...] = (1, 2, 4), kernel: int = 5) -> nn.Sequential:
    """Length-preserving dilated convolutions with LeakyReLU, the "Conv1D layers" of Deng et al.
    (2022), App. 6.2 (see the module docstring)."""
    layers: list[nn.Module] = []
    for d in dilations:
        layers += [nn.Conv1d(c_in, hidden, kernel, padding=d * (kernel - 1) // 2, dilation=d), nn.LeakyReLU(SLOPE)]
        c_in = hidden
    return nn.Sequential(*layers)


def time_channels(n: int, length: int, device: torch.device) -> torch.Tensor:
    """``(n, 3, length)``: ``t`` in [-1, 1], ``sin(pi t)``, ``cos(pi t)``; normalised, so any
    length works (an addition to Deng et al. 2022: where in the series an entry lies)."""
    t = torch.linspace(-1.0, 1.0, length, device=device)
    feats = torch.stack([t, torch.sin(math.pi * t), torch.cos(math.pi * t)])
    return feats.expand(n, -1, -1)


class ClassEmbedding(nn.Module):
    """Class label -> learned vector, broadcast over time as extra input channels: the class
    conditioning of Deng et al. (2022), sec. 2.2.3 ("conditions on class labels analogous to
    Conditional GAN", sec. 3.2.1)."""

    def __init__(self, n_classes: int, dim: int) -> None:
        super().__init__()
        self.table = nn.Embedding(n_classes, dim)

    def forward(self, y: torch.Tensor, length: int) -> torch.Tensor:
        return self.table(y)[:, :, None].expand(-1, -1, length)


class DenseConditional(nn.Module):
    """``(inputs, class) -> (n, out_channels, length)``: one output per channel and time step.
    The common body of IB-GAN's generator and its element-wise discriminator (Deng et al.
    2022, sec. 2.2.3)."""

    def __init__(self, in_channels: int, out_channels: int, n_classes: int, hidden: int = 32,
                 embed_dim: int = 8) -> None:
        super().__init__()
        self.embed = ClassEmbedding(n_classes, embed_dim)
        self.body = conv_body(in_channels + embed_dim + TIME_CHANNELS, hidden)
        self.context = nn.Linear(hidden, hidden)  # global summary: the conv field is local
        self.out = nn.Conv1d(hidden, out_channels, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        n, _, length = x.shape
        h = self.body(torch.cat([x, self.embed(y, length), time_channels(n, length, x.device)], dim=1))
        h = F.leaky_relu(h + self.context(h.mean(dim=-1))[:, :, None], SLOPE)
        return self.out(h)


class ConditionalGenerator(DenseConditional):
    """``G(x_in, mask, y)``: a series shaped like ``x_in`` from a masked series (IB-GAN,
    Deng et al. 2022, sec. 2.2.3: ``G(X_mask, Y')``) or from white noise with an all-ones
    mask (the naive conditional GAN, ``pmiss = 1``, sec. 2.2.2). The mask is an extra input
    (as in GAIN, Yoon et al. 2018); the paper lists only ``(X_mask, Y')``, but the mask is
    known and tells the generator which entries are noise."""

    def __init__(self, channels: int, n_classes: int, hidden: int = 32, embed_dim: int = 8) -> None:
        super().__init__(2 * channels, channels, n_classes, hidden, embed_dim)

    def forward(self, x_in: torch.Tensor, mask: torch.Tensor,  # type: ignore[override]
                y: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.cat([x_in, mask], dim=1), y)


class MaskDiscriminator(DenseConditional):
    """IB-GAN's discriminator ``D(x, y)``: for every channel and time step the LOGIT of the
    probability that the entry was imputed, the element-wise imputation loss of Deng et al.
    (2022), sec. 2.2.3 / eq. 2.5 (``d_y(x)`` conditions on the class). Logits, so that the
    loss is ``binary_cross_entropy_with_logits``."""

    def __init__(self, channels: int, n_classes: int, hidden: int = 32, embed_dim: int = 8) -> None:
        super().__init__(channels, channels, n_classes, hidden, embed_dim)


class ConvEncoder(nn.Module):
    """Series -> feature vector ``(n, features)``, any length: the shared trunk of the
    sample-level discriminators and of BAGAN's encoder (Mariani et al. 2018, as a baseline
    of Deng et al. 2022, sec. 3.1)."""

    def __init__(self, channels: int, features: int = 64, hidden: int = 32) -> None:
        super().__init__()
        self.features = features
        self.body = conv_body(channels, hidden)
        self.pool = nn.AdaptiveAvgPool1d(POOLED)
        self.proj = nn.Linear(hidden * POOLED, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.proj(self.pool(self.body(x)).flatten(1)), SLOPE)


class ConditionalDiscriminator(nn.Module):
    """The naive conditional GAN's per-sample discriminator (Deng et al. 2022, sec. 3.1, the
    "Naive GAN"): the real/fake LOGIT of ``(x, y)``, class-conditioned by projection,
    ``logit = w . h + e_y . h``."""

    def __init__(self, channels: int, n_classes: int, features: int = 64, hidden: int = 32) -> None:
        super().__init__()
        self.encoder = ConvEncoder(channels, features, hidden)
        self.real = nn.Linear(features, 1)
        self.embed = nn.Embedding(n_classes, features)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)
        return self.real(h).squeeze(1) + (self.embed(y) * h).sum(dim=1)


class AuxiliaryDiscriminator(nn.Module):
    """AC-GAN's discriminator (Odena et al. 2017, a baseline of Deng et al. 2022, sec. 3.1):
    ``x -> (real/fake logit (n,), class logits (n, K))``. Logits, never a softmax: the losses
    are ``binary_cross_entropy_with_logits`` and ``cross_entropy``."""

    def __init__(self, channels: int, n_classes: int, features: int = 64, hidden: int = 32) -> None:
        super().__init__()
        self.encoder = ConvEncoder(channels, features, hidden)
        self.real = nn.Linear(features, 1)
        self.classes = nn.Linear(features, n_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.real(h).squeeze(1), self.classes(h)


class LatentDecoder(nn.Module):
    """Latent code ``(n, latent_dim)`` -> series ``(n, channels, length)``: BAGAN's decoder,
    which is also its generator (Mariani et al. 2018; baseline of Deng et al. 2022, sec. 3.1).
    A coarse sequence of ``min(length, 32)`` steps is interpolated linearly to exactly
    ``length`` and refined by convolutions."""

    def __init__(self, latent_dim: int, channels: int, length: int, hidden: int = 32) -> None:
        super().__init__()
        self.length, self.hidden, self.coarse = length, hidden, min(length, 32)
        self.expand = nn.Linear(latent_dim, hidden * self.coarse)
        self.body = conv_body(hidden + TIME_CHANNELS, hidden)
        self.out = nn.Conv1d(hidden, channels, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.expand(z), SLOPE).view(z.shape[0], self.hidden, self.coarse)
        h = F.interpolate(h, size=self.length, mode="linear", align_corners=True)
        h = torch.cat([h, time_channels(z.shape[0], self.length, z.device)], dim=1)
        return self.out(self.body(h))


class Autoencoder(nn.Module):
    """BAGAN's autoencoder (Mariani et al. 2018, sec. 3; baseline of Deng et al. 2022, sec. 3.1):
    ``encoder`` = :class:`ConvEncoder` + a linear map to the latent code, ``decoder`` =
    :class:`LatentDecoder` (later the generator)."""

    def __init__(self, channels: int, length: int, latent_dim: int = 16, features: int = 64,
                 hidden: int = 32) -> None:
        super().__init__()
        self.trunk = ConvEncoder(channels, features, hidden)
        self.to_latent = nn.Linear(features, latent_dim)
        self.decoder = LatentDecoder(latent_dim, channels, length, hidden)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_latent(self.trunk(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x))


class BAGANDiscriminator(nn.Module):
    """BAGAN's ``K + 1``-way discriminator (K classes + "fake" as the last logit), its trunk
    initialised from the autoencoder's encoder and a new linear head (Mariani et al. 2018,
    sec. 3.2; baseline of Deng et al. 2022, sec. 3.1). Returns logits."""

    def __init__(self, autoencoder: Autoencoder, n_classes: int) -> None:
        super().__init__()
        self.trunk = copy.deepcopy(autoencoder.trunk)
        self.head = nn.Linear(self.trunk.features, n_classes + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))
