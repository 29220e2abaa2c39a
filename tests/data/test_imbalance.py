"""Imbalance protocols: exact class counts, determinism, valid indices (tsimb.data.imbalance)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsimb.data.imbalance import (
    Imbalance,
    binary_pair,
    class_halves,
    drop_half_of_classes,
    exp_counts,
    exponential_imbalance,
    step_counts,
    step_imbalance,
)


def labels(counts, seed: int = 0) -> np.ndarray:
    """Shuffled labels with ``counts[k]`` series of class ``k``."""
    y = np.repeat(np.arange(len(counts)), counts).astype(np.int64)
    return np.random.default_rng(seed).permutation(y)


def kept_counts(y, index, n_classes=None):
    return np.bincount(y[index], minlength=n_classes or int(y.max()) + 1)


def assert_valid_index(index, n):
    index = np.asarray(index)
    assert np.issubdtype(index.dtype, np.integer)
    assert index.ndim == 1
    assert np.unique(index).size == index.size, "indices repeat"
    assert index.size == 0 or (index.min() >= 0 and index.max() < n)
    np.testing.assert_array_equal(index, np.sort(index))


# --------------------------------------------------------------------------- step


def test_step_nine_classes_ratio_ten():
    y = labels([30] * 9)
    index = step_imbalance(y, 10, seed=0)
    assert_valid_index(index, y.size)
    np.testing.assert_array_equal(kept_counts(y, index), [30] * 5 + [3] * 4)


def test_step_uses_the_smallest_class_count_as_n():
    y = labels([40, 30, 35, 50])
    index = step_imbalance(y, 5, seed=3)
    assert_valid_index(index, y.size)
    np.testing.assert_array_equal(kept_counts(y, index), [30, 30, 6, 6])


def test_step_minority_keeps_at_least_one():
    y = labels([4, 4, 4])
    np.testing.assert_array_equal(kept_counts(y, step_imbalance(y, 100)), [4, 4, 1])


def test_step_counts_helper():
    np.testing.assert_array_equal(step_counts(30, 9, 10), [30] * 5 + [3] * 4)
    np.testing.assert_array_equal(step_counts(20, 4, 4), [20, 20, 5, 5])
    np.testing.assert_array_equal(step_counts(20, 1, 4), [20])


# --------------------------------------------------------------------------- exp


def test_exp_counts_follow_the_formula():
    n, K, ratio = 100, 5, 10
    y = labels([n] * K)
    index = exponential_imbalance(y, ratio, seed=0)
    assert_valid_index(index, y.size)
    counts = kept_counts(y, index)
    expected = [round(n * ratio ** (-i / (K - 1))) for i in range(K)]
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_array_equal(counts, [100, 56, 32, 18, 10])
    assert counts[0] == n and counts[-1] == n / ratio
    assert (np.diff(counts) <= 0).all()


def test_exp_counts_helper_and_single_class():
    np.testing.assert_array_equal(exp_counts(50, 3, 25), [50, 10, 2])
    np.testing.assert_array_equal(exp_counts(7, 1, 10), [7])
    np.testing.assert_array_equal(exp_counts(10, 4, 1), [10, 10, 10, 10])


# --------------------------------------------------------------------------- drop


@pytest.mark.parametrize("counts", [[20, 24, 28, 32, 36, 40], [8, 12, 16, 20, 24, 28, 32]])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drop_reduces_floor_half_of_the_classes(counts, seed):
    y = labels(counts)
    index = drop_half_of_classes(y, 0.75, seed=seed)
    assert_valid_index(index, y.size)
    kept = kept_counts(y, index)
    reduced = [c for c, (k, n) in enumerate(zip(kept, counts)) if k != n]
    assert len(reduced) == len(counts) // 2
    for c, (k, n) in enumerate(zip(kept, counts)):
        assert k == n or k == round(0.25 * n), (c, k, n)


def test_drop_keeps_at_least_one_and_other_fractions():
    y = labels([2, 2, 2, 2])
    kept = kept_counts(y, drop_half_of_classes(y, 0.9, seed=0))
    np.testing.assert_array_equal(np.sort(kept), [1, 1, 2, 2])
    y = labels([10, 10])
    np.testing.assert_array_equal(np.sort(kept_counts(y, drop_half_of_classes(y, 0.5, seed=0))), [5, 10])
    # dropping nothing keeps everything
    np.testing.assert_array_equal(drop_half_of_classes(y, 0.0), np.arange(y.size))


# --------------------------------------------------------------------------- binary


def test_binary_pair_counts_and_labels():
    y = labels([40, 40, 40, 40])
    index, new = binary_pair(y, 0.25, seed=0)
    assert_valid_index(index, y.size)
    assert set(np.unique(new)) == {0, 1} and new.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(new), [40, 10])
    # each new label is exactly one original class, and the two differ
    major = np.unique(y[index][new == 0])
    minor = np.unique(y[index][new == 1])
    assert major.size == 1 and minor.size == 1 and major[0] != minor[0]
    # the majority keeps every one of its series
    assert np.sum(y == major[0]) == 40


def test_binary_pair_with_fixed_classes():
    y = labels([30, 20, 50])
    index, new = binary_pair(y, 0.3, classes=(0, 2), seed=4)
    np.testing.assert_array_equal(np.unique(y[index][new == 0]), [0])
    np.testing.assert_array_equal(np.unique(y[index][new == 1]), [2])
    assert (new == 0).sum() == 30 and (new == 1).sum() == round(0.3 * 30) == 9


def test_binary_apply_relabels_the_dataset(make_dataset):
    train = make_dataset([20, 20, 20])
    out = Imbalance("binary", 0.2).apply(train, seed=1)
    np.testing.assert_array_equal(out.class_counts(), [20, 4])
    assert out.n_classes == 2 and out.split == "train"
    index, new = binary_pair(train.y, 0.2, seed=1)
    np.testing.assert_array_equal(out.X, train.X[index])
    np.testing.assert_array_equal(out.y, new)
    old_major, old_minor = train.y[index][new == 0][0], train.y[index][new == 1][0]
    assert out.class_names == (train.class_names[old_major], train.class_names[old_minor])


# --------------------------------------------------------------------------- determinism


PROTOCOLS = [
    lambda y, s: step_imbalance(y, 10, seed=s),
    lambda y, s: exponential_imbalance(y, 10, seed=s),
    lambda y, s: drop_half_of_classes(y, 0.75, seed=s),
    lambda y, s: binary_pair(y, 0.2, seed=s)[0],
]


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=["step", "exp", "drop", "binary"])
def test_same_seed_same_indices_different_seed_different_indices(protocol):
    y = labels([30] * 6)
    first = protocol(y, 7)
    np.testing.assert_array_equal(first, protocol(y, 7))
    assert_valid_index(first, y.size)
    others = [protocol(y, s) for s in range(3)]
    assert any(o.shape != first.shape or not np.array_equal(o, first) for o in others)


def test_imbalance_indices_match_functions_and_apply_subsets(make_dataset):
    train = make_dataset([12, 12, 12, 12])
    for imbalance, direct in [
        (Imbalance("step", 4), step_imbalance(train.y, 4, seed=2)),
        (Imbalance("exp", 4), exponential_imbalance(train.y, 4, seed=2)),
        (Imbalance("drop", 0.5), drop_half_of_classes(train.y, 0.5, seed=2)),
        (Imbalance("none"), np.arange(len(train))),
    ]:
        np.testing.assert_array_equal(imbalance.indices(train.y, seed=2), direct)
        out = imbalance.apply(train, seed=2)
        np.testing.assert_array_equal(out.X, train.X[direct])
        np.testing.assert_array_equal(out.y, train.y[direct])
        assert out.class_names == train.class_names


def test_imbalance_label_and_dict():
    assert Imbalance().label == "balanced"
    assert Imbalance("step", 10).label == "step-10"
    assert Imbalance("exp", 2.5).label == "exp-2.5"
    assert Imbalance("exp", 100).as_dict() == {"kind": "exp", "ratio": 100}
    assert hash(Imbalance("step", 10)) == hash(Imbalance("step", 10.0))


# --------------------------------------------------------------------------- properties

count_vectors = st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=8)
ratios = st.floats(min_value=1.0, max_value=60.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(counts=count_vectors, ratio=ratios, seed=st.integers(0, 2**16))
def test_step_property(counts, ratio, seed):
    y = labels(counts, seed)
    index = step_imbalance(y, ratio, seed=seed)
    assert_valid_index(index, y.size)
    kept = kept_counts(y, index, len(counts))
    K, n = len(counts), min(counts)
    np.testing.assert_array_equal(kept, step_counts(n, K, ratio))
    n_minority = K // 2
    expected = [n] * (K - n_minority) + [max(1, round(n / ratio))] * n_minority
    np.testing.assert_array_equal(kept, expected)
    assert (kept >= 1).all() and (kept <= np.array(counts)).all()


@settings(max_examples=60, deadline=None)
@given(counts=count_vectors, ratio=ratios, seed=st.integers(0, 2**16))
def test_exp_property(counts, ratio, seed):
    y = labels(counts, seed)
    index = exponential_imbalance(y, ratio, seed=seed)
    assert_valid_index(index, y.size)
    kept = kept_counts(y, index, len(counts))
    K, n = len(counts), min(counts)
    np.testing.assert_array_equal(kept, exp_counts(n, K, ratio))
    assert kept[0] == n
    assert (kept >= 1).all() and (kept <= np.array(counts)).all()
    assert (np.diff(kept) <= 0).all()
    for i, k in enumerate(kept):  # within rounding of n * ratio^(-i/(K-1)), or clipped to 1
        target = n * ratio ** (-i / (K - 1)) if K > 1 else n
        assert k == 1 or abs(k - target) <= 0.5 + 1e-9


@settings(max_examples=40, deadline=None)
@given(counts=st.lists(st.integers(min_value=1, max_value=40), min_size=2, max_size=8),
       fraction=st.floats(min_value=0.0, max_value=0.95), seed=st.integers(0, 2**16))
def test_drop_property(counts, fraction, seed):
    y = labels(counts, seed)
    index = drop_half_of_classes(y, fraction, seed=seed)
    assert_valid_index(index, y.size)
    kept = kept_counts(y, index, len(counts))
    assert (kept >= 1).all() and (kept <= np.array(counts)).all()
    reducible = [max(1, round(n * (1 - fraction))) for n in counts]
    assert all(k in (n, r) for k, n, r in zip(kept, counts, reducible))


# --------------------------------------------------------------------------- halves


@pytest.mark.parametrize(
    "counts, majority, minority",
    [
        ([10, 10, 5], [0, 1], [2]),
        ([5, 10, 10, 5], [1, 2], [0, 3]),  # ties broken by label
        ([3, 3, 3, 3, 3], [0, 1, 2], [3, 4]),  # odd K: ceil(K/2) majority classes
        ([1, 9, 5], [1, 2], [0]),
        ([2, 7, 7, 1, 9], [1, 2, 4], [0, 3]),
        ([4], [0], []),
    ],
)
def test_class_halves(counts, majority, minority):
    assert class_halves(np.array(counts)) == (majority, minority)


# --------------------------------------------------------------------------- errors


def test_errors(make_dataset):
    with pytest.raises(ValueError, match="unknown imbalance protocol"):
        Imbalance("bogus")
    with pytest.raises(ValueError, match="training split"):
        Imbalance("step", 10).apply(make_dataset([6, 6], split="test"))
    y = labels([10, 10])
    for ratio in (0.5, 0.0, -2):
        with pytest.raises(ValueError, match=">= 1"):
            step_imbalance(y, ratio)
        with pytest.raises(ValueError, match=">= 1"):
            exponential_imbalance(y, ratio)
        with pytest.raises(ValueError, match=">= 1"):
            Imbalance("step", ratio).indices(y)
    for fraction in (1.0, -0.1):
        with pytest.raises(ValueError, match="fraction"):
            drop_half_of_classes(y, fraction)
    for r in (0.0, 1.5):
        with pytest.raises(ValueError, match="minority ratio"):
            binary_pair(y, r)
    with pytest.raises(ValueError, match="differ"):
        binary_pair(y, 0.5, classes=(1, 1))
    with pytest.raises(ValueError, match="two classes"):
        binary_pair(np.zeros(5, dtype=np.int64), 0.5)
    with pytest.raises(ValueError, match="cannot keep"):
        binary_pair(labels([10, 3]), 0.5, classes=(0, 1))
    for bad in (np.array([0, -1, 1]), np.array([0.0, 1.0]), np.array([], dtype=np.int64)):
        with pytest.raises(ValueError, match="labels"):
            step_imbalance(bad, 2)


def test_imbalance_validates_its_ratio_when_built():
    assert Imbalance("drop").ratio == 0.75
    assert Imbalance("none").ratio == 1.0
    for kind, ratio in [("step", 0.5), ("exp", 0.9), ("drop", 1.0), ("binary", 0.0), ("binary", 1.5), ("none", 3)]:
        with pytest.raises(ValueError, match=kind):
            Imbalance(kind, ratio)
    with pytest.raises(ValueError, match="needs a ratio"):
        Imbalance("step")


def test_match_classes_restricts_test_to_binary_pair():
    from tsimb.data import load_dataset
    from tsimb.data import match_classes

    train = load_dataset("JapaneseVowels", "train")
    test = load_dataset("JapaneseVowels", "test")
    pair = Imbalance("binary", 0.1).apply(train, seed=0)
    matched = match_classes(test, pair)
    assert matched.class_names == pair.class_names
    original = [test.class_names.index(n) for n in pair.class_names]
    np.testing.assert_array_equal(matched.class_counts(), [(test.y == c).sum() for c in original])
    # every kept test series has the same name under both labellings
    names = [pair.class_names[k] for k in matched.y]
    kept = np.isin(test.y, original)
    assert names == [test.class_names[k] for k in test.y[kept]]


def test_drop_keeps_min_keep_series_of_a_thinned_class_and_records_which_classes_it_thinned():
    from tsimb.data import dropped_classes

    y = np.repeat(np.arange(6), [2, 3, 8, 8, 8, 12])
    for seed in range(5):
        thinned = dropped_classes(6, seed)
        assert len(thinned) == 3
        for min_keep in (1, 2):
            counts = np.bincount(y[drop_half_of_classes(y, 0.75, seed, min_keep)], minlength=6)
            original = np.bincount(y)
            for c in range(6):
                expected = min(original[c], max(min_keep, round(original[c] * 0.25))) if c in thinned else original[c]
                assert counts[c] == expected
    assert drop_half_of_classes(y, 0.75, 3).tolist() == drop_half_of_classes(y, 0.75, 3, min_keep=1).tolist()
    with pytest.raises(ValueError, match="min_keep"):
        drop_half_of_classes(y, 0.75, 0, min_keep=0)
