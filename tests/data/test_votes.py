"""The vote table (tsimb.data.Votes): tidy (series, worker, label) rows, checked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsimb.data import Votes


def test_matrix_round_trip_counts_and_shares():
    matrix = np.array([[0, 0, 1], [1, -1, 1], [0, 1, -1]])
    votes = Votes.from_matrix(matrix)
    assert votes.n_series == 3 and votes.n_classes == 2 and votes.workers.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(votes.matrix(), matrix)
    np.testing.assert_array_equal(votes.counts(), [[2, 1], [0, 2], [1, 1]])
    np.testing.assert_allclose(votes.shares().sum(axis=1), 1.0)
    assert list(votes.table.columns) == ["series", "worker", "label"]


@pytest.mark.parametrize("table, message", [
    (pd.DataFrame(columns=["series", "worker", "label"], dtype=int), "empty"),
    (pd.DataFrame({"series": [0], "worker": [0]}), "lacks column"),
    (pd.DataFrame({"series": [0, 0], "worker": [1, 1], "label": [0, 1]}), "more than once"),
    (pd.DataFrame({"series": [0, 2], "worker": [0, 0], "label": [0, 1]}), "no vote"),
    (pd.DataFrame({"series": [0, 1], "worker": [0, 0], "label": [0, 0]}), "at least two classes"),
    (pd.DataFrame({"series": [0, 1], "worker": [0, 0], "label": [0, -1]}), "non-negative integers"),
    (pd.DataFrame({"series": [0, 1], "worker": [0, 0], "label": [0.5, 1.0]}), "non-negative integers"),
])
def test_bad_vote_tables_say_what_is_wrong(table, message):
    with pytest.raises(ValueError, match=message):
        Votes(table)


def test_labels_outside_the_declared_classes_are_refused():
    with pytest.raises(ValueError, match="labels go up to 2 but there are 2 classes"):
        Votes(pd.DataFrame({"series": [0, 1], "worker": [0, 0], "label": [0, 2]}), n_classes=2)
