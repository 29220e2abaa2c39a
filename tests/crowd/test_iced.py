"""ICED's pieces (Wang 2023, sec. 3.2, Alg. 3.1-3.2; tsimb.crowd.iced): the certainty score
(eq. 3.4), the four groups, the warm-up order, the certainty-weighted step (eq. 3.5), latent
SMOTE over the estimated minority, synthetic votes, and one short run."""

from __future__ import annotations

import numpy as np
import pytest

from tsimb.crowd import (AnnotatorSettings, CrowdDataset, ICEDSettings, certainty_delta, certainty_groups,
                         certainty_score, certainty_smote, fit_iced, simulate_annotators, stack_votes,
                         synthetic_votes, warm_up_stages)
from tsimb.data import Dataset, Votes
from tsimb.methods import METHODS
from tsimb.models import build_model
from tsimb.train import Budget


def splits(W: int) -> Votes:
    """Every split of W votes on two classes, one series each: W-0, (W-1)-1, ..."""
    return Votes.from_matrix(np.array([[0] * (W - j) + [1] * j for j in range(W + 1)]))


def test_certainty_score_is_the_inverse_gini_spread_of_the_votes():
    scores = certainty_score(splits(7), eps=0.1)
    shares = np.arange(8)[::-1] / 7
    np.testing.assert_allclose(scores, 1 / (1 - shares ** 2 - (1 - shares) ** 2 + 0.1))
    assert scores[0] == pytest.approx(10.0) and scores.argmin() in (3, 4)  # unanimous 1/eps; the 4-3 splits lowest


@pytest.mark.parametrize("W, levels", [(7, 4), (9, 5), (11, 6), (3, 2)])
def test_certainty_groups_partition_the_series(W, levels):
    scores = certainty_score(Votes.from_matrix(np.random.default_rng(W).integers(0, 2, (200, W))))
    for how in ("levels", "quantiles"):
        groups = certainty_groups(scores, how)
        assert groups.shape == (200,) and set(np.unique(groups)) <= {0, 1, 2, 3}  # one group per series
        assert all((scores[groups == g].min() >= scores[groups == g - 1].max() - 1e-9)
                   for g in (1, 2, 3) if (groups == g).any() and (groups == g - 1).any())  # ordered by certainty
    groups = certainty_groups(certainty_score(splits(W)))
    assert np.unique(certainty_score(splits(W)).round(9)).size == levels
    assert sorted(np.unique(groups).tolist()) == list(range(4 - min(levels, 4), 4))
    assert np.bincount(certainty_groups(scores, "quantiles"), minlength=4).tolist() == [50, 50, 50, 50]


def test_warm_up_goes_from_the_third_highest_to_the_highest_group_and_leaves_the_lowest_out():
    groups = np.array([0, 1, 1, 2, 2, 3, 3, 3])
    stages = warm_up_stages(groups, "iced", 2)
    assert [(index.tolist(), epochs) for index, epochs in stages] == [([1, 2], 2), ([3, 4], 2), ([5, 6, 7], 2)]
    assert [(i.tolist(), e) for i, e in warm_up_stages(groups, "all", 2)] == [(list(range(8)), 6)]
    assert [(i.tolist(), e) for i, e in warm_up_stages(groups, "top", 2)] == [(list(range(1, 8)), 6)]
    # an empty (or one-series) group hands its epochs on
    assert [(i.tolist(), e) for i, e in warm_up_stages(np.array([0, 2, 3, 3, 3]), "iced", 2)] == [([2, 3, 4], 6)]


def test_certainty_delta_leans_toward_the_more_certain_series_within_0_and_1():
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(certainty_delta(np.array([1.0, 9.0]), np.array([9.0, 1.0]), 0.0, rng), [0.9, 0.1])
    delta = certainty_delta(np.full(1000, 10.0), np.full(1000, 10.0), 0.7, rng)
    assert delta.min() == 0.0 and delta.max() == 1.0 and 0.4 < delta.mean() < 0.6


def test_certainty_smote_tops_the_estimated_minority_up_between_its_own_codes():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], [40, 8])
    codes = rng.normal(size=(48, 3)) + 5 * labels[:, None]
    new_codes, new_labels = certainty_smote(codes, labels, np.ones(48), k=3, seed=0)
    assert new_codes.shape == (32, 3) and (new_labels == 1).all()
    minority = codes[labels == 1]
    assert (new_codes >= minority.min(axis=0) - 1e-9).all() and (new_codes <= minority.max(axis=0) + 1e-9).all()
    empty, _ = certainty_smote(codes[:40], labels[:40], np.ones(40))
    assert empty.shape == (0, 3)  # one estimated class: nothing to synthesise


def test_synthetic_votes_come_from_the_nearest_real_series_workers():
    y = np.repeat([0, 1], [30, 10])
    votes = simulate_annotators(y, AnnotatorSettings(n_workers=5, coverage=0.7), seed=0)
    codes = np.random.default_rng(2).normal(size=(40, 2))
    new_codes = codes[[3, 35]] + 1e-6
    one = synthetic_votes(codes, votes, new_codes, k=1)
    assert list(one.table.columns) == list(votes.table.columns)
    assert set(one.workers) <= set(votes.workers) and one.n_series == 2 and one.n_classes == votes.n_classes
    np.testing.assert_array_equal(one.matrix(), votes.matrix()[[3, 35]][:, :one.matrix().shape[1]])
    many = synthetic_votes(codes, votes, codes[:20], k=5, seed=1)
    assert set(many.workers) <= set(votes.workers) and (many.counts().sum(axis=1) >= 1).all()
    both = stack_votes(votes, many)
    assert both.n_series == 60 and both.table["series"].max() == 59


def test_iced_runs_its_warm_up_and_rounds_and_scores_the_label_inference(make_series):
    X, y = make_series([40, 8], length=16, seed=3, separation=2.0)
    votes = simulate_annotators(y, AnnotatorSettings(n_workers=7), seed=0)
    settings = ICEDSettings(warmup_epochs=1, ae_epochs=2)
    run = fit_iced(build_model("cnn", 1, 2), X, votes, settings=settings, epochs=6, batch_size=16, true_y=y)
    assert len(run.history.loss) == 6 and np.isfinite(run.history.loss).all()
    assert len(run.synthesised) == 3 and len(run.label_accuracy) == 4  # D&S-orig, then one per round
    assert run.labels.shape == (48,)
    crowd = CrowdDataset.from_votes(Dataset("toy", "train", X, y, ("a", "b")), votes)
    budget = Budget(epochs=5, batch_size=16)
    full = METHODS["iced"].train(crowd, model="cnn", budget=budget, settings=settings, seed=1)
    replay = METHODS["iced"].train(crowd, model="cnn", budget=budget, settings=settings, seed=1, epochs=4)
    assert replay.trace == full.trace[:4] and full.extras["iced"].label_accuracy
