"""Losses and class weights against their formulas (tsimb.losses)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_class_weight

from tsimb.losses import (
    CrossEntropy,
    DeferredReweighting,
    FocalLoss,
    LDAMLoss,
    class_balanced_weights,
    inverse_frequency_weights,
    make_loss,
)


def _logits_targets(n=12, k=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, k, generator=g) * 3, torch.randint(0, k, (n,), generator=g)


def test_cross_entropy_is_per_sample():
    logits, targets = _logits_targets()
    out = CrossEntropy()(logits, targets)
    assert out.shape == (12,)
    torch.testing.assert_close(out, F.cross_entropy(logits, targets, reduction="none"))


def test_focal_with_gamma_zero_is_cross_entropy():
    logits, targets = _logits_targets()
    out = FocalLoss(gamma=0.0)(logits, targets)
    assert out.shape == (12,)
    torch.testing.assert_close(out, F.cross_entropy(logits, targets, reduction="none"))


def test_focal_against_hand_computation():
    logits = torch.tensor([[2.0, 0.0], [0.5, -1.0]])
    targets = torch.tensor([0, 1])
    p0 = math.exp(2) / (math.exp(2) + 1)
    p1 = math.exp(-1.0) / (math.exp(0.5) + math.exp(-1.0))
    gamma = 2.0
    expected = [-((1 - p0) ** gamma) * math.log(p0), -((1 - p1) ** gamma) * math.log(p1)]
    out = FocalLoss(gamma=gamma)(logits, targets)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)
    # three classes, fractional gamma
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    p = math.exp(2) / (math.exp(1) + math.exp(2) + math.exp(3))
    out = FocalLoss(gamma=1.5)(logits, torch.tensor([1]))
    assert out.item() == pytest.approx(-((1 - p) ** 1.5) * math.log(p), rel=1e-5)


def test_focal_down_weights_easy_examples():
    logits, targets = _logits_targets(n=50)
    ce = F.cross_entropy(logits, targets, reduction="none")
    focal = FocalLoss(gamma=2.0)(logits, targets)
    assert (focal <= ce + 1e-6).all() and (focal < ce).any()


def test_focal_rejects_negative_gamma():
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(gamma=-0.5)


def test_ldam_margins_formula():
    counts = [100, 10, 1, 16]
    loss = LDAMLoss(counts, max_margin=0.5)
    raw = np.array([1 / n**0.25 for n in counts])
    expected = raw * 0.5 / raw.max()
    np.testing.assert_allclose(loss.margins.numpy(), expected, rtol=1e-6)
    assert loss.margins.max().item() == pytest.approx(0.5)
    assert loss.margins.argmax().item() == 2  # the rarest class gets the largest margin
    # margins scale as n^{-1/4}
    assert loss.margins[0].item() / loss.margins[1].item() == pytest.approx((10 / 100) ** 0.25, rel=1e-6)
    assert LDAMLoss(counts, max_margin=0.3).margins.max().item() == pytest.approx(0.3)


def test_ldam_against_hand_computation():
    # counts 16 and 1: raw margins 1/2 and 1, scaled so the largest is 0.5 -> 0.25 and 0.5
    loss = LDAMLoss([16, 1], max_margin=0.5, scale=10.0)
    np.testing.assert_allclose(loss.margins.numpy(), [0.25, 0.5], rtol=1e-6)
    logits = torch.tensor([[1.0, 0.5], [0.2, 0.9]])
    targets = torch.tensor([0, 1])
    # sample 0: s * (z - margin_0 on the true class) = [7.5, 5.0]
    first = -math.log(math.exp(7.5) / (math.exp(7.5) + math.exp(5.0)))
    # sample 1: [2.0, 4.0]
    second = -math.log(math.exp(4.0) / (math.exp(2.0) + math.exp(4.0)))
    np.testing.assert_allclose(loss(logits, targets).numpy(), [first, second], rtol=1e-5)


def test_ldam_with_zero_margin_is_scaled_cross_entropy():
    logits, targets = _logits_targets()
    loss = LDAMLoss([5, 5, 5, 5], max_margin=0.0, scale=2.0)
    torch.testing.assert_close(loss(logits, targets), F.cross_entropy(2.0 * logits, targets, reduction="none"))


def test_ldam_margins_are_a_buffer_that_moves_with_to():
    loss = LDAMLoss([10, 3])
    assert "margins" in dict(loss.named_buffers())
    assert "margins" in loss.state_dict()
    assert loss.margins.dtype == torch.float32
    loss.to(torch.float64)
    assert loss.margins.dtype == torch.float64
    loss.to("meta")
    assert loss.margins.device.type == "meta"


def test_ldam_rejects_empty_classes():
    with pytest.raises(ValueError, match="positive count"):
        LDAMLoss([10, 0, 3])


def test_class_balanced_weights_formula():
    counts = np.array([100, 10, 1])
    for beta in (0.9, 0.99, 0.9999):
        w = class_balanced_weights(counts, beta=beta)
        raw = np.array([(1 - beta) / (1 - beta**n) for n in counts])
        np.testing.assert_allclose(w, raw / raw.sum() * 3, rtol=1e-10)
        assert w.sum() == pytest.approx(3)
        assert (np.diff(w) > 0).all()  # rarer classes weigh more
    np.testing.assert_allclose(class_balanced_weights(counts, beta=0.0), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(class_balanced_weights([7, 7], beta=0.999), [1.0, 1.0])


def test_class_balanced_weights_errors():
    for beta in (1.0, -0.1):
        with pytest.raises(ValueError, match="beta"):
            class_balanced_weights([3, 4], beta=beta)
    with pytest.raises(ValueError, match="at least one"):
        class_balanced_weights([3, 0])


def test_inverse_frequency_matches_sklearn_balanced():
    y = np.repeat(np.arange(4), [50, 20, 7, 3])
    counts = np.bincount(y)
    expected = compute_class_weight("balanced", classes=np.arange(4), y=y)
    np.testing.assert_allclose(inverse_frequency_weights(counts), expected)
    np.testing.assert_allclose(inverse_frequency_weights(list(counts)), expected)
    # mean weight 1 over samples
    assert np.mean(inverse_frequency_weights(counts)[y]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        inverse_frequency_weights([3, 0])


def test_deferred_reweighting():
    weights = np.array([0.5, 1.5])
    drw = DeferredReweighting(weights, start_epoch=3)
    assert [drw(e) is None for e in range(6)] == [True, True, True, False, False, False]
    np.testing.assert_array_equal(drw(3), weights)
    np.testing.assert_array_equal(drw(10), weights)
    np.testing.assert_array_equal(DeferredReweighting(weights, 0)(0), weights)
    with pytest.raises(ValueError, match="start_epoch"):
        DeferredReweighting(weights, -1)


def test_make_loss():
    assert isinstance(make_loss("ce"), CrossEntropy)
    focal = make_loss("Focal", gamma=1.0)
    assert isinstance(focal, FocalLoss) and focal.gamma == 1.0
    assert make_loss("focal").gamma == 2.0
    ldam = make_loss("ldam", np.array([9, 3]), max_margin=0.2, scale=5.0)
    assert isinstance(ldam, LDAMLoss) and ldam.scale == 5.0
    assert ldam.margins.max().item() == pytest.approx(0.2)
    with pytest.raises(ValueError, match="class counts"):
        make_loss("ldam")
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("hinge")


def test_focal_gradient_is_finite_when_p_t_rounds_to_one():
    """gamma in (0, 1) has an infinite derivative of (1 - p)^gamma at p = 1: no NaN."""
    logits = torch.tensor([[40.0, 0.0]], requires_grad=True)
    loss = FocalLoss(0.5)(logits, torch.tensor([0]))
    loss.sum().backward()
    assert torch.isfinite(logits.grad).all() and torch.isfinite(loss).all()


def test_sigmoid_focal_matches_cui_et_al_reference_formula():
    """Cui et al. (2019)'s focal_loss: modulator * BCE per class, summed over classes."""
    from tsimb.losses import SigmoidFocalLoss

    torch.manual_seed(0)
    logits, targets = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 1, 0])
    gamma = 2.0
    onehot = torch.nn.functional.one_hot(targets, 4).float()
    p = torch.sigmoid(logits)
    p_t = torch.where(onehot == 1, p, 1 - p)
    bce = -(onehot * torch.log(p) + (1 - onehot) * torch.log(1 - p))
    expected = ((1 - p_t) ** gamma * bce).sum(dim=1)
    torch.testing.assert_close(SigmoidFocalLoss(gamma)(logits, targets), expected)


def test_cb_focal_effective_minority_weight_follows_the_class_balanced_weights():
    """With Cui et al.'s reduction (sum over the batch size), a minority series weighs
    w_minority / w_majority relative to a majority one, whatever the batch holds."""
    from tsimb.train import RECIPES, BaselineParams
    from tsimb.train import Budget

    counts = np.array([200, 100, 50, 20, 10, 5])
    X = np.zeros((counts.sum(), 1, 4), dtype=np.float32)
    y = np.repeat(np.arange(6), counts)
    _, _, extra = RECIPES["cb-focal"](X, y, counts, Budget(), 0, BaselineParams())
    assert extra["loss_reduction"] == "mean"
    w = extra["class_weight"]
    np.testing.assert_allclose(w / w[0], [1, 2, 4, 9.9, 19.8, 39.6], rtol=0.01)
