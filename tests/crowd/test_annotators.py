"""Simulated annotators, the reference network's difficulty and the crowd data set
(tsimb.crowd.annotators, tsimb.crowd.data; Wang 2023, sec. 3.3.1)."""

from __future__ import annotations

import numpy as np
import pytest

from tsimb.crowd import (AnnotatorSettings, CrowdDataset, difficulty_from_proba, error_probability, majority_vote,
                         simulate_annotators, train_reference, votes_of, worker_confusion)
from tsimb.data import Dataset, Votes
from tsimb.methods import METHODS
from tsimb.train import Budget


def error_rate(votes: Votes, y: np.ndarray, rows: np.ndarray) -> float:
    matrix = votes.matrix()[rows]
    return float((matrix != y[rows, None]).mean())


def test_errors_grow_with_difficulty_and_lean_by_class():
    y = np.tile([0, 1], 1000)
    difficulty = np.repeat([0.0, 1.0], 1000)
    settings = AnnotatorSettings(n_workers=5, low=0.05, high=0.4, worker_spread=0.0, class_scale=(1.0, 2.0))
    votes = simulate_annotators(y, settings, difficulty=difficulty, seed=0)
    assert list(votes.table.columns) == ["series", "worker", "label"] and votes.workers.tolist() == [0, 1, 2, 3, 4]
    easy, hard = np.arange(1000), np.arange(1000, 2000)
    assert error_rate(votes, y, easy[y[easy] == 0]) == pytest.approx(0.05, abs=0.02)
    assert error_rate(votes, y, hard[y[hard] == 0]) == pytest.approx(0.4, abs=0.03)
    assert error_rate(votes, y, hard[y[hard] == 1]) == pytest.approx(0.8, abs=0.03)  # leans to class 0
    np.testing.assert_allclose(error_probability(np.array([0, 0.5, 1]), 0.1, 0.5, 2.0), [0.1, 0.2, 0.5])


def test_simulation_is_seeded_covers_every_series_and_routes_errors_by_lean():
    y = np.repeat([0, 1, 2], [100, 50, 50])
    settings = AnnotatorSettings(n_workers=4, low=0.5, high=0.5, worker_spread=0.0, lean=(1.0, 0.0, 0.0),
                                 coverage=0.3)
    a = simulate_annotators(y, settings, seed=4)
    assert a.table.equals(simulate_annotators(y, settings, seed=4).table)
    assert not a.table.equals(simulate_annotators(y, settings, seed=5).table)
    assert (a.counts().sum(axis=1) >= 1).all()  # every series has a vote
    assert 0.25 < len(a.table) / (200 * 4) < 0.4
    confusion, _ = worker_confusion(a, y)
    # wrong votes on classes 1 and 2 all go to class 0; class 0's wrong votes fall back to uniform
    assert (confusion[:, 1, 2] == 0).all() and (confusion[:, 2, 1] == 0).all()
    assert confusion[:, 1:, 0].mean() == pytest.approx(0.5, abs=0.1) and (confusion[:, 0, 1:] > 0).all()


@pytest.mark.parametrize("y, kwargs, message", [
    (np.array([0, 0, 0]), {}, "every series is class 0"),
    (np.array([0, 1, 2]), {"n_classes": 2}, "must lie in 0..1"),
    (np.array([], dtype=int), {}, "non-empty integer vector"),
    (np.array([0.0, 1.0]), {}, "non-empty integer vector"),
    (np.array([0, 1]), {"difficulty": np.array([0.1])}, "one value per series"),
    (np.array([0, 1]), {"difficulty": np.array([0.1, 1.5])}, r"difficulty must lie in \[0, 1\]"),
    (np.array([0, 1]), {"settings": AnnotatorSettings(class_scale=(1.0, 1.0, 1.0))}, "3 entries for 2 classes"),
])
def test_bad_simulation_input_is_refused(y, kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate_annotators(y, **kwargs)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="low <= high"):
        AnnotatorSettings(low=0.5, high=0.1)
    with pytest.raises(ValueError, match="worker_scale has 2 entries for 7 workers"):
        AnnotatorSettings(worker_scale=(1.0, 1.0))


def test_difficulty_is_the_rank_within_each_class_or_the_raw_score():
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.99, 0.01], [0.3, 0.7], [0.2, 0.8]])
    y = np.array([0, 0, 0, 1, 1])
    np.testing.assert_allclose(difficulty_from_proba(proba, y, "raw"), [0.1, 0.4, 0.01, 0.3, 0.2])
    np.testing.assert_allclose(difficulty_from_proba(proba, y), [0.5, 1.0, 0.0, 1.0, 0.0])


def test_reference_network_stops_once_it_fits_the_training_set(make_series):
    X, y = make_series([20, 20], length=16, seed=0, separation=3.0)
    train = Dataset("easy", "train", X, y, ("a", "b"))
    reference = train_reference(train, model="cnn", max_epochs=30, seed=0)
    assert reference.train_accuracy > 0.98 and reference.epochs < 30
    assert len(reference.history.loss) == reference.epochs
    difficulty = reference.difficulty(X, y)
    assert difficulty.shape == (40,) and difficulty.min() == 0 and difficulty.max() == 1


def test_crowd_dataset_trains_on_the_majority_vote_and_keeps_its_votes_through_subsets(make_series):
    X, y = make_series([20, 10], length=16, seed=1, separation=1.0)
    votes = simulate_annotators(y, AnnotatorSettings(n_workers=3), seed=0)
    crowd = CrowdDataset.from_votes(Dataset("toy", "train", X, y, ("a", "b")), votes, seed=0)
    np.testing.assert_array_equal(crowd.y, majority_vote(votes, seed=0))
    np.testing.assert_array_equal(crowd.true_y, y)
    index = np.array([25, 3, 3, 0])
    part = crowd.subset(index)
    assert isinstance(part, CrowdDataset) and len(part) == 4
    np.testing.assert_array_equal(part.votes.matrix(), votes.matrix()[index])
    np.testing.assert_array_equal(part.true_y, y[index])
    assert votes_of(Dataset("toy", "train", X, y, ("a", "b"))).workers.tolist() == [0]
    with pytest.raises(ValueError, match="the votes cover 30 series but the data set has 4"):
        CrowdDataset("toy", "train", X[:4], y[:4], ("a", "b"), "", votes)
    trained = METHODS["ds-soft"].train(crowd, model="cnn", budget=Budget(epochs=1, batch_size=8))
    assert trained.extras["labels"].shape == (30,) and trained.extras["dawid_skene"].confusion.shape == (3, 2, 2)
