"""evaluate refuses inputs it would score wrongly (issue 20 item 5; item 24's empty or NaN input)."""

from __future__ import annotations

import numpy as np
import pytest

from tsimb.evaluation import evaluate, macro_pr_auc

PROBA = np.array([[0.9, 0.1], [0.2, 0.8]])


@pytest.mark.parametrize("labels", [[0, 3], [-1, 1], [0, 2]])
def test_labels_outside_the_columns_are_refused(labels):
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        evaluate(np.array(labels), PROBA)
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        macro_pr_auc(np.array(labels), PROBA)


@pytest.mark.parametrize("labels, match", [(np.array([0.0, np.nan]), "integer labels"),
                                           (np.array([0.5, 1.0]), "integer labels"),
                                           (np.array(["a", "b"]), "integer labels")])
def test_labels_that_are_not_integers_are_refused(labels, match):
    with pytest.raises(ValueError, match=match):
        evaluate(labels, PROBA)


def test_empty_input_is_refused():
    with pytest.raises(ValueError, match="empty"):
        evaluate(np.array([], dtype=np.int64), np.empty((0, 2)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_probabilities_are_refused(bad):
    proba = PROBA.copy()
    proba[1, 0] = bad
    with pytest.raises(ValueError, match="NaN or infinite values in 1 of 2 rows"):
        evaluate(np.array([0, 1]), proba)


def test_float_labels_holding_integers_are_accepted():
    assert evaluate(np.array([0.0, 1.0]), PROBA) == evaluate(np.array([0, 1]), PROBA)
