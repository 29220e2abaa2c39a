"""SMOTE-family over-sampling of series (tsimb.data.resampling)."""

from __future__ import annotations

import numpy as np
import pytest

from tsimb.data import OVERSAMPLERS, oversample


def _rows(X):
    return {row.tobytes() for row in X.reshape(len(X), -1)}


@pytest.mark.parametrize("method", OVERSAMPLERS)
def test_oversample_shapes_dtypes_and_originals(make_series, method):
    X, y = make_series([20, 6], channels=2, length=8, seed=0)
    X_new, y_new = oversample(X, y, method, seed=0)
    assert X_new.dtype == np.float32 and y_new.dtype == np.int64
    assert X_new.ndim == 3 and X_new.shape[1:] == (2, 8)
    assert y_new.shape == (X_new.shape[0],)
    assert set(np.unique(y_new)) == {0, 1}
    counts = np.bincount(y_new)
    assert counts[0] == 20 and counts[1] > 6  # only the minority grows
    # every original series (with its label) is still there
    for label in (0, 1):
        assert _rows(X[y == label]) <= _rows(X_new[y_new == label])
    assert np.isfinite(X_new).all()


def test_smote_equalises_classes_and_interpolates_within_the_class(make_series):
    X, y = make_series([30, 8, 5], channels=1, length=10, seed=1, separation=3.0)
    X_new, y_new = oversample(X, y, "smote", seed=0)
    np.testing.assert_array_equal(np.bincount(y_new), [30, 30, 30])
    assert X_new.shape == (90, 1, 10)
    original = _rows(X)
    for label in (1, 2):
        members = X[y == label].reshape(-1, 10)
        synthetic = [r for r in X_new[y_new == label].reshape(-1, 10) if r.tobytes() not in original]
        assert len(synthetic) == 30 - np.sum(y == label)
        # a convex combination of two same-class series stays inside the class's bounding box
        lo, hi = members.min(axis=0), members.max(axis=0)
        for row in synthetic:
            assert (row >= lo - 1e-5).all() and (row <= hi + 1e-5).all()


def test_smallest_class_of_two_still_works(make_series):
    X, y = make_series([10, 2], seed=2)  # k_neighbors capped at 1
    X_new, y_new = oversample(X, y, "smote", k_neighbors=5, seed=0)
    np.testing.assert_array_equal(np.bincount(y_new), [10, 10])


def test_single_series_class_raises_clear_error(make_series):
    X, y = make_series([10, 4, 1], seed=3)
    with pytest.raises(ValueError, match=r"class\(es\) \[2\] have only 1 training series"):
        oversample(X, y, "smote")


def test_single_class_raises(make_series):
    X, y = make_series([10], seed=3)
    with pytest.raises(ValueError, match="two classes"):
        oversample(X, y)


def test_unknown_method(make_series):
    X, y = make_series([10, 4])
    with pytest.raises(ValueError, match="unknown over-sampler"):
        oversample(X, y, "tomek-links")


def test_invalid_series_are_rejected(make_series):
    X, y = make_series([10, 4])
    X[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        oversample(X, y)


def test_borderline_smote_without_border_series_returns_data_unchanged():
    # GunPoint step-10 keeps [24, 2]: neither minority series has majority neighbours,
    # so Borderline-SMOTE has nothing to generate from (documented in oversample)
    from tsimb.data import load_dataset
    from tsimb.data import Imbalance

    train = Imbalance("step", 10).apply(load_dataset("GunPoint", "train"), seed=0)
    np.testing.assert_array_equal(train.class_counts(), [24, 2])
    X_new, y_new = oversample(train.X, train.y, "borderline-smote", seed=0)
    np.testing.assert_array_equal(np.bincount(y_new), [24, 2])
    np.testing.assert_array_equal(X_new, train.X)


def test_adasyn_without_majority_neighbours_returns_data_unchanged(make_series):
    # imbalanced-learn raises here; oversample treats it like Borderline-SMOTE
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.1, (20, 1, 8)), rng.normal(50, 0.1, (4, 1, 8))]).astype(np.float32)
    y = np.array([0] * 20 + [1] * 4)
    X_new, y_new = oversample(X, y, "adasyn", seed=0)
    np.testing.assert_array_equal(X_new, X)
    np.testing.assert_array_equal(y_new, y)


def test_too_few_series_error_is_a_value_error():
    from tsimb.data import TooFewSeriesError

    X = np.zeros((6, 1, 4), dtype=np.float32)
    X[:, 0, 0] = np.arange(6)
    with pytest.raises(TooFewSeriesError, match=r"class\(es\) \[1\]"):
        oversample(X, np.array([0, 0, 0, 0, 0, 1]), "smote")
    assert issubclass(TooFewSeriesError, ValueError)


@pytest.mark.parametrize("method", OVERSAMPLERS)
def test_oversampling_is_seeded(make_series, method):
    X, y = make_series([20, 6], seed=4)
    a = oversample(X, y, method, seed=5)
    b = oversample(X, y, method, seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = oversample(X, y, method, seed=6)
    assert a[0].shape != c[0].shape or not np.array_equal(a[0], c[0])
