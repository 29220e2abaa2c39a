"""Re-sampling series through imbalanced-learn: random over-/under-sampling and the
synthetic SMOTE family.

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

from .datasets import validate_series

OVERSAMPLERS = ("smote", "adasyn", "borderline-smote")
RANDOM_SAMPLERS = ("over", "under")


def random_resample_index(y: np.ndarray, how: str, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``y`` after random over- (``"over"``) or under-sampling
    (``"under"``) to equal class counts (imbalanced-learn's ``RandomOverSampler`` and
    ``RandomUnderSampler``, seeded with ``seed``). Used by the ``ros`` and ``rus`` baselines."""
    from imblearn.over_sampling import RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    samplers = {"over": RandomOverSampler, "under": RandomUnderSampler}
    if how not in samplers:
        raise ValueError(f"resample must be 'over' or 'under', got {how!r}")
    sampler = samplers[how](random_state=seed)
    sampler.fit_resample(np.arange(len(y))[:, None], y)
    return np.sort(sampler.sample_indices_)


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
    if method == "adasyn" and _adasyn_has_no_hard_series(X, y, k):
        return X.astype(np.float32), np.asarray(y, dtype=np.int64)
    flat, y_new = sampler.fit_resample(X.reshape(len(X), -1), y)
    return flat.reshape(-1, *X.shape[1:]).astype(np.float32), y_new.astype(np.int64)


def _adasyn_has_no_hard_series(X: np.ndarray, y: np.ndarray, k: int) -> bool:
    """True when some minority class has no series with a neighbour of another class
    among its ``k`` nearest: its ADASYN density ratios are all zero and imbalanced-learn
    raises (He et al. 2008, step 2(c) divides by their sum). Checked up front instead of
    matching the wording of imbalanced-learn's error message."""
    from sklearn.neighbors import NearestNeighbors

    flat = X.reshape(len(X), -1)
    counts = np.bincount(y)
    majority = int(counts.argmax())
    nn = NearestNeighbors(n_neighbors=k + 1).fit(flat)
    for label in np.flatnonzero((counts > 0) & (counts < counts[majority])):
        members = flat[y == label]
        neighbours = nn.kneighbors(members, return_distance=False)[:, 1:]
        if not (y[neighbours] != label).any():
            return True
    return False
