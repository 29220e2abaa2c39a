"""Metrics against scikit-learn / imbalanced-learn computed directly (tsimb.evaluation.metrics)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    matthews_corrcoef,
)

from tsimb.evaluation import evaluate, group_accuracy, macro_pr_auc


def random_predictions(n=80, k=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    y[:k] = np.arange(k)  # every class present
    proba = rng.dirichlet(np.ones(k), size=n)
    return y, proba


@pytest.mark.parametrize("k, seed", [(2, 0), (3, 1), (4, 2), (6, 3)])
def test_evaluate_matches_sklearn(k, seed):
    y, proba = random_predictions(k=k, seed=seed)
    pred = proba.argmax(axis=1)
    out = evaluate(y, proba)
    assert out["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert out["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert out["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert out["micro_f1"] == pytest.approx(f1_score(y, pred, average="micro"))
    assert out["mcc"] == pytest.approx(matthews_corrcoef(y, pred))
    assert out["g_mean"] == pytest.approx(geometric_mean_score(y, pred, average="multiclass"))
    recalls = [np.mean(pred[y == c] == c) for c in range(k)]
    for c in range(k):
        assert out[f"recall_{c}"] == pytest.approx(recalls[c])
    # hand versions of the headline numbers
    assert out["balanced_accuracy"] == pytest.approx(np.mean(recalls))
    assert out["g_mean"] == pytest.approx(np.prod(recalls) ** (1 / k))
    expected_ap = np.mean([average_precision_score(y == c, proba[:, c]) for c in range(k)])
    assert out["macro_pr_auc"] == pytest.approx(expected_ap)
    assert all(isinstance(v, float) for v in out.values())
    assert "majority_accuracy" not in out and "minority_accuracy" not in out


def test_macro_pr_auc_binary_uses_both_classes():
    y, proba = random_predictions(n=60, k=2, seed=5)
    expected = (average_precision_score(y == 0, proba[:, 0]) + average_precision_score(y == 1, proba[:, 1])) / 2
    assert macro_pr_auc(y, proba) == pytest.approx(expected)
    # not just the positive class's average precision
    assert macro_pr_auc(y, proba) != pytest.approx(average_precision_score(y, proba[:, 1]))


def test_macro_pr_auc_multiclass_and_absent_classes():
    y, proba = random_predictions(n=60, k=5, seed=6)
    expected = np.mean([average_precision_score(y == c, proba[:, c]) for c in range(5)])
    assert macro_pr_auc(y, proba) == pytest.approx(expected)
    y = np.where(y == 3, 0, y)  # class 3 absent from the truth: skipped, not counted as 0
    expected = np.mean([average_precision_score(y == c, proba[:, c]) for c in (0, 1, 2, 4)])
    assert macro_pr_auc(y, proba) == pytest.approx(expected)


def test_perfect_and_inverted_binary_predictions():
    y = np.array([0, 0, 0, 1, 1])
    perfect = np.eye(2)[y] * 0.8 + 0.1
    out = evaluate(y, perfect)
    for name in ("accuracy", "balanced_accuracy", "macro_f1", "micro_f1", "mcc", "macro_pr_auc", "g_mean"):
        assert out[name] == pytest.approx(1.0), name
    inverted = perfect[:, ::-1]
    out = evaluate(y, inverted)
    assert out["accuracy"] == 0 and out["g_mean"] == 0 and out["mcc"] == pytest.approx(-1.0)


def test_majority_and_minority_accuracy_by_hand():
    y = np.array([0, 0, 0, 1, 1, 2, 2, 3])
    pred = np.array([0, 0, 1, 1, 0, 2, 0, 3])
    proba = np.eye(4)[pred] * 0.7 + 0.075
    out = evaluate(y, proba, majority=[0, 1], minority=[2, 3])
    # majority: series 0..4, 3 of 5 right; minority: series 5..7, 2 of 3 right
    assert out["majority_accuracy"] == pytest.approx(3 / 5)
    assert out["minority_accuracy"] == pytest.approx(2 / 3)
    assert out["accuracy"] == pytest.approx(5 / 8)
    assert out["recall_0"] == pytest.approx(2 / 3) and out["recall_2"] == pytest.approx(1 / 2)


def test_group_accuracy():
    y = np.array([0, 1, 1, 2])
    pred = np.array([0, 1, 0, 0])
    assert group_accuracy(y, pred, [1]) == pytest.approx(0.5)
    assert group_accuracy(y, pred, [0, 2]) == pytest.approx(0.5)
    assert math.isnan(group_accuracy(y, pred, [5]))


@pytest.mark.parametrize(
    "proba",
    [np.full(6, 0.5), np.full((5, 2), 0.5), np.full((7, 2), 0.5), np.full((6, 2, 1), 0.5)],
    ids=["1-D", "too few rows", "too many rows", "3-D"],
)
def test_bad_proba_shape(proba):
    y = np.array([0, 1, 0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"\(n, K\)"):
        evaluate(y, proba)
