"""Model shapes, architecture details and a sanity overfit (tsimb.models)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tsimb.models import MODELS, MLP, NormedLinear, ResidualBlock, ResNet, build_model, same_conv
from tsimb.runtime import seed_everything
from tsimb.train import fit, predict_proba

N_CLASSES = 4


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("length", [15, 16])
def test_output_and_feature_shapes(name, channels, length):
    torch.manual_seed(0)
    model = build_model(name, channels, N_CLASSES, length=length)
    assert isinstance(model, MODELS[name])
    x = torch.randn(5, channels, length)
    model.eval()
    with torch.no_grad():
        logits = model(x)
        features = model.features(x)
    assert logits.shape == (5, N_CLASSES)
    assert features.shape == (5, model.feature_dim)
    assert torch.isfinite(logits).all()
    # forward is the head applied to the features
    torch.testing.assert_close(logits, model.head(features))
    # training mode works too (batch norm with a batch of 5)
    model.train()
    assert model(x).shape == (5, N_CLASSES)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_normed_head_gives_cosine_logits(name):
    torch.manual_seed(0)
    model = build_model(name, 2, 3, length=12, normed_head=True).eval()
    assert isinstance(model.head, NormedLinear)
    with torch.no_grad():
        logits = model(torch.randn(6, 2, 12) * 10)
    assert logits.shape == (6, 3)
    assert (logits.abs() <= 1 + 1e-5).all()


def test_normed_linear_is_cosine_similarity():
    torch.manual_seed(0)
    head = NormedLinear(4, 2)
    x = torch.randn(3, 4)
    expected = torch.nn.functional.cosine_similarity(x[:, :, None], head.weight[None, :, :], dim=1)
    torch.testing.assert_close(head(x), expected)


def test_feature_dims():
    assert build_model("fcn", 1, 2).feature_dim == 128
    assert build_model("resnet", 1, 2).feature_dim == 128
    assert build_model("cnn", 1, 2).feature_dim == 64
    assert build_model("mlp", 1, 2, length=10).feature_dim == 500
    assert build_model("lstm", 1, 2).feature_dim == 64


def test_model_names_are_case_insensitive():
    assert isinstance(build_model("ResNet", 1, 2), ResNet)


def test_mlp_needs_length():
    with pytest.raises(ValueError, match="length"):
        build_model("mlp", 1, 2)
    model = build_model("mlp", 1, 2, length=20)
    assert isinstance(model, MLP)
    with pytest.raises(ValueError, match="length 20"):
        model(torch.randn(3, 1, 21))


def test_unknown_model_name():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("transformer", 1, 2)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_two_dimensional_input_is_rejected(name):
    model = build_model(name, 1, 2, length=16)
    with pytest.raises(ValueError, match=r"\(batch, channels, length\)"):
        model(torch.randn(4, 16))


def _convs(module: nn.Module) -> list[nn.Conv1d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv1d)]


def test_resnet_architecture():
    model = ResNet(in_channels=3, n_classes=5)
    blocks = [m for m in model.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 3
    c_in = 3
    for block, filters in zip(blocks, (64, 128, 128)):
        convs = _convs(block.convs)
        assert [c.kernel_size[0] for c in convs] == [8, 5, 3]
        assert [c.out_channels for c in convs] == [filters] * 3
        assert convs[0].in_channels == c_in
        assert all(c.stride == (1,) for c in convs)
        shortcut = _convs(block.shortcut)
        assert len(shortcut) == 1 and shortcut[0].kernel_size == (1,)
        assert (shortcut[0].in_channels, shortcut[0].out_channels) == (c_in, filters)
        assert sum(isinstance(m, nn.BatchNorm1d) for m in block.modules()) == 4
        c_in = filters
    assert model.head.in_features == 128 and model.head.out_features == 5


def test_fcn_architecture():
    convs = _convs(build_model("fcn", 2, 3))
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [
        (2, 128, 8), (128, 256, 5), (256, 128, 3)
    ]


@pytest.mark.parametrize("kernel", range(1, 10))
@pytest.mark.parametrize("length", [7, 8])
def test_same_conv_preserves_length(kernel, length):
    conv = same_conv(2, 3, kernel)
    assert conv(torch.randn(4, 2, length)).shape == (4, 3, length)


def test_same_conv_even_kernel_pads_on_the_right():
    conv = same_conv(1, 1, 2)
    with torch.no_grad():
        conv[1].weight.copy_(torch.tensor([[[0.0, 1.0]]]))  # out[t] = x[t + 1]
        conv[1].bias.zero_()
        out = conv(torch.arange(1.0, 6.0).view(1, 1, 5))
    torch.testing.assert_close(out, torch.tensor([[[2.0, 3.0, 4.0, 5.0, 0.0]]]))


def test_small_cnn_overfits_a_tiny_random_set():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 1, 32)).astype(np.float32)
    y = rng.permutation(np.repeat([0, 1], 8))  # random labels: only memorisation helps
    seed_everything(0)
    model = build_model("cnn", 1, 2)
    history = fit(model, X, y, epochs=100, batch_size=16, lr=1e-2, seed=0)
    assert history.loss[-1] < 0.1 * history.loss[0]
    accuracy = (predict_proba(model, X).argmax(axis=1) == y).mean()
    assert accuracy == 1.0


def test_normed_linear_starts_with_unit_norm_columns():
    """As the LDAM-DRW reference code initialises it (renorm to 1)."""
    from tsimb.models import NormedLinear

    torch.manual_seed(0)
    head = NormedLinear(128, 10)
    torch.testing.assert_close(head.weight.norm(dim=0), torch.ones(10))
