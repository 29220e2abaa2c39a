"""Metrics for imbalanced classification, computed with scikit-learn and imbalanced-learn.

:func:`evaluate` returns every metric the book reports as a flat ``{name: value}``
dict, so results tables stay tidy (one row per data set, method, seed, metric).
Explained in the book's chapter *Baselines*, section "Metrics".
"""

from __future__ import annotations

import numpy as np
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    matthews_corrcoef,
    recall_score,
)
from sklearn.preprocessing import label_binarize


def macro_pr_auc(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Mean over classes of one-vs-rest average precision (area under the PR curve);
    classes absent from ``y_true`` are skipped."""
    y_true, proba = _check_inputs(y_true, proba)
    n_classes = proba.shape[1]
    onehot = label_binarize(y_true, classes=np.arange(n_classes))
    if n_classes == 2:
        onehot = np.column_stack([1 - onehot[:, 0], onehot[:, 0]])
    present = onehot.sum(axis=0) > 0
    return float(np.mean([average_precision_score(onehot[:, k], proba[:, k]) for k in np.flatnonzero(present)]))


def group_accuracy(y_true: np.ndarray, y_pred: np.ndarray, classes: list[int]) -> float:
    """Accuracy over the test series whose true class is in ``classes`` (NaN if none)."""
    mask = np.isin(y_true, classes)
    return float((y_true[mask] == y_pred[mask]).mean()) if mask.any() else float("nan")


def _check_inputs(y_true: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``ValueError`` unless ``y_true`` holds ``n >= 1`` integer labels in ``0..K-1`` and
    ``proba`` is a finite ``(n, K)`` array: a label outside the columns would be scored
    against the wrong class (labels [0, 3] with two columns gave a PR-AUC of 1.0)."""
    y_true, proba = np.asarray(y_true), np.asarray(proba)
    if y_true.ndim != 1:
        raise ValueError(f"y_true must be a vector of labels, got shape {y_true.shape}")
    if y_true.size == 0:
        raise ValueError("y_true is empty: there is nothing to evaluate")
    if proba.ndim != 2 or proba.shape[0] != y_true.shape[0] or proba.shape[1] < 1:
        raise ValueError(f"proba must be shaped (n, K) with n={y_true.shape[0]}, got {proba.shape}")
    if not np.issubdtype(proba.dtype, np.number):
        raise ValueError(f"proba must hold numbers, got dtype {proba.dtype}")
    bad_rows = ~np.isfinite(proba).all(axis=1)
    if bad_rows.any():
        raise ValueError(f"proba holds NaN or infinite values in {int(bad_rows.sum())} of {len(proba)} rows "
                         "(a model with NaN weights?)")
    if np.issubdtype(y_true.dtype, np.floating) and np.isfinite(y_true).all() and (y_true % 1 == 0).all():
        y_true = y_true.astype(np.int64)  # 0.0/1.0 labels are fine; 0.5 or NaN are not
    if not np.issubdtype(y_true.dtype, np.integer):
        raise ValueError(f"y_true must hold integer labels 0..K-1, got dtype {y_true.dtype}"
                         + (" with NaN" if np.issubdtype(y_true.dtype, np.floating) and np.isnan(y_true).any()
                            else ""))
    outside = (y_true < 0) | (y_true >= proba.shape[1])
    if outside.any():
        raise ValueError(f"y_true holds label(s) {sorted(set(y_true[outside].tolist()))[:5]} outside "
                         f"0..{proba.shape[1] - 1}, the {proba.shape[1]} columns of proba; encode the labels "
                         "as 0..K-1 (tsimb.data.encode_labels) with one column per class")
    return y_true, proba


def evaluate(
    y_true: np.ndarray,
    proba: np.ndarray,
    majority: list[int] | None = None,
    minority: list[int] | None = None,
) -> dict[str, float]:
    """All metrics from true labels and predicted probabilities ``(n, K)``.

    Macro F1 and G-mean average over all ``K`` classes of ``proba``: a class absent from
    ``y_true`` counts with F1 0 and recall 0 there (scikit-learn's ``zero_division=0``),
    which lowers both; the book's test splits hold every class.

    Returns accuracy, balanced accuracy, macro and micro F1, MCC, macro PR-AUC, G-mean
    (imbalanced-learn's multi-class geometric mean of recalls), the recall of each class
    (``recall_<k>``) and, when the halves are given (see
    :func:`tsimb.data.class_halves`), the accuracy on the majority and minority halves.

    Raises ``ValueError`` for empty input, labels outside ``0..K-1`` (or not integers)
    and NaN or infinite probabilities.
    """
    y_true, proba = _check_inputs(y_true, proba)
    labels = np.arange(proba.shape[1])
    y_pred = proba.argmax(axis=1)
    out = {
        "accuracy": accuracy_score(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "macro_f1": f1_score(y_true, y_pred, average="macro", labels=labels, zero_division=0),
        "micro_f1": f1_score(y_true, y_pred, average="micro", labels=labels, zero_division=0),
        "mcc": matthews_corrcoef(y_true, y_pred),
        "macro_pr_auc": macro_pr_auc(y_true, proba),
        "g_mean": geometric_mean_score(y_true, y_pred, labels=labels, average="multiclass"),
    }
    recalls = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    out.update({f"recall_{k}": r for k, r in zip(labels, recalls)})
    if majority is not None:
        out["majority_accuracy"] = group_accuracy(y_true, y_pred, majority)
    if minority is not None:
        out["minority_accuracy"] = group_accuracy(y_true, y_pred, minority)
    return {k: float(v) for k, v in out.items()}
