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
from typing import Callable

import torch

from ..data import Dataset
from ..models import Classifier, build_model
from ..models.ode import ODENet, derivative
from ..registry import Registry, closest
from ..runtime import get_device, seed_everything
from ..train import Budget, Callback, FitState, History, fit
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
    if method not in METHODS:
        raise ValueError(closest("augmentation method", method, METHODS))
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
METHODS = ("none", *AUGMENTATIONS, *(a + FEAT_SIM_SUFFIX for a in AUGMENTATIONS))


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
    dzdt = derivative(odenet, x).to(x) if augmentation.needs_odenet else None
    return augmentation.make(x, y, dzdt, model, settings or AugmentSettings(), generator)


def augment_all(x: torch.Tensor, y: torch.Tensor, odenet: ODENet, model: Classifier,
                settings: AugmentSettings | None = None, seed: int = 0) -> dict[str, torch.Tensor]:
    """Every augmentation of :data:`AUGMENTATIONS` applied to the same series, seeded (for
    figures such as the paper's Fig. 3 and for comparing perturbation sizes)."""
    settings = settings or AugmentSettings()
    generator = torch.Generator().manual_seed(seed)
    return {name: augment_batch(name, x, y, odenet=odenet, model=model, settings=settings, generator=generator)
            for name in AUGMENTATIONS}


class AugmentedBatches(Callback):
    """A :func:`tsimb.train.fit` callback whose ``on_batch`` appends an augmented copy of
    each minibatch, so the batch is ``[originals; copies]`` with the labels repeated."""

    def __init__(self, name: str, odenet: ODENet | None = None, settings: AugmentSettings | None = None,
                 seed: int = 0) -> None:
        _check_augmentation(name, odenet)  # fail before training starts, not at the first batch
        self.name, self.odenet, self.settings = name, odenet, settings or AugmentSettings()
        self.generator = torch.Generator().manual_seed(seed)

    def on_batch(self, state: FitState, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        copies = augment_batch(self.name, xb, yb, odenet=self.odenet, model=state.model, settings=self.settings,
                               generator=self.generator)
        return torch.cat([xb, copies.detach()]), torch.cat([yb, yb])


class FeatSim(Callback):
    """A :func:`tsimb.train.fit` callback whose ``loss_term`` is, for batches laid out by
    :class:`AugmentedBatches`: ``weight`` times the Feat-Sim loss (eq. 15) with anchors the
    originals' features, positives their copies' and negatives a random original of
    another class in the same batch.

    A batch whose originals all share one class has no negatives; it gets no Feat-Sim
    term (this happens under heavy imbalance with small batches).
    """

    def __init__(self, margin: float = 1.0, weight: float = 1.0, seed: int = 0) -> None:
        self.margin, self.weight = margin, weight
        self.generator = torch.Generator().manual_seed(seed)

    def loss_term(self, state: FitState, features: torch.Tensor, xb: torch.Tensor,
                  yb: torch.Tensor) -> torch.Tensor:
        if features.shape[0] % 2:
            raise ValueError("Feat-Sim expects [originals; augmented copies] batches (AugmentedBatches)")
        n = features.shape[0] // 2
        labels = yb[:n]
        if labels.unique().numel() < 2:
            return features.new_zeros(())
        anchor, positive = features[:n], features[n:]
        negative = anchor[other_class_partners(labels, self.generator)]
        return self.weight * feat_sim_loss(anchor, positive, negative, self.margin)


def train_augmented(method: str, model_name: str, train: Dataset, budget: Budget, odenet: ODENet | None = None,
                    settings: AugmentSettings = AugmentSettings(), seed: int = 0,
                    device: torch.device | str | None = None, epochs: int | None = None
                    ) -> tuple[Classifier, History]:
    """Build ``model_name`` and train it with cross entropy on ``train`` augmented by
    ``method`` (one of :data:`METHODS`; eq. 6, plus eq. 15 for ``+fs``) with Adam.

    ``odenet`` is needed by the In-/Out-/Rand-Grad methods; fit it on ``train`` with
    :func:`tsimb.models.fit_odenet`. Initialisation, minibatch order and the augmentations'
    random draws are seeded by ``seed``. The budget's batch size counts original series;
    each minibatch is twice that with the copies. ``epochs`` stops early (replays).
    """
    name, feat_sim = parse_method(method)
    device = get_device(device)
    if odenet is not None:
        odenet.to(device)  # dz/dt is evaluated on each minibatch, on the training device
    kwargs = budget.fit_kwargs(len(train.y))
    if epochs is not None:
        kwargs["epochs"] = min(epochs, budget.epochs)
    if name is not None:
        kwargs["callbacks"].append(AugmentedBatches(name, odenet, settings, seed=seed))
    if feat_sim:
        kwargs["callbacks"].append(FeatSim(settings.margin, settings.feat_sim_weight, seed=seed))
    seed_everything(seed)
    model = build_model(model_name, train.n_channels, train.n_classes, train.length)
    history = fit(model, train.X, train.y, seed=seed, device=device, **kwargs)
    return model, history
