"""Crowd-Layer (Rodrigues and Pereira 2018, "Deep learning from crowds", AAAI; a baseline of
Wang 2023, sec. 3.3.2.1): a classifier followed by one learned ``K x K`` matrix per worker,
trained end to end on the raw votes.

For series ``x`` the classifier gives class probabilities ``p = softmax(f(x))``; worker
``r``'s predicted vote is ``softmax(p @ W_r)`` ("MW", their matrix-per-worker layer,
identity-initialised), and the loss is the cross entropy against each vote that exists,
averaged over the votes of the minibatch (missing votes are masked, as their masked
cross entropy does). At test time the crowd layer is dropped and the classifier predicts.

Shapes are kept explicit (``(B, W, K)``, no ``squeeze``), so a minibatch of one series
works, which crowd-kit's torch version does not.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.votes import Votes
from ..runtime import get_device
from ..train import FitState, Step
from .aggregation import check_votes

MISSING = -1


class CrowdLayer(nn.Module):
    """One ``K x K`` matrix per worker, identity-initialised: ``(B, K)`` class probabilities ->
    ``(B, W, K)`` per-worker vote logits ``p @ W_r`` (Rodrigues and Pereira 2018, sec. 4, "MW")."""

    def __init__(self, n_workers: int, n_classes: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.eye(n_classes).repeat(n_workers, 1, 1))

    def forward(self, proba: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bk,wkl->bwl", proba, self.weight)

    @torch.no_grad()
    def confusion(self) -> np.ndarray:
        """Each worker's implied confusion matrix ``(W, K, K)``: row ``a`` is the vote
        distribution the layer predicts for worker ``r`` on a series the classifier is sure is
        class ``a``, ``softmax(W_r[a])``. At the identity start a row is ``softmax(e_a)``
        (0.73 on the diagonal for two classes), not the identity: the layer's matrices are
        logit maps, not probabilities."""
        return torch.softmax(self.weight, dim=2).cpu().numpy()


class CrowdLayerStep(Step):
    """One minibatch of Crowd-Layer training: the classifier and the crowd layer updated
    together by Adam on the masked cross entropy of the votes (Rodrigues and Pereira 2018,
    eq. for the MW layer with their masked loss).

    ``vote_matrix`` is ``(n_series, n_workers)`` with ``-1`` where a worker did not vote
    (:meth:`tsimb.data.Votes.matrix` after compacting the workers: :func:`vote_matrix`)."""

    def __init__(self, model: nn.Module, X: np.ndarray, vote_matrix: np.ndarray, n_classes: int, *,
                 lr: float = 1e-3, weight_decay: float = 0.0, seed: int = 0,
                 device: torch.device | str | None = None) -> None:
        if X.shape[0] != vote_matrix.shape[0]:
            raise ValueError(f"{X.shape[0]} series but votes on {vote_matrix.shape[0]}")
        if X.shape[0] < 2:
            raise ValueError("need at least two training series")
        self.device = get_device(device)
        self.n, self.n_classes = int(X.shape[0]), int(n_classes)
        self.model = model.to(self.device)
        self.crowd = CrowdLayer(vote_matrix.shape[1], n_classes).to(self.device)
        self.modules = (self.model, self.crowd)
        self.X = torch.as_tensor(X, dtype=torch.float32, device=self.device)
        self.votes = torch.as_tensor(vote_matrix, dtype=torch.long, device=self.device)
        self.optimiser = torch.optim.Adam([*model.parameters(), *self.crowd.parameters()], lr=lr,
                                          weight_decay=weight_decay)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.lr = lr

    def loss(self, x: torch.Tensor, votes: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The mean cross entropy over the existing votes of a batch, and their number."""
        proba = torch.softmax(self.model(x), dim=1)  # (B, K)
        logits = self.crowd(proba)  # (B, W, K)
        present = votes != MISSING
        per_vote = F.cross_entropy(logits.reshape(-1, self.n_classes), votes.clamp(min=0).reshape(-1),
                                   reduction="none").reshape(votes.shape)
        count = present.sum()
        return (per_vote * present).sum() / count.clamp(min=1), int(count)

    def __call__(self, state: FitState, batch: torch.Tensor) -> tuple[torch.Tensor, int]:
        loss, _ = self.loss(self.X[batch], self.votes[batch])
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        return loss.detach().reshape(1), int(batch.numel())

    def divergence_hint(self) -> str:
        return f"lower the learning rate (lr {self.lr:g}) or z-normalise the series"


def vote_matrix(votes: Votes) -> tuple[np.ndarray, np.ndarray]:
    """The ``(n_series, n_workers)`` vote matrix with ``-1`` for a missing vote, workers
    compacted to columns ``0..W-1``, and the worker ids of those columns."""
    votes = check_votes(votes)
    table = votes.table
    workers, column = np.unique(table["worker"].to_numpy(), return_inverse=True)
    out = np.full((votes.n_series, workers.size), MISSING, dtype=np.int64)
    out[table["series"].to_numpy(), column] = table["label"].to_numpy()
    return out, workers
