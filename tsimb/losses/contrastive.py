"""Contrastive losses on a batch's features: SRAT's feature separation loss, a supervised
contrastive loss (Wang 2023, dissertation ch. 4, eq. 4.12, after Khosla et al. 2020's
SupCon, eq. 2). Explained in the book's chapter on adversarial training under imbalance.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def separation_loss(features: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """The feature separation loss of SRAT (Wang 2023, eq. 4.12), averaged over the batch:

    ``L_sep(i) = -1/|P(i)| sum_{p in P(i)} log( exp(z_i . z_p / tau) / sum_{a in A(i)} exp(z_i . z_a / tau) )``

    with ``z`` the L2-normalised ``features`` ``(n, dim)`` (SRAT feeds the adversarial
    examples' penultimate features), ``A(i)`` every other series of the batch and ``P(i)``
    those of ``i``'s class. It is Khosla et al. (2020)'s SupCon ``L^sup_out`` with one view
    per series (the adversarial example) instead of two augmented views, and no projection
    head (eq. 4.12 names none).

    Choices where the text is silent, each a NaN of the widely copied SupCon code:

    * features are normalised here, so unnormalised ones are accepted (the dissertation
      writes ``z_i . z_p`` of "feature representations"; SupCon normalises them, and
      without it ``exp`` underflows to ``log 0``); a zero feature vector stays zero
      (similarity 0 to everything) instead of dividing by zero;
    * the denominator is a log-sum-exp over ``A(i)``, never ``log`` of a sum that can
      underflow;
    * an anchor with no other series of its class in the batch (``|P(i)| = 0``, a
      singleton class: common for under-represented classes) has no term, and the loss is
      the mean over the anchors that have one, as pytorch-metric-learning's ``SupConLoss``
      averages (its ``AvgNonZeroReducer``); with no such anchor the loss is 0 (with a
      gradient of zeros, so it can always be added). Unlike that implementation, a batch of
      one class still has a loss (eq. 4.12 defines it: ``A(i) = P(i)``), where
      pytorch-metric-learning returns 0.

    Args:
        features: ``(n, dim)`` features of the batch.
        labels: ``(n,)`` class indices.
        temperature: ``tau > 0``.

    Returns:
        The scalar mean loss.
    """
    if features.dim() != 2:
        raise ValueError(f"features must be (n, dim), got shape {tuple(features.shape)}")
    if labels.shape != (features.shape[0],):
        raise ValueError(f"labels must be one class index per feature row ({features.shape[0]}), "
                         f"got shape {tuple(labels.shape)}")
    if not temperature > 0:
        raise ValueError(f"the separation loss's temperature must be positive, got {temperature!r}")
    n = features.shape[0]
    if n < 2:  # no pair at all: A(i) would be empty and its log-sum-exp -inf
        return features.sum() * 0.0
    z = F.normalize(features, dim=1, eps=1e-8)
    similarity = z @ z.T / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=features.device)
    # log of the softmax over A(i): every series but i itself
    log_prob = similarity - torch.logsumexp(similarity.masked_fill(self_mask, float("-inf")), dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & ~self_mask
    n_positive = positive.sum(dim=1)
    has_positive = n_positive > 0
    if not has_positive.any():
        return features.sum() * 0.0
    per_anchor = -(log_prob * positive).sum(dim=1)[has_positive] / n_positive[has_positive]
    return per_anchor.mean()
