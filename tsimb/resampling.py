"""Synthetic over-sampling of series (SMOTE family) through imbalanced-learn.

Each series is flattened to a vector of ``channels * length`` values, over-sampled,
and reshaped; interpolating two z-normalised series point by point gives another
plausible series when the two are aligned in time, which is the assumption SMOTE makes
here. Explained in the book's chapter *Baselines*, section "Re-sampling".

* SMOTE: Chawla et al. (2002), "SMOTE: synthetic minority over-sampling technique".
* ADASYN: He et al. (2008).
* Borderline-SMOTE: Han et al. (2005).
"""

from __future__ import annotations

import numpy as np

from .data import validate_series

OVERSAMPLERS = ("smote", "adasyn", "borderline-smote")


class TooFewSeriesError(ValueError):
    """A class has too few series for neighbour-based over-sampling."""


def oversample(X: np.ndarray, y: np.ndarray, method: str = "smote", k_neighbors: int = 5,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return ``X`` and ``y`` with synthetic minority series appended (the originals first).

    SMOTE appends series until every class has as many as the largest. ADASYN only
    roughly equalises the classes, and both ADASYN and Borderline-SMOTE generate from
    minority series near other classes alone: when there are none (well separated
    classes), they generate nothing and the data come back unchanged (imbalanced-learn
    returns them so for Borderline-SMOTE and raises for ADASYN; here both behave alike).

    ``k_neighbors`` is capped at (smallest class size - 1), so small imbalanced sets still
    work; a class with a single series has no neighbour to interpolate with and raises
    ``ValueError``.
    """
    validate_series(X, y)
    from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE

    counts = np.bincount(y)
    present = counts[counts > 0]
    if present.size < 2:
        raise ValueError("over-sampling needs at least two classes")
    smallest = int(present.min())
    if smallest < 2:
        small = [int(c) for c in np.flatnonzero(counts == smallest)]
        raise TooFewSeriesError(
            f"{method} interpolates between a series and its nearest neighbours of the same "
            f"class, but class(es) {small} have only {smallest} training series; "
            "use random over-sampling or a milder imbalance ratio"
        )
    k = min(k_neighbors, smallest - 1)
    if method == "smote":
        sampler = SMOTE(k_neighbors=k, random_state=seed)
    elif method == "adasyn":
        sampler = ADASYN(n_neighbors=k, random_state=seed)
    elif method == "borderline-smote":
        sampler = BorderlineSMOTE(k_neighbors=k, m_neighbors=min(10, len(y) - 1), random_state=seed)
    else:
        raise ValueError(f"unknown over-sampler {method!r}; choose one of {OVERSAMPLERS}")
    try:
        flat, y_new = sampler.fit_resample(X.reshape(len(X), -1), y)
    except RuntimeError as error:
        if method != "adasyn" or "neigbours" not in str(error):  # imbalanced-learn's spelling
            raise
        return X.astype(np.float32), np.asarray(y, dtype=np.int64)
    return flat.reshape(-1, *X.shape[1:]).astype(np.float32), y_new.astype(np.int64)
