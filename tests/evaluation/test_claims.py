"""Claims as data, gains, rankings and broken-run flags (tsimb.evaluation.claims)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsimb.evaluation import Claim, check_claims, flag_runs, gains, rank_methods
from tsimb.experiments import ode_augmentation as experiment


def _toy_results(effect: float, noise: float, datasets=("a", "b"), seeds=range(5)) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for d in datasets:
        for s in seeds:
            base = 0.5 + 0.05 * rng.normal()
            for method, value in (("none", base), ("out-sign-grad", base + effect + noise * rng.normal())):
                rows.append(dict(dataset=d, method=method, seed=s, metric="bim_accuracy", value=value))
    return pd.DataFrame(rows)


CLAIM = Claim("Out-Sign-Grad raises BIM accuracy", "III-D", "out-sign-grad", "none", "bim_accuracy")


def test_gains_are_paired_by_data_set_and_seed():
    out = gains(_toy_results(effect=0.1, noise=0.0))
    assert set(out["method"]) == {"out-sign-grad"}
    np.testing.assert_allclose(out["gain"], 0.1)
    paper_gains = gains(experiment.paper_results())
    row = paper_gains.query("dataset == 'Adiac' and method == 'out-sign-grad' and metric == 'fgsm_accuracy'")
    assert row["gain"].item() == pytest.approx(0.4527 - 0.031)


@pytest.mark.parametrize("effect, noise, verdict", [
    (0.10, 0.01, "supported"),
    (0.02, 0.20, None),  # noisy: cannot be called supported
    (-0.10, 0.01, "contradicted"),
])
def test_claims_are_tested_against_seed_noise(effect, noise, verdict):
    result = check_claims(_toy_results(effect, noise), [CLAIM], experiment.paper_results()).iloc[0]
    assert result["our_difference"] == pytest.approx(effect, abs=0.2)
    paper = experiment.paper_results().query("metric == 'bim_accuracy'").pivot(index="dataset", columns="method",
                                                                              values="value")
    assert result["paper_difference"] == pytest.approx((paper["out-sign-grad"] - paper["none"]).mean())
    if verdict is None:
        assert result["verdict"] != "supported"
    else:
        assert result["verdict"] == verdict


def test_non_inferiority_uses_its_margin_and_the_kind_is_explicit():
    keeps = Claim("keeps", "x", "out-sign-grad", "none", "bim_accuracy", "non-inferiority", margin=0.05)
    raises = Claim("raises", "x", "out-sign-grad", "none", "bim_accuracy")
    table = _toy_results(effect=-0.02, noise=0.001)  # slightly worse, but within 5 points
    out = check_claims(table, [keeps, raises]).set_index("claim")
    assert out.loc["keeps", "verdict"] == "supported"
    assert out.loc["raises", "verdict"] == "contradicted"
    with pytest.raises(ValueError, match="margin"):
        Claim("bad", "x", "a", "b", "m", "non-inferiority")
    with pytest.raises(ValueError, match="kind"):
        Claim("bad", "x", "a", "b", "m", "equivalence")


def test_a_claim_whose_methods_did_not_run_says_so():
    missing = Claim("Feat-Sim helps", "x", "in-clamp-grad+fs", "in-clamp-grad", "bim_accuracy")
    out = check_claims(_toy_results(0.1, 0.01), [missing]).iloc[0]
    assert out["verdict"] == "not run" and out["runs"] == 0


def test_rank_methods_orders_by_mean_rank():
    table = pd.DataFrame([dict(dataset=d, method=m, seed=s, metric="acc", value=v + 0.01 * s)
                          for d in "ab" for s in range(3)
                          for m, v in (("none", 0.5), ("ros", 0.7), ("smote", 0.6))])
    ranks = rank_methods(table, "acc")
    assert ranks["method"].tolist() == ["ros", "smote", "none"]
    assert ranks["mean_rank"].tolist() == [1.0, 2.0, 3.0] and (ranks["groups"] == 2).all()


def test_flag_runs_marks_constant_predictors_and_outlying_seeds():
    rows = []
    for seed, acc in enumerate([0.95, 0.97, 0.96, 0.5, 0.94]):
        rows.append(dict(dataset="a", method="none", seed=seed, metric="clean_accuracy", value=acc))
        rows.append(dict(dataset="a", method="none", seed=seed, metric="predicted_classes",
                         value=1.0 if seed == 3 else 2.0))
    flags = flag_runs(pd.DataFrame(rows), "clean_accuracy", ["dataset", "method"])
    assert flags["seed"].tolist() == [3]
    assert "constant predictor" in flags["reason"].item() and "below its seed siblings" in flags["reason"].item()
    healthy = pd.DataFrame([r for r in rows if r["seed"] != 3])
    assert flag_runs(healthy, "clean_accuracy", ["dataset", "method"]).empty


def test_beside_paper_grid_gives_ours_and_the_papers_value_in_labelled_rows():
    from tsimb.evaluation import beside_paper_grid

    ours = pd.DataFrame([dict(dataset=d, method=m, seed=s, metric="balanced_accuracy", value=v + 0.1 * s)
                         for d, v in (("A", 0.5), ("B", 0.2)) for m in ("none", "ibgan") for s in (0, 1)])
    paper = pd.DataFrame([dict(dataset="A", method="ibgan", metric="balanced_accuracy", value=0.6)])
    grid = beside_paper_grid(ours, paper, "balanced_accuracy", order=(["ibgan", "none"], ["B", "A"]))
    assert grid.index.names == ["method", "source"] and grid.columns.tolist() == ["B", "A"]
    assert grid.loc[("ibgan", "ours"), "A"] == "55.0 ± 7.1"
    assert grid.loc[("ibgan", "paper"), "A"] == 60.0
    assert pd.isna(grid.loc[("ibgan", "paper"), "B"])  # the paper has no value there: shown as "—"
    assert ("none", "paper") not in grid.index  # no published row at all: not shown
    assert grid.index.tolist()[:2] == [("ibgan", "ours"), ("ibgan", "paper")]


def test_beside_paper_labels_each_metric_ours_and_paper():
    from tsimb.evaluation import beside_paper

    ours = pd.DataFrame([dict(method=m, seed=s, metric=k, value=0.9 + 0.01 * s)
                         for m in ("none", "spec-den") for k in ("clean_accuracy", "fgsm_accuracy") for s in (0, 1)])
    paper = pd.DataFrame([dict(method="none", metric="clean_accuracy", value=1.0)])
    table = beside_paper(ours, paper, ["method"], ["clean_accuracy", "fgsm_accuracy"])
    assert table.columns.names == ["metric", "source"]
    assert table.columns.tolist() == [("clean_accuracy", "ours"), ("clean_accuracy", "paper"),
                                      ("fgsm_accuracy", "ours"), ("fgsm_accuracy", "paper")]
    assert table.loc["none", ("clean_accuracy", "ours")] == "90.5 ± 0.7"
    assert table.loc["none", ("clean_accuracy", "paper")] == 100.0
    assert pd.isna(table.loc["spec-den", ("clean_accuracy", "paper")])
