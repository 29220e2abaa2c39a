"""Training a classifier on a data set augmented by the ODE-guided and spectral methods,
optionally with the Feat-Sim regulariser (Sarkar et al., "ODE guided neural data
augmentation techniques for time series data and its benefits on robustness", eq. 6 and
sec. III-C, eq. 15). Explained in the book's chapter on ODE-guided augmentation.

Every minibatch of ``B`` original series becomes ``2B`` series: the originals followed by
one augmented copy of each, labels unchanged (eq. 6 trains on the union of the data set
and its augmentations). The copies are made afresh for every minibatch, so

* Out-Sign-Grad takes its direction from the classifier *being trained* (the paper's
  white-box setting: "the adversary has knowledge of the model and its parameters"), and
* the random draws of In-Sign-Grad and Rand-Grad differ from epoch to epoch.

The ODENet is fitted once beforehand, on the training split only, and its ``dz/dt`` is
evaluated per minibatch (cheap: one forward pass over the points).

=========================  =================================================
method                     augmented copy of each series
=========================  =================================================
``none``                   no copy (the reference network)
``in-clamp-grad``          eqs. 4-5
``in-sign-grad``           eq. 7
``out-sign-grad``          eq. 9
``rand-grad``              eq. 10
``spec-den``               eqs. 11-14
``<method>+fs``            the same, plus Feat-Sim (eq. 15)
=========================  =================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import math

import numpy as np
import torch

from ..data import Dataset
from ..models import Classifier, build_model
from ..models.ode import ODENet, derivative, fit_odenet
from ..registry import Registry, closest
from ..runtime import get_device, seed_everything
from ..train import Budget, ClassifierStep, FitState, Method, PreparedRun, Trained, register
from .ode_guided import (
    PAPER_BETA,
    PAPER_EPS,
    feat_sim_loss,
    in_clamp_grad,
    in_sign_grad,
    other_class_partners,
    out_sign_grad,
    rand_grad,
    spec_den,
)

FEAT_SIM_SUFFIX = "+fs"


def parse_method(method: str) -> tuple[str | None, bool]:
    """``"out-sign-grad+fs"`` -> ``("out-sign-grad", True)``; ``"none"`` -> ``(None, False)``."""
    if method not in AUGMENTED_METHODS:
        raise ValueError(closest("augmentation method", method, AUGMENTED_METHODS))
    feat_sim = method.endswith(FEAT_SIM_SUFFIX)
    name = method.removesuffix(FEAT_SIM_SUFFIX)
    return (None if name == "none" else name), feat_sim


@dataclass(frozen=True)
class AugmentSettings:
    """Bounds and Feat-Sim constants: the paper's ``beta = eps = 0.33``; its margin
    ``alpha`` and the Feat-Sim weight are not given, so 1.0 and 1.0 are our choices."""

    beta: float = PAPER_BETA
    eps: float = PAPER_EPS
    margin: float = 1.0
    feat_sim_weight: float = 1.0
    spec_den_energy: float = 0.9  # eq. 13's share of the energy left untouched
    spec_den_fraction: float = 0.75  # share of the remaining components perturbed
    # the unit of t in dz/dt, which the paper does not state: "step" (one sampling step, so
    # dz/dt is the change per step) or "series" (the whole series spans t in [0, 1], so dz/dt
    # is (L - 1) times the change per step and the clamp at beta acts on most points)
    time_unit: str = "step"

    def __post_init__(self) -> None:
        check_augment_settings(self)


def check_augment_settings(settings: AugmentSettings) -> AugmentSettings:
    """``settings`` if every bound is a finite positive number and the Spec-Den shares lie in
    (0, 1], else a ``ValueError`` naming the field (a negative bound would flip the sign of
    the perturbation, NaN would make every copy NaN)."""
    for name in ("beta", "eps", "margin"):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"AugmentSettings.{name} must be a positive number, got {value!r}")
    value = settings.feat_sim_weight
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"AugmentSettings.feat_sim_weight must be a non-negative number, got {value!r}")
    for name in ("spec_den_energy", "spec_den_fraction"):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise ValueError(f"AugmentSettings.{name} must lie in (0, 1], got {value!r}")
    if settings.time_unit not in TIME_UNITS:
        raise ValueError(f"AugmentSettings.time_unit must be one of {', '.join(TIME_UNITS)}, got "
                         f"{settings.time_unit!r}")
    return settings


TIME_UNITS = ("step", "series")


def derivative_in_unit(odenet: ODENet, x: torch.Tensor, time_unit: str = "step") -> torch.Tensor:
    """``dz/dt`` of eq. 3 at every point of ``x`` with ``t`` in ``time_unit``: per sampling
    step (the ODENet's own unit) or per series (``t`` in [0, 1] over the series, so the
    derivative is ``L - 1`` times the per-step one). Sarkar et al. do not state the unit;
    it decides how often In-Clamp-Grad's clamp at ``beta`` (eqs. 4-5) acts."""
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit must be one of {', '.join(TIME_UNITS)}, got {time_unit!r}")
    dzdt = derivative(odenet, x).to(x)
    return dzdt * (x.shape[-1] - 1) if time_unit == "series" else dzdt


@dataclass(frozen=True)
class Augmentation:
    """One augmentation of :data:`AUGMENTATIONS`: ``make(x, y, dzdt, model, settings,
    generator)`` returns one copy of each series; ``dzdt`` is ``None`` unless
    ``needs_odenet``, ``model`` is the classifier steering the gradient methods."""

    make: Callable[..., torch.Tensor]
    needs_odenet: bool = True
    needs_model: bool = False


AUGMENTATIONS: Registry[Augmentation] = Registry("augmentation")
AUGMENTATIONS.add("in-clamp-grad", Augmentation(lambda x, y, d, m, s, g: in_clamp_grad(x, d, s.beta)), "eqs. 4-5")
AUGMENTATIONS.add("in-sign-grad", Augmentation(lambda x, y, d, m, s, g: in_sign_grad(x, d, s.eps, g)), "eq. 7")
AUGMENTATIONS.add("out-sign-grad", Augmentation(lambda x, y, d, m, s, g: out_sign_grad(m, x, y, d, s.beta),
                                                needs_model=True), "eq. 9")
AUGMENTATIONS.add("rand-grad", Augmentation(lambda x, y, d, m, s, g: rand_grad(x, d, s.beta, g)), "eq. 10")
AUGMENTATIONS.add("spec-den", Augmentation(
    lambda x, y, d, m, s, g: spec_den(x, s.spec_den_energy, s.spec_den_fraction), needs_odenet=False), "eqs. 11-14")
NEEDS_ODENET = frozenset(name for name, a in AUGMENTATIONS.items() if a.needs_odenet)
# the methods a chapter can train with: no augmentation, each augmentation, each with Feat-Sim
AUGMENTED_METHODS = ("none", *AUGMENTATIONS, *(a + FEAT_SIM_SUFFIX for a in AUGMENTATIONS))


def _check_augmentation(name: str, odenet: ODENet | None) -> Augmentation:
    augmentation = AUGMENTATIONS[name]
    if augmentation.needs_odenet and odenet is None:
        raise ValueError(f"{name} needs a fitted ODENet (tsimb.models.fit_odenet)")
    return augmentation


def augment_batch(name: str, x: torch.Tensor, y: torch.Tensor, *, odenet: ODENet | None = None,
                  model: Classifier | None = None, settings: AugmentSettings | None = None,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """One augmented copy of every series of ``x`` ``(n, C, L)`` by augmentation ``name``
    (one of :data:`AUGMENTATIONS`) with the bounds of ``settings`` (the paper's by default).

    ``odenet`` supplies ``dz/dt`` for the In-/Out-/Rand-Grad methods; ``model`` is the
    classifier whose input gradient steers Out-Sign-Grad.
    """
    augmentation = _check_augmentation(name, odenet)
    if augmentation.needs_model and model is None:
        raise ValueError(f"{name} needs the classifier whose input gradient it follows")
    settings = settings or AugmentSettings()
    dzdt = derivative_in_unit(odenet, x, settings.time_unit) if augmentation.needs_odenet else None
    return augmentation.make(x, y, dzdt, model, settings, generator)


def augment_all(x: torch.Tensor, y: torch.Tensor, odenet: ODENet, model: Classifier,
                settings: AugmentSettings | None = None, seed: int = 0) -> dict[str, torch.Tensor]:
    """Every augmentation of :data:`AUGMENTATIONS` applied to the same series, seeded (for
    figures such as the paper's Fig. 3 and for comparing perturbation sizes)."""
    settings = settings or AugmentSettings()
    generator = torch.Generator().manual_seed(seed)
    return {name: augment_batch(name, x, y, odenet=odenet, model=model, settings=settings, generator=generator)
            for name in AUGMENTATIONS}


class AugmentedStep(ClassifierStep):
    """A classifier step on augmented minibatches (Sarkar et al., eq. 6): each minibatch of
    ``B`` originals becomes ``[originals; one copy of each]`` (labels and sample weights
    repeated), the copy made afresh by augmentation ``augmentation`` (``None``: no copy); with
    ``feat_sim``, the Feat-Sim term (eq. 15) is added: anchors the originals' features,
    positives their copies', negatives a random original of another class in the batch (a
    batch whose originals share one class gets no term). Seeded by ``seed``."""

    def __init__(self, model: Classifier, X: np.ndarray, y: np.ndarray, *, augmentation: str | None,
                 feat_sim: bool = False, odenet: ODENet | None = None, settings: AugmentSettings | None = None,
                 seed: int = 0, **options) -> None:
        super().__init__(model, X, y, seed=seed, **options)
        if self.y.ndim != 1:
            raise ValueError("ODE-guided augmentation needs class indices, not probability vectors")
        if feat_sim and augmentation is None:
            raise ValueError("Feat-Sim (eq. 15) compares each series with its augmented copy: name an augmentation")
        if augmentation is not None:
            _check_augmentation(augmentation, odenet)  # fail before training starts, not at the first batch
        if odenet is not None:
            odenet.to(self.device)  # dz/dt is evaluated on each minibatch, on the training device
        self.augmentation, self.feat_sim, self.odenet = augmentation, feat_sim, odenet
        self.settings = check_augment_settings(settings or AugmentSettings())
        self.augment_generator = torch.Generator().manual_seed(seed)
        self.feat_sim_generator = torch.Generator().manual_seed(seed)

    def transform(self, state: FitState, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if self.augmentation is None:
            return x, y, weight
        copies = augment_batch(self.augmentation, x, y, odenet=self.odenet, model=state.model,
                               settings=self.settings, generator=self.augment_generator)
        return (torch.cat([x, copies.detach()]), torch.cat([y, y]),
                None if weight is None else torch.cat([weight, weight]))

    def extra_loss(self, state: FitState, features: torch.Tensor, x: torch.Tensor,
                   y: torch.Tensor) -> torch.Tensor | None:
        if not self.feat_sim:
            return None
        n = features.shape[0] // 2  # [originals; copies], as transform lays them out
        labels = y[:n]
        if labels.unique().numel() < 2:
            return features.new_zeros(())
        anchor, positive = features[:n], features[n:]
        negative = anchor[other_class_partners(labels, self.feat_sim_generator)]
        return self.settings.feat_sim_weight * feat_sim_loss(anchor, positive, negative, self.settings.margin)


@dataclass(frozen=True)
class ODEBudget:
    """Budget of the ODENet fit (Adam; the paper's lr is 3e-4 and weight decay 1e-3, sec. II-A)."""

    epochs: int = 20
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 1e-3


@dataclass(frozen=True)
class AugmentedTraining:
    """An augmentation method's constants, as a run stores them: the augmentations' bounds
    and Feat-Sim constants (``augment``) and the budget of the ODENet fit (``ode_budget``)."""

    augment: AugmentSettings = AugmentSettings()
    ode_budget: ODEBudget = ODEBudget()


@lru_cache(maxsize=8)
def _fitted_odenet(data: bytes, shape: tuple[int, ...], seed: int, budget: ODEBudget) -> ODENet:
    X = np.frombuffer(data, dtype=np.float32).reshape(shape).copy()
    odenet, _ = fit_odenet(X, epochs=budget.epochs, batch_size=budget.batch_size, lr=budget.lr,
                           weight_decay=budget.weight_decay, seed=seed)
    return odenet


def fitted_odenet(train: Dataset, seed: int, budget: ODEBudget) -> ODENet:
    """The ODENet of a training set, fitted on it with ``budget`` and ``seed`` (Sarkar et al.,
    sec. II-A); the last few are cached, since every method of a grid cell shares it."""
    X = np.ascontiguousarray(train.X, dtype=np.float32)
    return _fitted_odenet(X.tobytes(), X.shape, seed, budget)


class AugmentationMethod(Method):
    """Training on augmented minibatches (Sarkar et al., eq. 6), with Feat-Sim (eq. 15) for
    the ``+fs`` variants. The ODENet the gradient methods need is fitted on the training
    split first (cached per training set, seed and ODE budget)."""

    Settings = AugmentedTraining
    config_key = None  # its two fields are keys of their own: ``augment``, ``ode_budget``

    def __init__(self, name: str, summary: str) -> None:
        super().__init__(name, summary)
        self.augmentation, self.feat_sim = parse_method(name)

    def prepare(self, train: Dataset, *, model: str, budget: Budget, settings: AugmentedTraining | None = None,
                seed: int = 0, epochs: int | None = None, device: torch.device | str | None = None) -> PreparedRun:
        settings = self.check_settings(settings)
        device = get_device(device)
        odenet = (fitted_odenet(train, seed, settings.ode_budget) if self.augmentation in NEEDS_ODENET else None)
        seed_everything(seed)
        classifier = build_model(model, train.n_channels, train.n_classes, train.length)
        step = AugmentedStep(classifier, train.X, train.y, augmentation=self.augmentation, feat_sim=self.feat_sim,
                             odenet=odenet, settings=settings.augment, seed=seed, device=device,
                             lr=budget.lr, weight_decay=budget.weight_decay)
        return PreparedRun(step, budget.callbacks(), budget.batch_size_for(len(train.y)), budget.epochs_for(epochs))

    def train(self, train: Dataset, *, model: str, budget: Budget, settings: AugmentedTraining | None = None,
              seed: int = 0, epochs: int | None = None, device: torch.device | str | None = None) -> Trained:
        return self.prepare(train, model=model, budget=budget, settings=settings, seed=seed, epochs=epochs,
                            device=device).fit()


for _name in AUGMENTED_METHODS:
    if _name != "none":  # no augmentation is the classic "none" (tsimb.train.baselines)
        register(AugmentationMethod(_name, AUGMENTATIONS.summary(_name.removesuffix(FEAT_SIM_SUFFIX))
                                    + (" + Feat-Sim (eq. 15)" if _name.endswith(FEAT_SIM_SUFFIX) else "")))
