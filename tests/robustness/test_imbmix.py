"""Imb-Mix (tsimb.robustness.imbmix) and stochastic weight averaging (tsimb.train.swa):
Remix's labels follow the kappa/tau rule on constructed counts, mixed targets are
probability vectors, the supplementary copies have eq. 5.2's distribution, SWA's weights
are the mean of the snapshots and batch norm is recomputed for them, the rule's firings
are recorded, and every method's loss falls on a tiny set. The contract test
(tests/test_registries.py) trains, seeds and replays every registered method."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from tsimb.methods import METHODS
from tsimb.models import build_model
from tsimb.robustness import AdversarialSettings, pgd
from tsimb.robustness.imbmix import (
    METHOD_DEFAULTS,
    ImbMixSettings,
    ImbMixStep,
    copies_per_class,
    counts_after_copies,
    factorial_settings,
    mix_targets,
    remix_lambda,
    supplementary_copies,
)
from tsimb.runtime import seed_everything
from tsimb.train import Budget, Callback, FitState, fit
from tsimb.train.swa import StochasticWeightAveraging

FAST = AdversarialSettings(steps=2)  # PGD-2 keeps the training tests fast


# --- Remix's rule (eq. 5.4) and the mixed targets (eq. 5.3) ----------------------------------

@pytest.mark.parametrize("n_i,n_j,lam,expected,fired", [
    (30, 10, 0.3, 0.0, True),    # n_i / n_j = 3 >= kappa and lambda < tau: the minority j's label
    (30, 10, 0.7, 0.7, False),   # lambda >= tau: mixup's label
    (30, 10, 0.5, 0.5, False),   # lambda = tau is not below it
    (10, 30, 0.7, 1.0, True),    # n_i / n_j <= 1 / kappa and 1 - lambda < tau: the minority i's label
    (10, 30, 0.3, 0.3, False),
    (29, 10, 0.3, 0.3, False),   # 2.9 < kappa: never
    (30, 30, 0.1, 0.1, False),   # one class: never
    (100, 1, 0.49, 0.0, True),
])
def test_remix_labels_follow_the_kappa_tau_rule(n_i, n_j, lam, expected, fired):
    lambda_y, did_fire = remix_lambda(torch.tensor([lam]), torch.tensor([n_i]), torch.tensor([n_j]), 3.0, 0.5)
    assert lambda_y.item() == pytest.approx(expected) and did_fire.item() is fired


def test_the_step_mixes_pairs_and_gives_the_label_to_the_minority_by_the_rule(make_dataset):
    data = make_dataset([12, 4], length=16, seed=0)  # 12 / 4 = 3 = kappa
    X = np.eye(16, dtype=np.float32)[:, None, :]  # series k is the unit vector e_k: pairs are readable
    seed_everything(0)
    step = ImbMixStep(build_model("cnn", 1, 2), X, data.y, attack=pgd(steps=1), mix="remix", seed=0)
    x = step.X
    x_mix, targets = step.copy_and_mix(x, x.clone(), step.y, epoch=0)
    assert x_mix.shape == x.shape and targets.shape == (16, 2)
    fired = 0
    for k in range(16):
        row = x_mix[k, 0]
        lam = row[k].item() if row[k] > 0 else 0.0
        others = [j for j in range(16) if j != k and row[j] > 1e-7]
        if not others:  # paired with itself
            assert targets[k, int(step.y[k])].item() == pytest.approx(1.0)
            continue
        (j,) = others
        assert row[j].item() == pytest.approx(1 - lam, abs=1e-6)
        i_label, j_label = int(step.y[k]), int(step.y[j])
        if i_label == j_label:
            expected = [1.0, 0.0] if i_label == 0 else [0.0, 1.0]
        elif (i_label == 0 and lam < 0.5) or (i_label == 1 and 1 - lam < 0.5):
            expected, fired = [0.0, 1.0], fired + 1  # the minority's label
        else:
            expected = [lam, 1 - lam] if i_label == 0 else [1 - lam, lam]
        assert targets[k].tolist() == pytest.approx(expected, abs=1e-5)
    assert step.pairs_per_epoch == [16] and step.fired_per_epoch == [fired] and fired > 0


@pytest.mark.parametrize("seed", range(3))
def test_the_mixed_target_is_a_probability_vector(seed):
    g = torch.Generator().manual_seed(seed)
    y_i, y_j = torch.randint(0, 5, (50,), generator=g), torch.randint(0, 5, (50,), generator=g)
    lam = torch.rand(50, generator=g)
    counts = torch.tensor([100.0, 40, 10, 5, 1])
    lambda_y, _ = remix_lambda(lam, counts[y_i], counts[y_j])
    targets = mix_targets(y_i, y_j, lambda_y, 5)
    assert targets.shape == (50, 5) and (targets >= 0).all()
    torch.testing.assert_close(targets.sum(dim=1), torch.ones(50))
    same = y_i == y_j
    torch.testing.assert_close(targets[same], torch.nn.functional.one_hot(y_i[same], 5).float())
    mixup = mix_targets(y_i, y_j, lam, 5)  # mixup: lambda_y = lambda, weight lambda on y_i
    differ = ~same
    torch.testing.assert_close(mixup[differ].gather(1, y_i[differ, None]).squeeze(1), lam[differ])


# --- which counts the rule sees ---------------------------------------------------------------

def test_balancing_copies_stop_the_rule_when_it_sees_the_counts_after_them():
    counts = np.array([500, 500, 50, 50])  # Step-10
    t = copies_per_class(counts, "balance")
    assert t.tolist() == [0, 0, 10, 10]
    after = counts_after_copies(counts, t)
    assert after.tolist() == [500, 500, 500, 500]
    lam = torch.full((1,), 0.2)
    assert remix_lambda(lam, torch.tensor([500]), torch.tensor([50]))[1].item()  # before: fires
    assert not remix_lambda(lam, torch.tensor(after[:1]), torch.tensor(after[2:3]))[1].item()  # after: never
    assert counts_after_copies(counts, t, keep_adversarial=True).tolist() == [500, 500, 550, 550]


@pytest.mark.parametrize("ratio,last_t", [(10, 3), (100, 33)])
def test_with_counts_after_copies_the_rule_stops_where_the_issue_says(ratio, last_t):
    # Step-10: t >= 4 stops it, Step-100: t >= 34 (n_maj / (t n_min) < kappa = 3)
    counts = np.array([ratio * 5, 5])
    lam = torch.full((1,), 0.1)

    def fires(t: int) -> bool:
        after = counts_after_copies(counts, copies_per_class(counts, t))
        return bool(remix_lambda(lam, torch.tensor(after[:1]), torch.tensor(after[1:]))[1])

    assert fires(last_t) and not fires(last_t + 1)


# --- the supplementary copies (eq. 5.2) --------------------------------------------------------

def test_copies_have_the_stated_distribution():
    x = torch.zeros(2, 1, 50)
    x_adv = x + 0.05  # a perturbation inside eps = 0.1
    t = torch.tensor([0, 2000])
    gen = torch.Generator().manual_seed(0)
    out, rows = supplementary_copies(x, x_adv, t, alpha=1.5, project=False, generator=gen)
    assert out.shape == (2001, 1, 50) and rows.tolist() == [0] + [1] * 2000
    torch.testing.assert_close(out[0], x_adv[0])  # no copies: the adversarial example itself
    z = (out[1:] - x[1]) / (1.5 * 0.05)  # element-wise N(0, 1)
    assert abs(z.mean().item()) < 4 / np.sqrt(z.numel()) and z.std().item() == pytest.approx(1.0, abs=0.02)
    assert z[0].std().item() > 0.5  # one draw per value

    scalar, _ = supplementary_copies(x, x_adv, t, alpha=1.5, noise="scalar", project=False,
                                     generator=torch.Generator().manual_seed(0))
    per_copy = (scalar[1:] - x[1]) / (1.5 * 0.05)
    assert (per_copy.std(dim=-1) < 1e-5).all()  # one draw per copy, on the line through x and x'
    assert per_copy[:, 0, 0].std().item() == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_projected_copies_stay_in_the_ball(norm):
    x = torch.randn(1, 1, 20)
    delta = torch.full((1, 1, 20), 0.1) if norm == "linf" else torch.full((1, 1, 20), 0.5 / np.sqrt(20))
    eps = 0.1 if norm == "linf" else 0.5
    out, _ = supplementary_copies(x, x + delta, torch.tensor([3000]), alpha=1.0, eps=eps, norm=norm,
                                  generator=torch.Generator().manual_seed(1))
    d = (out - x).flatten(1)
    size = d.abs().max(dim=1).values if norm == "linf" else d.norm(dim=1)
    assert (size <= eps + 1e-5).all()
    if norm == "linf":  # x' on the boundary: a value is clipped when |N(0, 1)| > 1, P = 0.3173
        assert (d.abs() > eps - 1e-6).float().mean().item() == pytest.approx(0.3173, abs=0.01)


def test_keep_adversarial_puts_x_prime_first_and_bad_input_is_named():
    x, x_adv = torch.zeros(1, 1, 4), torch.full((1, 1, 4), 0.1)
    out, rows = supplementary_copies(x, x_adv, torch.tensor([3]), eps=0.1, keep_adversarial=True,
                                     generator=torch.Generator().manual_seed(0))
    assert rows.tolist() == [0, 0, 0, 0] and torch.equal(out[0], x_adv[0]) and not torch.equal(out[1], x_adv[0])
    with pytest.raises(ValueError, match="eps"):
        supplementary_copies(x, x_adv, torch.tensor([1]))
    with pytest.raises(ValueError, match="noise"):
        supplementary_copies(x, x_adv, torch.tensor([1]), eps=0.1, noise="gauss")
    with pytest.raises(ValueError, match="one whole number"):
        supplementary_copies(x, x_adv, torch.tensor([1, 2]), eps=0.1)
    with pytest.raises(ValueError, match="copies"):
        copies_per_class(np.array([10, 2]), -1)


def test_copies_per_class_goes_to_the_under_represented_half():
    assert copies_per_class(np.array([100, 10, 40]), "balance").tolist() == [0, 10, 0]
    assert copies_per_class(np.array([100, 100, 10, 10]), 3).tolist() == [0, 0, 3, 3]
    assert copies_per_class(np.array([100, 10]), 0).tolist() == [0, 0]


# --- stochastic weight averaging -------------------------------------------------------------

class _Snapshots(Callback):
    def __init__(self) -> None:
        self.params: list[list[torch.Tensor]] = []

    def on_epoch_end(self, state: FitState) -> None:
        self.params.append([p.detach().clone() for p in state.model.parameters()])


def test_swa_weights_are_the_mean_of_the_snapshots(make_series):
    X, y = make_series([10, 6], length=16, seed=0, separation=1.0)
    seed_everything(0)
    model = build_model("cnn", 1, 2)  # no batch norm
    snaps = _Snapshots()
    swa = StochasticWeightAveraging(start=2, swa_lr=5e-4, anneal_epochs=1)
    history = fit(model, X, y, epochs=5, batch_size=8, callbacks=[snaps, swa], lr=1e-3)
    assert swa.n_averaged == 3
    for k, p in enumerate(model.parameters()):
        torch.testing.assert_close(p.detach(), torch.stack([s[k] for s in snaps.params[2:]]).mean(0))
    assert history.lr[:2] == [1e-3, 1e-3] and history.lr[2:] == pytest.approx([5e-4] * 3)


def test_swa_recomputes_batch_norm_for_the_averaged_weights(make_series):
    X, y = make_series([10, 6], length=16, seed=0)
    seed_everything(0)
    model = build_model("fcn", 1, 2)
    inputs = [torch.randn(8, 1, 16, generator=torch.Generator().manual_seed(k)) for k in range(3)]
    swa = StochasticWeightAveraging(start=1, swa_lr=1e-3, anneal_epochs=0, bn_inputs=lambda module: inputs)
    fit(model, X, y, epochs=3, batch_size=8, callbacks=[swa])
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d))
    conv = model.body[0][0]
    with torch.no_grad():  # update_bn's cumulative mean over equal batches: the mean of the batches' means
        expected = torch.stack([conv(b).mean(dim=(0, 2)) for b in inputs]).mean(0)
    torch.testing.assert_close(bn.running_mean, expected, atol=1e-5, rtol=1e-4)

    forgot = StochasticWeightAveraging(start=1, swa_lr=1e-3)
    with pytest.raises(ValueError, match="bn_inputs"):
        fit(build_model("fcn", 1, 2), X, y, epochs=2, batch_size=8, callbacks=[forgot])


def test_swa_arguments_are_checked():
    for bad in (dict(start=-1, swa_lr=0.1), dict(start=0, swa_lr=0.0), dict(start=0, swa_lr=0.1, anneal_epochs=-1),
                dict(start=0, swa_lr=0.1, anneal_strategy="step")):
        with pytest.raises(ValueError):
            StochasticWeightAveraging(**bad)


# --- the methods -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(METHOD_DEFAULTS))
def test_every_method_trains_on_a_tiny_set_and_its_loss_falls(name, make_dataset):
    data = make_dataset([16, 4], length=16, separation=1.5, seed=3)
    settings = replace(METHODS[name].default_settings(), adversarial=FAST)
    trained = METHODS[name].train(data, model="cnn", budget=Budget(epochs=12, batch_size=8, lr=3e-3),
                                  settings=settings, seed=0)
    loss = trained.trace
    assert np.isfinite(loss).all() and np.mean(loss[-3:]) < 0.85 * np.mean(loss[:2])
    extras = trained.extras
    assert len(extras["remix_fired_per_epoch"]) == 12 and extras["remix_fired"] == sum(extras["remix_fired_per_epoch"])
    assert extras["swa_averaged"] == (3 if settings.swa else 0)  # epochs 9, 10, 11


def test_the_rule_fires_only_where_it_should_and_is_recorded(make_dataset):
    data = make_dataset([16, 4], length=16, separation=1.5, seed=3)  # ratio 4 >= kappa
    budget = Budget(epochs=2, batch_size=8)
    remix = METHODS["remix-adv"].train(data, model="cnn", budget=budget, seed=0,
                                       settings=replace(METHODS["remix-adv"].default_settings(), adversarial=FAST))
    assert remix.extras["remix_fired"] > 0 and remix.extras["remix_pairs"] == 40
    mixup = METHODS["mixup-adv"].train(data, model="cnn", budget=budget, seed=0,
                                       settings=replace(METHODS["mixup-adv"].default_settings(), adversarial=FAST))
    assert mixup.extras["remix_fired"] == 0
    base = replace(ImbMixSettings(), adversarial=FAST, swa=False)
    after = METHODS["imb-mix"].train(data, model="cnn", budget=budget, seed=0,
                                     settings=replace(base, kappa_counts="after"))
    assert after.extras["copies_per_class"] == [0, 4] and after.extras["rule_counts"] == [16, 16]
    assert after.extras["remix_fired"] == 0 and after.extras["remix_pairs"] == 2 * 32
    before = METHODS["imb-mix"].train(data, model="cnn", budget=budget, seed=0, settings=base)
    assert before.extras["rule_counts"] == [16, 4] and before.extras["remix_fired"] > 0


def test_the_factorials_plain_cell_is_pgd_adversarial_training(make_dataset):
    data = make_dataset([16, 4], length=16, separation=1.5, seed=3)
    cells = factorial_settings(replace(ImbMixSettings(), adversarial=FAST))
    assert len(cells) == 8 and len(set(cells.values())) == 8
    assert (cells["plain"].copies, cells["plain"].mix, cells["plain"].swa) == (0, "none", False)
    budget = Budget(epochs=3, batch_size=8)
    plain = METHODS["imb-mix"].train(data, model="cnn", budget=budget, settings=cells["plain"], seed=2)
    adv = METHODS["adv"].train(data, model="cnn", budget=budget, settings=FAST, seed=2)
    np.testing.assert_allclose(plain.trace, adv.trace, rtol=1e-5)


def test_settings_are_checked_and_the_baselines_keep_their_parts():
    for bad in (dict(copies=-1), dict(copies="all"), dict(alpha=0.0), dict(noise="gauss"), dict(mix="cutmix"),
                dict(kappa=0.5), dict(tau=1.5), dict(kappa_counts="during"), dict(swa_start=2.0), dict(swa="yes"),
                dict(swa_bn_inputs="test")):
        with pytest.raises(ValueError, match="ImbMixSettings"):
            ImbMixSettings(**bad)
    with pytest.raises(ValueError, match="'mixup-adv' is defined by .*imb-mix"):
        METHODS["mixup-adv"].check_settings(replace(ImbMixSettings(), copies=0, swa=False))
    method = METHODS["remix-adv"]
    partial = {"imbmix": {"kappa": 5.0}}  # a stored run that names only what it changed
    assert method.settings_from_config(partial) == replace(method.default_settings(), kappa=5.0)
    stored = json.loads(json.dumps(method.settings_to_config(None)))
    assert method.settings_from_config(stored) == method.default_settings()
    assert ImbMixSettings().swa_epochs(200) == (150, 10) and ImbMixSettings().swa_epochs(2) == (1, 0)


def test_swa_and_keep_best_are_refused_together(make_dataset):
    data = make_dataset([8, 4], length=8)
    with pytest.raises(ValueError, match="keep_best"):
        METHODS["imb-mix"].train(data, model="cnn", budget=Budget(epochs=1, keep_best=True), seed=0)


def test_update_bn_sees_the_training_batches_without_counting_them(make_dataset):
    data = make_dataset([8, 4], length=8, seed=1)
    seed_everything(0)
    step = ImbMixStep(build_model("fcn", 1, 2), data.X, data.y, attack=pgd(eps=0.1, step=0.05, steps=1),
                      copies=np.array([0, 2]), seed=0)
    batches = list(step.training_batches(copy.deepcopy(step.model), 4))
    assert sum(b.shape[0] for b in batches) == 8 + 4 * 2 and step.fired_per_epoch == []
