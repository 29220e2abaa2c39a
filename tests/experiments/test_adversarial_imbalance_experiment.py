"""The adversarial-imbalance chapter's experiment (tsimb.experiments.adversarial_imbalance)
on tiny budgets: the pooled balanced split, the protocol, the scoring of the halves under
PGD, the published Tables 4.1-4.7 (rows checked against the dissertation's text), the
claims' table, and the chapter's figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from tsimb import plots  # noqa: E402
from tsimb.data import Dataset, Imbalance, pooled_balanced_split  # noqa: E402
from tsimb.evaluation import check_claims  # noqa: E402
from tsimb.experiments import adversarial_imbalance as experiment  # noqa: E402
from tsimb.experiments.runner import execute  # noqa: E402
from tsimb.robustness.theory import GaussianMixture as Mixture, compare_with_closed_form, fit_linear  # noqa: E402

GRIDS = experiment.EXPERIMENT.grids("quick")


def _split(counts, split, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts).astype(np.int64)
    X = rng.normal(size=(y.size, 1, 8)).astype(np.float32)
    return Dataset("toy", split, X, y, tuple(f"c{k}" for k in range(len(counts))))


def test_the_pooled_split_gives_a_balanced_test_split_and_keeps_every_series_once():
    train, test = _split([10, 3, 6], "train"), _split([2, 9, 30], "test", seed=1)
    pool, balanced = pooled_balanced_split(train, test, test_fraction=1 / 3, seed=0)
    assert balanced.class_counts().tolist() == [4, 4, 4]  # floor(12 / 3): the smallest pooled class is 12
    assert pool.split == "train" and balanced.split == "test"
    assert (pool.class_counts() + balanced.class_counts()).tolist() == [12, 12, 36]
    both = np.concatenate([pool.X, balanced.X]).reshape(-1, 8)
    assert len(np.unique(both, axis=0)) == 60  # no series twice
    again, _ = pooled_balanced_split(train, test, test_fraction=1 / 3, seed=0)
    assert np.array_equal(again.X, pool.X)


def test_the_pooled_split_refuses_what_it_cannot_do():
    train = _split([10, 3], "train")
    with pytest.raises(ValueError, match="test_fraction"):
        pooled_balanced_split(train, _split([2, 2], "test"), test_fraction=1.5)
    with pytest.raises(ValueError, match="different classes"):
        pooled_balanced_split(train, _split([2, 2, 2], "test"))
    with pytest.raises(ValueError, match="at least 2 per class"):
        pooled_balanced_split(_split([5, 1], "train"), _split([5, 0], "test"))


def test_the_protocol_thins_the_pool_and_the_test_split_is_balanced():
    train, test = experiment.protocol_split("SwedishLeaf", Imbalance("step", 10), seed=0)
    assert len(set(test.class_counts().tolist())) == 1
    counts = train.class_counts()
    assert counts.max() == 50 and counts.min() == 5 and (counts == 5).sum() == 7
    pair_train, pair_test = experiment.pair_split("FacesUCR", 50, seed=0)
    assert pair_train.n_classes == 2 and pair_train.class_counts()[0] >= 50 * pair_train.class_counts()[1] - 50
    assert pair_test.class_counts()[0] == pair_test.class_counts()[1]


def test_one_run_scores_both_halves_standard_and_robust():
    config = next(c for c in GRIDS["main"] if c["dataset"] == "MedicalImages" and c["method"] == "srat-ldam")
    config = {**config, "budget": {**config["budget"], "epochs": 2}}
    record = execute(experiment.EXPERIMENT.run_one, config)
    m = record["metrics"]
    for prefix in ("std", "rob"):
        for part in ("overall", "under", "well"):
            assert 0 <= m[f"{prefix}_{part}"] <= 1
        assert m[f"{prefix}_gap"] == pytest.approx(m[f"{prefix}_well"] - m[f"{prefix}_under"])
        # a balanced test split: overall is the mean of the per-class accuracies
        assert m[f"{prefix}_overall"] == pytest.approx(np.mean([m[f"{prefix}_class_{k}"] for k in range(10)]))
    assert m["rob_overall"] <= m["std_overall"] + 0.15
    assert len(record["trace"]) == 2 and np.isfinite(record["trace"]).all()
    replay = execute(experiment.EXPERIMENT.run_one, config, epochs=1)
    assert replay["trace"] == record["trace"][:1]


def test_the_grids_hold_what_the_chapter_reads():
    assert {c["method"] for c in GRIDS["main"]} == set(experiment.TABLE_METHODS)
    weights = {c["adversarial"]["under_weight"] for c in GRIDS["pair"]}
    assert weights == set(experiment.SETTINGS["quick"].pair_weights)
    assert all(c["adversarial"]["steps"] == 5 and c["adversarial"]["eps"] == 0.1 for g in GRIDS.values() for c in g)


def test_the_published_tables_match_the_dissertations_text():
    paper = experiment.paper_results()
    assert len(paper) == 308 and paper["method"].notna().all()

    def value(table, method, metric):
        row = paper[(paper["table"] == table) & (paper["paper_method"] == method) & (paper["metric"] == metric)]
        return float(row["value"].iloc[0]), float(row["sd"].iloc[0])

    assert value("Table 4.1", "CE", "std_overall") == (63.26, 0.59)
    assert value("Table 4.2", "CB-Focal", "std_under") == (0.0, 0.0)
    orderings = experiment.paper_orderings(paper)
    wins = orderings["srat_wins"].str.split("/", expand=True).astype(int).sum()
    assert (wins[0], wins[1]) == (83, 84)  # the "83 of 84 cells"
    assert (orderings["best_rob_overall"] == "SRAT-LDAM").all()


def test_the_claims_frame_pairs_runs_and_derives_the_costs():
    rows = []
    for seed in range(3):
        for method, well in (("natural-reweight", (0.9, 0.85)), ("adv-reweight", (0.9, 0.5))):
            for weight, value in zip((1.0, 50.0), well):
                # seed jitter that differs by method, so the paired cost differences vary (equal
                # differences would be judged by the sign test, which three seeds cannot pass)
                jitter = 0.01 * seed * (weight == 1.0) * (2 if method == "adv-reweight" else 1)
                rows.append(dict(dataset="F", protocol="step-50", study="pair", method=method, seed=seed,
                                 under_weight=weight, metric="std_well", value=value + jitter, **{"lambda": 1.0}))
        for method, gap in (("none", 0.2), ("adv", 0.5)):
            rows.append(dict(dataset="S", protocol="step-10", study="main", method=method, seed=seed,
                             under_weight=None, metric="std_gap", value=gap + 0.01 * seed * (method == "adv"),
                             **{"lambda": 1.0}))
    frame = experiment.claims_frame(pd.DataFrame(rows))
    cost = frame[frame["metric"] == "cost_well"]
    assert set(cost["method"]) == {"natural", "adversarial"}
    assert cost.loc[cost["method"] == "adversarial", "value"].tolist() == pytest.approx([0.4, 0.42, 0.44])
    verdicts = check_claims(frame, experiment.CLAIMS[:2]).set_index("claim")["verdict"]
    assert (verdicts == "supported").all()


def test_the_chapters_figures_fit_the_column():
    plots.set_style()
    mixture = Mixture(d=2, eta=1.0)
    table = compare_with_closed_form(Mixture(d=4, eta=0.5), Ks=(2, 10), epss=(0.0, 0.2), n_minus=100, n_test=500)
    X, y = mixture.sample(300, 30, seed=0)
    boundaries = {"natural": fit_linear(X, y), "adversarial": fit_linear(X, y, eps=0.3)}
    tradeoff = pd.DataFrame([dict(method=m, under_weight=w, metric=k, seed=s, value=0.5)
                             for m in ("natural-reweight", "adv-reweight") for w in (1, 10, 50)
                             for k in ("std_well", "std_under", "rob_well", "rob_under") for s in range(2)])
    for fig in (plots.plot_closed_form_check(table), plots.plot_linear_boundaries(X, y, boundaries, eps=0.3),
                plots.plot_reweighting_tradeoff(tradeoff)):
        assert fig.get_size_inches()[0] <= plots.MAX_WIDTH_IN + 1e-6
        assert plots.smallest_shown_text_px(fig) >= plots.MIN_TEXT_PX
    with pytest.raises(ValueError, match="two-dimensional"):
        plots.plot_linear_boundaries(np.zeros((5, 3)), np.ones(5), boundaries)
