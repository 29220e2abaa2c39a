"""How a crowd-labelled training set reaches a method: :class:`CrowdDataset`, a
:class:`~tsimb.data.Dataset` that also carries the vote table.

The design: ``y`` of a crowd data set is the **majority vote** (so every method of the
registry trains on it unchanged: ``METHODS["none"]`` on a :class:`CrowdDataset` is the
MV + classifier baseline of Wang 2023, sec. 3.3.2.1), ``votes`` holds the raw votes for the
methods that read them (Dawid-Skene + classifier, Crowd-Layer, ICED), and ``true_y`` the
ground truth where a simulation knows it (never used for training; it scores the label
inference, Fig. 3.2). A crowd method given a plain :class:`~tsimb.data.Dataset` reads its
labels as the votes of a single worker (:func:`votes_of`), which keeps the registry's
contract test meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data import Dataset
from ..data.votes import Votes
from .aggregation import check_votes, majority_vote


@dataclass(frozen=True, eq=False)
class CrowdDataset(Dataset):
    """A training split with crowd votes: ``y`` is their majority vote, ``votes`` the table
    (series ids = positions in ``X``), ``true_y`` the ground truth if known (else ``None``)."""

    votes: Votes | None = None
    true_y: np.ndarray | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.votes is None:
            raise ValueError("a CrowdDataset needs its votes; build it with CrowdDataset.from_votes(dataset, votes)")
        check_votes(self.votes)
        if self.votes.n_series != len(self.X):
            raise ValueError(f"the votes cover {self.votes.n_series} series but the data set has {len(self.X)}")
        if self.votes.n_classes != self.n_classes:
            raise ValueError(f"the votes have {self.votes.n_classes} classes but the data set names "
                             f"{self.n_classes} ({self.class_names})")
        if self.true_y is not None:
            true_y = np.asarray(self.true_y)
            if true_y.shape != self.y.shape or not np.issubdtype(true_y.dtype, np.integer) or (
                    true_y.size and (true_y.min() < 0 or true_y.max() >= self.n_classes)):
                raise ValueError(f"true_y must be {len(self.y)} integer labels in 0..{self.n_classes - 1}")

    @classmethod
    def from_votes(cls, dataset: Dataset, votes: Votes, *, seed: int = 0, keep_truth: bool = True) -> "CrowdDataset":
        """``dataset``'s series with ``votes`` on them: ``y`` becomes the majority vote (ties
        drawn with ``seed``, :func:`~tsimb.crowd.majority_vote`) and ``dataset.y`` is kept as
        ``true_y`` (``keep_truth=False``: forgotten)."""
        votes = check_votes(votes)
        if votes.n_series != len(dataset):
            raise ValueError(f"the votes cover {votes.n_series} series but {dataset.name} has {len(dataset)}")
        return cls(dataset.name, dataset.split, dataset.X, majority_vote(votes, seed=seed), dataset.class_names,
                   dataset.source, votes, dataset.y.copy() if keep_truth else None)

    def subset(self, index: np.ndarray) -> "CrowdDataset":
        """The series at ``index`` with their votes (series renumbered to their new positions)."""
        index = np.asarray(index, dtype=np.int64)
        return CrowdDataset(self.name, self.split, self.X[index], self.y[index], self.class_names, self.source,
                            subset_votes(self.votes, index),
                            None if self.true_y is None else np.asarray(self.true_y)[index])


def subset_votes(votes: Votes, index: np.ndarray) -> Votes:
    """The votes on the series at ``index``, renumbered ``0..len(index)-1`` in that order
    (a series picked twice gets its votes twice, under both new ids)."""
    index = np.asarray(index, dtype=np.int64)
    table = votes.table
    position = pd.DataFrame({"series": index, "new": np.arange(index.size)})
    picked = position.merge(table, on="series", how="inner", sort=False)
    picked = picked.sort_values(["new", "worker"], kind="stable")
    out = pd.DataFrame({"series": picked["new"].to_numpy(), "worker": picked["worker"].to_numpy(),
                        "label": picked["label"].to_numpy()})
    return Votes(out, votes.n_classes, index.size)


def votes_of(dataset: Dataset) -> Votes:
    """The votes of a data set: a :class:`CrowdDataset`'s own, or a plain data set's labels as
    the votes of one worker (id 0)."""
    if isinstance(dataset, CrowdDataset):
        return dataset.votes
    table = pd.DataFrame({"series": np.arange(len(dataset)), "worker": 0, "label": dataset.y})
    return Votes(table, dataset.n_classes, len(dataset))
