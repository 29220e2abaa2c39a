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
    """
    y_true = np.asarray(y_true)
    proba = np.asarray(proba)
    if proba.ndim != 2 or proba.shape[0] != y_true.shape[0]:
        raise ValueError(f"proba must be shaped (n, K) with n={y_true.shape[0]}, got {proba.shape}")
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
