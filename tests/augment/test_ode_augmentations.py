"""ODENet (tsimb.models.ode) and the ODE-guided / spectral augmentations (tsimb.augment.ode_guided)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tsimb.augment import (
    TIME_UNITS,
    AugmentSettings,
    augment_batch,
    derivative_in_unit,
    feat_sim_loss,
    in_clamp_grad,
    in_sign_grad,
    input_gradient_sign,
    other_class_partners,
    out_sign_grad,
    rand_grad,
    scaled_bound,
    spec_den,
    step_reach,
)
from tsimb.models import build_model
from tsimb.models import ODENet, derivative, fit_odenet, predict_next
from tsimb.runtime import seed_everything


def sines(n: int = 32, length: int = 40, seed: int = 0) -> np.ndarray:
    """Sines of one phase and random amplitudes: the slope is a function of (z, t), which is
    all an ODENet f(z, t) can represent (series of different phases cross at the same
    (z, t) with different slopes, and no such f exists)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    amplitude = rng.uniform(0.5, 2.0, (n, 1))
    return (amplitude * np.sin(2 * np.pi * t / 20 + 0.3))[:, None, :].astype(np.float32)


def test_batched_solve_equals_a_loop_over_intervals():
    torch.manual_seed(0)
    net = ODENet(channels=2, length=6).eval()
    x = torch.randn(3, 2, 6)
    batched = predict_next(net, x, method="euler", step_size=1.0)
    # Euler with one step per interval: z_i = z_{i-1} + f(z_{i-1}, t_{i-1})
    for i in range(1, 6):
        expected = x[:, :, i - 1] + net(x[:, :, i - 1], torch.full((3, 1), float(i - 1)))
        torch.testing.assert_close(batched[:, :, i - 1], expected)


def test_odenet_learns_the_derivative_of_sines():
    X = sines(16, 30)
    net, history = fit_odenet(X, epochs=150, batch_size=16, lr=1e-2, seed=0)
    assert history.loss[-1] < 0.25 * history.loss[0]
    dzdt = derivative(net, X).numpy()
    true = np.gradient(X, axis=2)  # per-step central differences
    assert np.corrcoef(dzdt[:, :, 2:-2].ravel(), true[:, :, 2:-2].ravel())[0, 1] > 0.9
    assert dzdt.shape == X.shape


def test_odenet_fit_is_seeded_and_checks_input():
    X = sines(8, 12)
    a, _ = fit_odenet(X, epochs=2, seed=3)
    b, _ = fit_odenet(X, epochs=2, seed=3)
    torch.testing.assert_close(derivative(a, X), derivative(b, X))
    with pytest.raises(ValueError):
        fit_odenet(X[:, :, :1])
    with pytest.raises(ValueError):
        derivative(a, torch.zeros(2, 3, 12))


@given(st.integers(0, 10_000), st.floats(0.01, 2.0))
def test_in_clamp_grad_moves_no_point_more_than_beta(seed, beta):
    g = torch.Generator().manual_seed(seed)
    x, dzdt = torch.randn(4, 2, 16, generator=g), 3 * torch.randn(4, 2, 16, generator=g)
    moved = (in_clamp_grad(x, dzdt, beta) - x).abs()
    assert moved.max() <= beta + 1e-6
    # where the derivative is small it is added unchanged
    small = dzdt.abs() < beta
    torch.testing.assert_close((in_clamp_grad(x, dzdt, beta) - x)[small], dzdt[small])


def test_sign_augmentations_follow_their_directions():
    g = torch.Generator().manual_seed(0)
    x, dzdt = torch.randn(5, 1, 30, generator=g), torch.randn(5, 1, 30, generator=g)
    step = in_sign_grad(x, dzdt, eps=0.33, generator=g) - x
    assert (step.abs() <= 0.33 + 1e-6).all() and (step * dzdt >= 0).all()
    random_step = rand_grad(x, dzdt, beta=0.33, generator=g) - x
    torch.testing.assert_close(random_step.abs(), dzdt.clamp(-0.33, 0.33).abs())
    assert (random_step * dzdt < 0).any() and (random_step * dzdt > 0).any()


def test_out_sign_grad_steps_along_the_loss_gradient():
    seed_everything(0)
    model = build_model("cnn", 1, 3)
    g = torch.Generator().manual_seed(1)
    x, y, dzdt = torch.randn(6, 1, 24, generator=g), torch.randint(0, 3, (6,), generator=g), torch.randn(6, 1, 24, generator=g)
    step = out_sign_grad(model, x, y, dzdt, beta=0.33) - x
    torch.testing.assert_close(step, input_gradient_sign(model, x, y) * dzdt.clamp(-0.33, 0.33).abs())
    loss = torch.nn.functional.cross_entropy
    with torch.no_grad():
        assert loss(model.eval()(x + step), y) > loss(model(x), y)


def _energy(x: torch.Tensor) -> torch.Tensor:
    return x.double().pow(2).sum(dim=-1)


@given(st.integers(0, 10_000), st.integers(8, 64))
def test_spec_den_keeps_the_strong_components_and_bounds_the_energy_change(seed, length):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float64)
    x = (torch.sin(2 * torch.pi * 3 * t / length) + 0.3 * torch.randn(2, 1, length, generator=g, dtype=torch.float64))
    x = x.float()
    out = spec_den(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    before, after = torch.fft.rfft(x.double(), dim=-1), torch.fft.rfft(out.double(), dim=-1)
    w = torch.full((before.shape[-1],), 2.0, dtype=torch.float64)
    w[0] = 1
    if length % 2 == 0:
        w[-1] = 1
    for row in range(2):
        mag = before[row, 0].abs()
        order = mag.argsort(descending=True, stable=True)
        cumulative = (mag[order] ** 2 * w[order]).cumsum(0)
        c = int((cumulative < 0.9 * cumulative[-1]).sum())
        top = order[: c + 1]
        # eq. 13: the components holding 90% of the energy are untouched
        torch.testing.assert_close(after[row, 0, top], before[row, 0, top], atol=1e-5, rtol=1e-5)
        # eqs. 17-21: every triplet gains at most 0.375 |Z1|^2, so in total at most 0.375 sum |Z1|^2
        rest = order[c + 1:]
        rest = rest[w[rest] == 2]  # DC and Nyquist are never perturbed
        k = (int(0.75 * len(rest)) // 3) * 3
        z1 = mag[rest[:k:3]]
        gain = (_energy(out[row]) - _energy(x[row])).item() * length  # Parseval: sum |Z|^2 = N E
        assert gain <= 0.375 * float((z1**2 * w[rest[:k:3]]).sum()) + 1e-4
        # the perturbed components can lose all their energy at most: 90% always remains
        assert _energy(out[row]).item() >= 0.9 * _energy(x[row]).item() - 1e-6


def test_spec_den_triplet_rule_on_a_known_spectrum():
    length = 64
    spectrum = torch.zeros(length // 2 + 1, dtype=torch.complex128)
    spectrum[1] = 100  # 90% and more of the energy: C = 0
    spectrum[2], spectrum[3], spectrum[4] = 4, 3, 2  # the next three, sorted
    spectrum[0] = 3.5  # DC: never perturbed, though it sorts among them
    x = torch.fft.irfft(spectrum, n=length)[None, None].float()
    new = torch.fft.rfft(spec_den(x, fraction=1.0).double(), dim=-1)[0, 0]
    torch.testing.assert_close(new[1].real, torch.tensor(100.0, dtype=torch.float64), atol=1e-4, rtol=0)
    torch.testing.assert_close(new[0].real, torch.tensor(3.5, dtype=torch.float64), atol=1e-4, rtol=0)
    torch.testing.assert_close(new[2:5].real, torch.tensor([4 + 0.75, 1.5, 2 + 0.75], dtype=torch.float64),
                               atol=1e-4, rtol=0)


def test_augmentations_keep_shapes():
    x = torch.randn(3, 2, 17)
    d = torch.randn(3, 2, 17)
    for out in (in_clamp_grad(x, d), in_sign_grad(x, d), rand_grad(x, d), spec_den(x)):
        assert out.shape == x.shape and torch.isfinite(out).all()


def test_scaled_bound_is_a_fraction_of_the_range():
    x = torch.zeros(4, 1, 10)
    x[:, 0, 0] = 6.0
    assert scaled_bound(x) == pytest.approx(6 / 18)
    assert scaled_bound(x, fraction=0.1) == pytest.approx(0.6)


def test_feat_sim_partners_and_loss():
    y = torch.tensor([0, 0, 1, 2, 2, 1])
    partners = other_class_partners(y, torch.Generator().manual_seed(0))
    assert (y[partners] != y).all()
    with pytest.raises(ValueError):
        other_class_partners(torch.tensor([1, 1]))
    a = torch.tensor([[1.0, 0.0]])
    # positive equal to the anchor, negative opposite: distance^2 = 4 > margin, no loss
    assert feat_sim_loss(a, a, -a, margin=1.0).item() == 0.0
    # negative equal to the anchor, positive orthogonal: 2 + 1 - 0 = 3
    assert feat_sim_loss(a, torch.tensor([[0.0, 5.0]]), 3 * a, margin=1.0).item() == pytest.approx(3.0)


def test_derivative_agreement_separates_learnable_from_phase_varying_dynamics():
    from tsimb.models import derivative_agreement, finite_difference

    X = sines(16, 30)
    np.testing.assert_allclose(finite_difference(X)[:, :, 1:-1], (X[:, :, 2:] - X[:, :, :-2]) / 2, rtol=1e-6)
    net, _ = fit_odenet(X, epochs=150, batch_size=16, lr=1e-2, seed=0)
    assert derivative_agreement(net, X) > 0.9
    # random phases: series cross the same (z, t) with opposite slopes, so no f(z, t) fits
    rng = np.random.default_rng(1)
    t = np.arange(30)
    shifted = np.sin(2 * np.pi * t / 20 + rng.uniform(0, 2 * np.pi, (16, 1)))[:, None, :].astype(np.float32)
    net, _ = fit_odenet(shifted, epochs=150, batch_size=16, lr=1e-2, seed=0)
    assert derivative_agreement(net, shifted) < 0.5


def test_the_time_unit_scales_the_derivative_and_so_what_the_clamp_acts_on():
    """Per series (t in [0, 1]) the derivative is L - 1 times the per-step one; In-Clamp-Grad
    then moves more points by the full beta, In-Sign-Grad (a sign) not at all differently."""
    torch.manual_seed(0)
    x = torch.sin(torch.linspace(0, 6, 40)).repeat(8, 1, 1) * torch.rand(8, 1, 1)
    odenet = ODENet(1, 40)
    per_step = derivative_in_unit(odenet, x, "step")
    per_series = derivative_in_unit(odenet, x, "series")
    assert torch.allclose(per_series, 39 * per_step)
    assert torch.equal(per_step, derivative(odenet, x))
    settings = {u: AugmentSettings(beta=0.33, time_unit=u) for u in TIME_UNITS}
    moved = {u: (augment_batch("in-clamp-grad", x, torch.zeros(8, dtype=torch.long), odenet=odenet,
                               settings=s) - x).abs() for u, s in settings.items()}
    assert (moved["series"] >= moved["step"] - 1e-6).all()
    assert ((moved["series"] - 0.33).abs() < 1e-5).float().mean() >= ((moved["step"] - 0.33).abs() < 1e-5).float().mean()
    with pytest.raises(ValueError, match="time_unit must be one of"):
        AugmentSettings(time_unit="seconds")


def test_step_reach_measures_how_far_a_step_reaches_towards_the_other_class():
    # two classes 0.5 apart at one point, a third series far away
    x = torch.tensor([[[0.0, 0.0]], [[0.5, 0.0]], [[3.0, 3.0]]])
    y = torch.tensor([0, 1, 1])
    wide = step_reach(x, y, torch.full_like(x, 0.3))
    assert wide["gap_median"] == pytest.approx(0.5)  # gaps 0.5, 0.5 and 3
    assert wide["step_mean"] == pytest.approx(0.3)
    assert wide["step_to_gap"] == pytest.approx(0.3 / 0.5)
    # the first two boxes (radius 0.3 each, 0.5 apart) overlap; the third is far from both
    assert wide["box_overlap_share"] == pytest.approx(2 / 3)
    assert wide["box_overlap_median"] == pytest.approx(0.5 / 0.6)
    narrow = step_reach(x, y, torch.full_like(x, 0.2))
    assert narrow["box_overlap_share"] == 0 and narrow["box_overlap_median"] == pytest.approx(0.5 / 0.4)
    # where neither step moves a point, a difference there keeps the boxes apart
    frozen = torch.tensor([[[0.0, 0.3]], [[0.0, 0.3]], [[0.3, 0.3]]])
    assert step_reach(x, y, frozen)["box_overlap_share"] == 0
    with pytest.raises(ValueError, match="non-negative"):
        step_reach(x, y, -torch.ones_like(x))
    with pytest.raises(ValueError, match="two classes"):
        step_reach(x, torch.zeros(3, dtype=torch.long), torch.ones_like(x))
    with pytest.raises(ValueError, match="shaped like the series"):
        step_reach(x, y, torch.ones(3, 1, 5))
