"""The latent-generation chapter's experiment (tsimb.experiments.latent_generation) on tiny
budgets: the dissertation's protocol (Wang 2023, sec. 2.4.1), one run of each kind, the
published tables and the claims."""

from __future__ import annotations

import numpy as np
import pytest

from tsimb.experiments import latent_generation as experiment
from tsimb.experiments.runner import execute

GRIDS = experiment.EXPERIMENT.grids("quick")


def tiny(config: dict) -> dict:
    """``config`` with every generator cut to two epochs or rounds."""
    out = {**config, "budget": {**config["budget"], "epochs": 1}}
    if out["glgan"]:
        out["glgan"] = {**out["glgan"], "rounds": 1, "autoencoder": {**out["glgan"]["autoencoder"], "epochs": 2}}
    if out["latent_adversarial"]:
        out["latent_adversarial"] = {**out["latent_adversarial"],
                                     "autoencoder": {**out["latent_adversarial"]["autoencoder"], "epochs": 2}}
    if out["gan"]:
        out["gan"] = {**out["gan"], "epochs": 2, "ae_epochs": 2}
    return out


def pick(method: str, eps: float | None = None, dataset: str = "Strawberry", ratio: float = 0.01) -> dict:
    return next(c for c in GRIDS["main"] if c["dataset"] == dataset and c["method"] == method and c["seed"] == 0
                and c["ratio"] == ratio and c["eps"] == eps)


def test_the_protocol_pools_the_splits_balances_the_test_set_and_thins_the_minority():
    train, test = experiment.pooled_pair_split("Strawberry", 0.05, seed=0)
    assert np.bincount(test.y).tolist() == [98, 98]  # 20% of the 983 pooled series, half a class
    n_maj = int((train.y == 0).sum())
    assert n_maj == 632 - 98 and (train.y == 1).sum() == round(0.05 * n_maj)
    assert train.class_names == ("2", "1")  # the larger class is the majority, label 0
    # no series is in both, and the seed draws another split
    assert not set(map(bytes, train.X)) & set(map(bytes, test.X))
    other, _ = experiment.pooled_pair_split("Strawberry", 0.05, seed=1)
    assert not np.array_equal(other.X, train.X)
    assert (experiment.pooled_pair_split("Strawberry", 0.001, seed=0)[0].y == 1).sum() == 2  # latent SMOTE's floor
    with pytest.raises(ValueError, match="minority ratio"):
        experiment.pooled_pair_split("Strawberry", 0.0, seed=0)


@pytest.mark.parametrize("method, eps", [("none", None), ("smote", None), ("auto-only", None), ("gl-gan-cgan", None),
                                         ("latent-adversarial", 0.2)])
def test_one_run_scores_the_three_classifiers_and_the_synthetic_series(method, eps):
    record = execute(experiment.EXPERIMENT.run_one, tiny(pick(method, eps)))
    metrics = record["metrics"]
    for name in experiment.CLASSIFIERS:
        assert -1 <= metrics[f"mcc_{name}"] <= 1 and 0 <= metrics[f"macro_f1_{name}"] <= 1
    assert metrics["train_minority"] == 5 and metrics["test_series"] == 196
    if method == "none":
        assert "discriminative_score" not in metrics and metrics["synthetic_minority"] == 0
    else:
        assert metrics["synthetic_minority"] == metrics["train_majority"] - 5
        assert 0 <= metrics["discriminative_score"] <= 0.5 and 0 <= metrics["majority_region_share"] <= 1
    if method in ("auto-only", "gl-gan-cgan"):  # the generator's trace: the autoencoder's, or the GAN's
        assert len(record["trace"]) > 0 and np.isfinite(record["trace"]).all()
    if method == "gl-gan-cgan":  # a replay re-runs the run and returns the trace's first epochs
        replay = execute(experiment.EXPERIMENT.run_one, tiny(pick(method, eps)), epochs=2)
        assert replay["trace"] == record["trace"][:2]


def test_the_grid_covers_the_methods_ratios_and_eps_sweep():
    settings = experiment.SETTINGS["quick"]
    grid = GRIDS["main"]
    labels = {c["label"] for c in grid}
    assert {"none", "ros", "smote", "bagan", *experiment.GLGAN_FAMILY} <= labels
    assert {f"latent-adversarial eps={e:g}" for e in settings.eps_values} <= labels
    assert 0.01 in settings.ratios  # the dissertation's r (Table 2.1)
    per_split = len(grid) // (len(settings.datasets) * len(settings.ratios) * len(settings.seeds))
    assert per_split == len(labels)
    assert set(experiment.SETTINGS["full"].seeds) == set(range(10))  # the dissertation's 10 runs


def test_the_published_numbers_are_the_dissertations_tables_2_2_to_2_6():
    paper = experiment.paper_results()
    # Table 2.2, USPS, MLP (checked against the dissertation's text)
    row = paper[(paper.dataset == "USPS") & (paper.classifier == "MLPClassifier") & (paper.method == "GL-GAN")
                & (paper.metric == "macro F1")]
    assert row["value"].tolist() == [0.8937]
    assert set(paper["dataset"]) == {"USPS", "SensorlessDriveDiagnosis", "GasSensorArrayDrift", "Madelon", "Gisette"}
    assert len(paper) == 5 * 3 * 8 * 3


def test_by_classifier_splits_the_metric_names():
    import pandas as pd

    table = pd.DataFrame({"metric": ["mcc_linear_svc", "macro_f1_mlp", "discriminative_score"], "value": [1, 2, 3]})
    out = experiment.by_classifier(table)
    assert out["metric"].tolist() == ["mcc", "macro_f1", "discriminative_score"]
    assert out["classifier"].tolist() == ["linear_svc", "mlp", "-"]
