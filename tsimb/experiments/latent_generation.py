"""The experiment of the book's chapter *Generating minority series in a learned latent space*:
GL-GAN (Wang 2023, PhD dissertation, ch. 2; SDM 2020) with its ablations, and the latent
adversarial augmentation reconstructed from the abstract of Kim et al. (2021, ACML), against
no oversampling, ROS, SMOTE and BAGAN, under the dissertation's protocol (sec. 2.4.1)
transposed to series. ``python -m tsimb run latent-generation`` runs it headless.

One run is one oversampled training set: the oversampler (generative or not) is fitted once
on the run's split, and the dissertation's three scikit-learn classifiers (sec. 2.4.1.2:
MLP, LinearSVC and AdaBoost at their defaults, on the flattened series) are each trained on
it and scored on the balanced test set; the run stores every classifier's metrics
(``mcc_linear_svc``, ...), the realism of the synthetic minority series
(:func:`tsimb.generative.discriminative_score` against the held-out minority series) and the
share of them whose nearest real training series is of the majority
(:func:`tsimb.generative.latent.majority_region_share`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import Dataset, TooFewSeriesError, load_train_test, oversample, random_resample_index
from ..evaluation import Claim, evaluate
from ..generative import GANSettings, discriminative_score, gan_oversample
from ..generative.latent import (GLGANSettings, LatentAdversarialSettings, fit_glgan, latent_adversarial_oversample,
                                 majority_region_share)
from ..methods import METHODS
from ..train import Budget
from .experiment import Experiment
from .runner import RunOutput, SkipRun
from .store import Config

CHAPTER = "latent-generation"
CODE_VERSION = "latent-generation-1"  # bump when a change alters results, so that stored runs are not served
CLASSIFIERS = ("mlp", "linear_svc", "adaboost")  # sec. 2.4.1.2, scikit-learn at their defaults
GLGAN_FAMILY = ("gl-gan", "auto-only", "ae-smote", "gl-gan-noclu", "gl-gan-cgan")
REFERENCE_METHOD, OWN_METHODS = "none", ("gl-gan", "latent-adversarial")
PUBLISHED = Path(__file__).parent / "published" / "wang2023_ch2_tables_2_2-2_6.csv"


@dataclass(frozen=True)
class LatentChapterSettings:
    """One profile of the chapter: data sets, minority ratios ``r`` (sec. 2.4.1: 0.01; 0.05
    and 0.1 are our extension), seeds, methods, the latent adversarial ``eps`` sweep, and the
    generators' settings (GL-GAN's per registered method's defaults, with ``glgan_epochs``
    autoencoder epochs and ``glgan_rounds`` GAN rounds)."""

    datasets: tuple[str, ...]
    ratios: tuple[float, ...]
    seeds: tuple[int, ...]
    methods: tuple[str, ...]
    eps_values: tuple[float, ...]
    glgan_epochs: int
    glgan_rounds: int
    bagan: GANSettings
    adversarial_model: str  # the classifier the latent perturbations are made against (trained alongside)
    adversarial_budget: Budget
    test_fraction: float = 0.2  # sec. 2.4.1: "80% for training and 20% for testing", balanced


SETTINGS = {
    "quick": LatentChapterSettings(
        datasets=("PhalangesOutlinesCorrect", "Strawberry"),
        ratios=(0.01, 0.05),
        # measured on one core: a split's 12 runs take about 150 s with these budgets (the
        # autoencoders and GANs dominate), so two seeds keep the grid within 25 CPU-minutes
        seeds=(0, 1),
        methods=("none", "ros", "smote", "bagan", *GLGAN_FAMILY, "latent-adversarial"),
        eps_values=(0.0, 0.2, 0.5),
        glgan_epochs=15,
        glgan_rounds=3,
        bagan=GANSettings(epochs=10, ae_epochs=10),
        adversarial_model="cnn",
        adversarial_budget=Budget(epochs=3, batch_size=32, lr=1e-3),
    ),
    "full": LatentChapterSettings(
        datasets=("PhalangesOutlinesCorrect", "Strawberry", "TwoLeadECG"),
        ratios=(0.01, 0.05, 0.1),
        seeds=tuple(range(10)),  # the dissertation's 10 runs
        methods=("none", "ros", "smote", "bagan", *GLGAN_FAMILY, "latent-adversarial"),
        eps_values=(0.0, 0.1, 0.2, 0.5, 1.0),
        glgan_epochs=100,
        glgan_rounds=20,
        bagan=GANSettings(),
        adversarial_model="cnn",
        adversarial_budget=Budget(epochs=20, batch_size=32, lr=1e-3),
    ),
}


def pooled_pair_split(dataset: str, ratio: float, seed: int, test_fraction: float = 0.2) -> tuple[Dataset, Dataset]:
    """Wang (2023), sec. 2.4.1, transposed to a binary UCR set: the published train and test
    splits pooled; the larger class is the majority (label 0), the smaller the minority
    (label 1); a seeded ``test_fraction`` of the pool, half of each class, is the balanced
    test set; the minority's remaining series are subsampled to ``round(ratio * n_maj)``
    (at least 2: latent SMOTE needs a segment). Raises ``ValueError`` for a set that is not
    binary or a ratio outside (0, 1]."""
    if not 0 < ratio <= 1:
        raise ValueError(f"the minority ratio r must be in (0, 1], got {ratio!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    train, test = load_train_test(dataset)
    if train.n_classes != 2:
        raise ValueError(f"{dataset} has {train.n_classes} classes; the dissertation's protocol takes a binary "
                         "pair: pick two classes first")
    X, y = np.concatenate([train.X, test.X]), np.concatenate([train.y, test.y])
    counts = np.bincount(y, minlength=2)
    majority, minority = (0, 1) if counts[0] >= counts[1] else (1, 0)
    per_class = int(round(test_fraction * len(y) / 2))
    if per_class >= counts[minority]:
        raise ValueError(f"{dataset}: a balanced test set of {per_class} series a class leaves no minority series "
                         "to train on; lower test_fraction")
    rng = np.random.default_rng(seed)
    maj, mino = rng.permutation(np.flatnonzero(y == majority)), rng.permutation(np.flatnonzero(y == minority))
    n_min = max(2, int(round(ratio * (len(maj) - per_class))))
    if per_class + n_min > counts[minority]:
        raise ValueError(f"{dataset}: r = {ratio} asks for {n_min} minority training series, but only "
                         f"{counts[minority] - per_class} are left after the test set; lower r")
    train_index = np.concatenate([maj[per_class:], mino[per_class:per_class + n_min]])
    test_index = np.concatenate([maj[:per_class], mino[:per_class]])
    names = (train.class_names[majority], train.class_names[minority])

    def part(index: np.ndarray, split: str) -> Dataset:
        return Dataset(dataset, split, X[index], (y[index] == minority).astype(np.int64), names, train.source)

    return part(train_index, "train"), part(test_index, "test")


def split(config: Config) -> tuple[Dataset, Dataset]:
    return pooled_pair_split(config["dataset"], config["ratio"], config["seed"], config["test_fraction"])


def oversampled(config: Config, train: Dataset) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """The run's training set after its oversampler (the real series first, unchanged) and
    the generator's loss trace (what ``verify`` compares; empty for the classic ones)."""
    method, seed, X, y = config["method"], config["seed"], train.X, train.y
    try:
        if method == "none":
            return X, y, []
        if method == "ros":
            index = random_resample_index(y, "over", seed)
            return X[index], y[index], []
        if method == "smote":
            X_new, y_new = oversample(X, y, "smote", seed=seed)
            return X_new, y_new, []
        if method == "bagan":
            X_new, y_new = gan_oversample("bagan", X, y, settings=GANSettings(**config["gan"]), seed=seed)
            return X_new, y_new, []
        if method in GLGAN_FAMILY:
            settings = METHODS[method].settings_from_config(config)
            trained = fit_glgan(X, y, settings=settings, seed=seed, progress=False)
            X_syn, y_syn = trained.synthetic()
            trace = [*trained.pretrain.loss, *(trained.history.loss if trained.history else [])]
            return np.concatenate([X, X_syn]), np.concatenate([y, y_syn]), trace
        if method == "latent-adversarial":
            settings = METHODS[method].settings_from_config(config)
            X_new, y_new = latent_adversarial_oversample(train, model=config["model"], budget=Budget(**config["budget"]),
                                                         settings=settings, seed=seed)
            return X_new, y_new, []
    except TooFewSeriesError as error:
        raise SkipRun(str(error)) from error
    raise ValueError(f"chapter {CHAPTER} has no oversampler {method!r}")


def sklearn_classifier(name: str, seed: int) -> Any:
    """The dissertation's classifiers (sec. 2.4.1.2) at scikit-learn's defaults, seeded."""
    from sklearn.ensemble import AdaBoostClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import LinearSVC

    makers = {"mlp": MLPClassifier, "linear_svc": LinearSVC, "adaboost": AdaBoostClassifier}
    if name not in makers:
        raise ValueError(f"unknown classifier {name!r}; choose one of {sorted(makers)}")
    return makers[name](random_state=seed)


def score_classifiers(X: np.ndarray, y: np.ndarray, test: Dataset, seed: int) -> dict[str, float]:
    """Each of :data:`CLASSIFIERS` trained on the flattened oversampled set and scored on the
    test set: macro F1, micro F1, MCC (the dissertation's, sec. 2.4.1.3), the minority's F1
    and recall, ``<metric>_<classifier>``."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import f1_score
    from threadpoolctl import threadpool_limits

    flat, flat_test = X.reshape(len(X), -1), test.X.reshape(len(test), -1)
    out: dict[str, float] = {}
    for name in CLASSIFIERS:
        model = sklearn_classifier(name, seed)
        # one BLAS thread: the MLP's sums (numpy matmul) change in their last bits with the
        # thread count, and its 200 iterations carry that into the predictions; the stored
        # runs were made on one thread, and so is every re-execution, on any machine
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore", ConvergenceWarning)  # the defaults stop early on some sets, as in the dissertation
            model.fit(flat, y)
            pred = model.predict(flat_test).astype(np.int64)
        proba = np.eye(2)[pred]
        metrics = evaluate(test.y, proba)
        for metric in ("macro_f1", "micro_f1", "mcc"):
            out[f"{metric}_{name}"] = metrics[metric]
        out[f"minority_f1_{name}"] = float(f1_score(test.y, pred, pos_label=1, zero_division=0))
        out[f"minority_recall_{name}"] = metrics["recall_1"]
    return out


def realism(X: np.ndarray, y: np.ndarray, train: Dataset, test: Dataset, seed: int) -> dict[str, float]:
    """The synthetic minority series (those beyond the real training set) against the
    held-out real minority: the discriminative score on as many of each (a seeded draw; 0:
    indistinguishable) and the share whose nearest real training series is of the majority
    (:func:`~tsimb.generative.latent.majority_region_share`); only the count without synthetic series."""
    synthetic = X[len(train):][y[len(train):] == 1]
    if len(synthetic) < 2:  # no oversampling: nothing to score (the store keeps finite metrics only)
        return {"synthetic_minority": float(len(synthetic))}
    real = test.X[test.y == 1]
    rng = np.random.default_rng(seed)
    drawn = synthetic[rng.choice(len(synthetic), len(real), replace=len(synthetic) < len(real))]
    return {"discriminative_score": discriminative_score(real, drawn, seed=seed),
            "majority_region_share": majority_region_share(synthetic, train.X, train.y, majority=0),
            "synthetic_minority": float(len(synthetic))}


class LatentGenerationExperiment(Experiment):
    """The chapter's :class:`~tsimb.experiments.experiment.Experiment` with its own run: one
    oversampled training set scored by the three scikit-learn classifiers (see the module
    docstring). A replay (``epochs`` given) re-runs the whole run: the stored trace is the
    generator's, not a classifier's, and its first ``epochs`` entries are returned."""

    def run_one(self, config: Config, epochs: int | None = None) -> RunOutput:
        train, test = self.split(config)
        X, y, trace = oversampled(config, train)
        if epochs is not None:
            return RunOutput({}, trace[:epochs])
        metrics = {"train_minority": float((train.y == 1).sum()), "train_majority": float((train.y == 0).sum()),
                   "test_series": float(len(test))}
        metrics.update(score_classifiers(X, y, test, config["seed"]))
        metrics.update(realism(X, y, train, test, config["seed"]))
        return RunOutput(metrics, trace)


def label(method: str, eps: float | None) -> str:
    """The method's name in the tables: the latent adversarial augmentation with its ``eps``."""
    return method if eps is None else f"{method} eps={eps:g}"


def _config(dataset: str, ratio: float, seed: int, method: str, s: LatentChapterSettings,
            eps: float | None = None) -> Config:
    glgan = adversarial = gan = None
    if method in GLGAN_FAMILY:
        defaults = METHODS[method].default_settings()
        glgan = asdict(replace(defaults, rounds=s.glgan_rounds,
                               autoencoder=replace(defaults.autoencoder, epochs=s.glgan_epochs)))
    if method == "latent-adversarial":
        defaults = LatentAdversarialSettings()
        adversarial = asdict(replace(defaults, eps=eps, autoencoder=replace(defaults.autoencoder,
                                                                            epochs=s.glgan_epochs)))
    if method == "bagan":
        gan = asdict(s.bagan)
    return dict(chapter=CHAPTER, version=CODE_VERSION, dataset=dataset, protocol="pooled-pair", ratio=ratio,
                test_fraction=s.test_fraction, seed=seed, method=method, label=label(method, eps),
                eps=eps, model=s.adversarial_model, budget=asdict(s.adversarial_budget),
                glgan=glgan, latent_adversarial=adversarial, gan=gan)


def used_datasets(s: LatentChapterSettings) -> set[str]:
    return set(s.datasets)


def build_grids(s: LatentChapterSettings) -> dict[str, list[Config]]:
    """One grid, ``main``: every data set, ratio, seed and method (the latent adversarial
    augmentation once per ``eps``), ordered so that the runs of one split follow each other
    (their autoencoder fits are shared: :func:`~tsimb.generative.latent.cached_fit`)."""
    grid = []
    for dataset in s.datasets:
        for ratio in s.ratios:
            for seed in s.seeds:
                for method in s.methods:
                    if method == "latent-adversarial":
                        grid += [_config(dataset, ratio, seed, method, s, eps) for eps in s.eps_values]
                    else:
                        grid.append(_config(dataset, ratio, seed, method, s))
    return {"main": grid}


def paper_results() -> pd.DataFrame:
    """Tables 2.2-2.6 of Wang (2023) as a tidy table (table, dataset, classifier, method,
    metric, value), labelled as the dissertation's (tabular sets at ``r`` = 0.01, Table 2.1)."""
    return pd.read_csv(PUBLISHED, comment="#").assign(source="dissertation (published)")


def by_classifier(table: pd.DataFrame) -> pd.DataFrame:
    """The tidy table with ``<metric>_<classifier>`` split into ``metric`` and ``classifier``
    (the run-level metrics get classifier ``"-"``)."""
    out = table.copy()
    out["classifier"] = "-"
    for name in CLASSIFIERS:
        hit = out["metric"].str.endswith(f"_{name}")
        out.loc[hit, "classifier"] = name
        out.loc[hit, "metric"] = out.loc[hit, "metric"].str[:-len(name) - 1]
    return out


CLAIMS = (
    *(Claim(f"GL-GAN beats {m} on MCC", "sec. 2.4.3, Tables 2.2-2.6", "gl-gan", m, "mcc")
      for m in ("smote", "ros", "bagan", "auto-only", "gl-gan-cgan")),
    Claim("the clustering loss helps GL-GAN (MCC)", "sec. 2.3.1, eq. 2.2", "gl-gan", "gl-gan-noclu", "mcc"),
    *(Claim(f"{m} beats no oversampling on MCC", "sec. 2.4.3, Tables 2.2-2.6", m, "none", "mcc")
      for m in ("ros", "smote", "bagan", "gl-gan")),
)


EXPERIMENT = LatentGenerationExperiment(
    chapter=CHAPTER, code_version=CODE_VERSION, settings=SETTINGS, build_grids=build_grids,
    used_datasets=used_datasets, score=lambda config, trained, train, test: {}, split=split,
    bookkeeping=("chapter", "version", "budget", "glgan", "latent_adversarial", "gan", "test_fraction", "model"),
    reference_method=REFERENCE_METHOD, own_methods=OWN_METHODS, claims=CLAIMS, paper_results=paper_results,
)
