"""Imb-Mix (Wang 2023, dissertation ch. 5, Algorithm 5.1): PGD adversarial training whose
minibatches get supplementary adversarial examples for the under-represented classes
(eq. 5.2), are mixed with Remix's label rule (Chou et al. 2020; eqs. 5.3-5.4) and trained
on with cross entropy on the soft targets (eq. 5.5), with stochastic weight averaging
(sec. 5.3.3, :mod:`tsimb.train.swa`). Explained in the book's chapter on Imb-Mix.

Every method here is one :class:`ImbMixStep` under :func:`tsimb.train.fit`; they differ
only in their default :class:`ImbMixSettings` (``copies`` x ``mix`` x ``swa``):

================  ============  =======  =====  ===========================================
method            copies        mix      SWA    the dissertation's row
================  ============  =======  =====  ===========================================
``imb-mix``       balance       remix    yes    Imb-Mix (any cell of the 2 x 2 x 2 factorial
                                                through its settings)
``adv-data-aug``  balance       remix    no     adv. + data_aug (sec. 5.5.3, Figures 5.2-5.7)
``remix-adv``     none          remix    no     remix + adv.
``mixup-adv``     none          mixup    no     mixup + adv.
================  ============  =======  =====  ===========================================

The named baselines keep their defining parts fixed (``mixup-adv`` refuses ``mix="remix"``;
the factorial is ``imb-mix``'s). Vanilla adversarial training, ``adv. + reweight`` and
``adv. + resample`` are :mod:`tsimb.robustness.training`'s ``adv``, ``adv-reweight`` and
``adv-ros``.

Choices where the dissertation is silent or that the transposition to series forces (each
is a field of :class:`ImbMixSettings`, stored with every run):

* **The attack** is the SRAT chapter's (:class:`~tsimb.robustness.AdversarialSettings`:
  L-infinity ``eps = 0.1`` in z units, PGD-10 in training, PGD-20 in evaluation), made
  afresh per minibatch from the model being trained, on the clean series, before any copy
  or mixing (Algorithm 5.1, line 3).
* **Copies (eq. 5.2)** ``x + alpha (x' - x) N(0, 1)``: element-wise noise by default (one
  standard normal per value: the copies spread around ``x`` inside the budget in every
  direction; ``noise="scalar"`` draws one number per copy and keeps it on the line through
  ``x`` and ``x'``); the paper motivates Remix by the copies' lack of diversity, so the
  more diverse reading is the default. ``alpha = 1``: a copy's perturbation has the
  adversarial perturbation's scale. ``|alpha N| > 1`` happens (32% of the draws at
  ``alpha = 1``) and leaves the eps-ball; such a copy is **projected back** onto it
  (``project=True``), so every training example stays inside the threat model that the
  training targets. Copies are made for the under-represented half of the classes
  (:func:`tsimb.data.class_halves`: "minority classes" in sec. 5.5.1) and **replace**
  the series' adversarial example (eq. 5.2 defines ``x_hat'_i`` and sets it to ``x'_i``
  only for the majority; ``keep_adversarial=True`` keeps ``x'`` besides). ``t`` is not
  given ("domain knowledge"); ``copies="balance"`` takes ``t_c = round(n_max / n_c)`` per
  under-represented class, which balances the classes (the stated aim of the copies), an
  integer takes that ``t`` for every such class, ``0`` switches copies off.
* **Mixing (eqs. 5.3-5.4)**: every example of the (copied) minibatch is mixed with a
  partner drawn by a random permutation of the batch, with its own ``lambda ~ Beta(1, 1)``
  (one weight per pair, as eq. 5.3 writes it; Zhang et al.'s reference draws one per
  batch). The label is ``lambda_y y_i + (1 - lambda_y) y_j`` (eq. 5.3's second ``y_i`` is a
  typo for ``y_j``), ``lambda_y`` by Remix's rule with ``kappa = 3``, ``tau = 0.5``.
* **Which counts the kappa rule sees** (``kappa_counts``): ``"before"`` (default) the
  training set's class counts, so the rule fires between the original majority and
  minority as sec. 5.4 assumes (``|C_m| / |C_n| >= kappa``); ``"after"`` the counts after
  the copies, ``n_c (t_c + keep_adversarial)``, under which balancing copies stop the
  rule from ever firing and Remix becomes mixup. Every run records how often it fires
  (``Trained.extras``).
* **SWA** (sec. 5.3.3; the text gives 250 epochs but no SWA start or rate, and keeps
  chapter 4's decays at 160 and 180): averaging of each epoch's weights from 75% of the
  epochs on (``swa_start``; Izmailov et al.'s recommendation), the learning rate annealed
  (cosine) over 5% of the epochs to half the budget's (``swa_lr_factor``; torch's example
  ratio 0.05 / 0.1), and no other decay. Batch norm's statistics are then recomputed for
  the averaged weights (``update_bn``) on what training passes through the network:
  the step's minibatches (adversarial examples of the averaged network, copies, mixing;
  ``swa_bn_inputs="training"``), as the running statistics of every other arm come from
  training passes on those (see :mod:`tsimb.robustness.training`); ``"clean"`` takes the
  clean training series.
* **Optimiser**: the budget's (Adam, its learning rate), as the SRAT chapter; the paper
  uses SGD from 0.1 on CIFAR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from functools import partial
from typing import Any, Iterator, Literal, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from ..data import Dataset, class_halves
from ..models import Classifier, build_model
from ..runtime import seed_everything
from ..train import Budget, FitState, Method, Trained, fit, register
from ..train.callbacks import Callback
from ..train.method import settings_from_config
from ..train.swa import StochasticWeightAveraging
from .attacks import Attack, Norm, _project
from .training import AdversarialSettings, AdversarialStep, check_number_setting

MixKind = Literal["none", "mixup", "remix"]


# --- the pieces: copies (eq. 5.2), Remix's labels (eqs. 5.3-5.4) ---------------------------

def copies_per_class(counts: np.ndarray, copies: int | Literal["balance"]) -> np.ndarray:
    """``t_c``, the supplementary adversarial examples made per series of class ``c``
    (Wang 2023, eq. 5.2): 0 for the well-represented half of the classes
    (:func:`tsimb.data.class_halves`); for the under-represented half ``copies`` (a whole
    number >= 0) or, with ``"balance"``, ``max(1, round(n_max / n_c))``, which brings each
    such class to about the largest class's count."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 1 or counts.size < 2 or (counts < 0).any():
        raise ValueError(f"counts must be one non-negative count per class (at least two), got {counts!r}")
    t = np.zeros(counts.size, dtype=np.int64)
    under = class_halves(counts)[1]
    if copies == "balance":
        for c in under:
            t[c] = max(1, int(round(counts.max() / max(int(counts[c]), 1))))
    elif isinstance(copies, (int, np.integer)) and not isinstance(copies, bool) and copies >= 0:
        t[under] = int(copies)
    else:
        raise ValueError(f"copies must be a whole number >= 0 or 'balance', got {copies!r}")
    return t


def counts_after_copies(counts: np.ndarray, t: np.ndarray, keep_adversarial: bool = False) -> np.ndarray:
    """Per-class counts of the augmented set ``X_adv`` (Wang 2023, sec. 5.3.2.1): a class
    with ``t_c > 0`` copies per series has ``n_c (t_c + keep_adversarial)`` examples, the
    others keep ``n_c``."""
    counts, t = np.asarray(counts, dtype=np.int64), np.asarray(t, dtype=np.int64)
    return np.where(t > 0, counts * (t + int(keep_adversarial)), counts)


def supplementary_copies(x: torch.Tensor, x_adv: torch.Tensor, t: torch.Tensor, *, alpha: float = 1.0,
                         noise: Literal["element", "scalar"] = "element", project: bool = True,
                         eps: float | None = None, norm: Norm = "linf", keep_adversarial: bool = False,
                         generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Supplementary adversarial examples (Wang 2023, eq. 5.2): for series ``i`` with
    ``t[i] > 0``, ``t[i]`` copies ``x_i + alpha (x'_i - x_i) z`` with ``z ~ N(0, 1)`` drawn
    per value (``noise="element"``) or once per copy (``"scalar"``), projected back onto the
    ``eps``-ball around ``x_i`` (``norm``) when ``project``; they replace ``x'_i``
    (``keep_adversarial``: ``x'_i`` first, then its copies). Series with ``t[i] = 0`` keep
    ``x'_i``.

    Returns ``(batch, rows)``: the new batch and, for each of its series, the index of the
    series it came from (so ``y[rows]`` are its labels). The noise is drawn on the CPU from
    ``generator``.
    """
    if x.shape != x_adv.shape or x.dim() != 3:
        raise ValueError(f"x and x_adv must both be (n, channels, length) batches, got {tuple(x.shape)} "
                         f"and {tuple(x_adv.shape)}")
    if t.shape != (x.shape[0],) or (t < 0).any():
        raise ValueError(f"t must hold one whole number >= 0 per series ({x.shape[0]}), got {t!r}")
    if noise not in ("element", "scalar"):
        raise ValueError(f"noise must be 'element' (one N(0, 1) per value) or 'scalar' (one per copy), got {noise!r}")
    if project and (eps is None or not eps > 0):
        raise ValueError("projecting the copies back needs the attack's budget: give eps > 0 (and its norm)")
    t = t.to(torch.int64).cpu()
    copied = t > 0
    reps = torch.where(copied, t + int(keep_adversarial), torch.ones_like(t))
    rows = torch.repeat_interleave(torch.arange(x.shape[0]), reps)
    starts = torch.cumsum(reps, 0) - reps
    position = torch.arange(rows.numel()) - starts[rows]
    noisy = (copied[rows] & (position >= int(keep_adversarial))).to(x.device)
    rows = rows.to(x.device)
    base, delta = x[rows], x_adv[rows] - x[rows]
    shape = delta.shape if noise == "element" else (delta.shape[0], 1, 1)
    z = torch.randn(shape, generator=generator, device="cpu").to(x)
    new_delta = alpha * delta * z
    if project:
        new_delta = _project(new_delta, float(eps), norm)
    mask = noisy.view(-1, 1, 1)
    return base + torch.where(mask, new_delta, delta), rows


def remix_lambda(lam: torch.Tensor, n_i: torch.Tensor, n_j: torch.Tensor, kappa: float = 3.0,
                 tau: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Remix's label weight (Chou et al. 2020; Wang 2023, eq. 5.4) of the pair ``(i, j)``
    mixed as ``lam x_i + (1 - lam) x_j``: ``0`` when ``n_i / n_j >= kappa`` and ``lam < tau``
    (the label goes to the smaller class ``j``), ``1`` when ``n_i / n_j <= 1 / kappa`` and
    ``1 - lam < tau`` (to ``i``), else ``lam`` (mixup). Returns ``(lambda_y, fired)``,
    ``fired`` marking the pairs where one of the first two cases applied."""
    n_i, n_j = n_i.to(lam.dtype), n_j.to(lam.dtype)
    ratio = n_i / n_j.clamp_min(1e-12)
    to_j = (ratio >= kappa) & (lam < tau)
    to_i = (ratio <= 1 / kappa) & (1 - lam < tau) & ~to_j
    lambda_y = torch.where(to_j, torch.zeros_like(lam), torch.where(to_i, torch.ones_like(lam), lam))
    return lambda_y, to_j | to_i


def mix_targets(y_i: torch.Tensor, y_j: torch.Tensor, lambda_y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """The mixed targets ``lambda_y onehot(y_i) + (1 - lambda_y) onehot(y_j)`` (Wang 2023,
    eq. 5.3 with its second ``y_i`` read as ``y_j``): probability vectors ``(n, K)``."""
    one_i = F.one_hot(y_i, n_classes).to(lambda_y.dtype)
    one_j = F.one_hot(y_j, n_classes).to(lambda_y.dtype)
    w = lambda_y.view(-1, 1)
    return w * one_i + (1 - w) * one_j


# --- the settings ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ImbMixSettings:
    """The constants of Imb-Mix and its baselines (stored whole in every run's
    configuration under ``"imbmix"``); see the module docstring for each choice.

    Attributes:
        adversarial: the attack and its evaluation (the SRAT chapter's
            :class:`~tsimb.robustness.AdversarialSettings`; the loss is cross entropy).
        copies: supplementary adversarial examples per under-represented series (eq. 5.2):
            ``"balance"``, a whole number, or 0 (none).
        alpha: eq. 5.2's ``alpha``.
        noise: ``"element"`` (one ``N(0, 1)`` per value) or ``"scalar"`` (one per copy).
        project: project a copy that leaves the eps-ball back onto it.
        keep_adversarial: keep ``x'`` beside its copies (eq. 5.2 replaces it).
        mix: ``"remix"`` (eqs. 5.3-5.4), ``"mixup"`` (``lambda_y = lambda``), ``"none"``.
        mix_alpha: the Beta(``a``, ``a``) of the mixing weights (the paper: 1).
        kappa, tau: Remix's rule (the paper, after Chou et al.: 3 and 0.5).
        kappa_counts: the counts the rule compares: ``"before"`` or ``"after"`` the copies.
        swa: stochastic weight averaging (sec. 5.3.3).
        swa_start: the first averaged epoch, as a fraction of the epochs.
        swa_lr_factor: SWALR's target rate over the budget's learning rate.
        swa_anneal: the anneal to it, as a fraction of the epochs (cosine).
        swa_bn_inputs: what ``update_bn`` passes through the averaged network:
            ``"training"`` (the step's minibatches) or ``"clean"`` (the training series).
    """

    adversarial: AdversarialSettings = field(default_factory=AdversarialSettings)
    copies: int | str = "balance"
    alpha: float = 1.0
    noise: Literal["element", "scalar"] = "element"
    project: bool = True
    keep_adversarial: bool = False
    mix: MixKind = "remix"
    mix_alpha: float = 1.0
    kappa: float = 3.0
    tau: float = 0.5
    kappa_counts: Literal["before", "after"] = "before"
    swa: bool = True
    swa_start: float = 0.75
    swa_lr_factor: float = 0.5
    swa_anneal: float = 0.05
    swa_bn_inputs: Literal["training", "clean"] = "training"

    def __post_init__(self) -> None:
        number = partial(check_number_setting, self)

        if not isinstance(self.adversarial, AdversarialSettings):
            raise ValueError(f"ImbMixSettings.adversarial must be an AdversarialSettings, got {self.adversarial!r}")
        if not (self.copies == "balance" or (isinstance(self.copies, int) and not isinstance(self.copies, bool)
                                             and self.copies >= 0)):
            raise ValueError(f"ImbMixSettings.copies must be 'balance' or a whole number >= 0, got {self.copies!r}")
        number("alpha", 0.0, open_low=True)
        number("mix_alpha", 0.0, open_low=True)
        number("kappa", 1.0)
        number("tau", 0.0, 1.0)
        number("swa_start", 0.0, 1.0)
        number("swa_lr_factor", 0.0, open_low=True)
        number("swa_anneal", 0.0, 1.0)
        for name, allowed in (("noise", ("element", "scalar")), ("mix", ("none", "mixup", "remix")),
                              ("kappa_counts", ("before", "after")), ("swa_bn_inputs", ("training", "clean"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"ImbMixSettings.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("project", "keep_adversarial", "swa"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"ImbMixSettings.{name} must be True or False, got {getattr(self, name)!r}")

    def swa_epochs(self, epochs: int) -> tuple[int, int]:
        """``(start, anneal)`` in epochs for a run of ``epochs``: the first averaged epoch
        (at most the last one, so that a short run averages at least once) and the anneal."""
        start = min(int(round(self.swa_start * epochs)), epochs - 1)
        return start, int(round(self.swa_anneal * epochs))


# --- the step -------------------------------------------------------------------------------

class ImbMixStep(AdversarialStep):
    """One Imb-Mix minibatch (Wang 2023, Algorithm 5.1, lines 3-6): PGD examples of the
    clean batch from the model being trained (:class:`AdversarialStep`), ``t[y_i]``
    supplementary copies of each (:func:`supplementary_copies`, eq. 5.2), each example
    mixed with a random partner of the copied batch with ``lambda ~ Beta(a, a)`` and the
    label weight of ``mix`` (:func:`remix_lambda`, eq. 5.4, on ``rule_counts``), and cross
    entropy on the mixed probability vectors (eq. 5.5). With ``t = 0`` and ``mix="none"``
    it is PGD adversarial training.

    ``fired_per_epoch`` / ``pairs_per_epoch`` count, per epoch, the pairs of two classes
    where Remix's rule replaced ``lambda`` by 0 or 1, and all pairs mixed. Sample weights
    are refused (a mixed example has two sources). Noise, partners and weights are seeded by ``seed``.
    """

    def __init__(self, model: Classifier, X: np.ndarray, y: np.ndarray, *, attack: Attack,
                 copies: np.ndarray | None = None, alpha: float = 1.0,
                 noise: Literal["element", "scalar"] = "element", project: bool = True,
                 keep_adversarial: bool = False, mix: MixKind = "remix", mix_alpha: float = 1.0,
                 kappa: float = 3.0, tau: float = 0.5, rule_counts: np.ndarray | None = None, seed: int = 0,
                 **options: Any) -> None:
        if options.get("sample_weight") is not None:
            raise ValueError("Imb-Mix mixes pairs of series: per-series sample weights are not supported; "
                             "use class_weight")
        super().__init__(model, X, y, attack=attack, seed=seed, **options)
        counts = np.bincount(np.asarray(y), minlength=self.n_classes)
        copies = np.zeros(self.n_classes, dtype=np.int64) if copies is None else np.asarray(copies)
        rule_counts = counts if rule_counts is None else np.asarray(rule_counts)
        for name, value in (("copies", copies), ("rule_counts", rule_counts)):
            if value.shape != (self.n_classes,) or (value < 0).any():
                raise ValueError(f"{name} must hold one number >= 0 per class ({self.n_classes}), got {value!r}")
        if mix not in ("none", "mixup", "remix"):
            raise ValueError(f"mix must be 'none', 'mixup' or 'remix', got {mix!r}")
        settings = ImbMixSettings(alpha=alpha, noise=noise, project=project, keep_adversarial=keep_adversarial,
                                  mix=mix, mix_alpha=mix_alpha, kappa=kappa, tau=tau)  # checks the numbers
        self.mixing = settings
        self.copies = torch.as_tensor(copies, dtype=torch.int64)
        self.rule_counts = torch.as_tensor(rule_counts, dtype=torch.float64, device=self.device)
        self.mix_rng = np.random.default_rng([int(seed), 5])
        self.noise_generator = torch.Generator().manual_seed(int(seed) + 1)
        self.fired_per_epoch: list[int] = []
        self.pairs_per_epoch: list[int] = []
        self._recording = True

    def copy_and_mix(self, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor,
                     epoch: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Eqs. 5.2-5.4 on one batch of clean series ``x``, their adversarial examples and
        labels: the mixed batch and its probability-vector targets; counts the rule's
        firings into ``epoch``'s entry."""
        s = self.mixing
        x_aug, rows = supplementary_copies(
            x, x_adv, self.copies[y.cpu()], alpha=s.alpha, noise=s.noise, project=s.project,
            eps=self.attack.eps, norm=self.attack.norm, keep_adversarial=s.keep_adversarial,
            generator=self.noise_generator)
        y_aug = y[rows]
        if s.mix == "none":
            return x_aug, F.one_hot(y_aug, self.n_classes).to(x_aug.dtype)
        m = x_aug.shape[0]
        partner = torch.as_tensor(self.mix_rng.permutation(m), device=x_aug.device)
        lam = torch.as_tensor(self.mix_rng.beta(s.mix_alpha, s.mix_alpha, size=m), dtype=x_aug.dtype,
                              device=x_aug.device)
        y_j = y_aug[partner]
        if s.mix == "remix":
            lambda_y, fired = remix_lambda(lam, self.rule_counts[y_aug], self.rule_counts[y_j], s.kappa, s.tau)
            fired = fired & (y_aug != y_j)  # with kappa = 1 equal counts "fire" on one class: no label moves
        else:
            lambda_y, fired = lam, torch.zeros(m, dtype=torch.bool, device=x_aug.device)
        if epoch is not None:
            while len(self.fired_per_epoch) <= epoch:
                self.fired_per_epoch.append(0)
                self.pairs_per_epoch.append(0)
            self.fired_per_epoch[epoch] += int(fired.sum())
            self.pairs_per_epoch[epoch] += m
        x_mix = lam.view(-1, 1, 1) * x_aug + (1 - lam.view(-1, 1, 1)) * x_aug[partner]
        return x_mix, mix_targets(y_aug, y_j, lambda_y, self.n_classes)

    def transform(self, state: FitState, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        x_adv, _, _ = super().transform(state, x, y, None)
        x_mix, targets = self.copy_and_mix(x, x_adv, y, state.epoch if self._recording else None)
        return x_mix, targets, None

    def training_batches(self, model: Classifier, batch_size: int) -> Iterator[torch.Tensor]:
        """One pass over the training set in order, as training makes its minibatches
        (adversarial examples of ``model``, copies, mixing), without counting the rule:
        what ``update_bn`` passes through the averaged network."""
        self._recording = False
        try:
            state = FitState(model, self.optimiser, None, device=self.device, n_classes=self.n_classes)
            for batch in torch.arange(self.n, device=self.device).split(batch_size):
                yield self.transform(state, self.X[batch], self.y[batch], None)[0]
        finally:
            self._recording = True

    def clean_batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """The clean training series in order, in minibatches."""
        yield from self.X.split(batch_size)


class _Counts(Callback):
    """Opens each epoch's firing counters (an epoch without mixing still gets its zeros)."""

    def __init__(self, step: ImbMixStep) -> None:
        self.step = step

    def on_epoch_start(self, state: FitState) -> None:
        while len(self.step.fired_per_epoch) <= state.epoch:
            self.step.fired_per_epoch.append(0)
            self.step.pairs_per_epoch.append(0)


# --- the methods ----------------------------------------------------------------------------

class ImbMixMethod(Method):
    """Imb-Mix or one of its baselines (see the module docstring): the class counts give
    the copies per class and the counts the rule sees; a seeded classifier trained by
    :class:`ImbMixStep` under the budget (Adam, its learning rate), with
    :class:`~tsimb.train.swa.StochasticWeightAveraging` when ``settings.swa``.

    ``Trained.extras``: ``copies_per_class``, ``rule_counts``, ``remix_fired`` and
    ``remix_pairs`` (totals), ``remix_fired_per_epoch``, ``remix_pairs_per_epoch``,
    ``swa_averaged`` (snapshots averaged; 0 without SWA)."""

    Settings = ImbMixSettings
    config_key = "imbmix"

    def __init__(self, name: str, summary: str, defaults: ImbMixSettings, fixed: tuple[str, ...] = ()) -> None:
        super().__init__(name, summary)
        self.defaults, self.fixed = defaults, fixed

    def default_settings(self) -> ImbMixSettings:
        return self.defaults

    def check_settings(self, settings: Any) -> ImbMixSettings:
        settings = super().check_settings(settings)
        changed = [f"{name}={getattr(settings, name)!r}" for name in self.fixed
                   if getattr(settings, name) != getattr(self.defaults, name)]
        if changed:
            keep = ", ".join(f"{name}={getattr(self.defaults, name)!r}" for name in self.fixed)
            raise ValueError(f"method {self.name!r} is defined by {keep}; got {', '.join(changed)}. Vary copies, "
                             "mix and swa through 'imb-mix' (the factorial's cells)")
        return settings

    def settings_from_config(self, config: Mapping[str, Any]) -> ImbMixSettings:
        stored = config.get(self.config_key)
        if stored is None:
            return self.defaults
        base = {f.name: getattr(self.defaults, f.name) for f in fields(ImbMixSettings)}
        rebuilt = settings_from_config(ImbMixSettings, stored)
        return replace(self.defaults, **{k: getattr(rebuilt, k) for k in stored if k in base})

    def train(self, train: Dataset, *, model: str, budget: Budget, settings: ImbMixSettings | None = None,
              seed: int = 0, epochs: int | None = None, device: torch.device | str | None = None) -> Trained:
        settings = self.check_settings(settings)
        if settings.swa and budget.keep_best:
            raise ValueError("SWA returns the averaged weights; it cannot be combined with Budget.keep_best "
                             "(which restores one epoch's): switch one of them off")
        counts = np.bincount(train.y, minlength=train.n_classes)
        t = copies_per_class(counts, settings.copies)
        rule_counts = counts if settings.kappa_counts == "before" else counts_after_copies(
            counts, t, settings.keep_adversarial)
        seed_everything(seed)
        classifier = build_model(model, train.n_channels, train.n_classes, train.length)
        step = ImbMixStep(classifier, train.X, train.y, attack=settings.adversarial.attack(), copies=t,
                          alpha=settings.alpha, noise=settings.noise, project=settings.project,
                          keep_adversarial=settings.keep_adversarial, mix=settings.mix,
                          mix_alpha=settings.mix_alpha, kappa=settings.kappa, tau=settings.tau,
                          rule_counts=rule_counts, seed=seed, device=device, lr=budget.lr,
                          weight_decay=budget.weight_decay)
        batch_size = budget.batch_size_for(len(train.y))
        callbacks: list[Callback] = [_Counts(step), *budget.callbacks()]
        swa = None
        if settings.swa:
            start, anneal = settings.swa_epochs(budget.epochs)
            if settings.swa_bn_inputs == "training":
                def bn_inputs(module):
                    return step.training_batches(module, batch_size)
            else:
                def bn_inputs(module):
                    return step.clean_batches(batch_size)
            swa = StochasticWeightAveraging(start, settings.swa_lr_factor * budget.lr, anneal, "cos", bn_inputs)
            callbacks.append(swa)
        history = fit(step, epochs=budget.epochs_for(epochs), batch_size=batch_size, callbacks=callbacks)
        extras = {"copies_per_class": t.tolist(), "rule_counts": np.asarray(rule_counts).tolist(),
                  "remix_fired": int(sum(step.fired_per_epoch)), "remix_pairs": int(sum(step.pairs_per_epoch)),
                  "remix_fired_per_epoch": list(step.fired_per_epoch),
                  "remix_pairs_per_epoch": list(step.pairs_per_epoch),
                  "swa_averaged": 0 if swa is None else swa.n_averaged}
        return Trained(classifier, history, extras)


IMB_MIX = ImbMixSettings()
METHOD_DEFAULTS: dict[str, tuple[ImbMixSettings, tuple[str, ...], str]] = {
    "imb-mix": (IMB_MIX, (), "Imb-Mix: adversarial copies, Remix, SWA (Wang 2023, Alg. 5.1)"),
    "adv-data-aug": (replace(IMB_MIX, swa=False), ("copies", "mix", "swa"),
                     "PGD adversarial training with Imb-Mix's copies and Remix, no SWA (Wang 2023, sec. 5.5.3)"),
    "remix-adv": (replace(IMB_MIX, copies=0, swa=False), ("copies", "mix", "swa"),
                  "Remix on PGD adversarial examples (Chou et al. 2020; Wang 2023, sec. 5.5.1)"),
    "mixup-adv": (replace(IMB_MIX, copies=0, mix="mixup", swa=False), ("copies", "mix", "swa"),
                  "mixup on PGD adversarial examples (Zhang et al. 2018; Wang 2023, sec. 5.5.1)"),
}
"""Method name -> (its default settings, the fields that define it, its summary)."""

for _name, (_defaults, _fixed, _summary) in METHOD_DEFAULTS.items():
    register(ImbMixMethod(_name, _summary, _defaults, _fixed))


def factorial_settings(base: ImbMixSettings = IMB_MIX) -> dict[str, ImbMixSettings]:
    """The 2 x 2 x 2 ablation (copies x Remix x SWA) as ``imb-mix`` settings, keyed
    ``"copies+remix+swa"``, ``"copies+remix"``, ..., ``"plain"`` (PGD adversarial training
    with soft one-hot targets). "Copies off" is ``copies=0``, "Remix off" ``mix="none"``."""
    out = {}
    for copies in (base.copies if base.copies != 0 else "balance", 0):
        for mix in ("remix", "none"):
            for swa in (True, False):
                parts = [p for p, on in (("copies", copies != 0), ("remix", mix == "remix"), ("swa", swa)) if on]
                out["+".join(parts) or "plain"] = replace(base, copies=copies, mix=mix, swa=swa)
    return out
