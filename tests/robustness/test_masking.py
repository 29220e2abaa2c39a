"""The gradient-masking checks (tsimb.robustness.masking): quiet on an honestly trained
network, loud on one whose gradient is zero by construction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tsimb.models import build_model
from tsimb.robustness import MaskingChecks, masking_checks
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


@pytest.mark.parametrize("bad", [dict(eps=0), dict(restarts=0), dict(sweep=()), dict(pgd_steps=1.5),
                                 dict(sweep=(0.1, -1.0))])
def test_bad_settings_are_refused_with_the_field_named(bad):
    with pytest.raises(ValueError, match="MaskingChecks"):
        MaskingChecks(**bad)
