"""Adversarial training under class imbalance: PGD adversarial training (Madry et al. 2018)
as a :class:`~tsimb.train.Step`, its re-sampled and re-weighted variants, deferred
re-weighting with class-balanced weights (DRCB), and Separable Reweighted Adversarial
Training (SRAT; Wang 2023, dissertation ch. 4, eqs. 4.11-4.13, Algorithm 4.1; ICDM 2022).
Explained in the book's chapter on adversarial training under imbalance.

Every adversarial method trains on PGD-k examples made afresh, per minibatch, from the
model being trained (eq. 4.11's inner maximisation), never on the clean series; each method
is registered in :data:`tsimb.methods.METHODS`:

======================  =============  ======================  ==================================
method                  loss           class weights           the dissertation's row
======================  =============  ======================  ==================================
``none``                CE             none, clean series      natural training (classic)
``natural-reweight``    CE             class-balanced, clean   re-weighted natural training
                                       series                  (sec. 4.2.2, Figure 4.2)
``adv``                 CE             none                    CE (PGD adversarial training)
``adv-focal``           focal          none                    Focal
``adv-ldam``            LDAM           none                    LDAM
``adv-ros``             CE             none, random over-      (re-sampling, sec. 4.6; not in
                                       sampling first          the tables)
``adv-reweight``        CE             class-balanced          CB-Reweight
``adv-cb-focal``        focal          class-balanced          CB-Focal
``drcb-ce``             CE             deferred CB             DRCB-CE
``drcb-focal``          focal          deferred CB             DRCB-Focal
``drcb-ldam``           LDAM           deferred CB             DRCB-LDAM (Cao et al.'s LDAM-DRW)
``srat-ce``             CE + L_sep     deferred CB             SRAT-CE
``srat-focal``          focal + L_sep  deferred CB             SRAT-Focal
``srat-ldam``           LDAM + L_sep   deferred CB             SRAT-LDAM
======================  =============  ======================  ==================================

The rows are Tables 4.1-4.7's; "class-balanced" weights become a set ratio with
``AdversarialSettings.under_weight`` (Figures 4.2 and 4.5).

Choices where the dissertation is silent or that the transposition to series forces
(each is a field of :class:`AdversarialSettings`, stored with every run):

* **Budget in z units.** CIFAR's ``eps = 8/255`` is about 0.13 standard deviations of a
  pixel; the series here are z-normalised, so the L-infinity budget is ``eps = 0.1`` (the
  ODE chapter's FGSM/BIM), with the paper's step-to-budget ratio, ``step = eps / 4``
  (2/255 of 8/255), and PGD-10 in training, PGD-20 in evaluation. Nothing is clipped to a
  range (:mod:`tsimb.robustness.attacks`). For L2 the paper's ``128/255`` with step
  ``15/255`` (sec. 4.5.4) is 0.29 of the L-infinity budget times ``sqrt(3 * 32 * 32)``;
  :func:`paper_l2_eps` transposes it to a series of ``C x L`` values; the step is
  ``eps * 15 / 128``.
* **The attack ascends the training loss.** Eq. 4.11 maximises ``w_i L(f(x'), y)`` with
  the method's own ``L``; a class weight is a positive constant per series and does not
  move the maximiser, so it is left out. For focal loss the maximiser equals cross
  entropy's (focal loss is an increasing function of it, so the L-infinity sign and the
  L2 direction agree); for LDAM it differs. Evaluation attacks every model with cross
  entropy on its logits, the usual PGD-20 (for a cosine head, :data:`NORMED_HEAD`, on the
  unscaled cosines, as the LDAM-DRW reference code evaluates).
* **Batch norm.** The attack runs the model in evaluation mode (batch norm uses its
  running statistics and is not updated, dropout is off: TRADES' convention); the
  training pass on the adversarial batch runs in training mode and updates the running
  statistics. Clean series never pass through the network in training mode, so the
  statistics are the adversarial examples' (Madry et al. train on them alone).
* **Reduction.** Eq. 4.11 writes ``(1/n) sum w_i L``; we take the weighted mean
  ``sum w_i L / sum w_i`` (PyTorch's ``cross_entropy(weight=)``, as the LDAM-DRW reference
  code whose DRW/CE/Focal/LDAM rules the tables' rows follow), so switching the weights on
  at ``T_d`` moves the balance between classes and not the loss scale, and ``lambda``
  keeps its meaning after ``T_d``.
* **Focal loss** is the softmax focal loss (Lin et al. 2017, eq. 4; the reference code's
  ``FocalLoss``), with gamma 2, in every focal row including CB-Focal (not Cui et al.'s
  sigmoid variant, the ``cb-focal`` baseline).
* **Class-balanced weights** from the effective number, ``beta = 0.9999`` (Cui et al.
  2019): the dissertation's "about 78" for the under-represented classes of CIFAR-10
  Step-100 (5000 vs 50 series) is ``(1 - b^5000) / (1 - b^50) = 78.89`` at this beta.
* **DRW** starts at ``drw_fraction`` of the epochs (the paper: epoch 160 of 200, 0.8;
  ``None`` takes the budget's, also 0.8) with the budget's learning-rate drop at the same
  epoch (Algorithm 4.1's optional ``gamma / kappa``; the paper decays at 160 and 180).
* **Feature separation loss** (eq. 4.12, :func:`tsimb.losses.separation_loss`) on the
  adversarial examples' normalised penultimate features, no projection head, with
  ``lambda = 1`` and ``tau = 0.1`` (neither is given; SupCon's temperature; the chapter
  sweeps both, as Figure 4.6 does for lambda), added to every batch from the first epoch
  (Algorithm 4.1, lines 6 and 15).
* **LDAM** (Cao et al. 2019) with largest margin 0.5 and scale 30 on a cosine head, as
  the ``ldam-drw`` baseline; margins from the training counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import numpy as np
import torch

from ..data import Dataset, class_halves
from ..data.resampling import random_resample_index
from ..losses import CrossEntropy, DeferredReweighting, FocalLoss, LDAMLoss, class_balanced_weights
from ..losses import separation_loss
from ..models import Classifier, build_model
from ..runtime import seed_everything
from ..train import Budget, ClassifierStep, FitState, Method, Trained, fit, register
from ..train.callbacks import ClassWeight
from .attacks import Attack, Norm, perturb, pgd, robust_accuracy

PAPER_STEP_RATIO = {"linf": 2 / 8, "l2": 15 / 128}
"""The paper's PGD step over budget: 2/255 of 8/255 (L-infinity), 15/255 of 128/255 (L2)."""


def paper_l2_eps(n_values: int, linf_eps: float = 0.1) -> float:
    """The L2 budget that stands to ``linf_eps`` as the paper's L2 budget (128/255, sec.
    4.5.4) stands to its L-infinity one (8/255) on CIFAR's ``3 * 32 * 32`` values:
    ``(128/255) / (8/255 * sqrt(3072)) * linf_eps * sqrt(n_values)``, for series of
    ``n_values = channels * length`` values (about ``0.29 * linf_eps * sqrt(n_values)``)."""
    if not (isinstance(n_values, (int, np.integer)) and n_values >= 1):
        raise ValueError(f"n_values must be a positive integer (channels * length), got {n_values!r}")
    return 128 / 8 / math.sqrt(3 * 32 * 32) * linf_eps * math.sqrt(int(n_values))


def check_number_setting(settings: Any, name: str, low: float, high: float = math.inf, *,
                         open_low: bool = False) -> None:
    """Raise ``ValueError`` naming ``SettingsClass.name`` unless that field of ``settings`` is
    a finite number (not a bool) above ``low`` (or at least ``low``) and at most ``high``."""
    value = getattr(settings, name)
    ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
          and (value > low if open_low else value >= low) and value <= high)
    if not ok:
        bound = f"{'>' if open_low else '>='} {low:g}" + (f" and <= {high:g}" if high < math.inf else "")
        raise ValueError(f"{type(settings).__name__}.{name} must be a finite number {bound}, got {value!r}")


@dataclass(frozen=True)
class AdversarialSettings:
    """The constants of every adversarial-training method (one dataclass for the family,
    stored whole in each run's configuration under ``"adversarial"``); a method ignores
    what it does not use (``separation_weight`` and ``temperature`` outside SRAT, the
    focal and LDAM constants outside their rows). See the module docstring for each choice.

    Attributes:
        eps: attack budget in z units (L-infinity or L2 per series).
        norm: ``"linf"`` or ``"l2"``.
        steps: PGD steps in training (the paper: 10).
        step_size: PGD step; ``None``: the paper's ratio to ``eps`` (:data:`PAPER_STEP_RATIO`).
        eval_steps: PGD steps of the evaluation attack (the paper: 20).
        separation_weight: SRAT's ``lambda`` (eq. 4.13).
        temperature: SRAT's ``tau`` (eq. 4.12).
        focal_gamma: focal loss's gamma (Lin et al. 2017).
        ldam_max_margin, ldam_scale: LDAM's largest margin and logit scale (Cao et al. 2019).
        cb_beta: the effective number's beta (Cui et al. 2019).
        drw_fraction: where deferred re-weighting starts, as a fraction of the epochs;
            ``None``: the budget's ``drw_fraction``.
        under_weight: ``None``: class-balanced weights; a number: that weight for every
            under-represented class (:func:`tsimb.data.class_halves`) and 1 for the
            well-represented ones, in place of the class-balanced weights wherever a
            variant weighs classes (the weight ratio that Figures 4.2 and 4.5 vary, 1 to 200).
    """

    eps: float = 0.1
    norm: Norm = "linf"
    steps: int = 10
    step_size: float | None = None
    eval_steps: int = 20
    separation_weight: float = 1.0
    temperature: float = 0.1
    focal_gamma: float = 2.0
    ldam_max_margin: float = 0.5
    ldam_scale: float = 30.0
    cb_beta: float = 0.9999
    drw_fraction: float | None = None
    under_weight: float | None = None

    def __post_init__(self) -> None:
        number = partial(check_number_setting, self)

        number("eps", 0.0, open_low=True)
        if self.norm not in ("linf", "l2"):
            raise ValueError(f"AdversarialSettings.norm must be 'linf' or 'l2', got {self.norm!r}")
        for name in ("steps", "eval_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"AdversarialSettings.{name} must be an integer >= 1, got {value!r}")
        if self.step_size is not None:
            number("step_size", 0.0, open_low=True)
        number("separation_weight", 0.0)
        number("temperature", 0.0, open_low=True)
        number("focal_gamma", 0.0)
        number("ldam_max_margin", 0.0, open_low=True)
        number("ldam_scale", 0.0, open_low=True)
        number("cb_beta", 0.0, 1.0 - 1e-12)
        if self.drw_fraction is not None:
            number("drw_fraction", 0.0, 1.0)
        if self.under_weight is not None:
            number("under_weight", 0.0, open_low=True)

    @property
    def step(self) -> float:
        """The PGD step in force: ``step_size``, or the paper's ratio to ``eps``."""
        return self.step_size if self.step_size is not None else self.eps * PAPER_STEP_RATIO[self.norm]

    def attack(self) -> Attack:
        """The training attack: PGD-``steps`` (random start, true labels), Madry et al. 2018."""
        return pgd(eps=self.eps, step=self.step, steps=self.steps, norm=self.norm)

    def evaluation_attack(self) -> Attack:
        """The evaluation attack: PGD-``eval_steps`` with the same budget and step (the paper's PGD-20)."""
        return pgd(eps=self.eps, step=self.step, steps=self.eval_steps, norm=self.norm)


class AdversarialStep(ClassifierStep):
    """A classifier step on adversarial minibatches (Madry et al. 2018; Wang 2023, eq. 4.11
    and Algorithm 4.1, lines 5-7 and 14-16): each minibatch is replaced by its ``attack``
    examples, made from the model being trained, and the (class-weighted) loss is taken on
    them; with ``separation_weight > 0`` SRAT's feature separation loss (eq. 4.12) on the
    adversarial examples' penultimate features is added, times ``lambda`` (eq. 4.13).

    The attack maximises the step's own per-sample training loss (``attack_loss="train"``,
    eq. 4.11) or cross entropy (``"ce"``). It runs the model in evaluation mode, so batch
    norm's running statistics are updated only by the training pass on the adversarial
    examples (see the module docstring). Class weights, deferred re-weighting, sample
    weights and every other option are :class:`~tsimb.train.ClassifierStep`'s; targets
    must be class indices. The attack's random starts are seeded by ``seed``.
    """

    def __init__(self, model: Classifier, X: np.ndarray, y: np.ndarray, *, attack: Attack,
                 separation_weight: float = 0.0, temperature: float = 0.1,
                 attack_loss: Literal["train", "ce"] = "train", seed: int = 0, **options) -> None:
        super().__init__(model, X, y, seed=seed, **options)
        if self.y.ndim != 1:
            raise ValueError("adversarial training attacks class labels: give class indices, not probability vectors")
        if not isinstance(attack, Attack):
            raise ValueError(f"attack must be a tsimb.robustness.Attack (e.g. pgd(eps=0.1, steps=10)), got {attack!r}")
        if attack_loss not in ("train", "ce"):
            raise ValueError(f"attack_loss must be 'train' (the training loss, eq. 4.11) or 'ce', got {attack_loss!r}")
        if not (math.isfinite(separation_weight) and separation_weight >= 0):
            raise ValueError(f"separation_weight (lambda) must be a finite number >= 0, got {separation_weight!r}")
        if not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature (tau) must be a positive number, got {temperature!r}")
        self.attack, self.attack_loss = attack, attack_loss
        self.separation_weight, self.temperature = float(separation_weight), float(temperature)
        # the random starts are drawn on the CPU (perturb's convention), from their own stream
        self.attack_generator = torch.Generator().manual_seed(int(seed))

    def transform(self, state: FitState, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        loss = self.loss_fn if self.attack_loss == "train" else None
        x_adv = perturb(state.model, x, y, self.attack, generator=self.attack_generator, loss=loss)
        return x_adv, y, weight

    def extra_loss(self, state: FitState, features: torch.Tensor, x: torch.Tensor,
                   y: torch.Tensor) -> torch.Tensor | None:
        if self.separation_weight == 0:
            return None
        return self.separation_weight * separation_loss(features, y, self.temperature)


@dataclass(frozen=True)
class Variant:
    """One row of the dissertation's tables: the loss (``"ce"``, ``"focal"``, ``"ldam"``),
    the class weights (``"none"``, ``"cb"``: class-balanced, or ``under_weight``, from the
    first epoch, ``"drw"``: from the DRW epoch), random over-sampling first, the separation
    loss; ``natural``: no attack (the re-weighted natural training of sec. 4.2.2)."""

    loss: Literal["ce", "focal", "ldam"] = "ce"
    weights: Literal["none", "cb", "drw"] = "none"
    resample: bool = False
    separation: bool = False
    natural: bool = False


VARIANTS: dict[str, tuple[Variant, str]] = {
    "natural-reweight": (Variant(weights="cb", natural=True),
                         "natural training, class-balanced weights or a set weight ratio (sec. 4.2.2)"),
    "adv": (Variant(), "PGD adversarial training, cross entropy (Madry et al. 2018)"),
    "adv-focal": (Variant("focal"), "PGD adversarial training, focal loss"),
    "adv-ldam": (Variant("ldam"), "PGD adversarial training, LDAM loss"),
    "adv-ros": (Variant(resample=True), "PGD adversarial training after random over-sampling"),
    "adv-reweight": (Variant(weights="cb"), "PGD adversarial training, class-balanced weights (CB-Reweight)"),
    "adv-cb-focal": (Variant("focal", "cb"), "PGD adversarial training, class-balanced focal loss (CB-Focal)"),
    "drcb-ce": (Variant("ce", "drw"), "PGD adversarial training, deferred class-balanced weights, CE"),
    "drcb-focal": (Variant("focal", "drw"), "PGD adversarial training, deferred class-balanced weights, focal"),
    "drcb-ldam": (Variant("ldam", "drw"), "PGD adversarial training, deferred class-balanced weights, LDAM"),
    "srat-ce": (Variant("ce", "drw", separation=True), "SRAT with cross entropy (Wang 2023, Alg. 4.1)"),
    "srat-focal": (Variant("focal", "drw", separation=True), "SRAT with focal loss (Wang 2023, Alg. 4.1)"),
    "srat-ldam": (Variant("ldam", "drw", separation=True), "SRAT with LDAM loss (Wang 2023, Alg. 4.1)"),
}
"""Method name -> (its variant, its summary)."""

NORMED_HEAD = frozenset(name for name, (variant, _) in VARIANTS.items() if variant.loss == "ldam")
"""LDAM's margins assume cosine logits (Cao et al. 2019, sec. 3.2): these build a cosine head."""


def class_weights(counts: np.ndarray, settings: AdversarialSettings) -> np.ndarray:
    """The class weights of the re-weighted variants: class-balanced from the effective
    number (Cui et al. 2019; ``settings.cb_beta``), or, with ``settings.under_weight``, that
    weight for the under-represented half of the classes (:func:`tsimb.data.class_halves`)
    and 1 for the rest (Wang 2023, Figures 4.2 and 4.5)."""
    if settings.under_weight is None:
        return class_balanced_weights(counts, beta=settings.cb_beta)
    weights = np.ones(len(counts))
    weights[class_halves(counts)[1]] = settings.under_weight
    return weights


def drw_start(settings: AdversarialSettings, budget: Budget) -> int:
    """The epoch ``T_d`` from which deferred re-weighting (and the learning-rate drop) applies."""
    fraction = budget.drw_fraction if settings.drw_fraction is None else settings.drw_fraction
    return int(round(fraction * budget.epochs))


class AdversarialMethod(Method):
    """A method of :data:`VARIANTS`: the training set (re-sampled for ``adv-ros``), its loss
    and class-weight schedule, a seeded classifier (a cosine head for LDAM), and
    :class:`AdversarialStep` (a plain :class:`~tsimb.train.ClassifierStep` for
    ``natural-reweight``) under the budget (Adam, the budget's learning rate; for DRW one
    drop by ``budget.drw_lr_factor`` at ``T_d``)."""

    Settings = AdversarialSettings
    config_key = "adversarial"

    def __init__(self, name: str, summary: str, variant: Variant) -> None:
        super().__init__(name, summary)
        self.variant = variant

    def step_options(self, train: Dataset, budget: Budget, settings: AdversarialSettings) -> dict:
        """The loss and class-weight options of :class:`AdversarialStep` for this variant."""
        counts = np.bincount(train.y, minlength=train.n_classes)
        variant = self.variant
        if variant.loss == "ce":
            loss: torch.nn.Module = CrossEntropy()
        elif variant.loss == "focal":
            loss = FocalLoss(gamma=settings.focal_gamma)
        else:
            loss = LDAMLoss(counts, settings.ldam_max_margin, settings.ldam_scale)
        options: dict = {"loss": loss}
        class_weight: ClassWeight = None
        if variant.weights != "none":
            weights = class_weights(counts, settings)
            if variant.weights == "cb":
                class_weight = weights
            else:
                start = drw_start(settings, budget)
                class_weight = DeferredReweighting(weights, start)
                options.update(lr_milestones=[start], lr_gamma=budget.drw_lr_factor)
        options["class_weight"] = class_weight
        if variant.separation:
            options.update(separation_weight=settings.separation_weight, temperature=settings.temperature)
        return options

    def train(self, train: Dataset, *, model: str, budget: Budget, settings: AdversarialSettings | None = None,
              seed: int = 0, epochs: int | None = None, device: torch.device | str | None = None) -> Trained:
        settings = self.check_settings(settings)
        options = self.step_options(train, budget, settings)
        X, y = train.X, train.y
        if self.variant.resample:
            index = random_resample_index(y, "over", seed)
            X, y = X[index], y[index]
        seed_everything(seed)
        classifier = build_model(model, train.n_channels, train.n_classes, train.length,
                                 normed_head=self.name in NORMED_HEAD)
        common = dict(seed=seed, device=device, lr=budget.lr, weight_decay=budget.weight_decay)
        if self.variant.natural:
            step: ClassifierStep = ClassifierStep(classifier, X, y, **common, **options)
        else:
            step = AdversarialStep(classifier, X, y, attack=settings.attack(), **common, **options)
        history = fit(step, epochs=budget.epochs_for(epochs), batch_size=budget.batch_size_for(len(y)),
                      callbacks=budget.callbacks())
        return Trained(classifier, history)


def adversarial_scores(model: Classifier, X: np.ndarray, y: np.ndarray, settings: AdversarialSettings | None = None,
                       under: list[int] | None = None, seed: int = 0) -> dict[str, float]:
    """The tables' four numbers (Wang 2023, Tables 4.1-4.7): standard and robust accuracy,
    overall and on the ``under``-represented classes (:func:`tsimb.data.class_halves`),
    robust under the settings' PGD-``eval_steps`` attack (cross entropy, random start seeded
    by ``seed``). Keys: ``clean_accuracy``, ``pgd_accuracy`` and, with ``under``, the same
    with ``_minority`` (:func:`tsimb.robustness.robust_accuracy`)."""
    settings = settings or AdversarialSettings()
    return robust_accuracy(model, X, y, {"pgd": settings.evaluation_attack()}, minority=under, seed=seed)


for _name, (_variant, _summary) in VARIANTS.items():
    register(AdversarialMethod(_name, _summary, _variant))
