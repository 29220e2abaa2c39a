"""The one loop and its steps (tsimb.train.loop, tsimb.train.steps): soft targets, sample
weights after a transform, argument checks, the divergence check after the last step, and
a new method's whole step: a toy augmentation written as a ClassifierStep subclass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tsimb.data import Votes
from tsimb.models import build_model
from tsimb.runtime import seed_everything
from tsimb.train import ClassifierStep, Step, TrainingDivergedError, fit


def _data(counts=(8, 8), length=16, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    return (rng.normal(size=(len(y), 1, length)) + y[:, None, None]).astype(np.float32), y


def _trained(X, y, **options):
    seed_everything(0)
    model = build_model("cnn", 1, 2)
    history = fit(model, X, y, epochs=2, batch_size=4, seed=0, **options)
    return model, history


def test_one_hot_soft_targets_train_exactly_as_class_indices():
    X, y = _data()
    a, ha = _trained(X, y)
    b, hb = _trained(X, np.eye(2, dtype=np.float32)[y])
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-5)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_class_weights_of_a_soft_target_are_its_expected_weight():
    X, y = _data()
    weights = np.array([1.0, 3.0])
    _, ha = _trained(X, y, class_weight=weights)
    _, hb = _trained(X, np.eye(2, dtype=np.float32)[y], class_weight=weights)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-5)


def test_a_vote_table_trains_on_its_vote_shares():
    X, y = _data()
    matrix = np.stack([y, y, 1 - y], axis=1)  # two workers right, one always wrong
    votes = Votes.from_matrix(matrix)
    np.testing.assert_allclose(votes.shares()[0], [2 / 3, 1 / 3])
    _, ha = _trained(X, votes)
    _, hb = _trained(X, votes.shares())
    assert ha.loss == hb.loss


@pytest.mark.parametrize("bad, message", [
    (np.full((16, 2), 0.7, np.float32), "probability vectors"),
    (np.full((16, 2), np.nan, np.float32), "probability vectors"),
    (np.ones((16, 1), np.float32), "at least two classes"),
])
def test_bad_soft_targets_are_refused(bad, message):
    X, _ = _data()
    with pytest.raises(ValueError, match=message):
        _trained(X, bad)


@pytest.mark.parametrize("option, value", [("momentum", float("nan")), ("momentum", 1.5), ("lr_gamma", 0.0),
                                           ("weight_decay", float("nan")), ("lr", "1e-3"), ("weight_decay", -1.0),
                                           ("seed", 1.5)])
def test_every_number_fit_takes_is_checked(option, value):
    X, y = _data()
    seed_everything(0)
    with pytest.raises(ValueError, match=option):
        fit(build_model("cnn", 1, 2), X, y, epochs=1, optimizer="sgd", **{option: value})


@pytest.mark.parametrize("option, value", [("epochs", True), ("batch_size", True), ("batch_size", 0)])
def test_budgets_of_fit_are_checked(option, value):
    X, y = _data()
    with pytest.raises(ValueError, match=option):
        fit(build_model("cnn", 1, 2), X, y, **{option: value})


def test_parameters_that_stop_being_finite_after_the_last_step_are_caught():
    """The epoch's loss is computed before the step; a step that overflows the weights
    leaves a finite history and NaN parameters, which must not pass silently."""
    class Overflowing(ClassifierStep):
        def __call__(self, state, batch):
            out = super().__call__(state, batch)
            with torch.no_grad():  # as an overflowing last update would leave them
                self.model.head.weight.fill_(float("inf"))
            return out

    X, y = _data()
    seed_everything(0)
    with pytest.raises(TrainingDivergedError, match="not finite after training"):
        fit(Overflowing(build_model("cnn", 1, 2), X, y), epochs=1, batch_size=16)


def test_a_head_of_fewer_classes_than_the_labels_is_refused_for_normed_heads_too():
    X, y = _data((4, 4, 4))
    for normed in (False, True):
        with pytest.raises(ValueError, match="labels go up to 2 but the model has 2 outputs"):
            fit(build_model("cnn", 1, 2, normed_head=normed), X, y, epochs=1)


def test_a_step_holds_its_data():
    X, y = _data()
    step = ClassifierStep(build_model("cnn", 1, 2), X, y)
    with pytest.raises(ValueError, match="holds its own data"):
        fit(step, X, y, epochs=1)
    assert isinstance(step, Step)


class FlipStep(ClassifierStep):
    """A toy method, written as a new method is: each minibatch gains its time-reversed copy."""

    def transform(self, state, x, y, weight):
        return torch.cat([x, x.flip(-1)]), torch.cat([y, y]), None if weight is None else torch.cat([weight, weight])


def test_a_new_method_is_one_step_subclass():
    X, y = _data()
    seed_everything(0)
    history = fit(FlipStep(build_model("cnn", 1, 2), X, y, seed=0), epochs=2, batch_size=4)
    assert history.samples_seen == 2 * 2 * 16 and np.isfinite(history.loss).all()
