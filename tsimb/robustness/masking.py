"""Is robust accuracy robustness, or gradient masking? The standard checks (Athalye,
Carlini and Wagner 2018, "Obfuscated gradients give a false sense of security", sec. 3.1;
Carlini et al. 2019, "On evaluating adversarial robustness", sec. 4-5), for a trained
classifier on a test set:

* **stronger attacks**: PGD with more steps and random restarts must not leave *more*
  series correctly classified than the attack being checked (BIM); robust accuracy is
  reported per series as the worst case over every attack run (a series counts only if it
  survives all of them);
* **transfer**: the same attacks crafted on an independently trained model (the book's
  uncorrected reference of the same seed) must not succeed more often than white-box ones:
  if they do, the defended model's gradients point the attack the wrong way;
* **growing eps**: accuracy under the gradient attack (PGD's steps without its random
  start, so that noise alone cannot do the work) must fall towards zero as the radius
  grows (an unbounded attack can always change the input); a plateau well above zero
  means the gradient stops guiding the attack.

A fourth check of the list, attacking a model whose non-differentiable or randomised
component is replaced (BPDA), has nothing to act on for the book's augmentations: they act
on the training data only, and the trained classifier's forward pass has no augmentation.

Where a check is flagged, :func:`gradient_free_sweep` looks closer: a gradient-free attack
(Carlini et al. 2019, sec. 5: "try gradient-free attacks") that moves each series as far as
the radius allows towards every series the model puts in another class. If it fools
series that the gradient attack leaves correct, adversarial series exist there and the
gradient does not find them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..data import validate_series
from ..models import Classifier
from ..runtime import evaluating
from ..train import predict_proba
from .attacks import Attack, attack_array, bim, fgsm, pgd


@dataclass(frozen=True)
class MaskingChecks:
    """The checks' settings (stored in a run's configuration). ``eps`` is the radius being
    checked (L-infinity, Fawaz et al.'s 0.1 by default); PGD takes ``pgd_steps`` steps of
    ``2.5 eps / pgd_steps`` (Madry et al. 2018) from ``restarts`` random starts;
    ``sweep`` lists the radii of the growing-eps check; ``tolerance`` is how far (as a
    share of the series) a check may miss before it is flagged."""

    eps: float = 0.1
    pgd_steps: int = 20
    restarts: int = 3
    sweep: tuple[float, ...] = field(default=(0.05, 0.1, 0.2, 0.5, 1.0))
    tolerance: float = 0.02

    def __post_init__(self) -> None:
        for name in ("eps", "tolerance"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value:
                raise ValueError(f"MaskingChecks.{name} must be a positive number, got {value!r}")
        for name in ("pgd_steps", "restarts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"MaskingChecks.{name} must be a whole number of at least 1, got {value!r}")
        if not self.sweep or any(isinstance(e, bool) or not isinstance(e, (int, float)) or e <= 0
                                 for e in self.sweep):
            raise ValueError(f"MaskingChecks.sweep must list positive radii, got {self.sweep!r}")

    def strong_attack(self, eps: float | None = None, random_start: bool = True) -> Attack:
        """PGD at ``eps`` (default the checked radius) with the checks' steps; without
        ``random_start`` it is BIM with those steps, driven by the gradient alone."""
        eps = self.eps if eps is None else eps
        attack = pgd(eps=eps, step=2.5 * eps / self.pgd_steps, steps=self.pgd_steps)
        return attack if random_start else Attack(eps=attack.eps, step=attack.step, steps=attack.steps)


def survives(model: Classifier, X: np.ndarray, y: np.ndarray, attack: Attack, seed: int = 0) -> np.ndarray:
    """Which series the model still classifies correctly after ``attack`` (a boolean
    vector); ``seed`` draws PGD's random start."""
    return predict_proba(model, attack_array(model, X, y, attack, seed=seed)).argmax(1) == y


def masking_checks(model: Classifier, X: np.ndarray, y: np.ndarray, *, reference: Classifier | None = None,
                   checks: MaskingChecks = MaskingChecks(), seed: int = 0) -> dict[str, float]:
    """The gradient-masking checks of the module docstring for ``model`` on ``(X, y)``.

    Returns accuracies (shares of the series): ``fgsm`` and ``bim`` (Fawaz et al.'s, at
    ``checks.eps``), ``pgd`` (the worst case over ``checks.restarts`` PGD runs), ``strongest``
    (per series, the worst case over every white-box and transfer attack), ``transfer_fgsm``
    and ``transfer_bim`` (crafted on ``reference``, if given), ``eps_<e>`` (the gradient attack
    at each radius of the sweep), and three flags (1.0 when the check fails): ``flag_stronger_is_weaker``
    (PGD leaves more series correct than BIM), ``flag_transfer_stronger`` (a transfer
    attack beats its white-box version) and ``flag_eps_plateau`` (accuracy at the largest
    radius above ``tolerance``).
    """
    y = np.asarray(y)
    out: dict[str, float] = {"clean": float((predict_proba(model, X).argmax(1) == y).mean())}
    alive = np.ones(len(y), dtype=bool)
    white = {}
    # Fawaz et al.'s FGSM and BIM (FAWAZ_FGSM, FAWAZ_BIM) at the checked radius
    for name, attack in (("fgsm", fgsm(eps=checks.eps)), ("bim", bim(eps=checks.eps, step=checks.eps / 2, steps=10))):
        white[name] = survives(model, X, y, attack)
        out[name] = float(white[name].mean())
        alive &= white[name]
        if reference is not None:
            crafted = attack_array(reference, X, y, attack)
            moved = predict_proba(model, crafted).argmax(1) == y
            out[f"transfer_{name}"] = float(moved.mean())
            alive &= moved
    pgd_alive = np.ones(len(y), dtype=bool)
    for restart in range(checks.restarts):
        pgd_alive &= survives(model, X, y, checks.strong_attack(), seed=seed + restart)
    out["pgd"] = float(pgd_alive.mean())
    out["strongest"] = float((alive & pgd_alive).mean())
    for eps in checks.sweep:
        # no random start: at a large radius random noise alone would fool any model and hide
        # a gradient that does not guide the attack
        out[f"eps_{eps:g}"] = float(survives(model, X, y, checks.strong_attack(eps, random_start=False)).mean())
    out["flag_stronger_is_weaker"] = float(out["pgd"] > out["bim"] + checks.tolerance)
    out["flag_transfer_stronger"] = float(reference is not None and any(
        out[f"transfer_{name}"] < out[name] - checks.tolerance for name in white))
    out["flag_eps_plateau"] = float(out[f"eps_{max(checks.sweep):g}"] > checks.tolerance)
    return out


def towards_other_class(model: Classifier, X: np.ndarray, y: np.ndarray, eps: float,
                        batch_size: int = 4096) -> np.ndarray:
    """Which series survive a gradient-free attack at L-infinity radius ``eps`` (a boolean
    vector): each series ``x`` is moved to the point of its ball nearest each series ``t``
    of ``X`` that the model assigns to another class than ``x``'s label,
    ``x + clip(t - x, -eps, eps)``, and survives only if the model keeps its label at every
    such point (and on ``x`` itself). It needs no gradient, so masking cannot hide from it;
    it only tries these directions, so it bounds robust accuracy from above, as any attack."""
    validate_series(X, y)
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    if not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"towards_other_class: eps must be a positive number, got {eps!r}")
    device = next(model.parameters()).device
    predicted = predict_proba(model, X).argmax(1)
    alive = predicted == y
    X_t = torch.as_tensor(X, device=device)
    with torch.no_grad(), evaluating(model):  # batch norm on its running statistics, as the attacks see it
        for i in np.flatnonzero(alive):
            targets = X_t[torch.as_tensor(predicted != y[i], device=device)]
            for chunk in targets.split(batch_size):
                moved = X_t[i] + (chunk - X_t[i]).clamp(-eps, eps)
                if (model(moved).argmax(1) != int(y[i])).any():
                    alive[i] = False
                    break
    return alive


def gradient_free_sweep(model: Classifier, X: np.ndarray, y: np.ndarray,
                        checks: MaskingChecks = MaskingChecks()) -> dict[str, float]:
    """A closer look at a flagged network (module docstring): at each radius ``e`` of
    ``checks.sweep``, the accuracy under :func:`towards_other_class` (``gradient_free_<e>``)
    and under every attack at once (``worst_<e>``: a series counts only if it survives the
    gradient attack of :func:`masking_checks`' sweep and the gradient-free one at ``e`` and at
    every smaller radius of the sweep, since an input inside a smaller ball is inside the
    larger one). ``worst_<e>`` below ``eps_<e>`` of :func:`masking_checks` means the gradient
    attack missed adversarial series that exist."""
    y = np.asarray(y)
    out: dict[str, float] = {}
    alive = np.ones(len(y), dtype=bool)
    for eps in sorted(checks.sweep):
        free = towards_other_class(model, X, y, eps)
        alive &= free & survives(model, X, y, checks.strong_attack(eps, random_start=False))
        out[f"gradient_free_{eps:g}"] = float(free.mean())
        out[f"worst_{eps:g}"] = float(alive.mean())
    return out
