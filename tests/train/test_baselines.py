"""Every baseline method trains end to end on a tiny imbalanced set (tsimb.train.baselines)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tsimb.train import METHODS, Budget, train_baseline
from tsimb.models import NormedLinear, SmallCNN
from tsimb.train import predict_proba

BUDGET = Budget(epochs=2, batch_size=8, lr=1e-3)
# series seen per epoch for counts [12, 4] with batches of 8
PER_EPOCH = {"none": 16, "class-weights": 16, "ros": 24, "rus": 8, "smote": 24, "focal": 16,
             "cb-focal": 16, "ldam-drw": 16}


@pytest.fixture
def tiny(make_dataset):
    """Counts [12, 4], one channel, length 16, overlapping classes (so ADASYN and
    Borderline-SMOTE find minority series near the majority), and a balanced test set."""
    train = make_dataset([12, 4], channels=1, length=16, seed=0)
    test = make_dataset([5, 5], channels=1, length=16, seed=1, split="test")
    return train, test.X


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_and_predicts(tiny, method):
    train, X_test = tiny
    model, history = train_baseline(method, "cnn", train, BUDGET, seed=0, device="cpu")
    assert isinstance(model, SmallCNN)
    assert isinstance(model.head, NormedLinear) == (method == "ldam-drw")
    assert len(history.loss) == 2 and np.isfinite(history.loss).all()
    if method in PER_EPOCH:
        assert history.samples_seen == 2 * PER_EPOCH[method]
    proba = predict_proba(model, X_test)
    assert proba.shape == (10, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_baselines_are_seeded(tiny):
    train, X_test = tiny
    a, ha = train_baseline("smote", "cnn", train, BUDGET, seed=3, device="cpu")
    b, hb = train_baseline("smote", "cnn", train, BUDGET, seed=3, device="cpu")
    assert ha.loss == hb.loss
    for p, q in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(p, q)


def test_mlp_baseline_gets_the_series_length(tiny):
    train, X_test = tiny
    model, _ = train_baseline("none", "mlp", train, BUDGET, device="cpu")
    assert predict_proba(model, X_test).shape == (10, 2)


def test_unknown_method(tiny):
    train, _ = tiny
    with pytest.raises(ValueError, match="unknown baseline"):
        train_baseline("mixup", "cnn", train, BUDGET)
