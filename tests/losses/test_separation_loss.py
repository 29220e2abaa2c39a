"""SRAT's feature separation loss (tsimb.losses.separation_loss; Wang 2023, eq. 4.12):
a hand-computed value, the guards (singleton classes, unnormalised and zero features),
and agreement with pytorch-metric-learning's SupConLoss."""

from __future__ import annotations

import math

import pytest
import torch

from tsimb.losses import separation_loss


def test_equals_the_hand_computed_value_on_a_tiny_batch():
    # z1 = (1, 0), z2 = (0, 1) of class 0; z3 = (-1, 0) of class 1; tau = 1.
    # anchor 1: P = {2}, A = {2, 3}: -log(e^0 / (e^0 + e^-1)) = log(1 + 1/e)
    # anchor 2: P = {1}, A = {1, 3}: -log(e^0 / (e^0 + e^0)) = log 2
    # anchor 3: no positive, no term. Mean over the two anchors with one.
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    labels = torch.tensor([0, 0, 1])
    expected = (math.log(1 + math.exp(-1)) + math.log(2)) / 2
    assert separation_loss(z, labels, temperature=1.0).item() == pytest.approx(expected, rel=1e-6)
    # tau = 0.5 doubles every similarity: anchor 1 gives log(1 + e^-2)
    expected_half = (math.log(1 + math.exp(-2)) + math.log(2)) / 2
    assert separation_loss(z, labels, temperature=0.5).item() == pytest.approx(expected_half, rel=1e-6)


def test_unnormalised_features_give_the_normalised_value():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(8, 5, generator=g)
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 2, 0])
    scales = torch.tensor([1e-3, 1.0, 50.0, 1e3, 2.0, 7.0, 0.1, 300.0])[:, None]
    torch.testing.assert_close(separation_loss(z * scales, labels), separation_loss(z, labels))


def test_singleton_classes_and_zero_features_are_finite_with_finite_gradients():
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    z[5] = 0.0  # a dead feature vector (all ReLU outputs zero)
    z.requires_grad_(True)
    labels = torch.tensor([0, 0, 1, 2, 3, 0])  # classes 1, 2, 3 are singletons
    loss = separation_loss(z, labels, temperature=0.07)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()


def test_a_batch_of_singletons_has_a_zero_loss_that_can_be_backpropagated():
    z = torch.randn(4, 3, requires_grad=True)
    loss = separation_loss(z, torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(z.grad, torch.zeros_like(z))
    assert separation_loss(torch.randn(1, 3), torch.tensor([0])).item() == 0.0


def test_one_class_batch_follows_the_equation():
    # every feature equal: each anchor's softmax over A(i) is uniform, loss log(n - 1)
    z = torch.ones(5, 3)
    assert separation_loss(z, torch.zeros(5, dtype=torch.long)).item() == pytest.approx(math.log(4), rel=1e-6)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="temperature"):
        separation_loss(torch.randn(3, 2), torch.tensor([0, 0, 1]), temperature=0.0)
    with pytest.raises(ValueError, match="one class index per feature row"):
        separation_loss(torch.randn(3, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\(n, dim\)"):
        separation_loss(torch.randn(3, 2, 1), torch.tensor([0, 0, 1]))


@pytest.mark.parametrize("temperature", [0.07, 0.1, 0.5])
def test_agrees_with_pytorch_metric_learning_supcon(temperature):
    pml = pytest.importorskip("pytorch_metric_learning.losses")
    g = torch.Generator().manual_seed(2)
    z = torch.randn(16, 8, generator=g) * 3  # unnormalised: both normalise (cosine similarity)
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 0, 1, 4, 2, 1, 0])  # class 3 and 4: singletons
    ours = separation_loss(z, labels, temperature=temperature)
    theirs = pml.SupConLoss(temperature=temperature)(z, labels)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
