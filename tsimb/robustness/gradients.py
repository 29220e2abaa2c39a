"""The input gradient of the classification loss, shared by the attacks of
:mod:`tsimb.robustness.attacks` and the gradient-steered augmentations of
:mod:`tsimb.augment` (Out-Sign-Grad, Sarkar et al. eq. 9)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from torch import nn

from ..models import Classifier


def loss_gradient(model: Classifier, x: torch.Tensor, y: torch.Tensor, loss: nn.Module | None = None) -> torch.Tensor:
    """``d L(model(x), y) / dx`` with the loss summed over the batch, so each series'
    gradient does not depend on the batch size. ``L`` is cross entropy, or ``loss``, a
    per-sample loss ``(logits, targets) -> (n,)`` such as :class:`~tsimb.losses.LDAMLoss`
    (adversarial training's inner maximisation of the training loss, Madry et al. 2018,
    eq. 2.1; Wang 2023, eq. 4.11). Call it inside :func:`tsimb.runtime.evaluating`."""
    x = x.detach().requires_grad_(True)
    logits = model(x)
    value = F.cross_entropy(logits, y, reduction="sum") if loss is None else loss(logits, y).sum()
    (grad,) = torch.autograd.grad(value, x)
    return grad
