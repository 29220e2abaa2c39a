"""Batched ensembles (tsimb.train.ensemble): a member is the run trained alone, up to
floating-point rounding."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import tsimb.methods  # noqa: F401  (registers every method)
from tsimb.augment import AugmentedTraining, AugmentSettings, ODEBudget
from tsimb.robustness import FAWAZ_BIM, FAWAZ_FGSM, attacked_probabilities, members_attacked_probabilities
from tsimb.train import METHODS, Budget, ClassifierStep, predict_proba
from tsimb.train.ensemble import EnsembleStep, StackedMembers, train_ensemble
from tsimb.models import build_model

# Batched kernels sum in another order than K small ones, so a member differs from its run
# alone by rounding (~1e-7 a step). Without batch norm (the CNN) that stays small for many
# steps: losses agree to RTOL and weights to ATOL. With it (the ResNet), the biases before
# each batch norm have gradients that are rounding noise, which Adam turns into full steps,
# and the tiny batches amplify any difference: the same run on 2 threads instead of 1
# drifts by ~0.5% of its loss within three epochs. So the ResNet is compared over its first
# epoch, to looser tolerances (the running means lag behind those drifting biases, so
# evaluation mode sees them).
RTOL, ATOL = 1e-4, 1e-4
RESNET_RTOL, RESNET_ATOL = 1e-3, 2e-3
# The reference protocol's parts that act per member: plateau schedule, keep-best weights
BUDGET = Budget(epochs=4, batch_size=4, plateau_patience=1, plateau_factor=0.5, min_lr=1e-5, keep_best=True)


def assert_member_is_run_alone(member, alone, X: np.ndarray, rtol: float = RTOL, atol: float = ATOL) -> None:
    np.testing.assert_allclose(member.history.loss, alone.history.loss, rtol=rtol)
    assert member.history.best_epoch == alone.history.best_epoch
    assert member.history.lr == pytest.approx(alone.history.lr)
    assert member.history.steps == alone.history.steps
    np.testing.assert_allclose(predict_proba(member.classifier, X), predict_proba(alone.classifier, X), atol=atol)


@pytest.mark.parametrize("model", ["resnet", "cnn"])
def test_each_member_matches_its_run_alone(make_dataset, model):
    train = make_dataset([12, 8], length=24, separation=1.0)
    budget = BUDGET if model == "cnn" else replace(BUDGET, epochs=1)
    seeds = [0, 3, 7]
    members = train_ensemble(METHODS["none"], train, model=model, budget=budget, seeds=seeds)
    for seed, member in zip(seeds, members):
        alone = METHODS["none"].train(train, model=model, budget=budget, seed=seed)
        assert_member_is_run_alone(member, alone, train.X, *((RTOL, ATOL) if model == "cnn"
                                                             else (RESNET_RTOL, RESNET_ATOL)))
        if model == "cnn":
            for a, b in zip(member.classifier.parameters(), alone.classifier.parameters()):
                torch.testing.assert_close(a, b, rtol=RTOL, atol=ATOL)
    # the members differ from one another: own initialisation and data order
    assert not np.allclose(members[0].history.loss, members[1].history.loss)


def test_members_keep_their_own_schedules_and_best_epochs(make_dataset):
    # a plateau after one epoch halves one member's learning rate and not necessarily another's
    train = make_dataset([12, 8], length=24, separation=0.3)
    budget = Budget(epochs=6, batch_size=4, lr=1e-1, plateau_patience=1, min_lr=1e-5, keep_best=True)
    seeds = [0, 1, 2, 3]
    members = train_ensemble(METHODS["none"], train, model="cnn", budget=budget, seeds=seeds)
    alone = [METHODS["none"].train(train, model="cnn", budget=budget, seed=s) for s in seeds]
    for member, run in zip(members, alone):
        assert member.history.lr == pytest.approx(run.history.lr)
    assert len({tuple(m.history.lr) for m in members}) > 1  # the schedules did differ
    assert len({m.history.best_epoch for m in members}) > 1
    assert [m.history.best_epoch for m in members] == [a.history.best_epoch for a in alone]


def test_members_keep_their_steps_own_callbacks_and_class_weights(make_dataset):
    # LDAM-DRW: a class-weight schedule and a learning-rate milestone that its step brings
    train = make_dataset([14, 6], length=24, separation=1.0)
    budget = Budget(epochs=5, batch_size=4, drw_fraction=0.6, keep_best=True)
    members = train_ensemble(METHODS["ldam-drw"], train, model="cnn", budget=budget, seeds=[0, 1])
    for seed, member in zip([0, 1], members):
        assert_member_is_run_alone(member, METHODS["ldam-drw"].train(train, model="cnn", budget=budget, seed=seed),
                                   train.X)
        assert member.history.lr == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4, 1e-4])  # one drop, at epoch 3


def test_an_augmentation_that_uses_the_members_own_network(make_dataset):
    # Out-Sign-Grad steers each copy by the gradient of the network being trained: the
    # member's own, run before the batched pass, with the member's own generator
    train = make_dataset([10, 10], length=24, separation=1.0)
    settings = AugmentedTraining(AugmentSettings(), ODEBudget(epochs=2, batch_size=8, lr=3e-3))
    budget = Budget(epochs=2, batch_size=4, plateau_patience=1, keep_best=True)
    method = METHODS["out-sign-grad+fs"]
    members = train_ensemble(method, train, model="cnn", budget=budget, settings=settings, seeds=[0, 1])
    for seed, member in zip([0, 1], members):
        assert_member_is_run_alone(member, method.train(train, model="cnn", budget=budget, settings=settings,
                                                        seed=seed), train.X)


def test_bad_ensembles_are_refused_with_the_reason(make_dataset, make_series):
    train = make_dataset([6, 6], length=16)
    with pytest.raises(ValueError, match="seeds must differ"):
        train_ensemble(METHODS["none"], train, model="cnn", budget=BUDGET, seeds=[1, 1])
    with pytest.raises(ValueError, match="at least two members"):
        train_ensemble(METHODS["none"], train, model="cnn", budget=BUDGET, seeds=[0])
    with pytest.raises(ValueError, match="cannot be prepared as an ensemble member"):
        train_ensemble(METHODS["ibgan"], train, model="cnn", budget=BUDGET, seeds=[0, 1])
    X, y = make_series([6, 6], length=16)
    steps = [ClassifierStep(build_model(name, 1, 2, 16), X, y) for name in ("cnn", "resnet")]
    with pytest.raises(ValueError, match="another architecture"):
        EnsembleStep(steps, [[], []])
    steps = [ClassifierStep(build_model("mlp", 1, 2, 16), X, y) for _ in range(2)]
    with pytest.raises(ValueError, match="dropout"):
        EnsembleStep(steps, [[], []])
    X2, y2 = make_series([4, 4], length=16)
    steps = [ClassifierStep(build_model("cnn", 1, 2, 16), X, y), ClassifierStep(build_model("cnn", 1, 2, 16), X2, y2)]
    with pytest.raises(ValueError, match="share the data size"):
        EnsembleStep(steps, [[], []])


def test_members_are_scored_and_attacked_in_one_pass(make_dataset):
    # a trained ensemble's members attacked together give what each gives alone: the ResNet
    # (batch norm in evaluation mode) on an odd number of series, in batches that split them
    train = make_dataset([12, 8], length=24, separation=1.0)
    members = train_ensemble(METHODS["none"], train, model="resnet", budget=replace(BUDGET, epochs=1), seeds=[0, 5, 9])
    networks = [m.classifier for m in members]
    X, y = train.X[:15], train.y[:15]
    together = members_attacked_probabilities(networks, X, y, {"fgsm": FAWAZ_FGSM, "bim": FAWAZ_BIM}, batch_size=4)
    for network, scored in zip(networks, together):
        alone = attacked_probabilities(network, X, y, {"fgsm": FAWAZ_FGSM, "bim": FAWAZ_BIM}, batch_size=4)
        assert scored.keys() == alone.keys()
        for name in alone:
            np.testing.assert_allclose(scored[name], alone[name], atol=1e-5)
    assert not np.allclose(together[0]["clean"], together[1]["clean"])  # each member's own network
    stack = StackedMembers(networks).eval()
    with pytest.raises(ValueError, match="multiple of 3"):
        stack(torch.as_tensor(X[:4]))
    with pytest.raises(ValueError, match="another architecture"):
        StackedMembers([networks[0], build_model("cnn", 1, 2, 24)])
    with pytest.raises(RuntimeError, match="eval"):
        StackedMembers(networks)(torch.as_tensor(np.repeat(X[:2], 3, axis=0)))


def test_the_ode_chapter_scores_an_ensemble_as_it_scores_each_run(make_dataset):
    from tsimb.experiments.ode_augmentation import score, score_members

    train = make_dataset([12, 8], length=24, separation=1.0)
    test = make_dataset([10, 9], length=24, separation=1.0, split="test")
    members = train_ensemble(METHODS["none"], train, model="cnn", budget=replace(BUDGET, epochs=2), seeds=[0, 1])
    configs = [{"imbalance": "none", "seed": seed} for seed in (0, 1)]
    together = score_members(configs, members, [(train, test)] * 2)
    for config, member, metrics in zip(configs, members, together):
        alone = score(config, member, train, test)
        assert metrics.keys() == alone.keys()
        assert [metrics[k] for k in alone] == pytest.approx([alone[k] for k in alone], abs=1e-9)
