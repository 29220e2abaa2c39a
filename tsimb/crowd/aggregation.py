"""Turning several annotators' votes into one label per series: majority vote and the
Dawid-Skene EM (Dawid and Skene 1979; Wang 2023, ch. 3, sec. 3.2.3, eqs. 3.1-3.2), in the
three variants the crowd-labels chapter compares.

Every function takes a :class:`~tsimb.data.Votes` table. Worker ids need not be
contiguous: they are compacted internally and returned in ``workers``.

The Dawid-Skene EM is vectorised over series: the votes become a one-hot array ``V`` of
shape ``(n_series, n_workers, K)`` (zero rows where a worker did not vote), the M-step is
``einsum('ia,iwb->wab', T, V)`` and the E-step ``einsum('iwb,wab->ia', V, log Psi)``. The
dense array costs ``n * W * K`` floats, which suits the book's few workers (7 to 11); a
crowd of thousands of sparse workers would want a sparse form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.special import logsumexp

from ..data.votes import Votes

Prior = Literal["uniform", "hard", "soft"]
PRIORS: tuple[str, ...] = ("uniform", "hard", "soft")
Ties = Literal["random", "lowest"]


def check_votes(votes: object, workers: np.ndarray | list[int] | None = None) -> Votes:
    """``votes`` if it is a usable :class:`~tsimb.data.Votes` table for aggregation, else an
    error naming the problem: not a vote table (``TypeError``), votes for one class only
    (no confusion between classes can be estimated), or, when the expected ``workers`` are
    given, a worker with no vote or a vote from a worker not listed. An empty table, labels
    outside the classes and series without votes are refused by ``Votes`` itself."""
    if not isinstance(votes, Votes):
        raise TypeError(f"expected a tsimb.data.Votes table, got {type(votes).__name__}; build one with "
                        "Votes(table, n_classes) from a (series, worker, label) DataFrame")
    used = np.unique(votes.table["label"].to_numpy())
    if used.size < 2:
        raise ValueError(f"every vote is class {int(used[0])} of {votes.n_classes}: aggregating needs votes for at "
                         "least two classes (with one, no worker can be told apart from another)")
    if workers is not None:
        expected = np.unique(np.asarray(workers, dtype=np.int64))
        present = votes.workers
        silent = np.setdiff1d(expected, present)
        if silent.size:
            raise ValueError(f"worker(s) {silent.tolist()} have no vote, so their confusion matrices cannot be "
                             "estimated; drop them from `workers` or give them votes")
        unknown = np.setdiff1d(present, expected)
        if unknown.size:
            raise ValueError(f"the votes come from worker(s) {unknown.tolist()} that are not in `workers` "
                             f"{expected.tolist()}")
    return votes


def one_hot(votes: Votes) -> tuple[np.ndarray, np.ndarray]:
    """The votes as a ``(n_series, n_workers, K)`` float64 one-hot array (all-zero where a
    worker did not vote) and the sorted worker ids its second axis stands for."""
    table = votes.table
    workers, column = np.unique(table["worker"].to_numpy(), return_inverse=True)
    V = np.zeros((votes.n_series, workers.size, votes.n_classes))
    V[table["series"].to_numpy(), column, table["label"].to_numpy()] = 1.0
    return V, workers


def majority_vote(votes: Votes, *, ties: Ties = "random", seed: int = 0) -> np.ndarray:
    """The most voted class of each series (majority voting, the MV baseline of Wang 2023,
    sec. 3.3.2.1, and the labels of ICED's warm-up, Alg. 3.1 line 2).

    Ties (an even number of votes split evenly, or missing votes) are broken by a draw
    seeded by ``seed`` among the tied classes (``ties="random"``, the default), or by the
    lowest label (``ties="lowest"``). The paper does not say; a seeded draw is our choice
    because the lowest label would hand every tie to class 0, which is the majority class of
    most imbalanced sets and would bias the labels exactly where the chapter measures bias.
    """
    counts = check_votes(votes).counts()
    top = counts == counts.max(axis=1, keepdims=True)
    if ties == "lowest":
        return top.argmax(axis=1).astype(np.int64)
    if ties != "random":
        raise ValueError(f"ties must be 'random' or 'lowest', got {ties!r}")
    draw = np.random.default_rng(seed).random(counts.shape)
    return np.where(top, draw, -1.0).argmax(axis=1).astype(np.int64)


@dataclass
class DawidSkeneResult:
    """What :func:`dawid_skene` returns.

    Attributes:
        posteriors: ``(n_series, K)``, ``p(T_i = c | Y)`` (eq. 3.2); one-hot for ``prior="hard"``.
        confusion: ``(n_workers, K, K)``, ``confusion[w, a, b] = Psi_w(a, b)``: the probability
            that worker ``workers[w]`` votes ``b`` for a series of true class ``a`` (rows sum to 1).
        prior: ``(K,)``, the class prior ``Phi`` in force at the end.
        workers: the worker ids, in the order of ``confusion``.
        log_likelihood: per iteration, the observed-data log-likelihood per vote,
            ``log p(Y | Psi, Phi) / n_votes`` with ``p(Y | Psi, Phi) = prod_i sum_c Phi_c
            prod_u Psi_u(c, y_iu)``, under the parameters the iteration's E-step used.
        n_iter: EM iterations run; ``converged``: whether the tolerance stopped it.
    """

    posteriors: np.ndarray
    confusion: np.ndarray
    prior: np.ndarray
    workers: np.ndarray
    log_likelihood: list[float] = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False

    @property
    def labels(self) -> np.ndarray:
        """The most probable class of each series (the paper's ``t_i``; ties: lowest label)."""
        return self.posteriors.argmax(axis=1).astype(np.int64)


def _m_step(T: np.ndarray, V: np.ndarray, prior: Prior, min_prob: float) -> tuple[np.ndarray, np.ndarray]:
    """Worker confusion matrices and class prior from the current (soft or hard) labels ``T``.

    ``Psi_w(a, b) = d(w, a, b) / d(w, a)`` (sec. 3.2.3): expected counts of worker ``w``
    voting ``b`` on series of class ``a``. A row with no mass (no series of class ``a``
    voted on by ``w``) is uniform; every entry is floored at ``min_prob`` and the rows
    renormalised, so that a never-seen vote has a small, not a zero, probability (crowd-kit
    floors at 1e-10 too)."""
    counts = np.einsum("ia,iwb->wab", T, V)
    total = counts.sum(axis=2, keepdims=True)
    K = T.shape[1]
    psi = np.where(total > 0, counts / np.where(total > 0, total, 1.0), 1.0 / K)
    psi = np.maximum(psi, min_prob)
    psi /= psi.sum(axis=2, keepdims=True)
    if prior == "uniform":
        phi = np.full(K, 1.0 / K)
    else:  # soft: mean posterior; hard: share of series whose estimated label is c (T is one-hot)
        phi = np.maximum(T.mean(axis=0), min_prob)
        phi /= phi.sum()
    return psi, phi


def dawid_skene(votes: Votes, *, prior: Prior = "soft", n_iter: int = 100, tol: float | None = 1e-5,
                min_prob: float = 1e-10, seed: int = 0) -> DawidSkeneResult:
    """Dawid-Skene EM (Dawid and Skene 1979) as ICED's true-label inference states it (Wang
    2023, sec. 3.2.3): worker confusion matrices ``Psi_w(a, b)`` and a class prior ``Phi``,
    the joint likelihood of eq. 3.1 and the posterior of eq. 3.2,
    ``p(T_i = a | Y) ~ Phi_a prod_u Psi_u(a, y_iu)``. Vectorised over series (einsum).

    ``prior`` picks one of three variants, because the text both learns ``Phi`` in its M-step
    and says D&S "assumes a uniform label distribution" (sec. 3.3.2.1):

    * ``"uniform"``: ``Phi`` fixed at ``1/K``; soft posteriors; started from the vote shares.
    * ``"hard"``: the dissertation's count updates: each E-step keeps only the most probable
      class (``t_i``, ties to the lowest label), ``Psi`` and ``Phi`` are ratios of counts of
      those hard labels (classification EM); started from the majority vote (ties drawn with
      ``seed``). It also stops when no label changes (a fixed point).
    * ``"soft"``: the usual EM with a learned prior, ``Phi`` = mean posterior, started from
      the vote shares (crowd-kit's ``DawidSkene``: same start, same updates, so the
      posteriors agree with it at the same iteration count).

    Each iteration is an M-step (from the current labels) then an E-step; after the last, one
    more M-step makes ``confusion`` and ``prior`` those of the returned posteriors.
    ``n_iter`` is the most iterations; ``tol`` stops earlier when the per-vote
    log-likelihood changes by less than ``tol`` between iterations (``None``: always run
    ``n_iter``, which is how to compare with another implementation). ``min_prob`` floors the
    confusion entries and the prior (a zero would make a log-likelihood infinite).

    Raises ``TypeError``/``ValueError`` on what :func:`check_votes` refuses and on bad options.
    """
    votes = check_votes(votes)
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
    if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive integer, got {n_iter!r}")
    if tol is not None and not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a non-negative number or None, got {tol!r}")
    if not 0 < min_prob < 1 / votes.n_classes:
        raise ValueError(f"min_prob must be in (0, 1/K) = (0, {1 / votes.n_classes:g}), got {min_prob!r}")
    V, workers = one_hot(votes)
    K, n_votes = votes.n_classes, len(votes.table)
    if prior == "hard":
        T = np.eye(K)[majority_vote(votes, seed=seed)]
    else:
        T = votes.shares().astype(np.float64)
    history: list[float] = []
    converged = False
    iterations = 0
    for iterations in range(1, n_iter + 1):
        psi, phi = _m_step(T, V, prior, min_prob)
        log_joint = np.log(phi)[None, :] + np.einsum("iwb,wab->ia", V, np.log(psi))  # eq. 3.1 per series and class
        log_evidence = logsumexp(log_joint, axis=1, keepdims=True)
        history.append(float(log_evidence.sum()) / n_votes)
        if prior == "hard":
            new_T = np.eye(K)[log_joint.argmax(axis=1)]
            unchanged = np.array_equal(new_T, T)
            T = new_T
        else:
            T = np.exp(log_joint - log_evidence)  # eq. 3.2, normalised
            unchanged = False
        if unchanged or (tol is not None and len(history) > 1 and abs(history[-1] - history[-2]) < tol):
            converged = True
            break
    psi, phi = _m_step(T, V, prior, min_prob)
    return DawidSkeneResult(T, psi, phi, workers, history, iterations, converged)


def worker_confusion(votes: Votes, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each worker's empirical confusion matrix against known true labels, ``(n_workers, K,
    K)`` with rows = true class (a row with no series is NaN), and the worker ids: what
    :func:`dawid_skene` estimates without the true labels (the chapter's figure of estimated
    against true confusion)."""
    votes = check_votes(votes)
    y_true = _check_truth(y_true, votes)
    V, workers = one_hot(votes)
    counts = np.einsum("ia,iwb->wab", np.eye(votes.n_classes)[y_true], V)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / counts.sum(axis=2, keepdims=True), workers


def label_accuracy(labels: np.ndarray, y_true: np.ndarray, n_classes: int | None = None) -> dict[str, object]:
    """How well aggregated ``labels`` match the true ones: ``accuracy`` overall and
    ``per_class`` (the recall of each true class, NaN for a class with no series), the
    per-class view in which an aggregator's bias under imbalance shows (Wang 2023, Fig. 3.2
    reports the overall accuracy only)."""
    labels, y_true = np.asarray(labels), np.asarray(y_true)
    if labels.shape != y_true.shape or labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"labels and true labels must be equal-length non-empty vectors, got shapes "
                         f"{labels.shape} and {y_true.shape}")
    K = int(max(labels.max(), y_true.max()) + 1) if n_classes is None else int(n_classes)
    per_class = [float((labels[y_true == c] == c).mean()) if (y_true == c).any() else float("nan")
                 for c in range(K)]
    return {"accuracy": float((labels == y_true).mean()), "per_class": per_class}


def _check_truth(y_true: object, votes: Votes) -> np.ndarray:
    y = np.asarray(y_true)
    if y.shape != (votes.n_series,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"true labels must be an integer vector with one label per series ({votes.n_series}), "
                         f"got shape {y.shape} and dtype {y.dtype}")
    if y.min() < 0 or y.max() >= votes.n_classes:
        raise ValueError(f"true labels must lie in 0..{votes.n_classes - 1}, got {y.min()}..{y.max()}")
    return y.astype(np.int64)
