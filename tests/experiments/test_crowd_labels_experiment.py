"""The crowd-labels chapter's experiment (tsimb.experiments.crowd_labels) on tiny budgets: the
transposed protocol of Wang (2023, sec. 3.3.1), one run of each kind, a replay, the grids,
the published numbers and the warm-up floor of Table 3.3's note."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from tsimb.experiments import crowd_labels as experiment
from tsimb.experiments.runner import execute
from tsimb.experiments.store import config_key

GRIDS = experiment.EXPERIMENT.grids("quick")
TINY_REFERENCE = experiment.ReferenceSettings(max_epochs=2)


def tiny(config: dict, epochs: int = 2) -> dict:
    """``config`` with the classifier, the reference network and ICED's autoencoder cut short."""
    out = {**config, "budget": {**config["budget"], "epochs": epochs}, "reference": asdict(TINY_REFERENCE)}
    if out["iced"]:
        out["iced"] = {**out["iced"], "ae_epochs": 1, "warmup_epochs": 1}
    return out


def pick(grid: str, dataset: str, method: str, seed: int = 0) -> dict:
    return next(c for c in GRIDS[grid] if c["dataset"] == dataset and c["method"] == method and c["seed"] == seed)


def test_the_protocol_balances_the_pool_removes_90_percent_of_the_minority_and_keeps_the_truth():
    candidates, test = experiment.balanced_pool("Strawberry")
    assert np.bincount(test.y).tolist() == [test.y.size // 2] * 2  # a balanced test set, true labels
    assert abs(np.bincount(candidates.y)[0] - np.bincount(candidates.y)[1]) <= 1
    train, test2 = experiment.crowd_split("Strawberry", 9, seed=0, reference=TINY_REFERENCE)
    assert len(test2) == len(test)
    counts = np.bincount(train.true_y)
    assert counts[1] == round(0.1 * np.bincount(candidates.y)[1]) and counts[0] == np.bincount(candidates.y)[0]
    assert train.votes.workers.tolist() == list(range(9)) and train.votes.n_series == len(train)
    assert (train.y != train.true_y).mean() < 0.3  # the majority vote is mostly right
    other, _ = experiment.crowd_split("Strawberry", 9, seed=1, reference=TINY_REFERENCE)
    assert not np.array_equal(other.votes.table["label"].to_numpy()[:200], train.votes.table["label"].to_numpy()[:200])
    with pytest.raises(ValueError, match="minority_removed"):
        experiment.crowd_split("Strawberry", 9, seed=0, minority_removed=1.0)


@pytest.mark.parametrize("method", ["mv", "ds-uniform", "crowd-layer", "iced"])
def test_one_run_of_each_kind_scores_the_balanced_test_set_and_the_labels(method):
    config = tiny(pick("main", "Strawberry", method), epochs=4 if method == "iced" else 2)
    record = execute(experiment.EXPERIMENT.run_one, config)
    metrics = record["metrics"]
    assert 0 <= metrics["accuracy"] <= 1 and 0 <= metrics["macro_f1"] <= 1
    for name in experiment.AGGREGATORS:
        assert {f"label_{name}", f"label_{name}_c0", f"label_{name}_c1"} <= set(metrics)
    assert len(record["trace"]) == config["budget"]["epochs"] and np.isfinite(record["trace"]).all()
    if method == "iced":
        assert {"label_iced_orig", "label_iced_first", "label_iced_final", "warmup_kept"} <= set(metrics)
        assert metrics["iced_rounds"] == 1 and metrics["iced_synthesised_first"] > 0


def test_a_replay_repeats_the_first_epochs_of_a_run_exactly():
    config = tiny(pick("main", "Strawberry", "crowd-layer"), epochs=3)
    full = execute(experiment.EXPERIMENT.run_one, config)
    replay = execute(experiment.EXPERIMENT.run_one, config, epochs=2)
    assert replay["trace"] == full["trace"][:2]


def test_the_grids_cover_the_methods_the_worker_sweep_and_the_three_warm_ups():
    settings = experiment.SETTINGS["quick"]
    assert {c["method"] for c in GRIDS["main"]} == set(experiment.CHAPTER_METHODS)
    assert {c["workers"] for c in GRIDS["workers"]} == {7, 9, 11}
    assert {c["warm_up"] for c in GRIDS["warmup"]} == set(experiment.WARM_UP_NAMES)
    assert all(c["budget"]["epochs"] == 3 * settings.warmup_group_epochs for c in GRIDS["warmup"])
    for grid in GRIDS.values():
        assert len({config_key(c) for c in grid}) == len(grid)
    # the sweep's runs at the main grid's W on its data set are the main grid's (stored once)
    main = {config_key(c) for c in GRIDS["main"]}
    shared = [c for c in GRIDS["workers"] if config_key(c) in main]
    assert {c["workers"] for c in shared} == {dict(settings.datasets)[settings.sweep_dataset]}


def test_the_published_numbers_are_the_dissertations_tables_3_2_and_3_3():
    paper = experiment.paper_results()
    assert (paper["source"] == "paper (published)").all()
    usps = paper.query("dataset == 'USPS-Syn' and metric == 'accuracy' and table == 3.2").set_index("method")["value"]
    assert usps["iced"] == 0.9036 and usps["crowd-layer"] == 0.9006  # ICED's margin: 0.003
    warm = paper.query("table == 3.3 and metric == 'accuracy'")
    assert warm.query("dataset == 'USPS-Syn' and method == 'Trad-II'")["n_samples"].item() == 103
    assert set(warm["method"]) == set(experiment.WARM_UP_NAMES.values())


def test_the_warm_up_keeps_at_least_18_percent_at_nine_workers():
    assert experiment.top_levels_share(9, 0.5) == pytest.approx(92 / 512)
    shares = [experiment.top_levels_share(9, p) for p in np.linspace(0.0, 1.0, 21)]
    assert min(shares) == pytest.approx(92 / 512) and max(shares) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="agreement levels"):
        experiment.top_levels_share(4, 0.2)


def test_the_label_table_reads_the_aggregators_from_mv_runs_and_the_rounds_from_iced_runs():
    rows = []
    for seed in (0, 1):
        for name in experiment.AGGREGATORS:
            for suffix in ("", "_c0", "_c1"):
                rows.append(dict(dataset="A", workers=7, seed=seed, method="mv", ds_prior=None,
                                 metric=f"label_{name}{suffix}", value=0.5))
                rows.append(dict(dataset="A", workers=7, seed=seed, method="ds-soft", ds_prior=None,
                                 metric=f"label_{name}{suffix}", value=0.5))
        for stage in ("orig", "first", "final"):
            for suffix in ("", "_c0", "_c1"):
                rows.append(dict(dataset="A", workers=7, seed=seed, method="iced", ds_prior="uniform",
                                 metric=f"label_iced_{stage}{suffix}", value=0.7))
        rows.append(dict(dataset="A", workers=7, seed=seed, method="iced", ds_prior="hard",
                         metric="label_iced_orig", value=0.7))  # a warm-up run: no rounds, left out
    table = experiment.label_accuracy_table(pd.DataFrame(rows))
    assert len(table) == 2 * (4 + 3) * 3
    assert set(table["stage"]) == {*experiment.AGGREGATORS, "uniform: D&S-orig", "uniform: D&S-first",
                                   "uniform: D&S-final"}
    assert set(table["class"]) == {"all", "majority", "minority"} and (table["method"] == table["stage"]).all()
    from tsimb.evaluation import check_claims

    claims = check_claims(table[table["class"] == "all"], experiment.LABEL_CLAIMS)
    assert claims.set_index("claim").loc[experiment.LABEL_CLAIMS[0].text, "runs"] == 2
