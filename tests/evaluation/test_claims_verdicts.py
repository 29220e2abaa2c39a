"""check_claims pairs runs on explicit keys and says what the test can say (issue 20 item 8,
issue 18 item 12): *contradicted* only when the opposite effect is itself significant;
otherwise *not supported*, with the effect's confidence interval, the smallest effect the
design could detect and a Holm correction over the table's claims."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tsimb.evaluation import Claim, check_claims
from tsimb.evaluation.claims import minimum_detectable_effect

CLAIM = Claim("A beats B", "x", "a", "b", "acc")


def _runs(gains, datasets=("d",), base=0.5) -> pd.DataFrame:
    """Paired runs of methods a and b: ``gains[i]`` is a - b for seed i on every data set."""
    return pd.DataFrame([dict(dataset=d, seed=s, method=m, metric="acc", value=base + (g if m == "a" else 0.0))
                         for d in datasets for s, g in enumerate(gains) for m in ("a", "b")])


def test_three_seeds_without_a_seed_column_are_refused_not_cross_joined():
    table = _runs([0.01, 0.02, 0.03]).drop(columns="seed")
    with pytest.raises(ValueError, match="no 'seed' column"):
        check_claims(table, [CLAIM])


def test_duplicated_rows_are_refused():
    table = _runs([0.01, 0.02, 0.03])
    with pytest.raises(ValueError, match=r"share their keys.*'seed': 0"):
        check_claims(pd.concat([table, table.iloc[:2]]), [CLAIM])


def test_explicit_keys_pair_one_value_per_data_set():
    table = pd.DataFrame([dict(dataset=d, method=m, metric="acc", value=v + (0.1 if m == "a" else 0.0))
                          for d, v in (("p", 0.5), ("q", 0.6), ("r", 0.7)) for m in ("a", "b")])
    row = check_claims(table, [CLAIM], keys=("dataset",)).iloc[0]
    assert row["runs"] == 3 and row["our_difference"] == pytest.approx(0.1)


def test_an_all_nan_metric_is_not_contradicted():
    row = check_claims(_runs([np.nan] * 4), [CLAIM]).iloc[0]
    assert row["verdict"] == "no finite values" and row["runs"] == 0 and row["nan_runs"] == 4


def test_no_effect_detected_is_not_supported_with_its_interval_and_detectable_effect():
    gains = [-0.03, 0.02, -0.01, 0.015, -0.02]  # the case: a small negative mean, p far from 0.05
    row = check_claims(_runs(gains), [CLAIM]).iloc[0]
    assert row["verdict"] == "not supported"
    low, high = stats.ttest_1samp(gains, 0).confidence_interval(0.95)
    assert row["ci_low"] == pytest.approx(low) and row["ci_high"] == pytest.approx(high)
    assert row["ci_low"] < 0 < row["ci_high"]
    assert row["mde"] == pytest.approx(minimum_detectable_effect(5, float(np.std(gains, ddof=1))))


def test_a_significant_opposite_effect_is_contradicted():
    row = check_claims(_runs([-0.10, -0.11, -0.09, -0.12, -0.10]), [CLAIM]).iloc[0]
    assert row["verdict"] == "contradicted" and row["p_opposite"] < 0.05 and row["ci_high"] < 0


def test_non_inferiority_is_contradicted_only_when_the_margin_is_significantly_missed():
    keeps = Claim("keeps", "x", "a", "b", "acc", "non-inferiority", margin=0.05)
    missed = check_claims(_runs([-0.10, -0.11, -0.09, -0.12, -0.10]), [keeps]).iloc[0]
    assert missed["verdict"] == "contradicted"
    unclear = check_claims(_runs([-0.02, -0.09, -0.04, -0.08, 0.01]), [keeps]).iloc[0]  # around the margin
    assert unclear["verdict"] == "not supported"


@pytest.mark.parametrize("n, verdict", [(2, "not supported"), (5, "supported")])
def test_equal_differences_get_the_sign_test_not_a_t_test(n, verdict):
    """Differences equal up to rounding (each seed moved the same number of test series) give
    a t statistic of rounding noise over rounding noise; the sign test says what n equal
    differences can say: two cannot reach p < 0.05 (0.25), five can (1/32)."""
    rounded = [0.1 + 1e-17 * (i % 2) for i in range(n)]
    row = check_claims(_runs(rounded), [CLAIM]).iloc[0]
    assert row["verdict"] == verdict and row["p_value"] == pytest.approx(0.5 ** n)
    assert np.isnan(row["ci_low"]) and row["p_opposite"] == 1.0
    opposite = check_claims(_runs([-0.1] * n), [CLAIM]).iloc[0]
    assert opposite["p_opposite"] == pytest.approx(0.5 ** n) and opposite["p_value"] == 1.0


def test_the_minimum_detectable_effect_has_the_stated_power():
    """A true effect of the MDE is found in 80% of simulated designs of that size."""
    n, sd = 6, 0.05
    mde = minimum_detectable_effect(n, sd)
    rng = np.random.default_rng(0)
    found = np.mean([stats.ttest_1samp(rng.normal(mde, sd, n), 0, alternative="greater").pvalue < 0.05
                     for _ in range(4000)])
    assert found == pytest.approx(0.8, abs=0.03)
    assert np.isnan(minimum_detectable_effect(1, sd)) and minimum_detectable_effect(20, sd) < mde


def test_holm_correction_over_the_claims_of_a_table():
    borderline = _runs([0.02, -0.005, 0.04, 0.01, 0.03]).query("method == 'a'").assign(method="c")
    null = _runs([0.01, -0.02, 0.0, 0.015, -0.01]).query("method == 'a'").assign(method="d")
    runs = pd.concat([_runs([0.05, 0.06, 0.04, 0.05, 0.055]), borderline, null])
    claims = [CLAIM, Claim("C beats B", "x", "c", "b", "acc"), Claim("D beats B", "x", "d", "b", "acc"),
              Claim("missing", "x", "e", "b", "acc")]
    out = check_claims(runs, claims).set_index("claim")
    tested = out.loc[["A beats B", "C beats B", "D beats B"], "p_value"].sort_values()
    holm = np.minimum(1, np.maximum.accumulate(tested.to_numpy() * [3, 2, 1]))  # Holm's step-down, by hand
    np.testing.assert_allclose(out.loc[tested.index, "p_holm"], holm)
    assert np.isnan(out.loc["missing", "p_holm"]) and out.loc["missing", "verdict_holm"] == "not run"
    assert out.loc["A beats B", "verdict_holm"] == "supported"
    assert out.loc["C beats B", "p_value"] < 0.05 < out.loc["C beats B", "p_holm"]
    assert out.loc["C beats B", "verdict"] == "supported"  # alone, not after Holm
    assert out.loc["C beats B", "verdict_holm"] == "not supported"


def test_the_columns_the_chapters_read_are_still_there():
    out = check_claims(_runs([0.1, 0.12, 0.09]), [CLAIM])
    for column in ("claim", "section", "kind", "metric", "paper_difference", "our_difference", "our_sd", "runs",
                   "datasets_holding", "p_value", "verdict"):
        assert column in out.columns
