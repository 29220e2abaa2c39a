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
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import (Dataset, TooFewSeriesError, class_halves, drop_half_of_classes, dropped_classes,
                    load_train_test)
from ..evaluation import Claim, evaluate
from ..generative import (GANSettings, IBGANSettings, discriminative_score, diversity, fit_gan, fit_ibgan,
                          gan_oversample, train_ibgan, tstr_per_class)
from ..models import build_model
from ..runtime import seed_everything
from ..train import Budget, predict_proba, train_baseline
from .profiles import resolve_profile
from .runner import RunOutput, SkipRun, run_grid, tidy

CHAPTER = "ib-gan"
CODE_VERSION = "ib-gan-1"  # bump when a change alters results, so that stored runs are not served
TABLE_1 = ("Epilepsy",)
TABLE_4 = ("FingerMovements", "Handwriting", "Libras", "RacketSports")
BASELINES = ("none", "class-weights", "ros", "rus", "smote")
GANS = ("cgan", "acgan", "bagan")
METHODS = (*BASELINES, *GANS, "ibgan")
REFERENCE_METHOD, OWN_METHODS = "none", ("ibgan",)
BOOKKEEPING = ("chapter", "version", "budget", "gan", "ibgan_settings", "drop_fraction", "min_keep")


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
    drop_fraction: float = 0.75  # sec. 3.1
    # Handwriting has classes of two or three training series; dropping 75% leaves one, from
    # which no generative model (nor SMOTE) learns a distribution; the paper does not say
    # what it did, so a thinned class keeps at least two
    min_keep: int = 2


# sec. 3.1's "simple CNN with 2 Conv-1D layers"; "each replicate trains for 20 epochs" (App. 6.2), GANs
# included; the batch size is not given
PAPER_BUDGET = ClassifierBudget("paper", "cnn", Budget(epochs=20, batch_size=32, lr=1e-3),
                                GANSettings(epochs=20, ae_epochs=20), "the paper's: small CNN, 20 epochs")

SETTINGS = {
    "quick": IBGANChapterSettings(
        datasets=(*TABLE_1, *TABLE_4),
        methods=METHODS,
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
        methods=METHODS,
        seeds=(0, 1, 2, 3, 4),
        budgets=(PAPER_BUDGET, ClassifierBudget("trained", "fcn", Budget(epochs=500, batch_size=16, lr=1e-3),
                                                GANSettings(epochs=500, ae_epochs=200), "trained: FCN, 500 epochs")),
        trained_methods=METHODS,
        trained_seeds=(0, 1, 2, 3, 4),
        ibgan=IBGANSettings(),
        pmiss_values=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0),
        pmiss_seeds=(0, 1, 2, 3, 4),
        quality_datasets=(*TABLE_1, *TABLE_4),
        quality_seeds=(0, 1, 2, 3, 4),
    ),
}


def imbalanced_split(dataset: str, seed: int, fraction: float = 0.75, min_keep: int = 2) -> tuple[Dataset, Dataset]:
    """The paper's protocol (sec. 3.1): the training split with ``fraction`` of the series
    of a seeded random half of the classes dropped (:func:`tsimb.data.drop_half_of_classes`),
    and the test split as published."""
    train, test = load_train_test(dataset)
    return train.subset(drop_half_of_classes(train.y, fraction, seed, min_keep)), test


def _classifier(config: dict, train: Dataset):
    seed_everything(config["seed"])
    return build_model(config["model"], train.n_channels, train.n_classes, train.length)


def _ibgan_settings(config: dict, budget: Budget, epochs: int | None) -> IBGANSettings:
    stored = config["ibgan_settings"]
    settings = IBGANSettings(**{**stored, "betas": tuple(stored["betas"]), "betas_c": tuple(stored["betas_c"])})
    return replace(settings, epochs=min(epochs or budget.epochs, budget.epochs), batch_size=budget.batch_size,
                   lr_c=budget.lr)


def _gan_settings(config: dict) -> GANSettings:
    return GANSettings(**{**config["gan"], "betas": tuple(config["gan"]["betas"])})


def generated(config: dict, train: Dataset, classes: list[int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Series that ``config``'s method (``cgan``, ``acgan``, ``bagan`` or ``ibgan``) generates
    after training on ``train``: one for each real series of ``classes``, in the real
    series' order and with their labels. IB-GAN's are the imputations of those very series
    at its ``pmiss`` (so the ``i``-th is the twin of the ``i``-th real one)."""
    budget = Budget(**config["budget"])
    source = np.flatnonzero(np.isin(train.y, classes))
    labels = train.y[source]
    if config["method"] == "ibgan":
        model, _ = fit_ibgan(train.X, train.y, n_classes=train.n_classes, classifier=_classifier(config, train),
                             settings=_ibgan_settings(config, budget, None), seed=config["seed"])
        return model.generate(train.X[source], labels, seed=seed), labels
    trained = fit_gan(config["method"], train.X, train.y, settings=_gan_settings(config), seed=config["seed"])
    return trained.sample(labels, seed=seed), labels


def run_quality(config: dict) -> RunOutput:
    """Quality of what ``config``'s GAN generates for the minority half of the classes of
    its imbalanced training split: the discriminative score (0: indistinguishable from the
    real series), train-on-synthetic-test-on-real recall on the test split, and diversity
    (generated over real mean pairwise distance, 1: as diverse as the data)."""
    train, test = imbalanced_split(config["dataset"], config["seed"], config["drop_fraction"], config["min_keep"])
    minority = class_halves(train.class_counts())[1]
    X_gen, y_gen = generated(config, train, minority, seed=config["seed"])  # as many as each class has
    real = np.isin(train.y, minority)
    in_test = np.isin(test.y, minority)
    tstr = tstr_per_class(X_gen, y_gen, test.X[in_test], test.y[in_test])
    div = diversity(X_gen, y_gen, train.X[real], train.y[real])
    metrics = {"discriminative_score": discriminative_score(train.X[real], X_gen, seed=config["seed"]),
               "tstr_recall": float(np.nanmean(tstr["recall"])), "diversity_ratio": float(div["ratio"].mean())}
    return RunOutput(metrics)


def run_one(config: dict, epochs: int | None = None) -> RunOutput:
    """Train and evaluate one configuration; with ``epochs``, train the classifier (IB-GAN:
    the triplet) only that many epochs and return its loss trace (a replay). Configurations
    of the ``quality`` grid score what a GAN generates instead (:func:`run_quality`)."""
    if config.get("kind") == "quality":
        return run_quality(config) if epochs is None else RunOutput({}, [])
    imbalanced, test = imbalanced_split(config["dataset"], config["seed"], config["drop_fraction"], config["min_keep"])
    train = imbalanced  # replaced by the oversampled set for the two-stage GANs
    budget = Budget(**config["budget"])
    method = config["method"]
    if method == "ibgan":
        classifier, history = train_ibgan(train.X, train.y, n_classes=train.n_classes,
                                          classifier=_classifier(config, train),
                                          settings=_ibgan_settings(config, budget, epochs), seed=config["seed"])
        trace = history.c_loss
    else:
        if method in GANS:
            X_new, y_new = gan_oversample(method, train.X, train.y, settings=_gan_settings(config), seed=config["seed"])
            train = Dataset(train.name, "train", X_new, y_new, train.class_names, train.source)
            recipe = "none"
        else:
            recipe = method
        try:
            classifier, fit_history = train_baseline(recipe, config["model"], train, budget, seed=config["seed"],
                                                     epochs=epochs)
        except TooFewSeriesError as error:  # SMOTE on too small a class: recorded as skipped
            raise SkipRun(str(error)) from error
        trace = fit_history.loss
    if epochs is not None:
        return RunOutput({}, trace)
    majority, minority = class_halves(imbalanced.class_counts())
    proba = predict_proba(classifier, test.X)
    metrics = evaluate(test.y, proba, majority, minority)
    metrics["predicted_classes"] = float(len(set(proba.argmax(1).tolist())))  # 1: a constant predictor
    metrics["train_series"] = float(len(imbalanced))
    n_labels = int(load_train_test(config["dataset"])[0].y.max()) + 1  # as drop_half_of_classes draws them
    metrics.update({f"dropped_class_{k}": 1.0 for k in dropped_classes(n_labels, config["seed"])})
    return RunOutput(metrics, trace)


def _config(dataset: str, method: str, seed: int, budget: ClassifierBudget, settings: IBGANChapterSettings,
            pmiss: float | None = None) -> dict:
    ibgan = settings.ibgan if pmiss is None else replace(settings.ibgan, pmiss=pmiss)
    return dict(chapter=CHAPTER, version=CODE_VERSION, dataset=dataset, imbalance="drop",
                ratio=settings.drop_fraction, drop_fraction=settings.drop_fraction, min_keep=settings.min_keep,
                classifier=budget.name, model=budget.model, method=method, seed=seed, budget=asdict(budget.budget),
                gan=asdict(budget.gan) if method in GANS else None,
                ibgan_settings=asdict(ibgan) if method == "ibgan" else None,
                pmiss=ibgan.pmiss if method == "ibgan" else None)


def datasets(profile: str | None = None) -> set[str]:
    """The data sets a profile's grids load."""
    return set(SETTINGS[resolve_profile(profile)].datasets)


def grids(profile: str | None = None) -> dict[str, list[dict]]:
    """The chapter's grids: ``paper`` (every method under the paper's budget), ``trained``
    (the second budget's methods under the properly trained FCN), ``pmiss`` (IB-GAN's
    sweep, paper budget) and ``quality`` (what each GAN generates, second budget). The
    stored ``ibgan_settings`` keep IBGANSettings' own epochs, batch size and classifier
    learning rate; a run takes those three from its ``budget`` (:func:`run_one`)."""
    s = SETTINGS[resolve_profile(profile)]
    paper, trained = s.budgets
    return {
        "paper": [_config(d, m, seed, paper, s) for d in s.datasets for m in s.methods for seed in s.seeds],
        "trained": [_config(d, m, seed, trained, s) for d in s.datasets for m in s.trained_methods
                    for seed in s.trained_seeds],
        "pmiss": [_config(d, "ibgan", seed, paper, s, pmiss) for d in s.datasets for pmiss in s.pmiss_values
                  if pmiss != s.ibgan.pmiss for seed in s.pmiss_seeds],
        # IB-GAN twice: at its pmiss its series are imputations of the very real ones they are
        # scored against (90% copied at 0.1), so it is also scored at pmiss 1, from noise as the GANs
        "quality": [{**_config(d, m, seed, trained, s, pmiss), "kind": "quality"} for d in s.quality_datasets
                    for m, pmiss in (*((g, None) for g in GANS), ("ibgan", None), ("ibgan", 1.0))
                    for seed in s.quality_seeds],
    }


def run(profile: str | None = None, grid: str = "paper", progress: bool | None = None, **runner) -> pd.DataFrame:
    """One of :func:`grids` as a tidy table (dataset, imbalance, ratio, protocol, classifier,
    model, method, pmiss, seed, metric, value; ``kind`` for the quality grid); ``pmiss``
    includes the main grid's IB-GAN runs at the default ``pmiss``."""
    configs = grids(profile)[grid]
    if grid == "pmiss":
        configs = configs + [c for c in grids(profile)["paper"] if c["method"] == "ibgan"]
    table = run_grid(configs, run_one, chapter=CHAPTER, progress=progress, desc=f"ib-gan: {grid}", **runner)
    return tidy(table, BOOKKEEPING)


PUBLISHED = Path(__file__).parent / "published" / "deng2022_ibgan_tables_1_4.csv"


def paper_results() -> pd.DataFrame:
    """The paper's published numbers (Tables 1 and 4) as a tidy table: dataset, classifier
    (``cnn`` or ``vgg``), method, metric, value, sd, table, section. Labelled as the paper's."""
    return pd.read_csv(PUBLISHED, comment="#").assign(source="paper (published)")


CLAIMS = (
    *(Claim(f"IB-GAN beats {m}", "sec. 3.1, Tables 1 and 4", "ibgan", m, "balanced_accuracy") for m in METHODS
      if m != "ibgan"),
    Claim("IB-GAN (pmiss 0.1) beats the naive GAN (pmiss 1)", "sec. 3.1", "ibgan-0.1", "ibgan-1", "balanced_accuracy"),
    Claim("pmiss 0.1 is as good as 0.3 (within 2 points)", "sec. 3.2.1, Figure 3", "ibgan-0.1", "ibgan-0.3",
          "balanced_accuracy", kind="non-inferiority", margin=0.02),
    Claim("pmiss 0.1 is as good as 0.5 (within 2 points)", "sec. 3.2.1, Figure 3", "ibgan-0.1", "ibgan-0.5",
          "balanced_accuracy", kind="non-inferiority", margin=0.02),
)
