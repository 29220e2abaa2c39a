"""IB-GAN: Deng et al. (2022), "IB-GAN: A Unified Approach for Multivariate Time Series
Classification under Class Imbalance", SDM, sec. 2.

One minibatch (sec. 2.2, Fig. 2): ``batch_size`` real series ``(X_real, Y)`` in epoch order,
and as many series drawn again by the weighted resample (sec. 2.2.1) for ``(X', Y')``; those
are masked MCAR with rate ``pmiss`` (sec. 2.2.2), ``X_mask = X (1 - I) + Z I``; the generator
imputes the masked entries, ``X' = X (1 - I) + G(X_mask, I, Y') I``; the discriminator
recovers ``I`` element-wise (eq. 2.5); the classifier learns from real series and from
``X'`` weighted by ``d / (1 - d)`` (eq. 2.6). ``pmiss = 1`` is the naive conditional GAN
(every entry generated from noise) and ``pmiss = 0`` training on weighted bootstraps
(``X'`` is the resampled real series and its weight is 1).

Where the paper is silent or ambiguous, the choices (each also in the docstring concerned):

* the prior ``w'_y`` of the resampled half, read three ways. Sec. 2.1 asks for
  ``w'_y = (1/|Y| - alpha w_y) / (1 - alpha)``, which makes the alpha-mix of real and
  synthetic series balanced, and sec. 2.2.1 says the two sources "together" are balanced
  (``prior="complement"``). Sec. 2.2.1's per-series weights ``(1/w_y) / sum 1/w_y`` make
  the resampled half alone balanced, ``w'_y = 1/|Y|`` (``"inverse"``: the real half then
  tilts the mix towards the majority), and read per class they give ``w'_y`` proportional
  to ``1/w_y`` (``"inverse-per-class"``). The default is ``"complement"``, the reading that
  the text's "together ... balanced" supports; the book's chapter compares the three.
* ``alpha`` (eqs. 2.3, 2.6) has no value in the paper: ``None`` takes half the admissible bound
  ``1 / (|Y| max_y w_y)`` of sec. 2.1 (0.5 on balanced data); a given value is checked.
* ``d_y(x)`` of eq. 2.6 is per sample but the discriminator is element-wise: the per-sample
  odds are the geometric mean of the entry odds over the imputed entries, divided by the
  prior odds of an entry being real, ``(1 - pi) / pi`` with ``pi = pmiss / 2`` (half of the
  entries D sees are from real series), so that a perfect generator gets weight 1 as the
  paper's ``d* = p / (p + p')`` argument intends; capped at ``max_weight`` for stability. A
  series without imputed entries is real and gets weight 1.
* eq. 2.5's inverse-prior weights ``1/w_y`` and ``1/w'_y`` enter D's loss as per-series
  weights ``1 / (|Y| w_y)`` (class-balanced discriminator).
* eq. 2.4 reads ``min_G max_C``, which would make G fight the classifier; the text (sec. 1.2,
  4) says classification feedback improves the samples, so G *minimises* the classifier's
  cross entropy on ``X'`` with weight ``g_class_weight`` (a negative value gives the literal reading).
* update order per minibatch: D, then C, then G; non-saturating generator loss on imputed
  entries; D and C see the real and resampled halves as one batch.
* learning rates (see :class:`IBGANSettings`): two time scales for G and D, Adam's defaults
  for C; ``g_class_weight = 0.1``. Measured on a toy, not taken from the paper.
* the paper names ``Z`` "random white noise": standard normal here (z-normalised series).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..data import validate_series
from ..runtime import evaluating
from .common import (check_data, check_positive, class_prior, draw_mask, draw_noise, draw_weighted, start,
                     to_device, with_overrides)
from ..train import Callback, FitState, History, fit
from .steps import GenerativeStep, adam, update
from .networks import ConditionalGenerator, MaskDiscriminator

Prior = Literal["complement", "inverse", "inverse-per-class"]
PRIORS: tuple[str, ...] = ("complement", "inverse", "inverse-per-class")


@dataclass(frozen=True)
class IBGANSettings:
    """Every constant of an IB-GAN run (Deng et al. 2022, sec. 2-3), storable with
    ``dataclasses.asdict``. From the paper: ``pmiss = 0.1`` (sec. 3.1), 20 epochs (App. 6.2),
    Adam with its default parameters for the classifier (App. 6.3). The paper leaves the rest
    open (see :mod:`tsimb.generative.ibgan`); measured on the book's two-class toy (sine vs
    negated sine, ``pmiss = 0.5``): with Adam's defaults for G and D too, D never told imputed
    from observed entries and G drifted (imputed RMSE 1-10), so G and D take two time scales
    (Heusel et al. 2017), ``lr_d = 10 lr_g`` with DCGAN's ``betas = (0.5, 0.999)`` (imputed
    RMSE about 0.3); a classification weight of 1 on G pulled the imputations off the data
    (RMSE 0.5-1.2), hence 0.1. ``batch_size`` counts the real series of a minibatch; as many
    resampled series join them."""

    pmiss: float = 0.1
    alpha: float | None = None
    prior: Prior = "complement"
    epochs: int = 20
    batch_size: int = 32
    lr_g: float = 2e-4
    lr_d: float = 2e-3
    lr_c: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)  # G and D
    betas_c: tuple[float, float] = (0.9, 0.999)  # the classifier: Adam's defaults
    g_class_weight: float = 0.1
    max_weight: float = 10.0
    hidden: int = 32
    embed_dim: int = 8

    def __post_init__(self) -> None:
        if not (isinstance(self.pmiss, (int, float)) and 0.0 <= self.pmiss <= 1.0):
            raise ValueError(f"pmiss must lie in [0, 1] (the share of masked entries, sec. 2.2.2), got {self.pmiss!r}")
        if self.alpha is not None and not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must lie in (0, 1) (eq. 2.3) or be None, got {self.alpha!r}")
        if self.prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS} (sec. 2.1 and the readings of sec. 2.2.1), "
                             f"got {self.prior!r}")
        check_positive(self, ("epochs", "batch_size", "hidden", "embed_dim"), ("lr_g", "lr_d", "lr_c", "max_weight"))
        if not math.isfinite(self.g_class_weight):
            raise ValueError(f"g_class_weight must be finite, got {self.g_class_weight!r}")


def admissible_bound(counts: np.ndarray) -> float:
    """The bound of sec. 2.1 of Deng et al. (2022): ``alpha < (1/|Y|) / max_y w_y`` keeps every
    synthetic prior ``w'_y = (1/|Y| - alpha w_y) / (1 - alpha)`` positive."""
    w = class_prior(counts)
    return float(1.0 / (w.size * w.max()))


def resolve_alpha(alpha: float | None, counts: np.ndarray) -> float:
    """``alpha`` checked against the admissible prior of sec. 2.1 (Deng et al. 2022), or half
    the bound when ``None``. Raises ``ValueError`` naming the bound when it is violated."""
    bound = admissible_bound(counts)
    if alpha is None:
        return bound / 2
    if not alpha < bound:
        raise ValueError(
            f"alpha={alpha:g} is not admissible for these class priors: sec. 2.1 of the IB-GAN paper "
            f"needs alpha < (1/|Y|) / max_y w_y = {bound:.4g} (class counts {np.asarray(counts).tolist()}); "
            "lower alpha, or leave it None to take half the bound")
    return float(alpha)


def synthetic_prior(counts: np.ndarray, alpha: float, prior: Prior = "complement") -> np.ndarray:
    """The class prior ``w'_y`` of the resampled half (Deng et al. 2022):
    ``(1/|Y| - alpha w_y) / (1 - alpha)`` (sec. 2.1, ``"complement"``: real and synthetic
    together balanced), ``1/|Y|`` (sec. 2.2.1 read per series, ``"inverse"``) or proportional
    to ``1/w_y`` (sec. 2.2.1 read per class, ``"inverse-per-class"``)."""
    w = class_prior(counts)
    if prior == "inverse":
        return np.full(w.size, 1.0 / w.size)
    if prior == "inverse-per-class":
        return (1.0 / w) / (1.0 / w).sum()
    return (1.0 / w.size - alpha * w) / (1.0 - alpha)


def resample_probabilities(y: torch.Tensor, counts: np.ndarray, w_prime: np.ndarray) -> torch.Tensor:
    """Per-series draw probabilities ``w'_{y_i} / n_{y_i}`` of the weighted resample (Deng et al.
    2022, sec. 2.2.1); with ``w' = 1/|Y|`` that is ``(1/w_y) / sum`` per series."""
    per_class = torch.as_tensor(w_prime / counts, dtype=torch.float32, device=y.device)
    return per_class[y]


def imputation_weights(logits: torch.Tensor, mask: torch.Tensor, pmiss: float, max_weight: float) -> torch.Tensor:
    """Per-series weights ``w_D = d / (1 - d)`` of eq. 2.6 (Deng et al. 2022) from the
    element-wise discriminator's imputed-logits: the prior-corrected geometric mean of the
    entry odds of being real over the imputed entries (see the module docstring); 1 for a
    series without imputed entries (``pmiss = 0``: a weighted bootstrap)."""
    imputed = mask.sum(dim=(1, 2))
    if pmiss <= 0.0:
        return torch.ones_like(imputed)
    pi = pmiss / 2  # share of imputed entries among all entries D is trained on
    mean_log_odds = (-logits * mask).sum(dim=(1, 2)) / imputed.clamp_min(1.0)
    weights = torch.exp(mean_log_odds + math.log(pi / (1 - pi)))
    return torch.where(imputed > 0, weights, torch.ones_like(weights)).clamp(max=max_weight)


class IBGAN(nn.Module):
    """The (G, D, C) triplet of Deng et al. (2022), sec. 2.2 / Fig. 2: a conditional
    imputation generator, the element-wise mask discriminator and any classifier. Build it
    with :func:`fit_ibgan`."""

    def __init__(self, classifier: nn.Module, channels: int, n_classes: int, settings: IBGANSettings) -> None:
        super().__init__()
        self.settings = settings
        self.generator = ConditionalGenerator(channels, n_classes, settings.hidden, settings.embed_dim)
        self.discriminator = MaskDiscriminator(channels, n_classes, settings.hidden, settings.embed_dim)
        self.classifier = classifier
        self.alpha: float = float("nan")  # resolved by fit_ibgan
        self.w_prime: np.ndarray = np.zeros(n_classes)

    def impute(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``X' = X (1 - I) + G(X (1 - I) + Z I, I, Y) I`` (Deng et al. 2022, sec. 2.2.2-2.2.3):
        observed entries are kept exactly, masked ones imputed."""
        x_mask = x * (1 - mask) + noise * mask
        return x * (1 - mask) + self.generator(x_mask, mask, y) * mask

    @torch.no_grad()
    def generate(self, X: np.ndarray, y: np.ndarray, *, pmiss: float | None = None, seed: int = 0) -> np.ndarray:
        """Synthetic series from real ones ``X`` of classes ``y``: mask at rate ``pmiss`` (default:
        the training rate) and impute (Deng et al. 2022, sec. 2.2.2). Seeded; no gradient."""
        device = next(self.parameters()).device
        validate_series(np.asarray(X), np.asarray(y), self.w_prime.size)  # any subset of classes will do
        x_t, y_t = to_device(np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.int64), device)
        gen = torch.Generator(device=device).manual_seed(seed)
        rate = self.settings.pmiss if pmiss is None else pmiss
        with evaluating(self.generator):
            out = self.impute(x_t, y_t, draw_mask(x_t.shape, rate, gen), draw_noise(x_t.shape, gen))
        return out.cpu().numpy()


def _check_classifier(classifier: nn.Module, x: torch.Tensor, n_classes: int) -> None:
    with torch.no_grad(), evaluating(classifier):
        out = classifier(x[:2])
    if out.ndim != 2 or out.shape[1] != n_classes:
        raise ValueError(f"the classifier must return logits (batch, {n_classes}), got shape {tuple(out.shape)}; "
                         "build it with tsimb.build_model(name, channels, n_classes, length)")


class IBGANStep(GenerativeStep):
    """One IB-GAN minibatch (Deng et al. 2022, sec. 2.2.3, eq. 2.4): ``batch_size`` real series
    in epoch order and as many drawn again by the weighted resample (sec. 2.2.1), masked
    (sec. 2.2.2) and imputed; then D (eq. 2.5), C (eq. 2.6) and G updates, in that order.
    Its losses: ``c_loss`` (the run's trace), ``d_loss``, ``g_loss``; then what tells whether
    the discriminator weighs anything (eq. 2.6): ``d_imputed`` and ``d_square``, the mean and
    mean square of the probability D gives an imputed entry of being imputed (0 when nothing
    is masked), and the mean and mean square of the weights ``d/(1-d)`` of the resampled
    series (``w_mean``, ``w_square``). Callbacks (schedules, keep-best weights) act on the
    classifier C."""

    loss_names = ("c_loss", "d_loss", "g_loss", "d_imputed", "w_mean", "w_square", "d_square")

    def __init__(self, model: IBGAN, x_all: torch.Tensor, y_all: torch.Tensor, counts: np.ndarray,
                 generator: torch.Generator) -> None:
        super().__init__(x_all, y_all, generator)
        s, k = model.settings, counts.size
        self.ibgan, self.settings, self.n_classes = model, s, k
        self.probs = resample_probabilities(y_all, counts, model.w_prime)
        # eq. 2.5's inverse-prior weights, scaled so that a balanced class mix weighs 1 per series
        self.d_real = torch.as_tensor(1.0 / (k * class_prior(counts)), dtype=torch.float32, device=self.device)
        self.d_fake = torch.as_tensor(1.0 / (k * model.w_prime), dtype=torch.float32, device=self.device)
        G, D, C = model.generator, model.discriminator, model.classifier
        self.opt_g, self.opt_d = adam(G, s.lr_g, s.betas), adam(D, s.lr_d, s.betas)
        self.model, self.optimiser, self.modules = C, adam(C, s.lr_c, s.betas_c), (G, D, C)

    def __call__(self, state: FitState, idx: torch.Tensor) -> tuple[torch.Tensor, int]:
        s, gen, alpha = self.settings, self.generator, self.ibgan.alpha
        G, D, C = self.ibgan.generator, self.ibgan.discriminator, self.ibgan.classifier
        xr, yr = self.x_all[idx], self.y_all[idx]
        pick = draw_weighted(self.probs, idx.numel(), gen)  # sec. 2.2.1
        xs, ys = self.x_all[pick], self.y_all[pick]
        mask = draw_mask(xs.shape, s.pmiss, gen)  # sec. 2.2.2
        fake = self.ibgan.impute(xs, ys, mask, draw_noise(xs.shape, gen))
        # real and synthetic halves go through D and C as one batch (one pass, shared statistics)
        both, y_both = torch.cat([xr, fake.detach()]), torch.cat([yr, ys])
        # D maximises eq. 2.5: real entries -> "not imputed", entries of X' -> their mask; the
        # sum of the two expectations is twice the mean over the joint batch
        per_series = F.binary_cross_entropy_with_logits(
            D(both, y_both), torch.cat([torch.zeros_like(xr), mask]), reduction="none").mean(dim=(1, 2))
        d_loss = update(self.opt_d, 2 * (torch.cat([self.d_real[yr], self.d_fake[ys]]) * per_series).mean())
        # one pass of the updated D serves both C's weights (detached) and G's loss
        fake_logits = D(fake, ys)
        # C maximises eq. 2.6: alpha-mix of real and d/(1-d)-weighted synthetic cross entropy
        w_d = imputation_weights(fake_logits.detach(), mask, s.pmiss, s.max_weight)
        ce = F.cross_entropy(C(both), y_both, reduction="none")
        ce_real, ce_fake = ce[: idx.numel()].mean(), (w_d * ce[idx.numel():]).mean()
        c_loss = update(self.optimiser, alpha * ce_real + (1 - alpha) * ce_fake)
        # G: fool D on the imputed entries (non-saturating eq. 2.5) and be classified as Y'
        g_adv = (F.softplus(fake_logits) * mask).sum() / mask.sum().clamp_min(1.0)
        g_loss = g_adv + s.g_class_weight * F.cross_entropy(C(fake), ys)
        g_loss = update(self.opt_g, g_loss) if s.pmiss > 0 else g_loss.detach()  # pmiss=0: G has no say in X'
        p_imputed, n_imputed = torch.sigmoid(fake_logits.detach()) * mask, mask.sum().clamp_min(1.0)
        d_imputed, d_square = p_imputed.sum() / n_imputed, p_imputed.square().sum() / n_imputed
        return torch.stack([c_loss, d_loss, g_loss, d_imputed, w_d.mean(), w_d.square().mean(), d_square]), idx.numel()


def discriminator_statistics(history: History) -> pd.DataFrame:
    """Whether IB-GAN's discriminator weighs anything (Deng et al. 2022, eqs. 2.5-2.6), per
    epoch of a run's ``history`` (:class:`IBGANStep`'s losses): ``d_imputed`` and
    ``d_imputed_sd``, the mean and spread over imputed entries of the probability D gives
    them of being imputed (the base rate ``pmiss / 2`` is what a D that learned nothing
    beyond the share of imputed entries says), and ``weight_mean`` and ``weight_sd``, the
    mean and spread of eq. 2.6's weights ``d/(1-d)`` over the resampled series (1 for each
    when D is inert). Spreads are pooled over the epoch's batches."""
    losses = history.losses
    d_mean, w_mean = np.asarray(losses["d_imputed"]), np.asarray(losses["w_mean"])
    return pd.DataFrame({
        "epoch": np.arange(len(d_mean)), "d_imputed": d_mean,
        "d_imputed_sd": np.sqrt(np.clip(np.asarray(losses["d_square"]) - d_mean ** 2, 0.0, None)),
        "weight_mean": w_mean, "weight_sd": np.sqrt(np.clip(np.asarray(losses["w_square"]) - w_mean ** 2, 0.0, None)),
    })


def fit_ibgan(X: np.ndarray, y: np.ndarray, *, n_classes: int, classifier: nn.Module,
              settings: IBGANSettings = IBGANSettings(), seed: int = 0, device: torch.device | str | None = None,
              progress: bool | None = None, callbacks: Sequence[Callback] = ()) -> tuple[IBGAN, History]:
    """Train the IB-GAN triplet (Deng et al. 2022, sec. 2.2.3, eqs. 2.4-2.6) with the one loop
    :func:`tsimb.train.fit` and return it with its per-epoch losses (``history.loss`` is the
    classifier's, ``history.losses`` has all three). ``classifier`` maps
    ``(n, channels, length)`` to ``n_classes`` logits (e.g.
    ``tsimb.build_model("cnn", channels, n_classes)``) and is trained in place; ``callbacks``
    (schedules, keep-best weights) act on it. The generator and discriminator are initialised
    after ``seed_everything(seed)``; build the classifier after seeding too if it must repeat.

    Raises ``ValueError`` for bad series or labels, an inadmissible ``alpha`` (sec. 2.1) or a
    classifier with the wrong number of outputs; ``TrainingDivergedError`` if a loss diverges.
    """
    X, y, k = check_data(X, y, n_classes, who="IB-GAN")
    counts = np.bincount(y, minlength=k)
    alpha = resolve_alpha(settings.alpha, counts)
    w_prime = synthetic_prior(counts, alpha, settings.prior)
    dev, gen = start(seed, device)
    model = IBGAN(classifier, X.shape[1], k, settings).to(dev)
    model.alpha, model.w_prime = alpha, w_prime
    x_all, y_all = to_device(X, y, dev)
    _check_classifier(model.classifier, x_all, k)
    step = IBGANStep(model, x_all, y_all, counts, gen)
    history = fit(step, epochs=settings.epochs, batch_size=settings.batch_size, callbacks=callbacks,
                  progress=progress, desc="IB-GAN epochs")
    return model, history
