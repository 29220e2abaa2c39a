"""The IB-GAN chapter's experiment (tsimb.experiments.ib_gan) on tiny budgets: the paper's
protocol, one run of each kind, replays, the published numbers and the claims."""

from __future__ import annotations

import numpy as np
import pytest

from tsimb.experiments import ib_gan as experiment
from tsimb.experiments.runner import execute
from tsimb.experiments.store import config_key

GRIDS = experiment.EXPERIMENT.grids("quick")


def tiny(config: dict, epochs: int = 2) -> dict:
    """``config`` with every budget cut to ``epochs`` epochs."""
    out = {**config, "budget": {**config["budget"], "epochs": epochs}}
    if out["gan"]:
        out["gan"] = {**out["gan"], "epochs": epochs, "ae_epochs": epochs}
    return out


def pick(grid: str, dataset: str, method: str, seed: int = 0) -> dict:
    return next(c for c in GRIDS[grid] if c["dataset"] == dataset and c["method"] == method and c["seed"] == seed)


def test_the_protocol_thins_half_the_classes_and_keeps_the_test_split():
    train, test = experiment.imbalanced_split("RacketSports", seed=0)
    full, full_test = experiment.imbalanced_split("RacketSports", seed=0, fraction=0.0)
    assert len(test) == len(full_test) and len(train) < len(full)
    thinned = np.flatnonzero(train.class_counts() < full.class_counts())
    assert len(thinned) == full.n_classes // 2
    # Handwriting's smallest classes keep two series, so every generative method can learn them
    assert experiment.imbalanced_split("Handwriting", seed=0)[0].class_counts().min() == 2


@pytest.mark.parametrize("method", ["none", "smote", "cgan", "ibgan"])
def test_one_run_of_each_kind_scores_the_test_split_and_records_the_thinned_classes(method):
    record = execute(experiment.EXPERIMENT.run_one, tiny(pick("paper", "RacketSports", method)))
    metrics = record["metrics"]
    assert 0 <= metrics["balanced_accuracy"] <= 1 and "minority_accuracy" in metrics
    assert sum(k.startswith("dropped_class_") for k in metrics) == 2  # two of RacketSports' four classes
    assert len(record["trace"]) == 2 and np.isfinite(record["trace"]).all()


def test_a_replay_repeats_the_first_epochs_of_a_run_exactly():
    config = tiny(pick("paper", "RacketSports", "ibgan"), epochs=3)
    full = execute(experiment.EXPERIMENT.run_one, config)
    replay = execute(experiment.EXPERIMENT.run_one, config, epochs=2)
    assert replay["trace"] == full["trace"][:2]


def test_a_quality_run_scores_what_a_gan_generates():
    config = tiny(next(c for c in GRIDS["quality"] if c["method"] == "bagan"))
    metrics = execute(experiment.EXPERIMENT.run_one, config)["metrics"]
    assert set(metrics) == {"discriminative_score", "tstr_recall", "diversity_ratio"}
    assert 0 <= metrics["discriminative_score"] <= 0.5 and 0 <= metrics["tstr_recall"] <= 1


def test_the_grids_cover_the_papers_sets_methods_and_pmiss_values():
    settings = experiment.SETTINGS["quick"]
    assert {c["dataset"] for c in GRIDS["paper"]} == {"Epilepsy", "FingerMovements", "Handwriting", "Libras",
                                                      "RacketSports"}
    assert {c["method"] for c in GRIDS["paper"]} == set(experiment.CHAPTER_METHODS)
    pmiss = {c["pmiss"] for c in GRIDS["pmiss"]} | {settings.ibgan.pmiss}
    assert pmiss == set(settings.pmiss_values) and {0.0, 1.0} <= pmiss
    assert all(len({config_key(c) for c in grid}) == len(grid) for grid in GRIDS.values())
    # the sweep includes the paper grid's IB-GAN runs at the default pmiss (stored once)
    paper_ibgan = {config_key(c) for c in GRIDS["paper"] if c["method"] == "ibgan"}
    assert paper_ibgan <= {config_key(c) for c in GRIDS["pmiss"]}


def test_the_published_numbers_are_the_papers_tables_1_and_4():
    paper = experiment.paper_results()
    assert set(paper["table"].astype(str)) == {"1", "4"} and (paper["source"] == "paper (published)").all()
    libras = paper.query("dataset == 'Libras' and method == 'none' and metric == 'balanced_accuracy'")
    assert libras["value"].tolist() == [0.064]  # Table 4: the uncorrected classifier at chance (1/15)
    assert {c.better for c in experiment.CLAIMS} <= {"ibgan", "ibgan-0.1"}


@pytest.mark.parametrize("method", experiment.CHAPTER_METHODS)
def test_classifier_steps_are_the_steps_each_method_takes(method):
    """The steps the chapter reports are counted from the training-set size each method
    makes; the classifier's own history counts the minibatches it took."""
    from tsimb.methods import METHODS
    from tsimb.train import Budget

    config = tiny(pick("paper", "Handwriting", method), epochs=1)
    train, _ = experiment.split(config)
    trained = METHODS[method].train(train, model=config["model"], budget=Budget(**config["budget"]),
                                    settings=METHODS[method].settings_from_config(config), seed=0)
    assert trained.history.steps == experiment.classifier_steps(config) > 0


def test_the_equal_steps_grid_gives_every_method_at_least_the_steps_of_ros():
    by_run: dict = {}
    for config in GRIDS["steps"]:
        by_run.setdefault((config["dataset"], config["seed"]), {})[config["method"]] = config
    assert len(by_run) == len(experiment.SETTINGS["quick"].datasets) * len(experiment.SETTINGS["quick"].seeds)
    for runs in by_run.values():
        assert set(runs) == set(experiment.EQUAL_STEPS_METHODS)
        target = experiment.classifier_steps(runs["ros"])
        for method, config in runs.items():
            steps = experiment.classifier_steps(config)
            one_epoch_less = steps - steps // config["budget"]["epochs"]
            assert steps >= target and (config["budget"]["epochs"] == 20 or one_epoch_less < target), method
    # ROS and SMOTE keep the paper's budget: their runs are the paper grid's
    paper = {config_key(c) for c in GRIDS["paper"]}
    assert all(config_key(c) in paper for c in GRIDS["steps"] if c["method"] in ("ros", "smote"))


def test_an_ibgan_run_records_what_its_discriminator_did_each_epoch():
    config = tiny(pick("paper", "RacketSports", "ibgan"), epochs=3)
    metrics = execute(experiment.EXPERIMENT.run_one, config)["metrics"]
    for name in experiment.DISCRIMINATOR_STATISTICS:
        values = [metrics[f"{name}_epoch_{e}"] for e in range(3)]
        assert all(np.isfinite(values)) and min(values) >= 0
        assert f"{name}_epoch_3" not in metrics
    assert all(0 <= metrics[f"d_imputed_epoch_{e}"] <= 1 for e in range(3))
    # the weights d/(1-d) are capped (IBGANSettings.max_weight)
    assert all(metrics[f"weight_mean_epoch_{e}"] <= 10 for e in range(3))
