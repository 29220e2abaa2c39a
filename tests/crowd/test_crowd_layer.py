"""Crowd-Layer (Rodrigues and Pereira 2018; tsimb.crowd.crowd_layer): masked votes, a batch of
one series, and per-worker matrices that move toward the workers' simulated confusion."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tsimb.crowd import AnnotatorSettings, CrowdDataset, CrowdLayerStep, simulate_annotators, worker_confusion
from tsimb.data import Dataset
from tsimb.methods import METHODS
from tsimb.models import build_model
from tsimb.train import Budget, fit


def test_missing_votes_are_masked_and_a_batch_of_one_series_trains(make_series):
    X, _ = make_series([3, 3], length=16, seed=0)
    matrix = np.array([[0, -1, 1], [1, 1, -1], [0, 0, 0], [-1, -1, 1], [1, 0, 1], [0, -1, -1]])
    torch.manual_seed(0)
    step = CrowdLayerStep(build_model("cnn", 1, 2), X, matrix, 2)
    loss, count = step.loss(step.X[:2], step.votes[:2])
    assert count == 4
    proba = torch.softmax(step.model(step.X[:2]), dim=1)  # identity layer: the logits are the probabilities
    expected = (F.cross_entropy(proba[[0, 0, 1, 1]], torch.tensor([0, 1, 1, 1]), reduction="sum") / 4)
    torch.testing.assert_close(loss, expected)
    history = fit(step, epochs=2, batch_size=1)  # no squeeze anywhere: one series per batch works
    assert len(history.loss) == 2 and np.isfinite(history.loss).all()


def test_crowd_layer_learns_each_workers_confusion_on_an_easy_problem(make_series):
    X, y = make_series([60, 60], length=16, seed=1, separation=3.0)
    settings = AnnotatorSettings(n_workers=4, low=0.3, high=0.3, worker_scale=(0.0, 0.3, 1.0, 1.5))
    votes = simulate_annotators(y, settings, seed=0)  # errors 0, 9, 30 and 45%
    truth, _ = worker_confusion(votes, y)
    crowd = CrowdDataset.from_votes(Dataset("easy", "train", X, y, ("a", "b")), votes)
    trained = METHODS["crowd-layer"].train(crowd, model="cnn", budget=Budget(epochs=40, batch_size=16, lr=3e-3),
                                           seed=0)
    layer = trained.extras["crowd_layer"]
    start = torch.softmax(torch.eye(2), dim=1).numpy()  # the implied confusion at the identity start
    learned = layer.confusion()
    assert np.abs(learned - truth).mean() < 0.5 * np.abs(start[None] - truth).mean()
    errors = learned[:, [0, 1], [1, 0]].mean(axis=1)
    assert np.all(np.diff(errors) > 0)  # the workers' order of reliability is recovered
    predicted = trained.classifier(torch.as_tensor(X)).argmax(dim=1).numpy()
    assert (predicted == y).mean() > 0.95
