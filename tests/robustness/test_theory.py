"""The Gaussian-mixture theory of sec. 4.3 (tsimb.robustness.theory), corrected: the
closed-form bias against a grid search, the text's factor-d error, the class-wise errors
against a trained linear model, the two theorems in terms of r for every K > 1, and
adversarial training as natural training with eta replaced by eta - eps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tsimb.robustness.theory import (
    GaussianMixture,
    compare_with_closed_form,
    effective_eta,
    empirical_errors,
    error_gap,
    fit_linear,
    grid_search_bias,
    linear_errors,
    optimal_bias,
    optimal_errors,
    reweighting_cost,
    separability,
    text_bias,
)


def test_the_closed_form_bias_matches_a_grid_search_and_the_text_is_off_by_d():
    m = GaussianMixture(d=10, eta=0.3, sigma=1.0)
    assert grid_search_bias(m, K=100) == pytest.approx(-7.675, abs=1e-3)
    assert optimal_bias(m, K=100) == pytest.approx(-7.675, abs=1e-3)
    assert text_bias(m, K=100) == pytest.approx(-76.75, abs=1e-2)  # the printed Lemma 4.3.1


@pytest.mark.parametrize("d,eta,sigma,K,rho,eps", [(10, 0.3, 1.0, 100, 1, 0.0), (5, 1.0, 2.0, 10, 3, 0.0),
                                                   (20, 0.5, 1.5, 7, 1, 0.2), (3, 2.0, 1.0, 50, 200, 0.5)])
def test_optimal_bias_minimises_the_exact_risk(d, eta, sigma, K, rho, eps):
    m = GaussianMixture(d, eta, sigma)
    assert optimal_bias(m, K, rho, eps) == pytest.approx(grid_search_bias(m, K, rho, eps), abs=1e-3)


def test_adversarial_risk_is_minimised_at_the_natural_bias_for_eta_minus_eps():
    # the robust risk computed from the margin shift eps ||w||_1 of a general linear model
    # (linear_errors), not from effective_eta, is minimised where the theory says
    m, K, rho, eps = GaussianMixture(10, 0.5, 1.0), 20.0, 1.0, 0.15
    grid = np.linspace(-20, 20, 40_001)
    errors = linear_errors(1.0, grid, m, eps)
    risk = rho * errors[-1] + K * errors[1]
    shifted = GaussianMixture(10, 0.5 - 0.15, 1.0)
    assert grid[int(np.argmin(risk))] == pytest.approx(optimal_bias(shifted, K, rho), abs=2e-3)
    assert optimal_bias(m, K, rho, eps) == pytest.approx(optimal_bias(shifted, K, rho))
    robust = optimal_errors(m, K, rho, eps_train=eps, eps_test=eps)
    natural_shifted = optimal_errors(shifted, K, rho)
    assert robust == pytest.approx(natural_shifted)


def test_adversarial_training_of_the_linear_model_is_natural_training_on_shifted_points():
    # linf: the worst case moves each point eps towards the other class in every
    # coordinate; while w > 0 the two objectives are the same function
    m = GaussianMixture(d=6, eta=0.4, sigma=1.0)
    X, y = m.sample(3000, 300, seed=1)
    w_adv, b_adv = fit_linear(X, y, rho=2.0, eps=0.1)
    w_nat, b_nat = fit_linear(X - 0.1 * y[:, None], y, rho=2.0)
    assert (w_adv > 0).all()
    np.testing.assert_allclose(w_adv, w_nat, atol=1e-6)
    assert b_adv == pytest.approx(b_nat, abs=1e-6)


@pytest.mark.parametrize("norm,eps", [("linf", 0.1), ("l2", 0.4)])
def test_trained_thresholds_approach_the_closed_form(norm, eps):
    m, K = GaussianMixture(d=4, eta=0.5, sigma=1.0), 10
    X, y = m.sample(100_000, 10_000, seed=2)
    for rho, eps_train in ((1.0, 0.0), (1.0, eps), (10.0, eps)):
        w, b = fit_linear(X, y, rho=rho, eps=eps_train, norm=norm)
        assert np.ptp(w) / w.mean() < 0.1  # w ∝ 1, as Lemma 4.3.1 says
        assert b / w.mean() == pytest.approx(optimal_bias(m, K, rho, eps_train, norm), abs=0.15)
    assert effective_eta(m, eps, norm) == pytest.approx(0.5 - (eps if norm == "linf" else eps / 2))


def test_measured_classwise_errors_sit_beside_the_closed_form():
    table = compare_with_closed_form(GaussianMixture(8, 0.5, 1.0), Ks=[10], epss=[0.1], n_minus=1000,
                                     n_test=5000, trainings=("natural", "adversarial", "re-weighted adversarial"))
    assert len(table) == 3 * 2 * 2
    assert (table.closed_form - table.measured).abs().max() < 0.04
    assert (table.trained - table.measured).abs().max() < 0.03
    under = table[(table.evaluation == "standard") & table.cls.str.startswith("under")].set_index("training")
    # adversarial training makes the under-represented class worse; re-weighting repairs it
    assert under.closed_form["adversarial"] > under.closed_form["natural"] > under.closed_form[
        "re-weighted adversarial"]


@pytest.mark.parametrize("K", [1.01, 1.5, 2.0, 10.0, 100.0, 1e4])
def test_both_theorems_hold_in_r_for_every_K_above_one(K):
    r = np.linspace(0.05, 6, 400)
    for quantity in (error_gap(r, K), reweighting_cost(r, K)):
        assert (quantity > 0).all() and (np.diff(quantity) <= 0).all()
        # strictly decreasing wherever double precision resolves it (Phi saturates at 0 and 1)
        resolved = (quantity[:-1] > 1e-9) & (quantity[:-1] < 1 - 1e-9) & (quantity[1:] > 1e-9)
        assert resolved.sum() > 100 and (np.diff(quantity)[resolved] < 0).all()


def test_the_errors_depend_on_r_alone_while_the_texts_S_is_not_scale_invariant():
    m, scaled = GaussianMixture(10, 0.3, 1.0), GaussianMixture(10, 3.0, 10.0)  # x -> 10 x
    assert separability(m) == pytest.approx(separability(scaled))
    assert m.text_separability == pytest.approx(10 * scaled.text_separability)
    assert optimal_errors(m, 100) == pytest.approx(optimal_errors(scaled, 100))
    r, c = separability(m), math.log(100) / 2
    from scipy.stats import norm

    errors = optimal_errors(m, 100)
    assert errors[-1] - errors[1] == pytest.approx(error_gap(r, 100))
    assert errors[-1] == pytest.approx(norm.cdf(c / r - r))


def test_empirical_errors_use_the_worst_case_of_a_linear_model():
    m = GaussianMixture(3, 1.0, 0.5)
    X, y = m.sample(2000, 2000, seed=4)
    w, b = np.array([1.0, 2.0, 0.5]), 0.3
    for eps in (0.0, 0.3):
        measured, closed = empirical_errors(w, b, X, y, eps), linear_errors(w, b, m, eps)
        assert measured[-1] == pytest.approx(closed[-1], abs=0.02) and measured[1] == pytest.approx(closed[1], abs=0.02)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="eta"):
        GaussianMixture(3, 0.0)
    with pytest.raises(ValueError, match="reaches the other class"):
        optimal_bias(GaussianMixture(3, 0.2), 10, eps=0.3)
    with pytest.raises(ValueError, match="both labels"):
        fit_linear(np.zeros((4, 2)), np.array([1, 1, 1, 1]))
    with pytest.raises(ValueError, match="rho"):
        optimal_bias(GaussianMixture(3, 1.0), 10, rho=0.0)
