"""How good are generated series? Three post-hoc checks, pure functions on numpy arrays
``(n, channels, length)``, for the samples of IB-GAN (Deng et al. 2022, "IB-GAN: A Unified
Approach for Multivariate Time Series Classification under Class Imbalance", SDM; sec. 2.2.2
argues imputation gives more realistic and less collapsed samples than white noise) and of
its GAN baselines. The paper measures quality only through downstream classification;
these follow common practice for time-series GANs:

* :func:`discriminative_score`: ``|accuracy - 0.5|`` of a post-hoc classifier telling real
  from generated (the discriminative score of Yoon et al. 2019, TimeGAN); 0 is indistinguishable.
* :func:`tstr_per_class`: train on synthetic, test on real (Esteban et al. 2017), per class.
* :func:`diversity`: mean pairwise Euclidean distance within a class, generated beside real;
  a collapsed generator scores 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier

from ..data import validate_series


def _flat(X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1)


def _features(X: np.ndarray) -> np.ndarray:
    """Raw values plus per-channel mean, spread and roughness (mean |first difference|): a
    forest on raw values alone splits on single time steps and misses noise-like series."""
    X = np.asarray(X, dtype=np.float64)
    summary = [X.mean(axis=2), X.std(axis=2), np.abs(np.diff(X, axis=2)).mean(axis=2)]
    return np.concatenate([_flat(X), *summary], axis=1)


def _check_pair(real: np.ndarray, generated: np.ndarray) -> None:
    validate_series(np.asarray(real))
    validate_series(np.asarray(generated))
    if np.shape(real)[1:] != np.shape(generated)[1:]:
        raise ValueError(f"real and generated series must share (channels, length): "
                         f"{np.shape(real)[1:]} vs {np.shape(generated)[1:]}")


def discriminative_score(real: np.ndarray, generated: np.ndarray, *, folds: int = 5, seed: int = 0,
                         trees: int = 50) -> float:
    """``|accuracy - 0.5|`` of a random forest telling ``real`` from ``generated`` series under
    ``folds``-fold cross-validation (0: indistinguishable, 0.5: perfectly told apart); a quality
    check for the samples of Deng et al. (2022), sec. 2.2.2.

    Folds are assigned within each set by position with the same seeded permutation, so a
    generated copy of a real series lands in the same fold as its twin; otherwise copies
    "anti-learn" (the twin in the training fold carries the other label) down to accuracy 0.
    """
    _check_pair(real, generated)
    n_real, n_gen = len(real), len(generated)
    folds = min(folds, n_real, n_gen)
    if folds < 2:
        raise ValueError("discriminative_score needs at least two real and two generated series")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(max(n_real, n_gen))
    fold = np.concatenate([perm[perm < n_real] % folds, perm[perm < n_gen] % folds])
    features = np.concatenate([_features(real), _features(generated)])
    is_real = np.concatenate([np.ones(n_real, dtype=int), np.zeros(n_gen, dtype=int)])
    correct = 0
    for f in range(folds):
        test = fold == f
        forest = RandomForestClassifier(trees, random_state=seed, n_jobs=1)
        forest.fit(features[~test], is_real[~test])
        correct += int((forest.predict(features[test]) == is_real[test]).sum())
    return abs(correct / len(is_real) - 0.5)


def tstr_per_class(X_syn: np.ndarray, y_syn: np.ndarray, X_real: np.ndarray, y_real: np.ndarray,
                   n_classes: int | None = None) -> pd.DataFrame:
    """Train on synthetic, test on real: a 1-nearest-neighbour (Euclidean) classifier fitted on
    the synthetic series only, its recall on the real series of each class (Esteban et al.
    2017; a quality check for Deng et al. 2022, sec. 3.1's generated minority classes). A class
    without synthetic series is never predicted, so its recall is 0. Columns ``class``,
    ``recall``, ``n_real``, ``n_synthetic``."""
    _check_pair(X_real, X_syn)
    validate_series(np.asarray(X_syn), np.asarray(y_syn))
    validate_series(np.asarray(X_real), np.asarray(y_real))
    y_syn, y_real = np.asarray(y_syn), np.asarray(y_real)
    k = n_classes or int(max(y_syn.max(), y_real.max())) + 1
    knn = KNeighborsClassifier(n_neighbors=1).fit(_flat(X_syn), y_syn)
    correct = knn.predict(_flat(X_real)) == y_real
    n_real = np.bincount(y_real, minlength=k)
    hits = np.bincount(y_real, weights=correct, minlength=k)
    recall = np.divide(hits, n_real, out=np.full(k, np.nan), where=n_real > 0)
    return pd.DataFrame({"class": np.arange(k), "recall": recall, "n_real": n_real,
                         "n_synthetic": np.bincount(y_syn, minlength=k)})


def mean_pairwise_distance(X: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of series in ``X`` (0 for identical copies): the
    spread a mode-collapsed generator lacks (Deng et al. 2022, sec. 1.1, 2.2.2)."""
    validate_series(np.asarray(X))
    if len(X) < 2:
        raise ValueError("mean_pairwise_distance needs at least two series")
    return float(pdist(_flat(X)).mean())


def diversity(X_gen: np.ndarray, y_gen: np.ndarray, X_real: np.ndarray, y_real: np.ndarray) -> pd.DataFrame:
    """Per class, the mean pairwise distance of the generated and of the real series and their
    ratio (1: as diverse as the data; 0: collapsed), for classes with two or more of each.
    Deng et al. (2022), sec. 2.2.2 (``pmiss`` trades similarity for variety). Columns ``class``,
    ``generated``, ``real``, ``ratio``."""
    _check_pair(X_real, X_gen)
    y_gen, y_real = np.asarray(y_gen), np.asarray(y_real)
    rows = []
    for c in np.intersect1d(y_gen, y_real):  # a loop over classes, not series
        gen, real = X_gen[y_gen == c], X_real[y_real == c]
        if len(gen) < 2 or len(real) < 2:
            continue
        g, r = mean_pairwise_distance(gen), mean_pairwise_distance(real)
        rows.append({"class": int(c), "generated": g, "real": r, "ratio": g / r if r > 0 else np.nan})
    return pd.DataFrame(rows, columns=["class", "generated", "real", "ratio"])
