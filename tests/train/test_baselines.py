"""Every baseline method trains end to end on a tiny imbalanced set (tsimb.train.baselines)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tsimb.methods import METHODS
from tsimb.models import NormedLinear, SmallCNN
from tsimb.train import BASELINE_METHODS, BaselineParams, Budget, ClassicMethod, predict_proba

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


@pytest.mark.parametrize("method", BASELINE_METHODS)
def test_every_method_trains_and_predicts(tiny, method):
    train, X_test = tiny
    assert isinstance(METHODS[method], ClassicMethod)
    trained = METHODS[method].train(train, model="cnn", budget=BUDGET, seed=0, device="cpu")
    model, history = trained.classifier, trained.history
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
    a = METHODS["smote"].train(train, model="cnn", budget=BUDGET, seed=3, device="cpu")
    b = METHODS["smote"].train(train, model="cnn", budget=BUDGET, seed=3, device="cpu")
    assert a.trace == b.trace
    for p, q in zip(a.classifier.state_dict().values(), b.classifier.state_dict().values()):
        assert torch.equal(p, q)


def test_mlp_baseline_gets_the_series_length(tiny):
    train, X_test = tiny
    model = METHODS["none"].train(train, model="mlp", budget=BUDGET, device="cpu").classifier
    assert predict_proba(model, X_test).shape == (10, 2)


def test_unknown_method_and_foreign_settings(tiny):
    train, _ = tiny
    with pytest.raises(ValueError, match="unknown method"):
        METHODS["mixup"]
    with pytest.raises(ValueError, match="takes BaselineParams"):
        METHODS["none"].train(train, model="cnn", budget=BUDGET, settings=Budget())


def test_a_recipe_adds_its_callbacks_to_the_budget_instead_of_replacing_them(tiny):
    """ldam-drw-sgd brings its warm-up schedule; the budget's keep-best weights stay."""
    train, _ = tiny
    trained = METHODS["ldam-drw-sgd"].train(train, model="cnn", seed=0,
                                            budget=Budget(epochs=3, batch_size=8, keep_best=True))
    assert trained.history.best_epoch is not None


def test_the_methods_settings_are_used(tiny):
    train, _ = tiny
    a = METHODS["focal"].train(train, model="cnn", budget=BUDGET, seed=0)
    b = METHODS["focal"].train(train, model="cnn", budget=BUDGET, seed=0, settings=BaselineParams(focal_gamma=0.0))
    assert a.trace != b.trace


def test_ldam_drw_drops_its_learning_rate_once_at_the_deferral_epoch(tiny):
    """The step's own callbacks (class-weight schedule, LR milestones) run once per event:
    the 10x drop comes at round(drw_fraction * epochs), not earlier."""
    train, _ = tiny
    budget = Budget(epochs=5, batch_size=8, lr=1e-3, drw_fraction=0.6, drw_lr_factor=0.1)
    lr = METHODS["ldam-drw"].train(train, model="cnn", budget=budget, seed=0).history.lr
    start = round(budget.drw_fraction * budget.epochs)  # epoch 3: the drop applies from there on
    assert lr == pytest.approx([1e-3] * (start - 1) + [1e-4] * (budget.epochs - start + 1))
