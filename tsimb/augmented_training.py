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

import torch

from .augmentations import (
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
from .data import Dataset
from .models import Classifier, build_model
from .ode import ODENet, derivative
from .registry import closest
from .runtime import get_device, seed_everything
from .training import Budget, History, fit

AUGMENTATIONS = ("in-clamp-grad", "in-sign-grad", "out-sign-grad", "rand-grad", "spec-den")
NEEDS_ODENET = frozenset({"in-clamp-grad", "in-sign-grad", "out-sign-grad", "rand-grad"})
FEAT_SIM_SUFFIX = "+fs"
METHODS = ("none", *AUGMENTATIONS, *(a + FEAT_SIM_SUFFIX for a in AUGMENTATIONS))


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


def _check_augmentation(name: str, odenet: ODENet | None) -> None:
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; choose one of {AUGMENTATIONS}")
    if name in NEEDS_ODENET and odenet is None:
        raise ValueError(f"{name} needs a fitted ODENet (tsimb.ode.fit_odenet)")


def augment_batch(name: str, x: torch.Tensor, y: torch.Tensor, *, odenet: ODENet | None = None,
                  model: Classifier | None = None, beta: float = PAPER_BETA, eps: float = PAPER_EPS,
                  generator: torch.Generator | None = None, spec_den_energy: float = 0.9,
                  spec_den_fraction: float = 0.75) -> torch.Tensor:
    """One augmented copy of every series of ``x`` ``(n, C, L)`` by augmentation ``name``.

    ``odenet`` supplies ``dz/dt`` for the In-/Out-/Rand-Grad methods; ``model`` is the
    classifier whose input gradient steers Out-Sign-Grad.
    """
    _check_augmentation(name, odenet)
    if name == "spec-den":
        return spec_den(x, spec_den_energy, spec_den_fraction)
    dzdt = derivative(odenet, x).to(x)
    if name == "in-clamp-grad":
        return in_clamp_grad(x, dzdt, beta)
    if name == "in-sign-grad":
        return in_sign_grad(x, dzdt, eps, generator)
    if name == "rand-grad":
        return rand_grad(x, dzdt, beta, generator)
    if model is None:
        raise ValueError("out-sign-grad needs the classifier whose input gradient it follows")
    return out_sign_grad(model, x, y, dzdt, beta)


def augment_all(x: torch.Tensor, y: torch.Tensor, odenet: ODENet, model: Classifier,
                settings: AugmentSettings | None = None, seed: int = 0) -> dict[str, torch.Tensor]:
    """Every augmentation of :data:`AUGMENTATIONS` applied to the same series, seeded (for
    figures such as the paper's Fig. 3 and for comparing perturbation sizes)."""
    settings = settings or AugmentSettings()
    generator = torch.Generator().manual_seed(seed)
    return {name: augment_batch(name, x, y, odenet=odenet, model=model, beta=settings.beta, eps=settings.eps,
                                generator=generator, spec_den_energy=settings.spec_den_energy,
                                spec_den_fraction=settings.spec_den_fraction) for name in AUGMENTATIONS}


class AugmentedBatches:
    """A :func:`tsimb.training.fit` ``batch_hook``: appends an augmented copy of each
    minibatch, so the batch is ``[originals; copies]`` with the labels repeated."""

    def __init__(self, name: str, odenet: ODENet | None = None, beta: float = PAPER_BETA,
                 eps: float = PAPER_EPS, seed: int = 0, settings: AugmentSettings | None = None) -> None:
        _check_augmentation(name, odenet)  # fail before training starts, not at the first batch
        self.name, self.odenet, self.beta, self.eps = name, odenet, beta, eps
        self.settings = settings or AugmentSettings(beta=beta, eps=eps)
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, model: Classifier, xb: torch.Tensor, yb: torch.Tensor,
                 epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        copies = augment_batch(self.name, xb, yb, odenet=self.odenet, model=model, beta=self.beta,
                               eps=self.eps, generator=self.generator,
                               spec_den_energy=self.settings.spec_den_energy,
                               spec_den_fraction=self.settings.spec_den_fraction)
        return torch.cat([xb, copies.detach()]), torch.cat([yb, yb])


class FeatSim:
    """A :func:`tsimb.training.fit` ``regulariser`` for batches laid out by
    :class:`AugmentedBatches`: ``weight`` times the Feat-Sim loss (eq. 15) with anchors the
    originals' features, positives their copies' and negatives a random original of
    another class in the same batch.

    A batch whose originals all share one class has no negatives; it gets no Feat-Sim
    term (this happens under heavy imbalance with small batches).
    """

    def __init__(self, margin: float = 1.0, weight: float = 1.0, seed: int = 0) -> None:
        self.margin, self.weight = margin, weight
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, features: torch.Tensor, xb: torch.Tensor, yb: torch.Tensor,
                 model: Classifier) -> torch.Tensor:
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
    :func:`tsimb.ode.fit_odenet`. Initialisation, minibatch order and the augmentations'
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
        kwargs["batch_hook"] = AugmentedBatches(name, odenet, settings.beta, settings.eps, seed=seed,
                                                settings=settings)
    if feat_sim:
        kwargs["regulariser"] = FeatSim(settings.margin, settings.feat_sim_weight, seed=seed)
    seed_everything(seed)
    model = build_model(model_name, train.n_channels, train.n_classes, train.length)
    history = fit(model, train.X, train.y, seed=seed, device=device, **kwargs)
    return model, history
