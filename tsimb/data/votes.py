"""Labels from several annotators: :class:`Votes`, a tidy table of ``(series, worker, label)``
rows, the layout crowd-kit and most crowdsourcing tools use.

A vote table is accepted wherever training labels are: :func:`tsimb.train.fit` trains on its
vote shares (soft targets), and the crowd-labels chapter's aggregators (majority vote,
Dawid and Skene 1979, ICED: Wang 2023, ch. 3) turn it into labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

COLUMNS = ("series", "worker", "label")


@dataclass(frozen=True)
class Votes:
    """Votes of workers on series: ``table`` has integer columns ``series`` (index of a series
    in the data set, ``0..n_series-1``), ``worker`` and ``label`` (``0..n_classes-1``), one
    row per vote; a worker votes at most once per series. Every series needs a vote.

    Raises ``ValueError`` naming the problem: missing columns, an empty table, non-integer or
    negative ids, labels outside the classes, a repeated (series, worker) pair, a series
    without votes, fewer than two classes.
    """

    table: pd.DataFrame
    n_classes: int
    n_series: int

    def __init__(self, table: pd.DataFrame, n_classes: int | None = None, n_series: int | None = None) -> None:
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"votes must be a pandas DataFrame with columns {COLUMNS}, got {type(table).__name__}")
        missing = [c for c in COLUMNS if c not in table.columns]
        if missing:
            raise ValueError(f"the vote table lacks column(s) {missing}; it needs {list(COLUMNS)}")
        if table.empty:
            raise ValueError("the vote table is empty: give at least one vote per series")
        table = table[list(COLUMNS)].reset_index(drop=True)
        for column in COLUMNS:
            values = table[column].to_numpy()
            if not np.issubdtype(values.dtype, np.integer) or (values < 0).any():
                raise ValueError(f"vote column {column!r} must hold non-negative integers, got {values[:5]!r}...")
        k = int(table["label"].max()) + 1 if n_classes is None else int(n_classes)
        n = int(table["series"].max()) + 1 if n_series is None else int(n_series)
        if k < 2:
            raise ValueError(f"votes need at least two classes, got labels {sorted(table['label'].unique())}")
        if table["label"].max() >= k:
            raise ValueError(f"labels go up to {table['label'].max()} but there are {k} classes")
        if table["series"].max() >= n:
            raise ValueError(f"series ids go up to {table['series'].max()} but there are {n} series")
        repeated = table.duplicated(["series", "worker"])
        if repeated.any():
            series, worker = table.loc[repeated.idxmax(), ["series", "worker"]]
            raise ValueError(f"worker {worker} votes more than once on series {series}; keep one vote per pair")
        unvoted = np.setdiff1d(np.arange(n), table["series"].unique())
        if unvoted.size:
            raise ValueError(f"{unvoted.size} series have no vote (e.g. {unvoted[:5].tolist()}); every training "
                             "series needs at least one")
        object.__setattr__(self, "table", table.astype(np.int64))
        object.__setattr__(self, "n_classes", k)
        object.__setattr__(self, "n_series", n)

    @classmethod
    def from_matrix(cls, matrix: np.ndarray, n_classes: int | None = None, missing: int = -1) -> "Votes":
        """Votes from a ``(n_series, n_workers)`` label matrix, ``missing`` where a worker did not vote."""
        matrix = np.asarray(matrix)
        if matrix.ndim != 2:
            raise ValueError(f"a vote matrix is (n_series, n_workers), got shape {matrix.shape}")
        series, worker = np.nonzero(matrix != missing)
        table = pd.DataFrame({"series": series, "worker": worker, "label": matrix[series, worker]})
        return cls(table, n_classes, matrix.shape[0])

    @property
    def workers(self) -> np.ndarray:
        """The worker ids, sorted."""
        return np.sort(self.table["worker"].unique())

    def matrix(self, missing: int = -1) -> np.ndarray:
        """The ``(n_series, max worker id + 1)`` label matrix, ``missing`` where no vote."""
        out = np.full((self.n_series, int(self.table["worker"].max()) + 1), missing, dtype=np.int64)
        out[self.table["series"], self.table["worker"]] = self.table["label"]
        return out

    def counts(self) -> np.ndarray:
        """Votes per series and class, ``(n_series, n_classes)``."""
        out = np.zeros((self.n_series, self.n_classes), dtype=np.int64)
        np.add.at(out, (self.table["series"].to_numpy(), self.table["label"].to_numpy()), 1)
        return out

    def shares(self) -> np.ndarray:
        """Each series' vote shares, ``(n_series, n_classes)`` rows summing to 1: soft targets
        for :func:`tsimb.train.fit`."""
        counts = self.counts().astype(np.float32)
        return counts / counts.sum(axis=1, keepdims=True)
