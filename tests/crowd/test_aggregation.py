"""Majority vote and Dawid-Skene EM (tsimb.crowd.aggregation; Wang 2023, eqs. 3.1-3.2): they
recover what simulated workers did, the three priors behave as measured, bad votes are refused,
and the soft variant agrees with crowd-kit's DawidSkene at a fixed iteration count."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from tsimb.crowd import (PRIORS, AnnotatorSettings, dawid_skene, label_accuracy, majority_vote,
                         simulate_annotators, worker_confusion)
from tsimb.data import Votes


def test_dawid_skene_recovers_the_workers_confusion_matrices_and_the_labels():
    y = np.repeat([0, 1], [400, 200])
    settings = AnnotatorSettings(n_workers=5, low=0.2, high=0.2, worker_scale=(0.1, 0.5, 1.0, 1.5, 2.0),
                                 class_scale=(1.0, 1.5))
    votes = simulate_annotators(y, settings, seed=0)
    truth, workers = worker_confusion(votes, y)
    for prior in ("hard", "soft"):
        result = dawid_skene(votes, prior=prior)
        assert result.workers.tolist() == workers.tolist() == [0, 1, 2, 3, 4]
        np.testing.assert_allclose(result.confusion, truth, atol=0.05)
        np.testing.assert_allclose(result.confusion.sum(axis=2), 1.0)
        assert label_accuracy(result.labels, y)["accuracy"] > 0.95
        assert abs(result.prior[1] - 1 / 3) < 0.05
    # the generating error rates: worker w errs on class c with 0.2 * scale_w * class_scale_c
    np.testing.assert_allclose(truth[:, 0, 1], 0.2 * np.array([0.1, 0.5, 1.0, 1.5, 2.0]), atol=0.06)


def test_dawid_skene_beats_majority_vote_when_one_worker_is_reliable_and_the_rest_are_noisy():
    y = np.repeat([0, 1], [300, 300])
    settings = AnnotatorSettings(n_workers=5, low=0.2, high=0.2, worker_scale=(0.1, 2.0, 2.0, 2.0, 2.0))
    votes = simulate_annotators(y, settings, seed=1)  # worker 0 errs 2% of the time, the others 40%
    mv = label_accuracy(majority_vote(votes), y)["accuracy"]
    ds = label_accuracy(dawid_skene(votes, prior="soft").labels, y)["accuracy"]
    assert mv < 0.85 and ds > 0.95 and ds > mv + 0.1


def test_fixed_uniform_prior_pulls_majority_series_into_the_minority():
    """The issue's measurement (2,800 : 280, W = 7): the uniform prior labels nearly every
    minority series right but a third of the majority wrong; a learned prior does not."""
    y = np.repeat([0, 1], [2800, 280])
    difficulty = np.random.default_rng(100).random(y.size)
    votes = simulate_annotators(y, AnnotatorSettings(n_workers=7), difficulty=difficulty, seed=0)
    mv = label_accuracy(majority_vote(votes), y)
    scores = {prior: label_accuracy(dawid_skene(votes, prior=prior).labels, y) for prior in PRIORS}
    uniform = scores["uniform"]
    assert uniform["per_class"][0] < mv["per_class"][0] - 0.2  # majority recall falls
    assert uniform["per_class"][1] > mv["per_class"][1]  # minority recall rises
    assert uniform["accuracy"] < 0.75 < mv["accuracy"]
    for prior in ("hard", "soft"):
        assert scores[prior]["accuracy"] > uniform["accuracy"] + 0.15


def test_log_likelihood_rises_and_the_iteration_rules_hold():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    votes = simulate_annotators(y, AnnotatorSettings(n_workers=4, coverage=0.7), seed=2)
    for prior in ("uniform", "soft"):  # EM: the observed-data likelihood never falls
        history = dawid_skene(votes, prior=prior, n_iter=30, tol=None).log_likelihood
        assert len(history) == 30 and np.all(np.diff(history) > -1e-9)
    early = dawid_skene(votes, prior="soft", n_iter=500, tol=1e-3)
    assert early.converged and early.n_iter < 500
    assert dawid_skene(votes, prior="soft", n_iter=3, tol=None).n_iter == 3
    hard = dawid_skene(votes, prior="hard")
    assert set(np.unique(hard.posteriors)) <= {0.0, 1.0}


def test_majority_vote_breaks_ties_by_a_seeded_draw_or_the_lowest_label():
    votes = Votes.from_matrix(np.array([[0, 1]] * 200 + [[1, 1]]))
    lowest = majority_vote(votes, ties="lowest")
    assert (lowest[:200] == 0).all() and lowest[200] == 1
    drawn = majority_vote(votes, seed=3)
    assert 60 < drawn[:200].sum() < 140 and drawn[200] == 1
    np.testing.assert_array_equal(drawn, majority_vote(votes, seed=3))
    with pytest.raises(ValueError, match="ties must be"):
        majority_vote(votes, ties="first")


def table(series, worker, label):
    return pd.DataFrame({"series": series, "worker": worker, "label": label})


def test_bad_votes_get_a_clear_error():
    good = Votes(table([0, 1, 1], [0, 0, 1], [0, 1, 1]))
    with pytest.raises(TypeError, match="expected a tsimb.data.Votes"):
        dawid_skene(good.table)
    with pytest.raises(ValueError, match="every vote is class 0 of 2"):
        dawid_skene(Votes(table([0, 1], [0, 0], [0, 0]), n_classes=2))
    with pytest.raises(ValueError, match="empty"):
        Votes(table([], [], []).astype(int))
    with pytest.raises(ValueError, match="labels go up to 2 but there are 2 classes"):
        Votes(table([0, 1], [0, 0], [0, 2]), n_classes=2)
    from tsimb.crowd import check_votes

    with pytest.raises(ValueError, match=r"worker\(s\) \[2\] have no vote"):
        check_votes(good, workers=[0, 1, 2])
    with pytest.raises(ValueError, match=r"worker\(s\) \[1\] that are not in"):
        check_votes(good, workers=[0])
    with pytest.raises(ValueError, match="prior must be one of"):
        dawid_skene(good, prior="flat")
    with pytest.raises(ValueError, match="n_iter must be a positive integer"):
        dawid_skene(good, n_iter=0)


def test_soft_dawid_skene_matches_crowd_kit_at_a_fixed_iteration_count():
    aggregation = pytest.importorskip("crowdkit.aggregation")
    y = np.repeat([0, 1, 2], [60, 30, 10])
    votes = simulate_annotators(y, AnnotatorSettings(n_workers=5, coverage=0.8),
                                difficulty=np.random.default_rng(0).random(100), seed=3)
    data = votes.table.rename(columns={"series": "task"})
    for n_iter in (1, 10):
        ours = dawid_skene(votes, prior="soft", n_iter=n_iter, tol=None)
        with warnings.catch_warnings():  # crowd-kit's pandas deprecation warnings
            warnings.simplefilter("ignore")
            # tol=-inf: crowd-kit stops when its ELBO changes by less than tol, which it can
            # do after two iterations; a fixed count makes the two comparable
            theirs = aggregation.DawidSkene(n_iter=n_iter, tol=-np.inf).fit(data)
        probas = theirs.probas_.sort_index()[[0, 1, 2]].to_numpy()
        np.testing.assert_allclose(ours.posteriors, probas, atol=1e-6)
        np.testing.assert_allclose(ours.prior, theirs.priors_.sort_index().to_numpy(), atol=1e-6)
        for (worker, observed), row in theirs.errors_.iterrows():  # their errors: (worker, observed) x true
            np.testing.assert_allclose(ours.confusion[worker, :, observed], row[[0, 1, 2]].to_numpy(), atol=1e-6)
