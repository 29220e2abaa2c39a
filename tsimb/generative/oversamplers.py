"""The GAN baselines of Deng et al. (2022), "IB-GAN: A Unified Approach for Multivariate Time
Series Classification under Class Imbalance", SDM, sec. 3.1 (Table 1: "Conditional (Naive)
GAN", "ACGAN + Second Stage Classifier", "BAGAN + Second Stage Classifier") as oversamplers:
train the GAN, then return the real series plus synthetic ones topping every class up to the
majority count, for any classifier to be trained on ("second stage").

* ``cgan``: the naive conditional GAN: IB-GAN's generator fed white noise with every entry
  marked masked (IB-GAN at ``pmiss = 1``, App. 6.1) against a per-sample class-conditioned
  real/fake discriminator (Mirza & Osindero 2014).
* ``acgan``: the same generator against AC-GAN's discriminator with an auxiliary classifier
  head; both players add the class cross entropy (Odena et al. 2017, eqs. 2-3).
* ``bagan``: autoencoder pre-training, one Gaussian per class over the latent codes (mean
  and covariance of the class's codes), the decoder as generator and a ``K + 1``-way
  discriminator initialised from the encoder (Mariani et al. 2018, sec. 3).

Choices the papers leave open: fake labels are drawn uniformly over the classes; Adam with
the DCGAN settings (lr 2e-4, betas (0.5, 0.999), Radford et al. 2016) for the adversarial
players and Adam's defaults for the autoencoder; a ridge of ``cov_ridge`` times the mean
code variance keeps the class covariances positive definite (a class of two series has a
rank-one covariance).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..registry import Registry
from ..runtime import evaluating
from ..train import History, fit
from .common import check_data, check_positive, draw_noise, start, to_device, top_up_labels, with_overrides
from .networks import (Autoencoder, AuxiliaryDiscriminator, BAGANDiscriminator, ConditionalDiscriminator,
                       ConditionalGenerator)
from .steps import AutoencoderStep, DrawFake, TwoPlayerStep, adam, bce

SAMPLE_CHUNK = 512  # series generated per forward pass when sampling


@dataclass(frozen=True)
class GANSettings:
    """Every constant of a baseline GAN run (Deng et al. 2022, sec. 3.1 baselines), storable
    with ``dataclasses.asdict``; ``latent_dim``, ``ae_epochs``, ``lr_ae`` and ``cov_ridge`` are
    BAGAN's."""

    epochs: int = 100
    batch_size: int = 32
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    hidden: int = 32
    embed_dim: int = 8
    features: int = 64
    latent_dim: int = 16
    ae_epochs: int = 50
    lr_ae: float = 1e-3
    cov_ridge: float = 1e-3

    def __post_init__(self) -> None:
        check_positive(self, ("epochs", "batch_size", "hidden", "embed_dim", "features", "latent_dim", "ae_epochs"),
                       ("lr_g", "lr_d", "lr_ae", "cov_ridge"))


@dataclass
class TrainedGAN:
    """A trained baseline GAN: ``draw_fake`` maps labels to series, ``modules`` holds its
    networks, ``history`` the adversarial losses (``history.losses["d_loss"]``, ``["g_loss"]``)
    and ``pretrain`` BAGAN's autoencoder losses. Deng et al. (2022), sec. 3.1."""

    name: str
    n_classes: int
    series_shape: tuple[int, int]  # (channels, length)
    draw_fake: DrawFake
    modules: dict[str, nn.Module]
    history: History
    pretrain: History | None = None
    rng: torch.Generator | None = None  # the run's generator: sampling after training continues its draws

    @torch.no_grad()
    def sample(self, labels: np.ndarray, seed: int = 0, generator: torch.Generator | None = None) -> np.ndarray:
        """Synthetic series ``(len(labels), channels, length)`` of the given classes, seeded by
        ``seed`` (or drawn from ``generator``), with every network in evaluation mode."""
        labels = np.asarray(labels)
        in_range = labels.size == 0 or (np.issubdtype(labels.dtype, np.integer)
                                        and 0 <= labels.min() <= labels.max() < self.n_classes)
        if labels.ndim != 1 or not in_range:
            raise ValueError(f"labels must be a vector of integers in 0..{self.n_classes - 1}, got {labels!r}")
        device = next(self.modules["generator"].parameters()).device
        gen = generator or torch.Generator(device=device).manual_seed(seed)
        labels_t = torch.as_tensor(labels.astype(np.int64), device=device)
        with contextlib.ExitStack() as stack:
            for module in self.modules.values():
                stack.enter_context(evaluating(module))
            chunks = [self.draw_fake(chunk, gen) for chunk in labels_t.split(SAMPLE_CHUNK)]
        out = torch.cat(chunks) if chunks else torch.zeros(0, *self.series_shape, device=device)
        return out.cpu().numpy()


class ClassGaussians:
    """One Gaussian per class over latent codes: BAGAN's class-conditional latent generator
    (Mariani et al. 2018, sec. 3.2; baseline of Deng et al. 2022, sec. 3.1), all classes at
    once (one-hot sums, batched Cholesky)."""

    def __init__(self, codes: torch.Tensor, labels: torch.Tensor, n_classes: int, ridge: float) -> None:
        onehot = F.one_hot(labels, n_classes).to(codes.dtype)
        counts = onehot.sum(dim=0)
        self.mean = onehot.T @ codes / counts[:, None]
        centred = codes - self.mean[labels]
        cov = torch.einsum("nk,ni,nj->kij", onehot, centred, centred) / (counts - 1).clamp_min(1)[:, None, None]
        jitter = ridge * codes.var(dim=0).mean() + 1e-6
        self.cov = cov + jitter * torch.eye(codes.shape[1], device=codes.device)
        self.chol = torch.linalg.cholesky(self.cov)

    def sample(self, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        eps = draw_noise((labels.numel(), self.mean.shape[1]), generator)
        return self.mean[labels] + (self.chol[labels] @ eps[:, :, None]).squeeze(-1)


def _adversarial(name: str, x_all: torch.Tensor, y_all: torch.Tensor, n_classes: int, s: GANSettings,
                 gen: torch.Generator, progress: bool | None, G: nn.Module, D: nn.Module, draw_fake: DrawFake,
                 d_loss: Callable[..., torch.Tensor], g_loss: Callable[..., torch.Tensor],
                 pretrain: History | None = None) -> TrainedGAN:
    step = TwoPlayerStep(x_all, y_all, n_classes, gen, G, D, draw_fake, d_loss, g_loss,
                         adam(D, s.lr_d, s.betas), adam(G, s.lr_g, s.betas))
    history = fit(step, epochs=s.epochs, batch_size=s.batch_size, progress=progress, desc=f"{name} epochs")
    return TrainedGAN(name, n_classes, tuple(x_all.shape[1:]), draw_fake, {"generator": G, "discriminator": D},
                      history, pretrain)


def _noise_generator(x_all: torch.Tensor, n_classes: int, s: GANSettings) -> tuple[nn.Module, DrawFake]:
    """IB-GAN's generator at ``pmiss = 1``: white noise shaped like a series, all masked."""
    G = ConditionalGenerator(x_all.shape[1], n_classes, s.hidden, s.embed_dim).to(x_all.device)

    def draw_fake(labels: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        z = draw_noise((labels.numel(), *x_all.shape[1:]), gen)
        return G(z, torch.ones_like(z), labels)

    return G, draw_fake


def fit_cgan(x_all: torch.Tensor, y_all: torch.Tensor, n_classes: int, s: GANSettings, gen: torch.Generator,
             progress: bool | None = None) -> TrainedGAN:
    """The naive conditional GAN of Deng et al. (2022), sec. 3.1 / App. 6.1 (IB-GAN at
    ``pmiss = 1`` with a per-sample discriminator)."""
    G, draw_fake = _noise_generator(x_all, n_classes, s)
    D = ConditionalDiscriminator(x_all.shape[1], n_classes, s.features, s.hidden).to(x_all.device)
    return _adversarial("cGAN", x_all, y_all, n_classes, s, gen, progress, G, D, draw_fake,
                        lambda xr, yr, xf, yf: bce(D(xr, yr), 1.0) + bce(D(xf, yf), 0.0),
                        lambda xf, yf: bce(D(xf, yf), 1.0))


def fit_acgan(x_all: torch.Tensor, y_all: torch.Tensor, n_classes: int, s: GANSettings, gen: torch.Generator,
              progress: bool | None = None) -> TrainedGAN:
    """AC-GAN (Odena et al. 2017), a baseline of Deng et al. (2022), sec. 3.1: D maximises
    ``L_S + L_C``, G maximises ``L_C - L_S`` (non-saturating), the class loss on logits."""
    G, draw_fake = _noise_generator(x_all, n_classes, s)
    D = AuxiliaryDiscriminator(x_all.shape[1], n_classes, s.features, s.hidden).to(x_all.device)

    def d_loss(xr: torch.Tensor, yr: torch.Tensor, xf: torch.Tensor, yf: torch.Tensor) -> torch.Tensor:
        (real_r, cls_r), (real_f, cls_f) = D(xr), D(xf)
        return bce(real_r, 1.0) + bce(real_f, 0.0) + F.cross_entropy(cls_r, yr) + F.cross_entropy(cls_f, yf)

    def g_loss(xf: torch.Tensor, yf: torch.Tensor) -> torch.Tensor:
        real_f, cls_f = D(xf)
        return bce(real_f, 1.0) + F.cross_entropy(cls_f, yf)

    return _adversarial("AC-GAN", x_all, y_all, n_classes, s, gen, progress, G, D, draw_fake, d_loss, g_loss)


def fit_bagan(x_all: torch.Tensor, y_all: torch.Tensor, n_classes: int, s: GANSettings, gen: torch.Generator,
              progress: bool | None = None) -> TrainedGAN:
    """BAGAN (Mariani et al. 2018), a baseline of Deng et al. (2022), sec. 3.1: autoencoder
    pre-training (MSE), class Gaussians over the codes, then the decoder against a ``K + 1``-way
    discriminator initialised from the encoder; real series -> their class, fakes -> class K
    for D, fakes -> their class for G."""
    ae = Autoencoder(x_all.shape[1], x_all.shape[2], s.latent_dim, s.features, s.hidden).to(x_all.device)
    pretrain = fit(AutoencoderStep(x_all, y_all, gen, ae, adam(ae, s.lr_ae, (0.9, 0.999))), epochs=s.ae_epochs,
                   batch_size=s.batch_size, progress=progress, desc="BAGAN autoencoder epochs")
    with torch.no_grad(), evaluating(ae):
        codes = torch.cat([ae.encode(xb) for xb in x_all.split(SAMPLE_CHUNK)])
    gauss = ClassGaussians(codes, y_all, n_classes, s.cov_ridge)
    G, D = ae.decoder, BAGANDiscriminator(ae, n_classes).to(x_all.device)

    def draw_fake(labels: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return G(gauss.sample(labels, g))

    def d_loss(xr: torch.Tensor, yr: torch.Tensor, xf: torch.Tensor, yf: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(D(xr), yr) + F.cross_entropy(D(xf), torch.full_like(yf, n_classes))

    trained = _adversarial("BAGAN", x_all, y_all, n_classes, s, gen, progress, G, D, draw_fake, d_loss,
                           lambda xf, yf: F.cross_entropy(D(xf), yf), pretrain)
    trained.modules["encoder"] = ae
    return trained


OVERSAMPLERS: Registry[Callable[..., TrainedGAN]] = Registry("GAN oversampler")
OVERSAMPLERS.add("cgan", fit_cgan, "naive conditional GAN from white noise (Deng et al. 2022, sec. 3.1)")
OVERSAMPLERS.add("acgan", fit_acgan, "AC-GAN: auxiliary classifier head, logits with cross entropy")
OVERSAMPLERS.add("bagan", fit_bagan, "BAGAN: autoencoder pre-training, class Gaussians, K+1-way discriminator")


def fit_gan(method: str, X: np.ndarray, y: np.ndarray, *, settings: GANSettings | None = None, seed: int = 0,
            device: torch.device | str | None = None, progress: bool | None = None,
            **overrides: Any) -> TrainedGAN:
    """Train the baseline GAN ``method`` (``"cgan"``, ``"acgan"``, ``"bagan"``; Deng et al. 2022,
    sec. 3.1) on series ``X`` ``(n, channels, length)`` with labels ``0..K-1``, seeded.
    ``overrides`` replace single settings. Raises ``ValueError`` for an unknown method (closest
    names offered), an unknown setting or bad data."""
    key = OVERSAMPLERS.check(str(method).lower())
    settings = with_overrides(settings or GANSettings(), overrides)
    X, y, k = check_data(X, y, who=f"the {key} oversampler")
    dev, gen = start(seed, device)
    x_all, y_all = to_device(X, y, dev)
    trained = OVERSAMPLERS[key](x_all, y_all, k, settings, gen, progress)
    trained.rng = gen
    return trained


def gan_oversample(method: str, X: np.ndarray, y: np.ndarray, *, settings: GANSettings | None = None,
                   seed: int = 0, device: torch.device | str | None = None, progress: bool | None = None,
                   **overrides: Any) -> tuple[np.ndarray, np.ndarray]:
    """Real plus synthetic series: every class topped up to the majority count by the trained
    GAN ``method`` (Deng et al. 2022, sec. 3.1 baselines, "+ Second Stage Classifier"). The
    real series come first, unchanged."""
    trained = fit_gan(method, X, y, settings=settings, seed=seed, device=device, progress=progress, **overrides)
    X, y = np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.int64)
    labels = top_up_labels(y, int(y.max()) + 1)
    X_syn = trained.sample(labels, generator=trained.rng)
    return np.concatenate([X, X_syn]), np.concatenate([y, labels])
