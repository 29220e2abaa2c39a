"""The gradient-masking checks (tsimb.robustness.masking): quiet on an honestly trained
network, loud on one whose gradient is zero by construction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tsimb.models import build_model
from tsimb.robustness import MaskingChecks, gradient_free_sweep, masking_checks, towards_other_class
from tsimb.runtime import seed_everything
from tsimb.train import fit


def _data(n: int = 64, length: int = 32):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    t = np.linspace(0, 2 * np.pi, length)
    X = np.sin(t)[None, None, :] * np.where(y == 1, 1.0, -1.0)[:, None, None] * 0.5
    return (X + 0.1 * rng.normal(size=(n, 1, length))).astype(np.float32), y


def _trained(seed: int):
    X, y = _data()
    seed_everything(seed)
    model = build_model("cnn", 1, 2)
    fit(model, X, y, epochs=15, batch_size=16, seed=seed, progress=False)
    return model.eval()


class Quantised(nn.Module):
    """A network behind a rounding step: its input gradient is zero everywhere (shattered
    gradients, Athalye et al. 2018), so gradient attacks cannot move the input."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(torch.round(x * 4) / 4)


class ModeSensitive(nn.Module):
    """A network whose training mode answers the other class (as batch norm on a batch's own
    statistics can answer differently from its running ones)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.inner(x)
        return -logits if self.training else logits


@pytest.fixture(scope="module")
def models():
    return _trained(0), _trained(1)


def test_an_honest_network_passes_every_check(models):
    model, reference = models
    X, y = _data()
    out = masking_checks(model, X, y, reference=reference, checks=MaskingChecks(eps=0.1, sweep=(0.1, 1.0, 3.0)))
    assert out["clean"] > 0.9
    assert out["strongest"] <= min(out["fgsm"], out["bim"], out["pgd"], out["transfer_bim"])
    assert out["eps_3"] <= out["eps_1"] <= out["eps_0.1"]
    assert out["flag_eps_plateau"] == out["flag_stronger_is_weaker"] == out["flag_transfer_stronger"] == 0.0


def test_a_network_without_gradients_is_flagged(models):
    model, reference = models
    X, y = _data()
    masked = Quantised(model).eval()
    out = masking_checks(masked, X, y, reference=reference, checks=MaskingChecks(eps=0.5, sweep=(0.5, 3.0)))
    # white-box attacks cannot move it, so its accuracy stays at the clean one whatever eps...
    assert out["eps_3"] == pytest.approx(out["clean"]) and out["flag_eps_plateau"] == 1.0
    # ...while series crafted on an honest network of the same task fool it
    assert out["transfer_bim"] < out["bim"] and out["flag_transfer_stronger"] == 1.0
    assert out["strongest"] <= out["transfer_bim"]


def test_the_gradient_free_attack_finds_what_a_masked_gradient_hides(models):
    model, _ = models
    X, y = _data()
    checks = MaskingChecks(eps=0.5, sweep=(0.1, 3.0))
    masked = Quantised(model).eval()
    hidden = masking_checks(masked, X, y, checks=checks)
    closer = gradient_free_sweep(masked, X, y, checks)
    # the gradient attack cannot move the quantised network, but at a radius that reaches the
    # other class's series every series is fooled without a gradient
    assert hidden["eps_3"] == pytest.approx(hidden["clean"]) and hidden["clean"] > 0.9
    assert closer["gradient_free_3"] == closer["worst_3"] == 0.0
    # at a small radius too it fools series the gradient attack cannot move
    assert closer["worst_0.1"] == closer["gradient_free_0.1"] < hidden["eps_0.1"]
    # on the honest network the gradient attack is the stronger one, and the worst case is
    # never above either attack alone nor above a smaller radius's
    honest = gradient_free_sweep(model, X, y, checks)
    plain = masking_checks(model, X, y, checks=checks)
    assert plain["eps_0.1"] < honest["gradient_free_0.1"]
    assert honest["worst_0.1"] <= min(honest["gradient_free_0.1"], plain["eps_0.1"])
    assert honest["worst_3"] <= honest["worst_0.1"]
    survived = towards_other_class(model, X, y, 3.0)
    assert survived.dtype == bool and survived.shape == y.shape and not survived.any()
    # a network left in training mode (batch norm on the batch's statistics) is attacked as
    # evaluated, and left in training mode
    sensitive = ModeSensitive(model).train()
    in_training_mode = towards_other_class(sensitive, X, y, 0.1)
    assert sensitive.training
    np.testing.assert_array_equal(in_training_mode, towards_other_class(model, X, y, 0.1))
    model.eval()  # the module's fixture, as the other tests expect it
    with pytest.raises(ValueError, match="eps must be a positive number"):
        towards_other_class(model, X, y, 0.0)


@pytest.mark.parametrize("bad", [dict(eps=0), dict(restarts=0), dict(sweep=()), dict(pgd_steps=1.5),
                                 dict(sweep=(0.1, -1.0))])
def test_bad_settings_are_refused_with_the_field_named(bad):
    with pytest.raises(ValueError, match="MaskingChecks"):
        MaskingChecks(**bad)
