"""The input gradient of the classification loss, shared by the attacks of
:mod:`tsimb.robustness.attacks` and the gradient-steered augmentations of
:mod:`tsimb.augment` (Out-Sign-Grad, Sarkar et al. eq. 9)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models import Classifier


def loss_gradient(model: Classifier, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``d CE(model(x), y) / dx`` with the loss summed over the batch, so each series'
    gradient does not depend on the batch size. Call it inside :func:`tsimb.runtime.evaluating`."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(x), y, reduction="sum"), x)
    return grad
