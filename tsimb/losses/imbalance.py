"""Losses and class weights for imbalanced classification.

Every loss here maps ``(logits, targets, class_weight)`` to a vector of per-sample
losses; :func:`tsimb.train.fit` combines it with class and sample weights, so one
reduction is chosen per recipe (``fit(loss_reduction=)``): the weighted mean
``sum(w_i l_i) / sum(w_i)`` of PyTorch's ``cross_entropy(weight=...)`` and LDAM-DRW, or
Cui et al.'s ``sum(w_i l_i) / B`` for the class-balanced losses. Explained in the book's chapter
*Baselines*, section "Losses".
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..registry import Registry


class CrossEntropy(nn.Module):
    """Plain cross entropy, per sample."""

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets, reduction="none")


class FocalLoss(nn.Module):
    """Focal loss, ``FL(p_t) = -(1 - p_t)^gamma log(p_t)`` (Lin et al. 2017, eq. 4), per sample.

    ``gamma = 0`` is cross entropy.
    """

    def __init__(self, gamma: float = 2.0) -> None:
        super().__init__()
        if not gamma >= 0:
            raise ValueError(f"focal gamma must be >= 0, got {gamma}")
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1)
        # 1 - p_t as -expm1(log p_t), clamped away from 0: for 0 < gamma < 1 the power's
        # derivative is infinite at 0, which gave NaN gradients once p_t rounded to 1
        one_minus_p = (-torch.expm1(log_p)).clamp_min(1e-12)
        return -(one_minus_p ** self.gamma) * log_p


class SigmoidFocalLoss(FocalLoss):
    """The per-class sigmoid focal loss of Cui et al. (2019, sec. 4, "class-balanced focal
    loss"), per sample: ``sum_j (1 - p^t_j)^gamma * BCE(z_j, 1[j = y])`` with
    ``p^t_j = sigmoid(z^t_j)``, ``z^t_j = z_j`` for the true class and ``-z_j`` otherwise.
    Their code divides the class-weighted sum by the batch size, so use it with
    ``fit(loss_reduction="mean")`` (the ``cb-focal`` baseline does).
    """

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(targets, logits.shape[1]).to(logits.dtype)
        bce = F.binary_cross_entropy_with_logits(logits, onehot, reduction="none")
        # (1 - p^t)^gamma = exp(-gamma * (y z + log(1 + exp(-z)))), Cui et al.'s stable form
        modulator = torch.exp(-self.gamma * (onehot * logits + F.softplus(-logits)))
        return (modulator * bce).sum(dim=1)


class LDAMLoss(nn.Module):
    """Label-distribution-aware margin loss (Cao et al. 2019, sec. 3.2), per sample.

    The true class's logit is lowered by a margin ``Delta_j = C / n_j^{1/4}`` before a
    scaled softmax cross entropy, ``-log softmax(s * (z - Delta_y 1_y))_y``; ``C`` is set
    so the largest margin equals ``max_margin``. The margins live in a buffer, so the
    loss moves with ``.to(device)``.
    """

    margins: torch.Tensor

    def __init__(self, class_counts: np.ndarray | list[int], max_margin: float = 0.5, scale: float = 30.0) -> None:
        super().__init__()
        counts = np.asarray(class_counts, dtype=np.float64)
        if (counts <= 0).any():
            raise ValueError("LDAM needs a positive count for every class")
        margins = 1.0 / counts**0.25
        self.register_buffer("margins", torch.as_tensor(margins * (max_margin / margins.max()), dtype=torch.float32))
        self.scale = scale

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        shifted = logits - F.one_hot(targets, logits.shape[1]).to(logits.dtype) * self.margins[targets][:, None]
        return F.cross_entropy(self.scale * shifted, targets, reduction="none")


def inverse_frequency_weights(class_counts: np.ndarray | list[int]) -> np.ndarray:
    """``w_c = n / (K n_c)``, scikit-learn's ``class_weight="balanced"`` rule (mean weight 1
    over samples)."""
    counts = np.asarray(class_counts, dtype=np.float64)
    if (counts <= 0).any():
        raise ValueError("every class needs at least one training series")
    return counts.sum() / (counts.size * counts)


def class_balanced_weights(class_counts: np.ndarray | list[int], beta: float = 0.9999) -> np.ndarray:
    """Class-balanced weights from the effective number of samples (Cui et al. 2019,
    sec. 3): ``E_n = (1 - beta^n) / (1 - beta)``, ``w_c ∝ 1 / E_{n_c}``, normalised to sum to K."""
    counts = np.asarray(class_counts, dtype=np.float64)
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    if (counts <= 0).any():
        raise ValueError("every class needs at least one training series")
    weights = (1.0 - beta) / (1.0 - beta**counts)
    return weights * counts.size / weights.sum()


class DeferredReweighting:
    """Deferred re-weighting (DRW; Cao et al. 2019, sec. 3.3, Algorithm 1): no class weights
    before ``start_epoch``, then ``weights`` (by default class-balanced, beta 0.9999)."""

    def __init__(self, weights: np.ndarray, start_epoch: int) -> None:
        if start_epoch < 0:
            raise ValueError("start_epoch must be >= 0")
        self.weights = np.asarray(weights, dtype=np.float64)
        if self.weights.ndim != 1 or not np.isfinite(self.weights).all() or (self.weights < 0).any():
            raise ValueError(f"DRW weights must be a vector of finite, non-negative class weights, got {weights!r}")
        if not (self.weights > 0).any():  # caught here, not at start_epoch, deep into training
            raise ValueError("DRW weights are zero for every class: after start_epoch nothing would be learnt")
        self.start_epoch = start_epoch

    def __call__(self, epoch: int) -> np.ndarray | None:
        return self.weights if epoch >= self.start_epoch else None


def _ldam(class_counts: np.ndarray | None = None, **kwargs) -> nn.Module:
    if class_counts is None:
        raise ValueError("the LDAM loss needs the training class counts")
    return LDAMLoss(class_counts, **kwargs)


# loss name -> (class_counts, **constants) -> per-sample loss module
LOSSES: Registry[Callable[..., nn.Module]] = Registry("loss")
LOSSES.add("ce", lambda class_counts=None: CrossEntropy(), "cross entropy")
LOSSES.add("focal", lambda class_counts=None, **kw: FocalLoss(**kw), "softmax focal loss (Lin et al. 2017, eq. 4)")
LOSSES.add("sigmoid-focal", lambda class_counts=None, **kw: SigmoidFocalLoss(**kw),
           "sigmoid focal loss (Cui et al. 2019, sec. 4)")
LOSSES.add("ldam", _ldam, "label-distribution-aware margin loss (Cao et al. 2019, sec. 3.2)")


def make_loss(name: str, class_counts: np.ndarray | None = None, **kwargs) -> nn.Module:
    """A per-sample loss by name (see :data:`LOSSES`): ``ce``, ``focal`` (``gamma``),
    ``sigmoid-focal`` or ``ldam`` (needs ``class_counts``; ``max_margin``, ``scale``)."""
    return LOSSES[name.lower()](class_counts, **kwargs)
