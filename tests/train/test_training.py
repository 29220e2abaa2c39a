"""The training loop: determinism, weighting convention, re-sampling, errors (tsimb.train)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tsimb.losses import DeferredReweighting
from tsimb.models import build_model
from tsimb.runtime import seed_everything
from tsimb.train import extract_features, fit, predict_proba

EPOCHS = 3


def _train(X, y, model_seed=0, fit_seed=0, model="cnn", **kwargs):
    seed_everything(model_seed)
    net = build_model(model, X.shape[1], int(y.max()) + 1, length=X.shape[2])
    kwargs.setdefault("epochs", EPOCHS)
    kwargs.setdefault("batch_size", 8)
    history = fit(net, X, y, seed=fit_seed, device="cpu", **kwargs)
    return net, history


def _params(model):
    return [p.detach().clone() for p in model.state_dict().values()]


def _same_params(a, b):
    return all(torch.equal(x, y) for x, y in zip(_params(a), _params(b)))


@pytest.mark.parametrize("model", ["cnn", "mlp"])  # mlp: dropout draws from the global RNG
def test_same_seed_gives_identical_runs(make_series, model):
    X, y = make_series([20, 5], seed=1)
    m1, h1 = _train(X, y, 3, 3, model)
    m2, h2 = _train(X, y, 3, 3, model)
    assert h1.loss == h2.loss
    assert len(h1.loss) == EPOCHS and all(np.isfinite(h1.loss))
    assert _same_params(m1, m2)


def test_different_seeds_give_different_runs(make_series):
    X, y = make_series([20, 5], seed=1)
    m1, h1 = _train(X, y, 0, 0)
    m2, h2 = _train(X, y, 1, 1)
    assert h1.loss != h2.loss
    assert not _same_params(m1, m2)
    # the fit seed alone (minibatch order) changes the run too
    m3, h3 = _train(X, y, 0, 1)
    assert h1.loss != h3.loss


def test_equal_class_weights_give_the_unweighted_run(make_series):
    """Weighted mean sum(w l) / sum(w): scaling all weights changes nothing."""
    X, y = make_series([20, 5], seed=2)
    m0, h0 = _train(X, y)
    m1, h1 = _train(X, y, class_weight=np.array([3.0, 3.0]))
    m2, h2 = _train(X, y, sample_weight=np.full(y.size, 0.25))
    for m, h in ((m1, h1), (m2, h2)):
        np.testing.assert_allclose(h.loss, h0.loss, rtol=1e-5)
        for a, b in zip(_params(m0), _params(m)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    # unequal weights do change the run, so the comparison above means something
    _, h3 = _train(X, y, class_weight=np.array([1.0, 4.0]))
    assert not np.allclose(h3.loss, h0.loss, rtol=1e-5)


def test_class_weight_schedule_is_called_every_epoch(make_series):
    X, y = make_series([12, 6], seed=3)
    calls = []

    def schedule(epoch):
        calls.append(epoch)
        return None

    _train(X, y, epochs=4, class_weight=schedule)
    assert calls == [0, 1, 2, 3]
    # DRW that starts after the last epoch is the unweighted run
    _, plain = _train(X, y, epochs=4)
    _, drw = _train(X, y, epochs=4, class_weight=DeferredReweighting(np.array([1.0, 5.0]), 4))
    assert drw.loss == plain.loss
    _, drw_early = _train(X, y, epochs=4, class_weight=DeferredReweighting(np.array([1.0, 5.0]), 2))
    assert drw_early.loss[:2] == plain.loss[:2] and drw_early.loss[2:] != plain.loss[2:]


@pytest.mark.parametrize("how, counts", [("over", [20, 20]), ("under", [5, 5])])
def test_random_resampling_equalises_counts_and_is_seeded(make_series, how, counts):
    from tsimb.data import random_resample_index

    _, y = make_series([20, 5], seed=4)
    index = random_resample_index(y, how, seed=0)
    assert np.bincount(y[index]).tolist() == counts
    np.testing.assert_array_equal(index, random_resample_index(y, how, seed=0))
    with pytest.raises(ValueError, match="resample"):
        random_resample_index(y, "smote")


def test_a_last_batch_of_one_series_is_skipped(make_series):
    X, y = make_series([12, 5], seed=5)  # 17 series, batches of 16 and 1
    _, history = _train(X, y, epochs=2, batch_size=16)
    assert history.samples_seen == 2 * 16


def test_nan_input_is_rejected(make_series):
    X, y = make_series([10, 5])
    X[3, 0, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _train(X, y)


@pytest.mark.parametrize("weights", [np.ones(14), np.ones((15, 1)), np.r_[np.ones(14), -1.0]],
                         ids=["too short", "2-D", "negative"])
def test_bad_sample_weight(make_series, weights):
    X, y = make_series([10, 5])
    with pytest.raises(ValueError, match="sample_weight"):
        _train(X, y, sample_weight=weights)


def test_too_short_class_weight(make_series):
    X, y = make_series([10, 5, 5])
    with pytest.raises(ValueError, match="class_weight"):
        _train(X, y, class_weight=np.array([1.0, 2.0]))


def test_needs_two_series(make_series):
    X, y = make_series([1])
    with pytest.raises(ValueError, match="two"):
        _train(X, y)


def test_predict_proba_and_features(make_series):
    X, y = make_series([10, 6, 4], channels=2, length=12, seed=6)
    model, _ = _train(X, y, epochs=1)
    proba = predict_proba(model, X, batch_size=7)
    assert proba.shape == (20, 3) and proba.dtype == np.float32
    assert (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    # batching does not change the answer (evaluation mode: no batch statistics)
    np.testing.assert_allclose(predict_proba(model, X, batch_size=1024), proba, atol=1e-6)
    features = extract_features(model, X, batch_size=6)
    assert features.shape == (20, model.feature_dim)
    with torch.no_grad():
        logits = model.head(torch.as_tensor(features))
    np.testing.assert_allclose(torch.softmax(logits, dim=1).numpy(), proba, atol=1e-5)
    with pytest.raises(ValueError):
        predict_proba(model, X[:, 0])


def test_sample_weights_follow_a_steps_transform_and_must_match_it(make_series):
    from tsimb.train import ClassifierStep

    X, y = make_series([8, 8], seed=0)

    class Doubling(ClassifierStep):
        def transform(self, state, x, y, weight):
            return torch.cat([x, x]), torch.cat([y, y]), weight  # forgets to repeat the weights

    step = Doubling(build_model("cnn", X.shape[1], 2), X, y, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="one weight per series"):
        fit(step, epochs=1, batch_size=4)


def test_predictions_run_in_eval_mode_and_restore_the_mode(make_series):
    X, _ = make_series([4, 4], seed=0)
    seed_everything(0)
    model = build_model("mlp", 1, 2, X.shape[2])  # dropout: train-mode outputs are random
    model.train()
    a, b = predict_proba(model, X), predict_proba(model, X)
    np.testing.assert_array_equal(a, b)
    extract_features(model, X)
    assert model.training


# --- events: the Fawaz et al. protocol, divergence, budgets --------------------------------


def test_plateau_schedule_halves_the_rate_after_patience_and_stops_at_the_minimum():
    from tsimb.train import FitState, History, PlateauSchedule

    net = torch.nn.Linear(2, 2)
    state = FitState(net, torch.optim.Adam(net.parameters(), lr=1e-3), History())
    schedule = PlateauSchedule(factor=0.5, patience=2, min_lr=2.5e-4)
    schedule.on_fit_start(state)
    lrs = []
    for loss in [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]:
        state.history.loss.append(loss)
        schedule.on_epoch_end(state)
        lrs.append(state.optimiser.param_groups[0]["lr"])
    # no improvement from the third epoch: halved after every 3 flat epochs (patience 2)
    assert lrs == pytest.approx([1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 2.5e-4, 2.5e-4, 2.5e-4, 2.5e-4])


def test_keep_best_restores_the_weights_of_the_lowest_training_loss(make_series):
    from tsimb.train import Callback, KeepBestWeights

    class Snapshots(Callback):
        def on_fit_start(self, state):
            self.states = []

        def on_epoch_end(self, state):
            self.states.append({k: v.clone() for k, v in state.model.state_dict().items()})

    X, y = make_series([8, 8], seed=2, separation=0.5)
    snaps = Snapshots()
    net, history = _train(X, y, epochs=6, lr=0.05, callbacks=[snaps, KeepBestWeights()])
    best = int(np.argmin(history.loss))
    assert history.best_epoch == best
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, snaps.states[best][key])


def test_the_fawaz_budget_sets_batch_size_schedule_and_keep_best():
    from tsimb.train import FAWAZ_RESNET, KeepBestWeights, PlateauSchedule

    assert FAWAZ_RESNET.batch_size_for(23) == 2 and FAWAZ_RESNET.batch_size_for(1000) == 64
    assert FAWAZ_RESNET.epochs == 1500 and FAWAZ_RESNET.lr == 1e-3
    callbacks = FAWAZ_RESNET.callbacks()
    assert [type(c) for c in callbacks] == [PlateauSchedule, KeepBestWeights]
    assert callbacks[0].patience == 50 and callbacks[0].min_lr == 1e-4
    assert FAWAZ_RESNET.epochs_for(None) == 1500 and FAWAZ_RESNET.epochs_for(2) == 2


@pytest.mark.parametrize("field, value", [("epochs", 0), ("epochs", -3), ("epochs", True), ("batch_size", 0),
                                          ("lr", float("nan")), ("lr", -1.0), ("batch_rule", "auto"),
                                          ("drw_fraction", 5.0), ("weight_decay", float("nan")),
                                          ("min_lr", float("nan")), ("plateau_patience", 0), ("keep_best", 1)])
def test_bad_budgets_are_refused(field, value):
    from tsimb.train import Budget

    with pytest.raises(ValueError, match=f"Budget.{field}"):
        Budget(**{field: value})


@pytest.mark.parametrize("kwargs, match", [(dict(epochs=0), "epochs"), (dict(batch_size=0), "batch_size"),
                                           (dict(lr=float("inf")), "lr")])
def test_fit_refuses_budgets_that_would_train_nothing(make_series, kwargs, match):
    X, y = make_series([10, 5])
    with pytest.raises(ValueError, match=match):
        _train(X, y, **kwargs)


@pytest.mark.parametrize("how", ["nan class weight", "nan sample weight"])
def test_nan_weights_are_refused_before_training(make_series, how):
    X, y = make_series([10, 5])
    kwargs = (dict(class_weight=np.array([1.0, np.nan])) if how == "nan class weight"
              else dict(sample_weight=np.r_[np.ones(14), np.nan]))
    with pytest.raises(ValueError, match="finite"):
        _train(X, y, **kwargs)


def test_a_diverging_loss_stops_with_the_epoch_and_batch(make_series):
    from tsimb.train import TrainingDivergedError

    X, y = make_series([10, 6])
    X = (np.sign(X) * 3e38).astype(np.float32)  # finite, but the first layer's sums overflow
    with pytest.raises(TrainingDivergedError, match=r"epoch 0, batch 0 of 2.*largest \|x\|"):
        _train(X, y, model="mlp")


def test_labels_beyond_the_models_outputs_are_named(make_series):
    X, y = make_series([10, 5])
    seed_everything(0)
    net = build_model("cnn", 1, 2, length=X.shape[2])
    with pytest.raises(ValueError, match="labels go up to 4 but the model has 2 outputs"):
        fit(net, X, np.r_[y[:-1], 4], epochs=1, device="cpu")


def test_mean_reduction_divides_by_the_batch_size(make_series):
    """Cui et al.'s reduction: weights scale the loss, unlike the weighted mean."""
    X, y = make_series([8, 8])
    weights = np.array([2.0, 2.0])
    _, mean = _train(X, y, epochs=1, batch_size=16, class_weight=weights, loss_reduction="mean", lr=1e-12)
    _, weighted = _train(X, y, epochs=1, batch_size=16, class_weight=weights, lr=1e-12)
    _, plain = _train(X, y, epochs=1, batch_size=16, lr=1e-12)
    assert weighted.loss[0] == pytest.approx(plain.loss[0], rel=1e-5)
    assert mean.loss[0] == pytest.approx(2 * plain.loss[0], rel=1e-5)


def test_the_ldam_reference_schedule_warms_up_then_drops_twice():
    from tsimb.train import FitState, History, WarmupStepSchedule

    net = torch.nn.Linear(2, 2)
    state = FitState(net, torch.optim.SGD(net.parameters(), lr=0.1), History())
    schedule = WarmupStepSchedule(200)
    schedule.on_fit_start(state)
    lrs = []
    for epoch in range(200):
        state.epoch = epoch
        schedule.on_epoch_start(state)
        lrs.append(state.optimiser.param_groups[0]["lr"])
    assert lrs[:5] == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1])
    assert lrs[159] == pytest.approx(0.1) and lrs[160] == pytest.approx(1e-3) and lrs[180] == pytest.approx(1e-5)


def test_fit_refuses_an_unknown_optimizer(make_series):
    X, y = make_series([10, 5])
    with pytest.raises(ValueError, match="optimizer"):
        _train(X, y, optimizer="lbfgs")


def test_milestones_step_before_a_plateau_schedule_and_history_records_the_rate_after_each_epoch(make_series):
    from tsimb.models import build_model
    from tsimb.train import PlateauSchedule, fit

    X, y = make_series([8, 8], seed=0)
    # patience 0 with a loss that cannot improve every epoch: the plateau halves the rate at
    # some epochs; the milestone divides it by ten at epoch 2, and min_lr bounds the result
    history = fit(build_model("cnn", X.shape[1], 2), X, y, epochs=4, lr=1e-2, lr_milestones=[2], lr_gamma=0.1,
                  callbacks=[PlateauSchedule(factor=0.5, patience=0, min_lr=1e-3)])
    assert len(history.lr) == 4 and min(history.lr) >= 1e-3 - 1e-12
    assert history.lr[1] <= 1e-3 + 1e-12  # the milestone (stepped first) took 1e-2 down to at most 1e-3


@pytest.mark.parametrize("n, batch_size, expected", [(32, 32, 1), (33, 32, 1), (34, 32, 2), (2, 32, 1), (65, 16, 4),
                                                     (64, 16, 4), (7, 2, 3)])
def test_the_steps_of_an_epoch_are_counted_as_fit_takes_them(n, batch_size, expected):
    """A last minibatch of one series is dropped when there are others (batch norm)."""
    from tsimb.train import minibatches_per_epoch

    assert minibatches_per_epoch(n, batch_size) == expected
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(n, 1, 16)).astype(np.float32), np.arange(n) % 2
    seed_everything(0)
    history = fit(build_model("cnn", 1, 2, 16), X, y, epochs=2, batch_size=batch_size, seed=0, progress=False)
    assert history.steps == 2 * expected
