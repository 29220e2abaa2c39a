"""Adversarial training under imbalance (tsimb.robustness.training): PGD examples inside
the budget, batch norm left to the training pass, DRW switching at its epoch, SRAT's
separation term, the settings, and the loss falling for a few methods. The contract test
(tests/test_registries.py) trains, seeds and replays every registered method."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tsimb.data import Dataset
from tsimb.losses import FocalLoss, class_balanced_weights, separation_loss
from tsimb.methods import METHODS
from tsimb.models import build_model
from tsimb.robustness import (
    VARIANTS,
    AdversarialSettings,
    AdversarialStep,
    adversarial_scores,
    fgsm,
    paper_l2_eps,
    perturb,
    pgd,
)
from tsimb.robustness.training import class_weights, drw_start
from tsimb.runtime import seed_everything
from tsimb.train import Budget, Callback, FitState, fit


@pytest.fixture
def tiny(make_dataset):
    return make_dataset([16, 4], length=16, separation=1.5, seed=3)


def _step(data: Dataset, attack, model: str = "cnn", **options) -> AdversarialStep:
    seed_everything(0)
    model = build_model(model, data.n_channels, data.n_classes)
    return AdversarialStep(model, data.X, data.y, attack=attack, seed=0, **options)


def _max_norm(delta: torch.Tensor, norm: str) -> torch.Tensor:
    flat = delta.flatten(1)
    return flat.abs().max(dim=1).values if norm == "linf" else flat.norm(dim=1)


@pytest.mark.parametrize("norm,eps", [("linf", 0.1), ("l2", 0.5)])
def test_pgd_examples_stay_inside_the_budget(tiny, norm, eps):
    settings = AdversarialSettings(eps=eps, norm=norm, steps=5)
    step = _step(tiny, settings.attack())
    state = FitState(step.model, step.optimiser, None, n_classes=2)
    x, y = step.X[:8], step.y[:8]
    x_adv, y_adv, _ = step.transform(state, x, y, None)
    size = _max_norm(x_adv - x, norm)
    assert (size <= eps + 1e-5).all() and (size > 0).all()
    assert torch.equal(y_adv, y)
    assert (x_adv.abs() > 1).any()  # z-units, never clipped to a pixel range


def test_the_attack_leaves_batch_norm_alone_and_the_training_pass_updates_it(tiny):
    step = _step(tiny, pgd(eps=0.1, step=0.025, steps=3), model="fcn")  # the small CNN has no batch norm
    step.model.train()
    buffers = {k: v.clone() for k, v in step.model.state_dict().items() if "running" in k}
    assert buffers, "the test needs a model with batch norm"
    state = FitState(step.model, step.optimiser, None, n_classes=2)
    step.transform(state, step.X[:8], step.y[:8], None)
    assert all(torch.equal(step.model.state_dict()[k], v) for k, v in buffers.items())
    assert step.model.training  # the attack restored the mode
    step(state, torch.arange(8))
    assert any(not torch.equal(step.model.state_dict()[k], v) for k, v in buffers.items())


def test_the_attack_ascends_the_training_loss():
    # focal loss is an increasing function of cross entropy per series: same FGSM sign
    seed_everything(0)
    model = build_model("cnn", 1, 3).eval()
    x, y = torch.randn(6, 1, 16), torch.tensor([0, 1, 2, 0, 1, 2])
    ce = perturb(model, x, y, fgsm(0.1))
    focal = perturb(model, x, y, fgsm(0.1), loss=FocalLoss(2.0))
    torch.testing.assert_close(focal, ce)


def test_srat_adds_lambda_times_the_separation_loss(tiny):
    step = _step(tiny, pgd(steps=2), separation_weight=2.5, temperature=0.2)
    features, y = torch.randn(6, 4), torch.tensor([0, 0, 1, 1, 0, 1])
    term = step.extra_loss(None, features, None, y)
    torch.testing.assert_close(term, 2.5 * separation_loss(features, y, 0.2))
    assert _step(tiny, pgd(steps=2)).extra_loss(None, features, None, y) is None


class _Record(Callback):
    def __init__(self) -> None:
        self.weights, self.lrs = [], []

    def on_epoch_start(self, state: FitState) -> None:
        self.weights.append(None if state.class_weight is None else state.class_weight.cpu().numpy().copy())
        self.lrs.append(state.optimiser.param_groups[0]["lr"])


@pytest.mark.parametrize("name", ["drcb-ce", "srat-ldam"])
def test_drw_switches_at_the_set_epoch(tiny, name):
    settings = AdversarialSettings(steps=1, drw_fraction=0.5)
    budget = Budget(epochs=4, batch_size=8, lr=1e-3, drw_lr_factor=0.1)
    assert drw_start(settings, budget) == 2
    method = METHODS[name]
    options = method.step_options(tiny, budget, settings)
    seed_everything(0)
    model = build_model("cnn", 1, 2, normed_head=name.endswith("ldam"))
    step = AdversarialStep(model, tiny.X, tiny.y, attack=settings.attack(), seed=0, lr=budget.lr, **options)
    record = _Record()
    fit(step, epochs=4, batch_size=8, callbacks=[record])
    expected = class_balanced_weights(np.bincount(tiny.y), beta=settings.cb_beta)
    assert record.weights[0] is None and record.weights[1] is None
    np.testing.assert_allclose(record.weights[2], expected, rtol=1e-6)
    np.testing.assert_allclose(record.weights[3], expected, rtol=1e-6)
    assert record.lrs[:2] == [1e-3, 1e-3] and record.lrs[2:] == pytest.approx([1e-4, 1e-4])


def test_drw_fraction_defaults_to_the_budgets():
    assert drw_start(AdversarialSettings(), Budget(epochs=200)) == 160  # the paper's epoch 160 of 200
    assert drw_start(AdversarialSettings(drw_fraction=0.25), Budget(epochs=200)) == 50


def test_class_balanced_weights_give_the_dissertations_78_for_step_100():
    # CIFAR-10 Step-100: 5 classes of 5000, 5 of 50 (Wang 2023, sec. 4.5.3, "about 78")
    weights = class_balanced_weights([5000] * 5 + [50] * 5, beta=AdversarialSettings().cb_beta)
    assert weights[-1] / weights[0] == pytest.approx(78.89, abs=0.01)


def test_settings_follow_the_papers_ratios_and_reject_bad_values():
    s = AdversarialSettings()
    assert (s.eps, s.norm, s.steps, s.eval_steps) == (0.1, "linf", 10, 20)
    assert s.step == pytest.approx(0.025)  # 2/255 of 8/255
    assert AdversarialSettings(eps=1.0, norm="l2").step == pytest.approx(15 / 128)
    assert s.evaluation_attack().steps == 20 and s.evaluation_attack().random_start
    assert paper_l2_eps(3 * 32 * 32, 8 / 255) == pytest.approx(128 / 255)
    assert paper_l2_eps(100) == pytest.approx(128 / 8 / math.sqrt(3072) * 0.1 * 10)
    for bad in (dict(eps=0.0), dict(norm="l1"), dict(steps=0), dict(temperature=0.0), dict(cb_beta=1.0),
                dict(separation_weight=-1.0), dict(drw_fraction=1.5), dict(step_size=float("nan"))):
        with pytest.raises(ValueError, match="AdversarialSettings"):
            AdversarialSettings(**bad)


def test_soft_targets_are_refused(tiny):
    soft = np.eye(2, dtype=np.float32)[tiny.y]
    with pytest.raises(ValueError, match="class indices"):
        AdversarialStep(build_model("cnn", 1, 2), tiny.X, soft, attack=pgd())


def test_every_table_row_is_registered():
    assert {"adv", "adv-ros", "adv-reweight", "drcb-ce", "drcb-focal", "drcb-ldam", "srat-ce", "srat-focal",
            "srat-ldam"} <= set(VARIANTS) <= set(METHODS)


@pytest.mark.parametrize("name", ["adv", "adv-ros", "drcb-focal", "srat-ce", "srat-ldam"])
def test_the_training_loss_falls(tiny, name):
    budget = Budget(epochs=6, batch_size=8, lr=3e-3)
    settings = AdversarialSettings(steps=3, drw_fraction=1.0)  # no switch: one loss throughout
    trace = METHODS[name].train(tiny, model="cnn", budget=budget, settings=settings, seed=0).trace
    assert np.isfinite(trace).all() and trace[-1] < trace[0]


def test_adversarial_scores_report_the_tables_four_numbers(tiny):
    trained = METHODS["adv"].train(tiny, model="cnn", budget=Budget(epochs=1, batch_size=8),
                                   settings=AdversarialSettings(steps=1, eval_steps=2))
    scores = adversarial_scores(trained.classifier, tiny.X, tiny.y, AdversarialSettings(eval_steps=2), under=[1])
    assert set(scores) == {"clean_accuracy", "pgd_accuracy", "clean_accuracy_minority", "pgd_accuracy_minority"}
    assert scores["pgd_accuracy"] <= scores["clean_accuracy"] + 1e-9


def test_the_adversarial_benchmark_reports_each_models_ratio():
    from tsimb.bench import benchmark_adversarial

    rows = benchmark_adversarial(models=("cnn",), steps=(2,), n=8, length=16, epochs=1, batch_size=4)
    assert len(rows) == 1 and rows[0]["pgd_steps"] == 2
    assert rows[0]["natural_epoch_s"] > 0 and rows[0]["ratio"] == pytest.approx(
        rows[0]["adversarial_epoch_s"] / rows[0]["natural_epoch_s"])


def test_under_weight_sets_the_ratio_of_figures_4_2_and_4_5():
    counts = np.array([10, 10, 5, 2, 1])  # halves: well {0, 1, 2}, under {3, 4}
    np.testing.assert_array_equal(class_weights(counts, AdversarialSettings(under_weight=78.0)),
                                  [1, 1, 1, 78, 78])
    np.testing.assert_allclose(class_weights(counts, AdversarialSettings()), class_balanced_weights(counts))
    with pytest.raises(ValueError, match="under_weight"):
        AdversarialSettings(under_weight=0.0)


def test_natural_reweight_trains_on_clean_series_with_the_set_weights(tiny):
    method = METHODS["natural-reweight"]
    settings = AdversarialSettings(under_weight=50.0)
    options = method.step_options(tiny, Budget(epochs=1), settings)
    np.testing.assert_array_equal(options["class_weight"], [1.0, 50.0])
    trained = method.train(tiny, model="cnn", budget=Budget(epochs=2, batch_size=8), settings=settings)
    assert np.isfinite(trained.trace).all()
