"""Latent adversarial augmentation, a RECONSTRUCTION of Kim, Choi and Choo (2021),
"Augmenting Imbalanced Time-series Data via Adversarial Perturbation in Latent Space"
(ACML, PMLR 157). Only the paper's abstract is available to us; everything below beyond
its two sentences ("perturbed in its latent space, their reconstructed data retains
properties similar to the original one"; "adversarially perturbs input data in its latent
space so that the augmented data is diverse and conducive to reducing test error of a
downstream model") is our construction, and the book labels it so wherever it is used.

Per minibatch of the downstream classifier's training (:class:`LatentAdversarialStep`):
draw minority series (each class below the majority in proportion to what it lacks), encode
them, ``z_0 = E(x)``; start at a uniform point of the ``eps`` ball around ``z_0``; take ``T``
steps ``z <- proj(z + alpha * d)``, ``d`` the sign (L-inf) or the normalised (L2) gradient
of the classifier's cross entropy of ``Q(z)`` against the series' own label (the direction
that raises its loss: projected gradient ascent, Madry et al. 2018, in the latent space);
decode ``Q(z)`` and append the series, with their labels, to the minibatch.

Choices (the abstract gives none; each is a setting of :class:`LatentAdversarialSettings`):

* the autoencoder is the latent chapter's (:mod:`.autoencoder`), trained on reconstruction
  alone (``cluster_weight = 0``) before the classifier, and frozen;
* ``eps`` (0.2 in the code's units: codes lie in ``[-1, 1]``), ``T = 3`` steps of
  ``alpha = 2.5 eps / T`` (Madry et al.'s rule), the L-inf ball, a random start; perturbed
  codes are also clipped to the code range ``[-1, 1]`` the decoder was trained on;
  ``eps = 0`` is plain autoencoder oversampling (the decoded reconstructions of resampled
  minority series);
* "the classifier trains alongside": the perturbations follow a copy of the classifier
  being trained, refreshed every ``m`` minibatches (``sync_every``; 1: the live classifier),
  used in evaluation mode (batch norm statistics are not moved by the attack);
* how many: per minibatch of ``B`` series, ``round(B (K n_max - n) / n)`` synthetic series,
  which balances the classes in expectation; their sample weight is their base series'.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...data import Dataset, validate_series
from ...models import build_model
from ...runtime import evaluating, get_device, seed_everything
from ...train import Budget, ClassifierStep, FitState, Method, Sampler, Trained, fit, register
from ..common import check_positive
from .autoencoder import CHUNK, AutoencoderSettings, LatentAutoencoder, cached_fit, fit_latent_autoencoder

Norm = Literal["linf", "l2"]


@dataclass(frozen=True)
class LatentAdversarialSettings:
    """Every constant of a latent adversarial augmentation run (our reconstruction of Kim et
    al. 2021; see :mod:`tsimb.generative.latent.adversarial`): the autoencoder's (plain
    reconstruction by default), the ball radius ``eps``, ``steps`` (``T``), the step size
    ``alpha`` (``None``: ``2.5 eps / T``), the ball's ``norm``, ``sync_every`` (``m``) and
    ``random_start``."""

    autoencoder: AutoencoderSettings = AutoencoderSettings(cluster_weight=0.0)
    eps: float = 0.2
    steps: int = 3
    alpha: float | None = None
    norm: Norm = "linf"
    sync_every: int = 1
    random_start: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.autoencoder, AutoencoderSettings):
            raise ValueError(f"LatentAdversarialSettings.autoencoder must be AutoencoderSettings, "
                             f"got {self.autoencoder!r}")
        for name in ("eps", "alpha"):
            value = getattr(self, name)
            if name == "alpha" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"LatentAdversarialSettings.{name} must be a non-negative number, got {value!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, (int, np.integer)) or self.steps < 0:
            raise ValueError(f"LatentAdversarialSettings.steps (T) must be a non-negative integer, got {self.steps!r}")
        if self.norm not in ("linf", "l2"):
            raise ValueError(f"LatentAdversarialSettings.norm must be 'linf' or 'l2', got {self.norm!r}")
        check_positive(self, ("sync_every",), ())
        if not isinstance(self.random_start, bool):
            raise ValueError(f"LatentAdversarialSettings.random_start must be True or False, got {self.random_start!r}")

    @property
    def step_size(self) -> float:
        """``alpha``, or ``2.5 eps / T`` when it is not given (Madry et al. 2018's rule)."""
        if self.alpha is not None:
            return float(self.alpha)
        return 2.5 * self.eps / self.steps if self.steps else 0.0


def project(z: torch.Tensor, centre: torch.Tensor, eps: float, norm: Norm) -> torch.Tensor:
    """``z`` moved to the nearest point of the ``eps`` ball (L-inf or L2) around ``centre``,
    then clipped to the code range ``[-1, 1]`` (our reconstruction of Kim et al. 2021)."""
    delta = z - centre
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    else:
        length = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
        delta = delta * (eps / length).clamp(max=1.0)[:, None]
    return (centre + delta).clamp(-1.0, 1.0)


def perturb_codes(codes: torch.Tensor, labels: torch.Tensor, decoder: nn.Module, classifier: nn.Module,
                  settings: LatentAdversarialSettings, generator: torch.Generator | None = None) -> torch.Tensor:
    """Codes moved within the ``eps`` ball to raise ``classifier``'s cross entropy of
    ``decoder(z)`` against ``labels``: a random start (if ``settings.random_start``; drawn from
    ``generator``), then ``T`` signed (L-inf) or normalised (L2) gradient steps of size
    ``alpha``, each projected (Kim et al. 2021, reconstructed; projected gradient ascent of
    Madry et al. 2018 on the code). Both networks run in evaluation mode; no parameter
    receives a gradient. ``eps = 0`` returns ``codes``."""
    eps, alpha = float(settings.eps), settings.step_size
    centre = codes.detach()
    if eps == 0.0:
        return centre.clone()
    z = centre.clone()
    if settings.random_start:
        u = torch.rand(z.shape, generator=generator, device=z.device) * 2 - 1  # uniform in the L-inf cube
        if settings.norm == "l2":  # uniform in the L2 ball: a direction times radius^(1/d)
            direction = torch.randn(z.shape, generator=generator, device=z.device)
            direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-12)
            radius = torch.rand((z.shape[0], 1), generator=generator, device=z.device) ** (1.0 / z.shape[1])
            u = direction * radius
        z = project(z + eps * u, centre, eps, settings.norm)
    with evaluating(decoder), evaluating(classifier), torch.enable_grad():
        for _ in range(settings.steps):
            z = z.detach().requires_grad_(True)
            loss = F.cross_entropy(classifier(decoder(z)), labels)
            (grad,) = torch.autograd.grad(loss, z)
            if settings.norm == "linf":
                direction = grad.sign()
            else:
                direction = grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12)
            z = project(z.detach() + alpha * direction, centre, eps, settings.norm)
    return z.detach()


def latent_adversarial(x: torch.Tensor, labels: torch.Tensor, autoencoder: LatentAutoencoder, classifier: nn.Module,
                       settings: LatentAdversarialSettings, generator: torch.Generator | None = None) -> torch.Tensor:
    """``Q(perturb(E(x)))``: the augmented copies of series ``x`` (Kim et al. 2021,
    reconstructed; see :func:`perturb_codes`). With ``eps = 0`` these are the autoencoder's
    reconstructions ``Q(E(x))``. No gradient flows back."""
    with torch.no_grad(), evaluating(autoencoder):
        codes = autoencoder.encode(x)
    z = perturb_codes(codes, labels, autoencoder.decoder, classifier, settings, generator)
    with torch.no_grad(), evaluating(autoencoder):
        return autoencoder.decode(z)


def draw_probabilities(y: torch.Tensor, n_classes: int) -> tuple[torch.Tensor, float]:
    """Per-series draw probabilities that fill each class up to the majority in expectation,
    ``(n_max - n_c) / n_c`` normalised, and the share ``(K n_max - n) / n`` of synthetic series
    per real one (our reconstruction of Kim et al. 2021's oversampling)."""
    counts = torch.bincount(y, minlength=n_classes).to(torch.float32)
    lack = counts.max() - counts
    weights = (lack / counts.clamp_min(1.0))[y]
    total = float(lack.sum())
    return (weights / weights.sum() if total > 0 else weights), total / float(y.numel())


class LatentAdversarialStep(ClassifierStep):
    """A classifier step whose minibatches are topped up with latent adversarial minority
    series (Kim et al. 2021, reconstructed): ``B`` real series followed by about
    ``B (K n_max - n) / n`` decoded perturbed codes of series drawn from the classes below
    the majority, made afresh against a copy of the classifier refreshed every
    ``settings.sync_every`` minibatches. The autoencoder is frozen. Seeded by ``seed``."""

    def __init__(self, model: nn.Module, X: np.ndarray, y: np.ndarray, *, autoencoder: LatentAutoencoder,
                 settings: LatentAdversarialSettings = LatentAdversarialSettings(), seed: int = 0, **options) -> None:
        super().__init__(model, X, y, seed=seed, **options)
        if self.y.ndim != 1:
            raise ValueError("latent adversarial augmentation needs class indices, not probability vectors")
        self.autoencoder = autoencoder.to(self.device).eval().requires_grad_(False)
        self.settings = settings
        self.probs, self.share = draw_probabilities(self.y, self.n_classes)
        self.attack_generator = torch.Generator(device=self.device).manual_seed(int(seed))
        self.attacker: nn.Module | None = None
        self.batches = 0

    def transform(self, state: FitState, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        m = int(round(x.shape[0] * self.share))
        if m == 0:
            return x, y, weight
        if self.batches % self.settings.sync_every == 0:
            self.attacker = state.model if self.settings.sync_every == 1 else copy.deepcopy(state.model)
        self.batches += 1
        pick = torch.multinomial(self.probs, m, replacement=True, generator=self.attack_generator)
        extra = latent_adversarial(self.X[pick], self.y[pick], self.autoencoder, self.attacker, self.settings,
                                   self.attack_generator)
        return (torch.cat([x, extra]), torch.cat([y, self.y[pick]]),
                None if weight is None else torch.cat([weight, self.sample_weight[pick]]))


@torch.no_grad()
def _generate(X: np.ndarray, y: np.ndarray, autoencoder: LatentAutoencoder, classifier: nn.Module,
              settings: LatentAdversarialSettings, seed: int) -> np.ndarray:
    validate_series(np.asarray(X), np.asarray(y))
    device = next(autoencoder.parameters()).device
    gen = torch.Generator(device=device).manual_seed(int(seed))
    x = torch.as_tensor(np.asarray(X, dtype=np.float32), device=device)
    labels = torch.as_tensor(np.asarray(y, dtype=np.int64), device=device)
    out = [latent_adversarial(xb, yb, autoencoder, classifier, settings, gen)
           for xb, yb in zip(x.split(CHUNK), labels.split(CHUNK))]
    return torch.cat(out).cpu().numpy() if out else np.zeros((0, *X.shape[1:]), dtype=np.float32)


class LatentAdversarialMethod(Method):
    """Latent adversarial augmentation (Kim et al. 2021, reconstructed from the abstract): the
    autoencoder is trained first (its own epochs, in the settings), then the classifier
    ``model`` under the budget on minibatches topped up by :class:`LatentAdversarialStep`.
    ``fit_generator``'s sampler perturbs the given series against the trained classifier."""

    Settings = LatentAdversarialSettings
    config_key = "latent_adversarial"
    generative = True

    def _train(self, train: Dataset, model: str, budget: Budget, settings: LatentAdversarialSettings, seed: int,
               epochs: int | None, device: torch.device | str | None) -> Trained:
        device = get_device(device)
        ae, pretrain = cached_fit("latent autoencoder", train.X, train.y, settings.autoencoder, seed, device,
                                  lambda: fit_latent_autoencoder(train.X, train.y, settings.autoencoder, seed=seed,
                                                                 device=device))
        seed_everything(seed)
        classifier = build_model(model, train.n_channels, train.n_classes, train.length)
        step = LatentAdversarialStep(classifier, train.X, train.y, autoencoder=ae, settings=settings, seed=seed,
                                     device=device, lr=budget.lr, weight_decay=budget.weight_decay)
        history = fit(step, epochs=budget.epochs_for(epochs), batch_size=budget.batch_size_for(len(train.y)),
                      callbacks=budget.callbacks())
        return Trained(classifier, history, {"autoencoder": ae, "pretrain": pretrain})

    def train(self, train: Dataset, *, model: str, budget: Budget, settings: LatentAdversarialSettings | None = None,
              seed: int = 0, epochs: int | None = None, device: torch.device | str | None = None) -> Trained:
        return self._train(train, model, budget, self.check_settings(settings), seed, epochs, device)

    def fit_generator(self, train: Dataset, *, model: str, budget: Budget,
                      settings: LatentAdversarialSettings | None = None, seed: int = 0,
                      device: torch.device | str | None = None) -> Sampler:
        settings = self.check_settings(settings)
        trained = self._train(train, model, budget, settings, seed, None, device)
        ae, classifier = trained.extras["autoencoder"], trained.classifier
        return lambda X, y, sample_seed: _generate(X, y, ae, classifier, settings, sample_seed)


def latent_adversarial_oversample(train: Dataset, *, model: str = "cnn", budget: Budget = Budget(),
                                  settings: LatentAdversarialSettings = LatentAdversarialSettings(), seed: int = 0,
                                  device: torch.device | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A fixed balanced training set for classifiers that cannot be trained alongside (the
    dissertation's scikit-learn ones): train the autoencoder and the classifier ``model`` as
    :class:`LatentAdversarialMethod` does, then top every class up to the majority with
    series drawn (seeded, with replacement) from the class and perturbed against that
    classifier. The real series come first, unchanged (Kim et al. 2021, reconstructed)."""
    method = LatentAdversarialMethod("latent-adversarial", "")
    sampler = method.fit_generator(train, model=model, budget=budget, settings=settings, seed=seed, device=device)
    counts = train.class_counts()
    rng = np.random.default_rng(seed)
    base = np.concatenate([rng.choice(np.flatnonzero(train.y == c), counts.max() - n, replace=True)
                           for c, n in enumerate(counts) if n < counts.max()] or [np.zeros(0, dtype=np.int64)])
    X_syn = sampler(train.X[base], train.y[base], seed)
    return np.concatenate([train.X, X_syn]), np.concatenate([train.y, train.y[base]])


register(LatentAdversarialMethod("latent-adversarial", "latent adversarial augmentation: minority codes "
                                 "perturbed to raise the classifier's loss, decoded (Kim et al. 2021, "
                                 "reconstructed from the abstract)"))
