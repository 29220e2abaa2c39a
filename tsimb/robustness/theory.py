"""The Gaussian-mixture analysis of (re-weighted, adversarial) linear classifiers under
imbalance (Wang 2023, dissertation ch. 4, sec. 4.3: eq. 4.1, Lemma 4.3.1, Theorems 4.3.2
and 4.3.3), corrected, in closed form; and a sampler and trainer of the linear model it
analyses, so that measured class-wise errors can be put beside the closed form.
Explained in the book's chapter on adversarial training under imbalance, section "Theory".

**The model** (eq. 4.1). ``y in {-1, +1}``, ``x | y ~ N(y mu, sigma^2 I_d)`` with
``mu = eta * 1`` (every coordinate of the centre is ``+-eta``, ``eta > 0``). In the
text, ``K > 1`` is the ratio of the class priors in training, ``Pr(y = +1) = K Pr(y = -1)``:
class ``+1`` is the well-represented class, ``-1`` the under-represented one; the test
set is balanced. ``rho`` is the weight that multiplies the loss of the under-represented
class ``-1`` (``rho = 1``: no re-weighting; ``rho = K``: weights inverse to the priors).
The classifier is ``f(x) = sign(w^T x - b)``; Lemma 4.3.1 minimises the re-weighted 0-1
risk ``rho Pr(f(x) != y | y = -1) + K Pr(f(x) != y | y = +1)`` (eq. 4.2, up to a factor).

**The correction.** With ``w = 1``, ``w^T x | y ~ N(y d eta, d sigma^2)``: its standard
deviation is ``sqrt(d) sigma``, not the text's ``d sigma``. Setting the derivative of the
risk to zero then gives ``rho phi((b + d eta) / (sqrt(d) sigma)) = K phi((b - d eta) /
(sqrt(d) sigma))``, so ``log(rho / K) = 2 b eta / sigma^2`` and

    ``b* = sigma^2 / (2 eta) * log(rho / K)``   (no factor ``d``; :func:`optimal_bias`),

where the text has ``b = d sigma^2 / (2 eta) log(rho / K) = d / (2 S) log(rho / K)``
(:func:`text_bias`; at ``d = 10, K = 100, eta = 0.3, sigma = 1`` a grid search of the risk
finds -7.675, the text's formula -76.75). The class-wise errors of ``(w = 1, b*)`` are

    ``err_-1 = Phi(log(K / rho) / (2 r) - r)``, ``err_+1 = Phi(-log(K / rho) / (2 r) - r)``,

with ``r = sqrt(d) eta / sigma`` (:func:`separability`). The text's separability
``S = eta / sigma^2`` is not scale invariant (scaling ``x`` by ``a`` divides it by ``a``,
while no error changes), although the proof of Theorem 4.3.2 rescales one distribution
to match the other; ``r`` is invariant and the errors depend on nothing else. In terms of
``r`` both theorems hold for every ``K > 1`` (the text needs "K large enough"):

* Theorem 4.3.2: the gap ``err_-1 - err_+1`` of the unweighted optimum (:func:`error_gap`)
  strictly decreases in ``r``;
* Theorem 4.3.3: the rise of ``err_+1`` from ``rho = 1`` to ``rho = K`` (the optimal weight
  for a balanced test set, where ``b* = 0`` and both errors are ``Phi(-r)``;
  :func:`reweighting_cost`) strictly decreases in ``r``.

**Adversarial training.** Against an L-infinity attack of budget ``eps``, the worst case
moves ``w^T x`` by ``eps ||w||_1`` towards the other class; for ``w = 1`` that is
``eps d``, exactly what replacing ``eta`` by ``eta - eps`` does. The optimal
adversarially trained linear model is therefore the natural one for ``eta - eps``
(``w = 1`` stays optimal: for fixed ``||w||_2``, ``(eta - eps) sum(w)`` is largest at
``w ∝ 1``), its robust errors are the natural errors at ``eta - eps``, and its
separability drops to ``r = sqrt(d) (eta - eps) / sigma``: in this model adversarial
training *is* natural training on less separable data, so both theorems say it widens
the gap and makes re-weighting cost the well-represented class more. Under L2, ``eps``
moves ``w^T x`` by ``eps ||w||_2 = eps sqrt(d)``: ``eta -> eta - eps / sqrt(d)``
(:func:`effective_eta`).

**The trainer** (:func:`fit_linear`) minimises the re-weighted logistic loss with the
exact worst-case margin of a linear model, ``y (w^T x - b) - eps ||w||_*`` (dual norm:
L1 for L-infinity, L2 for L2), with scipy's L-BFGS. Logistic regression is well specified
for this mixture (its log-odds are linear, ``log(K / rho) + 2 eta 1^T x / sigma^2``), so
on large samples it converges to the 0-1 optimum ``b* / w`` of the analysis; with ``eps``
it equals natural training on the series moved ``eps`` towards the other class
(``x - y eps 1``) as long as ``w > 0``, the sample-level form of ``eta -> eta - eps``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from scipy.stats import norm as normal

Norm = Literal["linf", "l2"]


@dataclass(frozen=True)
class GaussianMixture:
    """The class-conditional distribution of eq. 4.1: ``x | y ~ N(y eta 1, sigma^2 I_d)``,
    ``y in {-1, +1}``; the priors (``K``) and the weight (``rho``) are the functions' own."""

    d: int
    eta: float
    sigma: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.d, bool) or not isinstance(self.d, (int, np.integer)) or self.d < 1:
            raise ValueError(f"GaussianMixture.d must be a positive integer, got {self.d!r}")
        for name in ("eta", "sigma"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value) and value > 0):
                raise ValueError(f"GaussianMixture.{name} must be a positive number, got {value!r}")

    @property
    def text_separability(self) -> float:
        """The text's ``S = eta / sigma^2`` (not scale invariant: see the module docstring)."""
        return self.eta / self.sigma**2

    def sample(self, n_plus: int, n_minus: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``n_plus`` series of class ``+1`` then ``n_minus`` of class ``-1``: ``X (n, d)``
        (float64) and ``y`` in ``{-1, +1}``. A training set with ``n_plus = K n_minus`` has
        the text's priors; a balanced one is its test set."""
        for name, n in (("n_plus", n_plus), ("n_minus", n_minus)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
        rng = np.random.default_rng(seed)
        y = np.concatenate([np.ones(n_plus), -np.ones(n_minus)])
        X = y[:, None] * self.eta + self.sigma * rng.standard_normal((y.size, self.d))
        return X, y.astype(np.int64)


def _check_imbalance(K: float, rho: float) -> None:
    if not (math.isfinite(K) and K > 0):
        raise ValueError(f"the prior ratio K must be a positive number (K > 1: class +1 is well represented), got {K!r}")
    if not (math.isfinite(rho) and rho > 0):
        raise ValueError(f"the weight rho of class -1 must be a positive number, got {rho!r}")


def separability(mixture: GaussianMixture, eps: float = 0.0, norm: Norm = "linf") -> float:
    """``r = sqrt(d) eta / sigma``, the scale-invariant separability the errors depend on
    (corrected Lemma 4.3.1); with ``eps``, of the adversarial problem (``eta`` replaced by
    :func:`effective_eta`)."""
    return math.sqrt(mixture.d) * effective_eta(mixture, eps, norm) / mixture.sigma


def effective_eta(mixture: GaussianMixture, eps: float = 0.0, norm: Norm = "linf") -> float:
    """The per-coordinate mean that the worst-case attack of budget ``eps`` leaves to a
    classifier with ``w ∝ 1``: ``eta - eps`` (L-infinity), ``eta - eps / sqrt(d)`` (L2)."""
    if not (math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    if norm not in ("linf", "l2"):
        raise ValueError(f"norm must be 'linf' or 'l2', got {norm!r}")
    eta = mixture.eta - (eps if norm == "linf" else eps / math.sqrt(mixture.d))
    if eta <= 0:
        raise ValueError(f"an attack of budget {eps} ({norm}) reaches the other class's mean (eta = {mixture.eta}); "
                         "the analysis needs eta > eps (L-infinity) or eta > eps / sqrt(d) (L2)")
    return eta


def optimal_bias(mixture: GaussianMixture, K: float, rho: float = 1.0, eps: float = 0.0,
                 norm: Norm = "linf") -> float:
    """The corrected bias of Lemma 4.3.1 for ``w = 1``: ``b* = sigma^2 / (2 eta) log(rho / K)``
    (``eta`` replaced by :func:`effective_eta` for adversarial training against ``eps``)."""
    _check_imbalance(K, rho)
    return mixture.sigma**2 / (2 * effective_eta(mixture, eps, norm)) * math.log(rho / K)


def text_bias(mixture: GaussianMixture, K: float, rho: float = 1.0) -> float:
    """Lemma 4.3.1 as printed, ``b = d sigma^2 / (2 eta) log(rho / K)``: off by the factor
    ``d`` (it takes ``d sigma`` for the standard deviation of ``w^T x``)."""
    _check_imbalance(K, rho)
    return mixture.d * mixture.sigma**2 / (2 * mixture.eta) * math.log(rho / K)


def _weights(w: float | np.ndarray, d: int) -> np.ndarray:
    w = np.broadcast_to(np.asarray(w, dtype=np.float64), (d,))
    if not np.isfinite(w).all() or not np.any(w):
        raise ValueError("w must be finite and not all zero")
    return w


def _dual_norm(w: np.ndarray, norm: Norm) -> float:
    return float(np.abs(w).sum() if norm == "linf" else np.linalg.norm(w))


def linear_errors(w: float | np.ndarray, b: float | np.ndarray, mixture: GaussianMixture, eps: float = 0.0,
                  norm: Norm = "linf") -> dict[int, float | np.ndarray]:
    """Class-wise errors of ``sign(w^T x - b)`` on the mixture, in closed form: standard
    (``eps = 0``) or under the worst-case attack of budget ``eps``, which lowers the margin
    ``y (w^T x - b)`` by ``eps ||w||_*``:
    ``err_y = Phi((eps ||w||_* - eta sum(w) + y b) / (sigma ||w||_2))``. Returns
    ``{-1: err, +1: err}`` (arrays for an array of biases ``b``)."""
    w = _weights(w, mixture.d)
    if not (math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    if norm not in ("linf", "l2"):
        raise ValueError(f"norm must be 'linf' or 'l2', got {norm!r}")
    shift, scale = eps * _dual_norm(w, norm) - mixture.eta * w.sum(), mixture.sigma * np.linalg.norm(w)
    errors = {y: normal.cdf((shift + y * np.asarray(b, dtype=np.float64)) / scale) for y in (-1, 1)}
    return {y: float(e) if np.ndim(e) == 0 else e for y, e in errors.items()}


def optimal_errors(mixture: GaussianMixture, K: float, rho: float = 1.0, eps_train: float = 0.0,
                   eps_test: float = 0.0, norm: Norm = "linf") -> dict[int, float]:
    """Class-wise errors (``{-1: ..., +1: ...}``) of the optimal linear model (``w = 1``,
    :func:`optimal_bias`) trained with weight ``rho`` against attacks of budget
    ``eps_train`` (0: natural training), evaluated clean (``eps_test = 0``) or under
    attack: natural, adversarial and re-weighted adversarial training in closed form."""
    return linear_errors(1.0, optimal_bias(mixture, K, rho, eps_train, norm), mixture, eps_test, norm)


def weighted_risk(b: float | np.ndarray, mixture: GaussianMixture, K: float, rho: float = 1.0, eps: float = 0.0,
                  norm: Norm = "linf") -> np.ndarray:
    """Eq. 4.2's re-weighted (robust, with ``eps``) 0-1 risk of ``(w = 1, b)``, up to the
    factor ``Pr(y = -1)``: ``rho err_-1(b) + K err_+1(b)``, exact (vectorised over ``b``)."""
    _check_imbalance(K, rho)
    b = np.asarray(b, dtype=np.float64)
    d, sd = mixture.d, math.sqrt(mixture.d) * mixture.sigma
    mean = d * effective_eta(mixture, eps, norm)
    return rho * normal.cdf(-(b + mean) / sd) + K * normal.cdf((b - mean) / sd)


def grid_search_bias(mixture: GaussianMixture, K: float, rho: float = 1.0, eps: float = 0.0, norm: Norm = "linf",
                     grid: np.ndarray | None = None) -> float:
    """The ``b`` of ``grid`` (default: 200001 points on [-100, 100], step 0.001) with the
    smallest :func:`weighted_risk`: the check of :func:`optimal_bias` that needs no algebra."""
    grid = np.linspace(-100, 100, 200_001) if grid is None else np.asarray(grid, dtype=np.float64)
    return float(grid[np.argmin(weighted_risk(grid, mixture, K, rho, eps, norm))])


def error_gap(r: float | np.ndarray, K: float) -> np.ndarray:
    """Theorem 4.3.2's quantity, corrected: ``err_-1 - err_+1`` of the unweighted optimum,
    ``Phi(c / r - r) - Phi(-c / r - r)`` with ``c = log(K) / 2``; strictly decreasing in
    ``r`` for every ``K > 1``."""
    r, c = np.asarray(r, dtype=np.float64), math.log(K) / 2
    return normal.cdf(c / r - r) - normal.cdf(-c / r - r)


def reweighting_cost(r: float | np.ndarray, K: float) -> np.ndarray:
    """Theorem 4.3.3's quantity, corrected: how much the well-represented class's error rises
    from ``rho = 1`` to ``rho = K``, ``Phi(-r) - Phi(-c / r - r)`` with ``c = log(K) / 2``;
    strictly decreasing in ``r`` for every ``K > 1``."""
    r, c = np.asarray(r, dtype=np.float64), math.log(K) / 2
    return normal.cdf(-r) - normal.cdf(-c / r - r)


def fit_linear(X: np.ndarray, y: np.ndarray, *, rho: float = 1.0, eps: float = 0.0, norm: Norm = "linf",
               tol: float = 1e-10, max_iter: int = 1000) -> tuple[np.ndarray, float]:
    """Train the linear model of sec. 4.3, ``sign(w^T x - b)``: minimise the re-weighted
    logistic loss with the exact worst-case margin of budget ``eps``,
    ``sum_i c_i log(1 + exp(-(y_i (w^T x_i - b) - eps ||w||_*))) / sum_i c_i`` with
    ``c_i = rho`` for class ``-1`` and 1 for ``+1`` (natural training at ``eps = 0``;
    adversarial training otherwise, the inner maximum being exact for a linear model), by
    L-BFGS from ``w = 1 / d``, ``b = 0``. Returns ``(w, b)``; the decision threshold on
    ``1^T x`` is ``b / mean(w)`` when ``w ∝ 1``.

    Args:
        X: ``(n, d)`` points; ``y``: labels in ``{-1, +1}``.
        rho: weight of class ``-1``; eps, norm: the attack (``"linf"``: dual norm L1).
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"need X (n, d) and y (n,), got {X.shape} and {y.shape}")
    if not set(np.unique(y).tolist()) <= {-1, 1} or np.unique(y).size != 2:
        raise ValueError("y must hold both labels -1 and +1 (the text's classes)")
    _check_imbalance(1.0, rho)
    if not (math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    if norm not in ("linf", "l2"):
        raise ValueError(f"norm must be 'linf' or 'l2', got {norm!r}")
    c = np.where(y < 0, rho, 1.0)
    c = c / c.sum()
    yX = y[:, None] * X

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        if norm == "linf":
            size, size_grad = np.abs(w).sum(), np.sign(w)
        else:
            size = np.linalg.norm(w)
            size_grad = w / size if size > 0 else np.zeros_like(w)
        margin = yX @ w - y * b - eps * size
        loss = -(c * log_expit(margin)).sum()
        dm = -c * expit(-margin)  # d loss / d margin
        grad_w = yX.T @ dm - eps * dm.sum() * size_grad
        grad_b = -(y * dm).sum()
        return float(loss), np.append(grad_w, grad_b)

    d = X.shape[1]
    start = np.append(np.full(d, 1.0 / d), 0.0)
    result = minimize(objective, start, jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iter, "gtol": tol, "ftol": tol * 1e-3})
    return result.x[:-1], float(result.x[-1])


def empirical_errors(w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray, eps: float = 0.0,
                     norm: Norm = "linf") -> dict[int, float]:
    """Measured class-wise errors of ``sign(w^T x - b)`` on ``(X, y)``, clean or under the
    exact worst-case attack of a linear model (``x - y eps sign(w)`` for L-infinity,
    ``x - y eps w / ||w||_2`` for L2). Returns ``{-1: err, +1: err}``."""
    w = np.asarray(w, dtype=np.float64)
    direction = np.sign(w) if norm == "linf" else w / np.linalg.norm(w)
    X_attacked = X - eps * y[:, None] * direction
    wrong = np.where(X_attacked @ w - b > 0, 1, -1) != y
    return {cls: float(wrong[y == cls].mean()) for cls in (-1, 1)}


TRAININGS = {"natural": (False, False), "re-weighted natural": (False, True), "adversarial": (True, False),
             "re-weighted adversarial": (True, True)}
"""Training name -> (adversarial, re-weighted with ``rho = K``)."""


def compare_with_closed_form(mixture: GaussianMixture, Ks: Iterable[float], epss: Iterable[float], *,
                             n_minus: int = 2000, n_test: int = 20000, norm: Norm = "linf",
                             trainings: Iterable[str] = tuple(TRAININGS), seed: int = 0) -> pd.DataFrame:
    """Measured class-wise errors of the trained linear model beside the closed form, for
    every imbalance ratio ``K`` (training set: ``K n_minus`` of class ``+1``, ``n_minus`` of
    ``-1``), budget ``eps`` and training of :data:`TRAININGS` (``rho = K`` when re-weighted),
    each evaluated clean and under the attack of budget ``eps`` on a balanced test set of
    ``n_test`` per class. One row per (K, eps, training, evaluation, class) with
    ``closed_form`` (the optimum of the analysis, :func:`optimal_errors`), ``trained``
    (:func:`linear_errors` of the trained ``(w, b)``) and ``measured`` (on the test set),
    plus the trained threshold ``b / mean(w)`` and the optimal one."""
    rows = []
    for K in Ks:
        for eps in epss:
            X, y = mixture.sample(int(round(K * n_minus)), n_minus, seed=seed)
            X_test, y_test = mixture.sample(n_test, n_test, seed=seed + 1)
            for training in trainings:
                adversarial, reweighted = TRAININGS[training]
                eps_train, rho = (eps if adversarial else 0.0), (float(K) if reweighted else 1.0)
                w, b = fit_linear(X, y, rho=rho, eps=eps_train, norm=norm)
                for evaluation, eps_test in (("standard", 0.0), ("robust", eps)):
                    closed = optimal_errors(mixture, K, rho, eps_train, eps_test, norm)
                    trained = linear_errors(w, b, mixture, eps_test, norm)
                    measured = empirical_errors(w, b, X_test, y_test, eps_test, norm)
                    for cls, name in ((-1, "under-represented (-1)"), (1, "well-represented (+1)")):
                        rows.append(dict(K=K, eps=eps, training=training, evaluation=evaluation, cls=name,
                                         closed_form=closed[cls], trained=trained[cls], measured=measured[cls],
                                         threshold=b / w.mean(),
                                         optimal_threshold=optimal_bias(mixture, K, rho, eps_train, norm)))
    return pd.DataFrame(rows)
