"""Gradient attacks on time-series classifiers: FGSM, BIM and PGD under L-infinity and L2.

* FGSM: Goodfellow, Shlens, Szegedy (2015), ``x' = x + eps * sign(grad_x L)``.
* BIM: Kurakin, Goodfellow, Bengio (2017): FGSM steps of size ``alpha``, each followed by
  projection onto the eps-ball around ``x``.
* PGD: Madry et al. (2018): BIM started from a random point of the eps-ball.

Time series here are z-normalised, not images in [0, 1], so nothing is clipped unless
the caller passes ``bounds`` (per-channel physical limits); torchattacks and DeepRobust
clamp to [0, 1] and would destroy such input. Fawaz et al. (2019, "Adversarial attacks
on deep neural networks for time series classification") attack FCN/ResNet with the
settings in :data:`FAWAZ_FGSM` and :data:`FAWAZ_BIM`, the baseline of the ODE-guided
augmentation paper (Sarkar et al., sec. IV).

Every attack works on a batch ``(n, channels, length)`` at once, attacks the true labels
by default (``labels="pred"`` attacks the model's own predictions, as Fawaz et al. did
with cleverhans), and runs the model in evaluation mode, restoring its mode afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import validate_series
from ..models import Classifier
from ..runtime import evaluating
from ..train import StackedMembers, predict_proba
from .gradients import loss_gradient

Norm = Literal["linf", "l2"]
Bounds = tuple[float | torch.Tensor | np.ndarray, float | torch.Tensor | np.ndarray] | None


@dataclass(frozen=True)
class Attack:
    """An attack's settings; :meth:`__call__` perturbs a batch.

    Attributes:
        eps: radius of the perturbation ball (L-infinity or L2 per series).
        step: step size ``alpha``; FGSM uses ``eps``.
        steps: number of steps (1 for FGSM).
        norm: ``"linf"`` or ``"l2"``.
        random_start: start from a random point of the ball (PGD): uniform in the
            L-infinity cube; for L2 a uniform direction with a radius drawn uniformly in
            [0, eps], as torchattacks does (not uniform in the ball's volume).
        labels: ``"true"`` attacks the given labels, ``"pred"`` the model's predictions.
    """

    eps: float = 0.1
    step: float | None = None
    steps: int = 1
    norm: Norm = "linf"
    random_start: bool = False
    labels: Literal["true", "pred"] = "true"

    def __post_init__(self) -> None:
        if not (isinstance(self.eps, (int, float)) and math.isfinite(self.eps) and self.eps >= 0):
            raise ValueError(f"attack eps must be a finite number >= 0, got {self.eps!r}")
        if not (isinstance(self.steps, int) and self.steps >= 1):
            raise ValueError(f"attack steps must be an integer >= 1, got {self.steps!r}")
        if self.step is not None and not (math.isfinite(self.step) and (self.step > 0 or self.eps == 0 == self.step)):
            raise ValueError(f"attack step must be a finite positive number (0 only with eps 0), got {self.step!r}")
        if self.norm not in ("linf", "l2"):
            raise ValueError(f"norm must be 'linf' or 'l2', got {self.norm!r}")
        if self.labels not in ("true", "pred"):
            raise ValueError(f"labels must be 'true' or 'pred', got {self.labels!r}")

    @property
    def starts_at_input(self) -> bool:
        """Whether the first step is taken at the clean series on the given labels (no random
        start, not the predictions): its gradient there can be shared (:func:`attacked_probabilities`)."""
        return not self.random_start and self.labels == "true"

    @property
    def name(self) -> str:
        kind = "FGSM" if self.steps == 1 and not self.random_start else ("PGD" if self.random_start else "BIM")
        return f"{kind}-{self.norm}-{self.eps:g}"

    def __call__(self, model: Classifier, x: torch.Tensor, y: torch.Tensor | None = None,
                 bounds: Bounds = None, generator: torch.Generator | None = None,
                 loss: nn.Module | None = None) -> torch.Tensor:
        return perturb(model, x, y, self, bounds, generator, loss=loss)


def fgsm(eps: float = 0.1, norm: Norm = "linf", labels: Literal["true", "pred"] = "true") -> Attack:
    """Fast gradient sign method (one step of size ``eps``; for L2 the normalised gradient)."""
    return Attack(eps=eps, step=eps, steps=1, norm=norm, labels=labels)


def bim(eps: float = 0.1, step: float = 0.05, steps: int = 10, norm: Norm = "linf",
        labels: Literal["true", "pred"] = "true") -> Attack:
    """Basic iterative method: ``steps`` steps of size ``step``, projected onto the eps-ball."""
    return Attack(eps=eps, step=step, steps=steps, norm=norm, labels=labels)


def pgd(eps: float = 0.1, step: float = 0.01, steps: int = 20, norm: Norm = "linf",
        labels: Literal["true", "pred"] = "true") -> Attack:
    """Projected gradient descent: BIM from a random start inside the eps-ball."""
    return Attack(eps=eps, step=step, steps=steps, norm=norm, random_start=True, labels=labels)


FAWAZ_FGSM = fgsm(eps=0.1)
"""Fawaz et al. (2019)'s FGSM: eps 0.1, no clipping."""
FAWAZ_BIM = bim(eps=0.1, step=0.05, steps=10)
"""Fawaz et al. (2019)'s BIM: eps 0.1, step 0.05, 10 iterations, projected, no clipping."""


def _per_series_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).view(-1, *([1] * (t.dim() - 1)))


def _project(delta: torch.Tensor, eps: float, norm: Norm) -> torch.Tensor:
    if norm == "linf":
        return delta.clamp(-eps, eps)
    return delta * (eps / _per_series_norm(delta).clamp_min(1e-12)).clamp(max=1.0)


def _as_channel_tensor(value, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return t.view(1, -1, 1) if t.dim() == 1 else t


def _check_bounds(bounds, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(low, high)`` as tensors broadcastable to ``x``: scalars or one value per channel,
    finite or infinite, with ``low <= high`` everywhere."""
    if len(bounds) != 2:
        raise ValueError(f"bounds must be (low, high), got {bounds!r}")
    low, high = (_as_channel_tensor(b, x) for b in bounds)
    for name, b in (("low", low), ("high", high)):
        if b.dim() == 3 and b.shape[1] not in (1, x.shape[1]):
            raise ValueError(f"bounds: {name} has {b.shape[1]} values per channel but the series have "
                             f"{x.shape[1]} channels")
        if b.dim() not in (0, 3) or torch.isnan(b).any():
            raise ValueError(f"bounds: {name} must be a number or one number per channel, got {bounds!r}")
    if (low > high).any():
        raise ValueError(f"bounds: low must not exceed high, got {bounds!r}")
    return low, high


def perturb(model: Classifier, x: torch.Tensor, y: torch.Tensor | None, attack: Attack,
            bounds: Bounds = None, generator: torch.Generator | None = None, *,
            loss: nn.Module | None = None, first_gradient: torch.Tensor | None = None) -> torch.Tensor:
    """Adversarial versions of the batch ``x`` (see :class:`Attack`); ``bounds=(low, high)``
    clips to scalars or per-channel vectors of limits. The steps ascend cross entropy, or
    ``loss`` (a per-sample loss ``(logits, targets) -> (n,)``: adversarial training
    maximises its own training loss, :mod:`tsimb.robustness.training`).

    ``first_gradient``: the loss gradient at ``x`` itself for the labels ``y``, already
    computed (:func:`attacked_probabilities` shares it between attacks that start at ``x``);
    only an attack without a random start on the given labels can use it."""
    if first_gradient is not None and (not attack.starts_at_input or y is None):
        raise ValueError(f"{attack.name} cannot reuse a gradient at x: it starts elsewhere or attacks other labels")
    if x.dim() != 3:
        raise ValueError(f"expected a batch shaped (n, channels, length), got {tuple(x.shape)}")
    with evaluating(model):
        x = x.detach()
        if attack.labels == "pred" or y is None:
            with torch.no_grad():
                y = model(x).argmax(dim=1)
        low = high = None
        if bounds is not None:
            low, high = _check_bounds(bounds, x)
        step = attack.eps if attack.step is None else attack.step
        x_adv = x.clone()
        if attack.random_start:
            if attack.norm == "linf":
                noise = torch.rand(x.shape, generator=generator, device="cpu").to(x) * 2 - 1
                x_adv = x + attack.eps * noise
            else:
                direction = torch.randn(x.shape, generator=generator, device="cpu").to(x)
                radius = torch.rand((x.shape[0], 1, 1), generator=generator, device="cpu").to(x)
                x_adv = x + direction / _per_series_norm(direction).clamp_min(1e-12) * radius * attack.eps
        for i in range(attack.steps):
            grad = first_gradient if i == 0 and first_gradient is not None else loss_gradient(model, x_adv, y, loss)
            with torch.no_grad():
                if attack.norm == "linf":
                    x_adv = x_adv + step * grad.sign()
                else:
                    x_adv = x_adv + step * grad / (_per_series_norm(grad) + 1e-10)
                x_adv = x + _project(x_adv - x, attack.eps, attack.norm)
                if low is not None:
                    x_adv = torch.maximum(torch.minimum(x_adv, high), low)
        return x_adv.detach()


def attack_array(model: Classifier, X: np.ndarray, y: np.ndarray | None, attack: Attack,
                 bounds: Bounds = None, batch_size: int = 512, seed: int = 0) -> np.ndarray:
    """Attack a whole array in batches on the model's device; returns a numpy array."""
    validate_series(X, y)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"attack_array: batch_size must be a whole number of at least 1, got {batch_size!r}")
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    X_t = torch.as_tensor(X, dtype=torch.float32, device=device)
    y_t = None if y is None else torch.as_tensor(y, dtype=torch.int64, device=device)
    out = [
        perturb(model, X_t[i:i + batch_size], None if y_t is None else y_t[i:i + batch_size], attack, bounds,
                generator)
        for i in range(0, len(X_t), batch_size)
    ]
    return torch.cat(out).cpu().numpy()


def attacked_probabilities(model: Classifier, X: np.ndarray, y: np.ndarray, attacks: dict[str, Attack],
                           bounds: Bounds = None, batch_size: int = 512, seed: int = 0) -> dict[str, np.ndarray]:
    """Class probabilities ``(n, K)`` of the clean series (key ``"clean"``) and of each
    attack's adversarial versions (its key in ``attacks``), as :func:`predict_proba` and
    :func:`attack_array` give them, with less work: per batch, one forward and backward pass
    at the clean series gives both the clean probabilities and the first step of every
    attack that starts there on the true labels (for Fawaz et al.'s FGSM and BIM, 13
    forward and 11 backward passes a series become 12 and 10). The results are identical
    to computing each separately."""
    validate_series(X, y)
    if "clean" in attacks:
        raise ValueError("attacked_probabilities: 'clean' names the unattacked series; give the attack another name")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"attacked_probabilities: batch_size must be a whole number of at least 1, got {batch_size!r}")
    if not any(attack.starts_at_input for attack in attacks.values()):
        # nothing to share (PGD, attacks on the predictions): the separate passes
        return {"clean": predict_proba(model, X, batch_size), **{
            name: predict_proba(model, attack_array(model, X, y, attack, bounds, batch_size, seed), batch_size)
            for name, attack in attacks.items()}}
    device = next(model.parameters()).device
    X_t = torch.as_tensor(X, dtype=torch.float32, device=device)
    y_t = torch.as_tensor(y, dtype=torch.int64, device=device)
    generators = {name: torch.Generator().manual_seed(seed) for name in attacks}  # as attack_array seeds each
    clean: list[torch.Tensor] = []
    adversarial: dict[str, list[torch.Tensor]] = {name: [] for name in attacks}
    with evaluating(model):
        for xb, yb in zip(X_t.split(batch_size), y_t.split(batch_size)):
            x = xb.detach().requires_grad_(True)
            logits = model(x)
            (grad,) = torch.autograd.grad(F.cross_entropy(logits, yb, reduction="sum"), x)  # as loss_gradient
            clean.append(torch.softmax(logits.detach(), dim=1))
            for name, attack in attacks.items():
                shared = grad if attack.starts_at_input else None
                adversarial[name].append(perturb(model, xb, yb, attack, bounds, generators[name],
                                                 first_gradient=shared))
    out = {"clean": torch.cat(clean).cpu().numpy()}
    for name, parts in adversarial.items():
        out[name] = predict_proba(model, torch.cat(parts).cpu().numpy(), batch_size)
    return out


def members_attacked_probabilities(models: list[Classifier], X: np.ndarray, y: np.ndarray,
                                   attacks: dict[str, Attack], bounds: Bounds = None, batch_size: int = 512,
                                   seed: int = 0) -> list[dict[str, np.ndarray]]:
    """:func:`attacked_probabilities` of K networks of one architecture (an ensemble's
    members, :func:`tsimb.train.train_ensemble`) on the same series, in one pass: the
    networks are stacked (:class:`tsimb.train.StackedMembers`), each series is repeated
    once per network, and every forward and backward pass serves all K at once
    (``batch_size`` series per network a pass). One dict per network, in order; for attacks
    without a random start (Fawaz et al.'s FGSM and BIM) identical to attacking each network
    alone up to floating-point rounding, while a random start is drawn once for the
    stacked batch (another draw than alone, from the same distribution)."""
    validate_series(X, y)
    k = len(models)
    stack = StackedMembers(models)
    together = attacked_probabilities(stack, np.repeat(X, k, axis=0), np.repeat(y, k), attacks, bounds,
                                      batch_size * k, seed)
    return [{name: p[member::k] for name, p in together.items()} for member in range(k)]


def accuracy_scores(probabilities: dict[str, np.ndarray], y: np.ndarray,
                    minority: list[int] | None = None) -> dict[str, float]:
    """``{"<name>_accuracy"}`` from :func:`attacked_probabilities`' output and, with
    ``minority``, ``"<name>_accuracy_minority"`` over the test series of those classes."""
    out: dict[str, float] = {}
    mask = None if minority is None else np.isin(y, minority)
    for name, proba in probabilities.items():
        correct = proba.argmax(1) == y
        out[f"{name}_accuracy"] = float(correct.mean())
        if mask is not None:
            out[f"{name}_accuracy_minority"] = float(correct[mask].mean()) if mask.any() else float("nan")
    return out


def robust_accuracy(model: Classifier, X: np.ndarray, y: np.ndarray, attacks: dict[str, Attack],
                    minority: list[int] | None = None, bounds: Bounds = None, seed: int = 0) -> dict[str, float]:
    """Clean and adversarial accuracy, overall and on the minority half of the classes.

    Returns ``{"clean_accuracy", "<name>_accuracy", ...}`` and, with ``minority``, the
    same keys with ``_minority`` appended (accuracy over test series of those classes).
    """
    return accuracy_scores(attacked_probabilities(model, X, y, attacks, bounds, seed=seed), y, minority)
