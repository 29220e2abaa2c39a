"""FGSM / BIM / PGD (tsimb.robustness): norms, equivalences, torchattacks agreement, options."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tsimb.robustness import (
    FAWAZ_BIM,
    FAWAZ_FGSM,
    Attack,
    attack_array,
    attacked_probabilities,
    bim,
    fgsm,
    perturb,
    pgd,
    robust_accuracy,
)
from tsimb.bench import ImageShaped
from tsimb.models import build_model
from tsimb.runtime import seed_everything
from tsimb.train import fit


@pytest.fixture
def model():
    seed_everything(0)
    m = build_model("resnet", 2, 3)
    m.eval()
    return m


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(8, 2, 20, generator=g), torch.randint(0, 3, (8,), generator=g)


def _norms(delta: torch.Tensor, norm: str) -> torch.Tensor:
    flat = delta.flatten(1)
    return flat.abs().max(dim=1).values if norm == "linf" else flat.norm(dim=1)


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("make", [fgsm, bim, pgd])
def test_perturbation_stays_in_the_eps_ball(model, batch, make, norm):
    x, y = batch
    eps = 0.1 if norm == "linf" else 0.5
    attack = make(eps=eps, norm=norm)
    delta = attack(model, x, y, generator=torch.Generator().manual_seed(0)) - x
    assert (_norms(delta, norm) <= eps + 1e-5).all()
    assert (_norms(delta, norm) > 0).all()


def test_fgsm_moves_every_point_by_eps_without_clipping(model, batch):
    x, y = batch
    x = 3 * x  # far outside [0, 1]: nothing may be clamped
    delta = fgsm(0.1)(model, x, y) - x
    nonzero = delta != 0
    assert nonzero.float().mean() > 0.9
    torch.testing.assert_close(delta[nonzero].abs(), torch.full_like(delta[nonzero], 0.1))


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_bim_with_one_step_of_eps_is_fgsm(model, batch, norm):
    x, y = batch
    torch.testing.assert_close(bim(eps=0.2, step=0.2, steps=1, norm=norm)(model, x, y),
                               fgsm(eps=0.2, norm=norm)(model, x, y))


def test_fawaz_settings():
    assert (FAWAZ_FGSM.eps, FAWAZ_FGSM.steps, FAWAZ_FGSM.norm) == (0.1, 1, "linf")
    assert (FAWAZ_BIM.eps, FAWAZ_BIM.step, FAWAZ_BIM.steps, FAWAZ_BIM.random_start) == (0.1, 0.05, 10, False)
    assert FAWAZ_FGSM.name == "FGSM-linf-0.1" and FAWAZ_BIM.name == "BIM-linf-0.1" and pgd().name.startswith("PGD")


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (fgsm(eps=0.05), lambda ta, m: ta.FGSM(m, eps=0.05)),
        (bim(eps=0.05, step=0.01, steps=5), lambda ta, m: ta.PGD(m, eps=0.05, alpha=0.01, steps=5, random_start=False)),
        (bim(eps=0.3, step=0.1, steps=5, norm="l2"),
         lambda ta, m: ta.PGDL2(m, eps=0.3, alpha=0.1, steps=5, random_start=False)),
    ],
    ids=["fgsm", "bim-linf", "bim-l2"],
)
def test_matches_torchattacks_where_clamping_cannot_bite(model, ours, theirs):
    torchattacks = pytest.importorskip("torchattacks")
    g = torch.Generator().manual_seed(2)
    x = 0.3 + 0.4 * torch.rand(6, 2, 20, generator=g)  # inside [0.3, 0.7]: the [0, 1] clamp never acts
    y = torch.randint(0, 3, (6,), generator=g)
    expected = theirs(torchattacks, ImageShaped(model))(x[:, :, None, :], y)[:, :, 0, :]
    torch.testing.assert_close(ours(model, x, y), expected, atol=1e-5, rtol=0)


def test_per_channel_bounds_are_respected(model, batch):
    x, y = batch
    low, high = np.array([-0.5, -1.0]), np.array([0.5, 1.0])
    x = torch.maximum(torch.minimum(x, torch.tensor(high).view(1, 2, 1).float()), torch.tensor(low).view(1, 2, 1).float())
    x_adv = bim(eps=1.0, step=0.5, steps=3)(model, x, y, bounds=(low, high))
    for c in range(2):
        assert x_adv[:, c].min() >= low[c] - 1e-6 and x_adv[:, c].max() <= high[c] + 1e-6


def test_pred_labels_ignore_the_given_labels(model, batch):
    x, _ = batch
    pred = model(x).argmax(1)
    wrong = (pred + 1) % 3
    attack_pred = fgsm(0.1, labels="pred")
    torch.testing.assert_close(attack_pred(model, x, wrong), fgsm(0.1)(model, x, pred))
    assert not torch.equal(fgsm(0.1)(model, x, wrong), fgsm(0.1)(model, x, pred))


def test_model_mode_is_restored(model, batch):
    x, y = batch
    model.train()
    fgsm(0.1)(model, x, y)
    assert model.training
    model.eval()
    bim()(model, x, y)
    assert not model.training


def test_random_start_is_seeded(model, batch):
    x, y = batch
    a = pgd(steps=2)(model, x, y, generator=torch.Generator().manual_seed(5))
    b = pgd(steps=2)(model, x, y, generator=torch.Generator().manual_seed(5))
    c = pgd(steps=2)(model, x, y, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)


def test_attacks_lower_the_accuracy_of_a_trained_model(make_series):
    X, y = make_series([30, 30], length=24, seed=3, separation=1.0)
    seed_everything(0)
    m = build_model("cnn", 1, 2)
    fit(m, X, y, epochs=40, batch_size=16, lr=3e-3)
    scores = robust_accuracy(m, X, y, {"fgsm": fgsm(1.0), "bim": bim(1.0, 0.25, 10)}, minority=[1])
    assert scores["clean_accuracy"] > 0.9
    assert scores["fgsm_accuracy"] < scores["clean_accuracy"] - 0.3
    assert scores["bim_accuracy"] <= scores["fgsm_accuracy"] + 1e-9
    assert set(scores) == {"clean_accuracy", "clean_accuracy_minority", "fgsm_accuracy",
                           "fgsm_accuracy_minority", "bim_accuracy", "bim_accuracy_minority"}


def test_shared_clean_pass_gives_the_same_probabilities_as_separate_attacks(model):
    """attacked_probabilities reuses the clean forward and backward pass for every attack that
    starts at the clean series; the result must be exactly that of predicting and attacking
    separately, also across batches and beside attacks that cannot share (PGD, predictions)."""
    from dataclasses import replace

    from tsimb.train import predict_proba

    g = torch.Generator().manual_seed(5)
    X, y = torch.randn(11, 2, 20, generator=g).numpy(), torch.randint(0, 3, (11,), generator=g).numpy()
    attacks = {"fgsm": FAWAZ_FGSM, "bim": FAWAZ_BIM, "pgd": pgd(0.1, 0.02, 3),
               "bim_pred": replace(FAWAZ_BIM, labels="pred")}
    for chosen in (attacks, {"pgd": attacks["pgd"]}):  # with and without an attack that can share
        shared = attacked_probabilities(model, X, y, chosen, batch_size=4, seed=3)
        assert set(shared) == {"clean", *chosen}
        # predicted in the same batches of 4: a batch's size can change a kernel's rounding
        # (seen at one thread), and the sharing, not the batching, is under test
        np.testing.assert_array_equal(shared["clean"], predict_proba(model, X, batch_size=4))
        for name, attack in chosen.items():
            separate = predict_proba(model, attack_array(model, X, y, attack, batch_size=4, seed=3), batch_size=4)
            np.testing.assert_array_equal(shared[name], separate, err_msg=name)
    with pytest.raises(ValueError, match="cannot reuse a gradient"):
        perturb(model, torch.as_tensor(X), torch.as_tensor(y), pgd(), first_gradient=torch.zeros(11, 2, 20))
    with pytest.raises(ValueError, match="'clean' names the unattacked series"):
        robust_accuracy(model, X, y, {"clean": FAWAZ_FGSM})


def test_attack_array_matches_one_batch(model, batch):
    x, y = batch
    whole = attack_array(model, x.numpy(), y.numpy(), fgsm(0.1), batch_size=3)
    np.testing.assert_allclose(whole, fgsm(0.1)(model, x, y).numpy(), atol=1e-6)


def test_bad_input_and_settings(model):
    with pytest.raises(ValueError, match="channels"):
        perturb(model, torch.zeros(4, 20), None, fgsm())
    for kwargs in [dict(eps=-1), dict(steps=0), dict(norm="l1"), dict(labels="target"), dict(step=0)]:
        with pytest.raises(ValueError):
            Attack(**kwargs)


@pytest.mark.parametrize("attack", [FAWAZ_FGSM, FAWAZ_BIM], ids=["fgsm", "bim"])
def test_attacking_predictions_instead_of_labels_changes_only_misclassified_series(model, batch, attack):
    """Fawaz et al.'s code attacks the model's predictions; the book's grids attack the true
    labels. The two differ only on series the model already gets wrong, so the robust
    accuracies differ by at most the clean error rate."""
    from dataclasses import replace

    from tsimb.train import predict_proba

    x, y = batch
    X, y = x.numpy(), y.numpy()
    predicted = predict_proba(model, X).argmax(1)
    on_labels = attack_array(model, X, y, attack)
    on_predictions = attack_array(model, X, y, replace(attack, labels="pred"))
    right = predicted == y
    assert 0 < right.sum() < len(y)  # both kinds of series are in the batch
    np.testing.assert_array_equal(on_labels[right], on_predictions[right])
    assert not np.array_equal(on_labels[~right], on_predictions[~right])
