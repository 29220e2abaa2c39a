"""The experiment of the book's chapter *IB-GAN*: generating minority series with GANs
(Deng et al., "IB-GAN: A Unified Approach for Multivariate Time Series Classification
under Class Imbalance", SDM 2022). On the paper's UEA sets (Table 1: Epilepsy; Table 4:
FingerMovements, Handwriting, Libras, RacketSports), under its protocol (75% of the
training series of a seeded random half of the classes dropped; the test split as
published): the classic baselines, the two-stage GAN oversamplers (naive conditional GAN,
AC-GAN, BAGAN, each followed by a classifier trained on the oversampled set) and IB-GAN,
each under two classifier budgets: the paper's (its small CNN, 20 epochs) and a properly
trained FCN. Then IB-GAN's ``pmiss`` sweep (the paper's Figure 3 / Table 5) and the
quality of what each GAN generates. ``python -m tsimb run ib-gan`` runs it headless.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import Dataset, class_halves, drop_half_of_classes, dropped_classes, load_train_test
from ..evaluation import Claim, evaluate
from ..generative import GANSettings, IBGANSettings, discriminative_score, diversity, tstr_per_class
from ..generative.ibgan import PRIORS, discriminator_statistics
from ..methods import Sampler, Trained
from ..train import Budget, minibatches_per_epoch, predict_proba
from .experiment import Experiment

CHAPTER = "ib-gan"
CODE_VERSION = "ib-gan-1"  # bump when a change alters results, so that stored runs are not served
TABLE_1 = ("Epilepsy",)
TABLE_4 = ("FingerMovements", "Handwriting", "Libras", "RacketSports")
BASELINES = ("none", "class-weights", "ros", "rus", "smote")
GANS = ("cgan", "acgan", "bagan")
CHAPTER_METHODS = (*BASELINES, *GANS, "ibgan")
REFERENCE_METHOD, OWN_METHODS = "none", ("ibgan",)
# per-epoch metrics of every IB-GAN run (``d_imputed_epoch_0``, ...): tsimb.generative.discriminator_statistics
DISCRIMINATOR_STATISTICS = ("d_imputed", "d_imputed_sd", "weight_mean", "weight_sd")


@dataclass(frozen=True)
class ClassifierBudget:
    """One classifier budget: a short name (stored with each run), the model, its training
    budget and a description for the tables. IB-GAN trains its classifier jointly for the
    same number of epochs."""

    name: str
    model: str
    budget: Budget
    gan: GANSettings  # the two-stage GANs' own training
    description: str = ""


@dataclass(frozen=True)
class IBGANChapterSettings:
    """One profile of the chapter: the grids' data sets, methods, seeds and budgets, the
    ``pmiss`` sweep, the quality grid, and the protocol's constants."""

    datasets: tuple[str, ...]
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    budgets: tuple[ClassifierBudget, ...]
    trained_methods: tuple[str, ...]  # methods and seeds of the second (properly trained) budget
    trained_seeds: tuple[int, ...]
    ibgan: IBGANSettings
    pmiss_values: tuple[float, ...]
    pmiss_seeds: tuple[int, ...]
    quality_datasets: tuple[str, ...]  # what the GANs generate, trained as under the second budget
    quality_seeds: tuple[int, ...]
    # App. 6.2's Table 4 classifier (batch norm, max pooling, kernel k), paper budget, every method
    pooled_seeds: tuple[int, ...] = (0, 1, 2)
    drop_fraction: float = 0.75  # sec. 3.1
    # Handwriting has classes of two or three training series; dropping 75% leaves one, from
    # which no generative model (nor SMOTE) learns a distribution; the paper does not say
    # what it did, so a thinned class keeps at least two
    min_keep: int = 2


# sec. 3.1's "simple CNN with 2 Conv-1D layers"; "each replicate trains for 20 epochs" (App. 6.2), GANs
# included; the batch size is not given
PAPER_BUDGET = ClassifierBudget("paper", "cnn", Budget(epochs=20, batch_size=32, lr=1e-3),
                                GANSettings(epochs=20, ae_epochs=20), "the paper's: small CNN, 20 epochs")

# App. 6.2: "2 Conv1D layers each with relu-activation, max pooling and batch normalization"
POOLED_BUDGET = replace(PAPER_BUDGET, name="pooled", model="cnn-pool",
                        description="the paper's Table 4 classifier (App. 6.2): 2 Conv1D with batch norm and "
                                    "max pooling, 20 epochs")

SETTINGS = {
    "quick": IBGANChapterSettings(
        datasets=(*TABLE_1, *TABLE_4),
        methods=CHAPTER_METHODS,
        seeds=(0, 1, 2, 3, 4),  # the paper's 5 replicates
        budgets=(PAPER_BUDGET, ClassifierBudget("trained", "fcn", Budget(epochs=100, batch_size=16, lr=1e-3),
                                                GANSettings(epochs=100, ae_epochs=50), "trained: FCN, 100 epochs")),
        # the well-trained classifier's question (do IB-GAN's gains survive it?) needs the
        # reference, the strongest classic baseline on these sets, one GAN and IB-GAN
        trained_methods=("none", "smote", "cgan", "ibgan"),
        trained_seeds=(0, 1, 2),
        ibgan=IBGANSettings(),
        pmiss_values=(0.0, 0.1, 0.3, 0.5, 1.0),
        pmiss_seeds=(0, 1, 2, 3, 4),
        quality_datasets=("Epilepsy",),
        quality_seeds=(0, 1, 2),
    ),
    "full": IBGANChapterSettings(
        datasets=(*TABLE_1, *TABLE_4),
        methods=CHAPTER_METHODS,
        seeds=(0, 1, 2, 3, 4),
        budgets=(PAPER_BUDGET, ClassifierBudget("trained", "fcn", Budget(epochs=500, batch_size=16, lr=1e-3),
                                                GANSettings(epochs=500, ae_epochs=200), "trained: FCN, 500 epochs")),
        trained_methods=CHAPTER_METHODS,
        trained_seeds=(0, 1, 2, 3, 4),
        ibgan=IBGANSettings(),
        pmiss_values=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0),
        pmiss_seeds=(0, 1, 2, 3, 4),
        quality_datasets=(*TABLE_1, *TABLE_4),
        quality_seeds=(0, 1, 2, 3, 4),
        pooled_seeds=(0, 1, 2, 3, 4),
    ),
}


def imbalanced_split(dataset: str, seed: int, fraction: float = 0.75, min_keep: int = 2) -> tuple[Dataset, Dataset]:
    """The paper's protocol (sec. 3.1): the training split with ``fraction`` of the series
    of a seeded random half of the classes dropped (:func:`tsimb.data.drop_half_of_classes`),
    and the test split as published."""
    train, test = load_train_test(dataset)
    return train.subset(drop_half_of_classes(train.y, fraction, seed, min_keep)), test


def split(config: dict) -> tuple[Dataset, Dataset]:
    return imbalanced_split(config["dataset"], config["seed"], config["drop_fraction"], config["min_keep"])


def score(config: dict, trained: Trained, train: Dataset, test: Dataset) -> dict[str, float]:
    """The classic metrics on the published test split (halves by training count), how many
    classes the model predicts (1: a constant predictor), the training-set size and which
    classes the protocol thinned; for IB-GAN also its discriminator's statistics per epoch
    (``d_imputed_epoch_E``, ... : :func:`tsimb.generative.ibgan.discriminator_statistics`)."""
    majority, minority = class_halves(train.class_counts())
    proba = predict_proba(trained.classifier, test.X)
    metrics = evaluate(test.y, proba, majority, minority)
    metrics["predicted_classes"] = float(len(set(proba.argmax(1).tolist())))
    metrics["train_series"] = float(len(train))
    n_labels = int(load_train_test(config["dataset"])[0].y.max()) + 1  # as drop_half_of_classes draws them
    metrics.update({f"dropped_class_{k}": 1.0 for k in dropped_classes(n_labels, config["seed"])})
    if "d_imputed" in trained.history.losses:  # IB-GAN: what its discriminator did, epoch by epoch
        for row in discriminator_statistics(trained.history).itertuples(index=False):
            metrics.update({f"{name}_epoch_{row.epoch}": float(getattr(row, name)) for name in DISCRIMINATOR_STATISTICS})
    return metrics


def score_generated(config: dict, sampler: Sampler, train: Dataset, test: Dataset) -> dict[str, float]:
    """Quality of what a GAN generates for the minority half of the classes of its
    imbalanced training split, one series per real one (IB-GAN's are the imputations of
    those very series): the discriminative score (0: indistinguishable from the real
    series), train-on-synthetic-test-on-real recall on the test split, and diversity
    (generated over real mean pairwise distance, 1: as diverse as the data)."""
    minority = class_halves(train.class_counts())[1]
    real = np.isin(train.y, minority)
    X_gen, y_gen = sampler(train.X[real], train.y[real], config["seed"]), train.y[real]
    in_test = np.isin(test.y, minority)
    tstr = tstr_per_class(X_gen, y_gen, test.X[in_test], test.y[in_test])
    div = diversity(X_gen, y_gen, train.X[real], train.y[real])
    return {"discriminative_score": discriminative_score(train.X[real], X_gen, seed=config["seed"]),
            "tstr_recall": float(np.nanmean(tstr["recall"])), "diversity_ratio": float(div["ratio"].mean())}


def _config(dataset: str, method: str, seed: int, budget: ClassifierBudget, settings: IBGANChapterSettings,
            pmiss: float | None = None, prior: str | None = None) -> dict:
    ibgan = settings.ibgan if pmiss is None else replace(settings.ibgan, pmiss=pmiss)
    ibgan = ibgan if prior is None else replace(ibgan, prior=prior)
    return dict(chapter=CHAPTER, version=CODE_VERSION, dataset=dataset, imbalance="drop",
                ratio=settings.drop_fraction, drop_fraction=settings.drop_fraction, min_keep=settings.min_keep,
                classifier=budget.name, model=budget.model, method=method, seed=seed, budget=asdict(budget.budget),
                gan=asdict(budget.gan) if method in GANS else None,
                ibgan_settings=asdict(ibgan) if method == "ibgan" else None,
                pmiss=ibgan.pmiss if method == "ibgan" else None)


# the classifier's training set under each method (sec. 3.1): the thinned split itself,
# every class topped up to the majority count, or every class cut to the minority count
REAL_SET_METHODS, UNDERSAMPLING_METHODS = ("none", "class-weights", "ibgan"), ("rus",)
EQUAL_STEPS_METHODS = ("none", "ros", "smote", "ibgan")


@lru_cache(maxsize=None)
def _class_counts(dataset: str, seed: int, fraction: float, min_keep: int) -> tuple[int, ...]:
    train, _ = imbalanced_split(dataset, seed, fraction, min_keep)
    counts = np.bincount(train.y, minlength=train.n_classes)
    return tuple(int(c) for c in counts[counts > 0])


def classifier_steps(config: dict) -> int:
    """The optimiser steps a run's classifier takes: its epochs times the minibatches of its
    training set (:func:`tsimb.train.minibatches_per_epoch`). The paper (Deng et al. 2022,
    App. 6.2) gives every method the same epochs, so a method that trains on an oversampled
    set takes more steps: the thinned split for ``none``, ``class-weights`` and IB-GAN (whose
    minibatches pair ``batch_size`` real series with as many resampled ones), every class
    topped up to the majority count for ROS, SMOTE and the GAN oversamplers, every class cut
    to the minority count for RUS."""
    counts = np.asarray(_class_counts(config["dataset"], config["seed"], config["drop_fraction"], config["min_keep"]))
    method = config["method"]
    if method in REAL_SET_METHODS:
        n = int(counts.sum())
    elif method in UNDERSAMPLING_METHODS:
        n = int(counts.size * counts.min())
    else:
        n = int(counts.size * counts.max())
    budget = Budget(**config["budget"])
    return budget.epochs * minibatches_per_epoch(n, budget.batch_size_for(n))


def _equal_steps(dataset: str, seed: int, budget: ClassifierBudget, s: IBGANChapterSettings) -> list[dict]:
    """The equal-steps comparison: ``none``, ``ros``, ``smote`` and IB-GAN, each trained for as
    many epochs as it needs to take at least as many optimiser steps as ROS takes in the
    budget's epochs (ROS and SMOTE keep the budget: their runs are the paper grid's)."""
    target = classifier_steps(_config(dataset, "ros", seed, budget, s))
    configs = []
    for method in EQUAL_STEPS_METHODS:
        per_epoch = classifier_steps(_config(dataset, method, seed, replace(budget, budget=replace(budget.budget, epochs=1)), s))
        epochs = max(budget.budget.epochs, -(-target // per_epoch))
        configs.append(_config(dataset, method, seed, replace(budget, budget=replace(budget.budget, epochs=epochs)), s))
    return configs


# Is the discriminator inert by design or for want of capacity, learning rate or steps? The
# paper's settings against G and D with four times the hidden channels, D's learning rate
# five times larger, and ten times the epochs, on two sets (the default's runs are the
# paper grid's)
DISCRIMINATOR_DATASETS = ("Epilepsy", "RacketSports")
DISCRIMINATOR_SEEDS = (0, 1, 2)


def discriminator_variant(config: dict) -> str | None:
    """Which variant of the discriminator grid a run of IB-GAN (Deng et al. 2022, eqs.
    2.5-2.6) under the paper's budget is: its changes from the default ``IBGANSettings``
    (``hidden`` widens G and D alike, ``lr_d``) and from the budget's 20 epochs, or
    "paper's settings" (None for other runs; ``pmiss`` and ``prior`` are not compared, as
    the discriminator grid keeps them at the defaults)."""
    if config["method"] != "ibgan" or config["classifier"] != "paper":
        return None
    settings, default = config["ibgan_settings"], asdict(IBGANSettings())
    changes = []
    if settings["hidden"] != default["hidden"]:
        changes.append(f"hidden {settings['hidden']}")
    if settings["lr_d"] != default["lr_d"]:
        changes.append(f"lr_d x{settings['lr_d'] / default['lr_d']:g}")
    if config["budget"]["epochs"] != PAPER_BUDGET.budget.epochs:
        changes.append(f"{config['budget']['epochs']} epochs")
    return ", ".join(changes) or "paper's settings"


def _discriminator_grid(s: IBGANChapterSettings) -> list[dict]:
    """IB-GAN at the paper's settings, with G and D four times wider, with D's learning rate
    five times larger and with ten times the epochs (Deng et al. 2022, eq. 2.5's D)."""
    paper = PAPER_BUDGET
    longer = replace(paper, budget=replace(paper.budget, epochs=10 * paper.budget.epochs))
    out = []
    for d in DISCRIMINATOR_DATASETS:
        for seed in DISCRIMINATOR_SEEDS:
            out.append(_config(d, "ibgan", seed, paper, s))
            for change in ({"hidden": 4 * s.ibgan.hidden}, {"lr_d": 5 * s.ibgan.lr_d}):
                config = _config(d, "ibgan", seed, paper, s)
                out.append({**config, "ibgan_settings": asdict(replace(s.ibgan, **change))})
            out.append(_config(d, "ibgan", seed, longer, s))
    return out


def used_datasets(s: IBGANChapterSettings) -> set[str]:
    return set(s.datasets)


def build_grids(s: IBGANChapterSettings) -> dict[str, list[dict]]:
    """The chapter's grids: ``paper`` (every method under the paper's budget), ``trained``
    (the second budget's methods under the properly trained FCN), ``pmiss`` (IB-GAN's
    sweep, paper budget, with the paper grid's runs at the default ``pmiss``), ``quality``
    (what each GAN generates, second budget), ``pooled`` (every method with App. 6.2's pooled
    CNN), ``steps`` (none, ROS, SMOTE and IB-GAN at equal optimiser steps), ``discriminator``
    (IB-GAN with a larger or faster D, or ten times the epochs) and ``prior`` (the three
    readings of the synthetic prior). The stored ``ibgan_settings``
    keep IBGANSettings' own epochs, batch size and classifier learning rate; a run takes
    those three from its ``budget`` (:class:`tsimb.generative.IBGANMethod`)."""
    paper, trained = s.budgets
    return {
        "paper": [_config(d, m, seed, paper, s) for d in s.datasets for m in s.methods for seed in s.seeds],
        "trained": [_config(d, m, seed, trained, s) for d in s.datasets for m in s.trained_methods
                    for seed in s.trained_seeds],
        "pmiss": [_config(d, "ibgan", seed, paper, s, pmiss) for d in s.datasets for pmiss in s.pmiss_values
                  if pmiss != s.ibgan.pmiss for seed in s.pmiss_seeds]
        + [_config(d, "ibgan", seed, paper, s) for d in s.datasets for seed in s.seeds],
        # IB-GAN twice: at its pmiss its series are imputations of the very real ones they are
        # scored against (90% copied at 0.1), so it is also scored at pmiss 1, from noise as the GANs
        "quality": [{**_config(d, m, seed, trained, s, pmiss), "kind": "quality"} for d in s.quality_datasets
                    for m, pmiss in (*((g, None) for g in GANS), ("ibgan", None), ("ibgan", 1.0))
                    for seed in s.quality_seeds],
        "pooled": [_config(d, m, seed, POOLED_BUDGET, s) for d in s.datasets for m in s.methods
                   for seed in s.pooled_seeds],
        # budget or method? none, ros, smote and IB-GAN at (at least) the steps ROS takes
        "discriminator": _discriminator_grid(s),
        "steps": [c for d in s.datasets for seed in s.seeds for c in _equal_steps(d, seed, paper, s)],
        # the three readings of the synthetic prior (sec. 2.1 and 2.2.1), paper budget; the
        # default's runs are the paper grid's
        "prior": [_config(d, "ibgan", seed, paper, s, prior=prior) for d in s.datasets for prior in PRIORS
                  if prior != s.ibgan.prior for seed in s.seeds]
        + [_config(d, "ibgan", seed, paper, s) for d in s.datasets for seed in s.seeds],
    }


PUBLISHED = Path(__file__).parent / "published" / "deng2022_ibgan_tables_1_4.csv"


def paper_results() -> pd.DataFrame:
    """The paper's published numbers (Tables 1 and 4) as a tidy table: dataset, classifier
    (``cnn`` or ``vgg``), method, metric, value, sd, table, section. Labelled as the paper's."""
    return pd.read_csv(PUBLISHED, comment="#").assign(source="paper (published)")


CLAIMS = (
    *(Claim(f"IB-GAN beats {m}", "sec. 3.1, Tables 1 and 4", "ibgan", m, "balanced_accuracy") for m in CHAPTER_METHODS
      if m != "ibgan"),
    Claim("IB-GAN (pmiss 0.1) beats the naive GAN (pmiss 1)", "sec. 3.1", "ibgan-0.1", "ibgan-1", "balanced_accuracy"),
    Claim("pmiss 0.1 is as good as 0.3 (within 2 points)", "sec. 3.2.1, Figure 3", "ibgan-0.1", "ibgan-0.3",
          "balanced_accuracy", kind="non-inferiority", margin=0.02),
    Claim("pmiss 0.1 is as good as 0.5 (within 2 points)", "sec. 3.2.1, Figure 3", "ibgan-0.1", "ibgan-0.5",
          "balanced_accuracy", kind="non-inferiority", margin=0.02),
)


# the three readings of the synthetic prior (grid ``prior``; runs labelled by their prior):
# the book's comparison of readings of sec. 2.1 and 2.2.1, not a claim of the paper
PRIOR_CLAIMS = tuple(Claim(f"complement beats {other}", "the book (readings of sec. 2.1, 2.2.1)", "complement",
                           other, "balanced_accuracy")
                     for other in PRIORS if other != "complement")


EXPERIMENT = Experiment(
    chapter=CHAPTER, code_version=CODE_VERSION, settings=SETTINGS, build_grids=build_grids,
    used_datasets=used_datasets, score=score, split=split, score_generated=score_generated,
    bookkeeping=("chapter", "version", "budget", "gan", "ibgan_settings", "drop_fraction", "min_keep"),
    derived={"prior": lambda config: (config.get("ibgan_settings") or {}).get("prior"),
             "epochs": lambda config: config["budget"]["epochs"], "steps": classifier_steps,
             "variant": discriminator_variant},
    reference_method=REFERENCE_METHOD, own_methods=OWN_METHODS, claims=CLAIMS, paper_results=paper_results,
)
