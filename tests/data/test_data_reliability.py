"""Reproducers of the data items of the third reliability audit (issue 20): archive files
that loaded wrongly or failed with unclear errors, and names used as paths."""

from __future__ import annotations

import os
import urllib.error
import warnings

import numpy as np
import pytest

import tsimb.data.sources as data_module
from tsimb.data import (
    DatasetUnavailableError,
    archive_datasets,
    dataset_table,
    default_data_dir,
    drop_half_of_classes,
    dropped_classes,
    encode_labels,
    load_dataset,
    load_train_test,
    z_normalise,
)
from tsimb.data.archive import archive_problems


@pytest.fixture(autouse=True)
def fresh_loader():
    data_module._raw_splits.cache_clear()
    yield
    data_module._raw_splits.cache_clear()


def _write(folder, name, train: str | bytes, test: str | bytes, ext: str = "tsv"):
    (folder / name).mkdir(parents=True, exist_ok=True)
    for split, text in (("TRAIN", train), ("TEST", test)):
        path = folder / name / f"{name}_{split}.{ext}"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())


def _tsv(rows) -> str:
    return "".join("\t".join(map(str, row)) + "\n" for row in rows)


GOOD = _tsv([("a", 1, 2, 3), ("b", 3, 2, 1)])


@pytest.fixture
def archive(tmp_path, monkeypatch):
    monkeypatch.setenv("TSIMB_ARCHIVE", str(tmp_path))
    return tmp_path


# item 1 ------------------------------------------------------------------------------------------


def test_a_byte_order_mark_does_not_make_a_phantom_class(archive):
    _write(archive, "Bom", b"\xef\xbb\xbf" + GOOD.encode(), GOOD)
    train = load_dataset("Bom")
    assert train.class_names == ("a", "b")
    assert train.y.tolist() == [0, 1]


# item 3 ------------------------------------------------------------------------------------------


def test_splits_of_different_lengths_are_resampled_to_one_length(archive):
    longer, shorter = _tsv([("a", 1, 2, 3, 4, 5), ("b", 5, 4, 3, 2, 1)]), _tsv([("a", 1, 2, 3), ("b", 3, 2, 1)])
    _write(archive, "Lengths", longer, shorter)
    train, test = load_train_test("Lengths", znormalise=False)
    assert train.length == test.length == 5
    np.testing.assert_allclose(test.X[0, 0], [1, 1.5, 2, 2.5, 3])


TS_HEADER = ("@problemName T\n@timeStamps false\n@univariate {uni}\n@dimensions {dims}\n@equalLength true\n"
             "@seriesLength 3\n@classLabel true a b\n@data\n")


def test_splits_with_different_channel_counts_name_both_files(archive):
    one = TS_HEADER.format(uni="true", dims=1) + "1,2,3:a\n3,2,1:b\n"
    two = TS_HEADER.format(uni="false", dims=2) + "1,2,3:4,5,6:a\n3,2,1:6,5,4:b\n"
    _write(archive, "T", one, two, ext="ts")
    with pytest.raises(DatasetUnavailableError, match="different numbers of channels") as info:
        load_dataset("T")
    assert "T_TRAIN.ts (1 channels)" in str(info.value) and "T_TEST.ts (2 channels)" in str(info.value)


# item 12 -----------------------------------------------------------------------------------------


def test_editing_an_archive_file_is_seen_by_a_running_process(archive):
    _write(archive, "Edit", GOOD, GOOD)
    assert len(load_dataset("Edit")) == 2
    train = archive / "Edit" / "Edit_TRAIN.tsv"
    mtime = train.stat().st_mtime_ns
    train.write_text(GOOD + _tsv([("a", 0, 1, 0)]))
    os.utime(train, ns=(mtime + 10**9, mtime + 10**9))  # a coarse clock must not hide the edit
    assert len(load_dataset("Edit")) == 3


def test_a_second_archive_folder_with_the_same_name_is_not_served_from_the_cache(tmp_path, monkeypatch):
    for folder, rows in (("one", GOOD), ("two", GOOD + _tsv([("b", 0, 0, 1)]))):
        _write(tmp_path / folder, "Same", rows, GOOD)
    monkeypatch.setenv("TSIMB_ARCHIVE", str(tmp_path / "one"))
    assert len(load_dataset("Same")) == 2
    monkeypatch.setenv("TSIMB_ARCHIVE", str(tmp_path / "two"))
    assert len(load_dataset("Same")) == 3


# item 14 -----------------------------------------------------------------------------------------


def test_z_normalise_does_not_overflow_in_float32():
    X = np.array([[[1e20, -1e20, 0.0]], [[3e38, 3e38, 3e38]], [[1.0, 2.0, 3.0]]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarning either
        Z = z_normalise(X)
    np.testing.assert_allclose(Z[0, 0], [np.sqrt(1.5), -np.sqrt(1.5), 0.0], rtol=1e-6)
    np.testing.assert_array_equal(Z[1, 0], 0.0)  # constant
    np.testing.assert_allclose(Z[2, 0], [-np.sqrt(1.5), 0.0, np.sqrt(1.5)], rtol=1e-6)


def test_z_normalise_is_unchanged_where_float32_does_not_overflow():
    """Stored runs replay bit for bit: ordinary series take the same float32 arithmetic."""
    X = np.random.default_rng(0).normal(size=(20, 2, 50)).astype(np.float32) * 100
    mean, std = X.mean(axis=-1, keepdims=True), X.std(axis=-1, keepdims=True)
    np.testing.assert_array_equal(z_normalise(X), ((X - mean) / std).astype(np.float32))


# item 15 -----------------------------------------------------------------------------------------


def test_labels_that_spell_one_number_are_one_class(archive):
    codes, names = encode_labels(np.array(["1", "1.0", "01", "2", "2.50", "2.5"]))
    assert names == ("1", "2", "2.5") and codes.tolist() == [0, 0, 0, 1, 2, 2]
    _write(archive, "Numbers", _tsv([("1", 1, 2), ("1.0", 2, 1), ("2", 0, 1)]), _tsv([("01", 1, 2), ("2.0", 2, 2)]))
    train, test = load_train_test("Numbers")
    assert train.class_names == ("1", "2") and train.y.tolist() == [0, 0, 1] and test.y.tolist() == [0, 1]


# item 21 -----------------------------------------------------------------------------------------


def test_one_malformed_archive_folder_does_not_hide_the_others(archive, monkeypatch):
    _write(archive, "Fine", GOOD, GOOD)
    (archive / "Half").mkdir()
    (archive / "Half" / "Half_TRAIN.tsv").write_text(GOOD)  # no _TEST file
    with pytest.warns(UserWarning, match=r"Half.*Half_TEST.tsv is missing"):
        assert list(archive_datasets()) == ["Fine"]
    assert list(archive_problems()) == [archive / "Half"]
    with monkeypatch.context() as patch:
        patch.setattr(data_module, "_load_aeon", lambda *a: pytest.fail("must not try to download"))
        with pytest.warns(UserWarning, match="Half"), pytest.raises(DatasetUnavailableError,
                                                                     match="did you mean 'Fine'"):
            load_dataset("Fien")
    with pytest.warns(UserWarning, match="Half"):
        table = dataset_table()
    assert "Fine" in set(table["name"]) and "GunPoint" in set(table["name"])


def test_dataset_table_leaves_out_an_unreadable_data_set_with_a_warning(archive):
    _write(archive, "Fine", GOOD, GOOD)
    _write(archive, "Broken", _tsv([("a", 1, "x")]), GOOD)
    with pytest.warns(UserWarning, match=r"Broken is left out: .*Broken_TRAIN.tsv: line 1"):
        table = dataset_table()
    assert "Fine" in set(table["name"]) and "Broken" not in set(table["name"])
    with pytest.raises(DatasetUnavailableError, match="Broken_TRAIN.tsv"):
        dataset_table(["Broken"])  # asked for by name: the error itself


# item 25 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e308", "3.5e38", "inf", "-Infinity"])
def test_values_beyond_float32_name_the_file_and_line(archive, value):
    _write(archive, "Huge", _tsv([("a", 1, 2), ("b", 1, value)]), GOOD)
    with pytest.raises(DatasetUnavailableError, match=r"Huge_TRAIN.tsv: line 2: .*beyond float32"):
        load_dataset("Huge")


def test_values_beyond_float32_in_a_ts_file_name_the_file_and_line(archive):
    header = TS_HEADER.format(uni="true", dims=1)
    _write(archive, "T", header + "1,2,3:a\n3,1e300,1:b\n", header + "1,2,3:a\n3,2,1:b\n", ext="ts")
    with pytest.raises(DatasetUnavailableError, match=r"T_TRAIN.ts: line 10: .*beyond float32"):
        load_dataset("T")


# item 28 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_an_archive_variable_that_is_no_folder_is_named(tmp_path, monkeypatch, kind):
    target = tmp_path / "archive"
    if kind == "file":
        target.write_text("not a folder")
    monkeypatch.setenv("TSIMB_ARCHIVE", str(target))
    monkeypatch.setattr(data_module, "_load_aeon", lambda *a: pytest.fail("must not try to download"))
    problem = "does not exist" if kind == "missing" else "is a file, not a folder"
    with pytest.warns(UserWarning, match=f"TSIMB_ARCHIVE names .*archive, which {problem}"):
        with pytest.raises(DatasetUnavailableError, match=f"TSIMB_ARCHIVE names .*archive, which {problem}"):
            load_dataset("MyOwnData", cache_dir=tmp_path / "cache")


def test_a_folder_in_another_format_says_so_instead_of_a_far_fetched_name(archive, monkeypatch, tmp_path):
    (archive / "Mine").mkdir()
    (archive / "Mine" / "Mine_TRAIN.csv").write_text("a,1,2\n")
    (archive / "Mine" / "Mine_TEST.csv").write_text("a,1,2\n")
    monkeypatch.setattr(data_module, "_load_aeon", lambda *a: pytest.fail("must not try to download"))
    with pytest.warns(UserWarning, match="Mine"), pytest.raises(DatasetUnavailableError) as info:
        load_dataset("Mine", cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert "holds no Mine_TRAIN / Mine_TEST pair in .tsv, .ts, .arff" in message and "Mine_TRAIN.csv" in message
    assert "did you mean" not in message


def test_an_empty_data_variable_is_not_the_working_directory(monkeypatch):
    monkeypatch.setenv("TSIMB_DATA", "")
    assert default_data_dir() == data_module.Path.home() / ".cache" / "tsimb" / "data"
    monkeypatch.setenv("TSIMB_DATA", "  ")
    assert default_data_dir() != data_module.Path("  ")


def test_a_ts_label_the_header_does_not_declare_is_refused(archive):
    header = TS_HEADER.format(uni="true", dims=1)
    _write(archive, "T", header + "1,2,3:a\n3,2,1:c\n", header + "1,2,3:a\n3,2,1:b\n", ext="ts")
    with pytest.raises(DatasetUnavailableError, match=r"T_TRAIN.ts: line 10: class label 'c' is not declared"):
        load_dataset("T")


def test_a_failed_download_removes_every_folder_it_created(tmp_path, monkeypatch):
    monkeypatch.setenv("TSIMB_ARCHIVE", "")
    cache = tmp_path / "deep" / "er" / "cache"

    def offline(name, extract_path):
        folder = data_module.Path(extract_path) / name
        folder.mkdir(parents=True)
        (folder / f"{name}.zip.part").write_bytes(b"half a download")
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(data_module, "_load_aeon", offline)
    with pytest.raises(DatasetUnavailableError, match="could not be downloaded"):
        load_dataset("TwoLeadECG", cache_dir=cache)
    assert list(tmp_path.iterdir()) == []  # "deep", "er", "cache" and the data set's folder are gone


def test_a_failed_download_keeps_folders_that_were_there(tmp_path, monkeypatch):
    monkeypatch.setenv("TSIMB_ARCHIVE", "")
    (tmp_path / "cache" / "Other").mkdir(parents=True)
    (tmp_path / "cache" / "Other" / "keep.txt").write_text("mine")

    def offline(name, extract_path):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(data_module, "_load_aeon", offline)
    with pytest.raises(DatasetUnavailableError):
        load_dataset("TwoLeadECG", cache_dir=tmp_path / "cache")
    assert (tmp_path / "cache" / "Other" / "keep.txt").read_text() == "mine"


# item 29 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", "a\\b", "/etc/passwd"])
def test_data_set_names_that_are_paths_are_refused(tmp_path, monkeypatch, name):
    (tmp_path / "archive").mkdir()
    _write(tmp_path, "evil", GOOD, GOOD)  # beside the archive folder, reachable as ../evil
    monkeypatch.setenv("TSIMB_ARCHIVE", str(tmp_path / "archive"))
    with pytest.raises(ValueError, match="contains '/'"):
        load_dataset(name)


# item 6 ------------------------------------------------------------------------------------------


def test_drop_protocol_counts_only_labels_that_have_series():
    y = np.repeat([0, 5], 10)
    kept = np.bincount(y[drop_half_of_classes(y, 0.75, seed=1)], minlength=6)
    assert sorted(kept[[0, 5]].tolist()) == [2, 10]  # one of the two classes is thinned
    thinned = [c for c in (0, 5) if kept[c] == 2]
    assert dropped_classes(6, seed=1, present=[0, 5]) == thinned


@pytest.mark.parametrize("seed", range(5))
def test_drop_protocol_draws_as_before_when_every_label_is_present(seed):
    """The stored IB-GAN runs were made with rng.choice(K, K // 2): the draw must not change."""
    y = np.repeat(np.arange(6), 8)
    expected = sorted(np.random.default_rng(seed).choice(6, size=3, replace=False).tolist())
    assert dropped_classes(6, seed) == expected
    kept = np.bincount(y[drop_half_of_classes(y, 0.75, seed=seed)])
    assert [c for c in range(6) if kept[c] == 2] == expected
