"""The experiment of the book's chapter *ODE-guided augmentation*: a ResNet trained without
augmentation, with each ODE-guided or spectral augmentation, and with the three of
Table II plus Feat-Sim; clean, FGSM and BIM accuracy (Sarkar et al., Tables I-III, with
the attacks of Fawaz et al. 2019). Then the comparison the paper did not make: the same
under step imbalance, with accuracy on the minority half of the classes.
``python -m tsimb run ode-augmentation`` runs it headless.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from ..attacks import FAWAZ_BIM, FAWAZ_FGSM, robust_accuracy
from ..augmented_training import METHODS, NEEDS_ODENET, AugmentSettings, parse_method, train_augmented
from ..baselines import Budget
from ..data import Dataset, load_train_test
from ..imbalance import Imbalance, class_halves
from ..metrics import evaluate
from ..ode import ODENet, fit_odenet
from ..training import predict_proba
from .profiles import resolve_profile
from .runner import RunCache, run_grid, tidy

CODE_VERSION = "ode-augmentation-1"  # bump when a change alters results, to invalidate cached runs

ATTACKS = {"fgsm": FAWAZ_FGSM, "bim": FAWAZ_BIM}
TABLE_II_METHODS = ("in-clamp-grad+fs", "in-sign-grad+fs", "out-sign-grad+fs")
PAPER_METHODS = ("none", "in-clamp-grad", "in-sign-grad", "out-sign-grad", "rand-grad", "spec-den",
                 *TABLE_II_METHODS)


@dataclass(frozen=True)
class ODEBudget:
    """Budget of the ODENet fit (Adam with weight decay 1e-3; the paper's lr is 3e-4, sec. II-A)."""

    epochs: int = 20
    batch_size: int = 16
    lr: float = 3e-4


@dataclass(frozen=True)
class ODEAugmentationSettings:
    datasets: tuple[str, ...]
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    budget: Budget
    ode_budget: ODEBudget
    imbalance: Imbalance
    imbalance_datasets: tuple[str, ...]
    imbalance_methods: tuple[str, ...]
    augment: AugmentSettings = AugmentSettings()
    test_size: int | None = None  # evaluate on a fixed stratified subset of the test split


SETTINGS = {
    "quick": ODEAugmentationSettings(
        datasets=("ItalyPowerDemand", "GunPoint", "Coffee"),
        methods=PAPER_METHODS,
        seeds=(0, 1, 2),
        budget=Budget(epochs=30, batch_size=8, lr=1e-3, weight_decay=1e-3),
        # the paper's lr 3e-4 needs a few hundred epochs to fit dz/dt; 3e-3 gets close in 60
        ode_budget=ODEBudget(epochs=60, batch_size=16, lr=3e-3),
        imbalance=Imbalance("step", 10),
        imbalance_datasets=("ItalyPowerDemand", "GunPoint"),
        imbalance_methods=("none", "in-clamp-grad", "out-sign-grad", "spec-den"),
        test_size=150,
    ),
    "full": ODEAugmentationSettings(
        # the paper's eight sets (Table I); 50Words is FiftyWords in the 2018 archive
        datasets=("CricketX", "CricketZ", "FiftyWords", "UWaveGestureLibraryX", "InsectWingbeatSound",
                  "Adiac", "TwoLeadECG", "UWaveGestureLibraryY"),
        methods=METHODS,  # every augmentation with and without Feat-Sim (the paper's Table II has three)
        seeds=(0, 1, 2, 3, 4),
        # lr and weight decay are the paper's (sec. II-A); it gives no epochs or batch size,
        # so these are those of its baseline ResNet (Fawaz et al. 2019: 1500 epochs, batch 64)
        budget=Budget(epochs=1500, batch_size=64, lr=2e-4, weight_decay=1e-3),
        ode_budget=ODEBudget(epochs=300, batch_size=64, lr=3e-4),
        imbalance=Imbalance("step", 10),
        imbalance_datasets=("CricketX", "UWaveGestureLibraryX", "InsectWingbeatSound", "TwoLeadECG"),
        imbalance_methods=PAPER_METHODS,
    ),
}


def evaluation_subset(test: Dataset, size: int | None, seed: int = 0) -> Dataset:
    """A fixed stratified subset of ``size`` test series (the whole split when ``size`` is
    None or not smaller), so that attacking a large test split stays cheap in the quick profile."""
    if size is None or size >= len(test.y):
        return test
    keep, _ = train_test_split(np.arange(len(test.y)), train_size=size, stratify=test.y, random_state=seed)
    return test.subset(np.sort(keep))


@lru_cache(maxsize=8)
def fitted_odenet(dataset: str, imbalance: Imbalance, seed: int, budget: ODEBudget) -> ODENet:
    """The ODENet of one (data set, training protocol, seed), fitted on the training split."""
    train = imbalance.apply(load_train_test(dataset)[0], seed=seed)
    odenet, _ = fit_odenet(train.X, epochs=budget.epochs, batch_size=budget.batch_size, lr=budget.lr, seed=seed)
    return odenet


def run_one(config: dict) -> dict[str, float]:
    """Train and evaluate one configuration (keys as built by :func:`configs`)."""
    train, test = load_train_test(config["dataset"])
    imbalance = Imbalance(config["imbalance"], config["ratio"])
    train = imbalance.apply(train, seed=config["seed"])
    test = evaluation_subset(test, config["test_size"])
    name, _ = parse_method(config["method"])
    odenet = (fitted_odenet(config["dataset"], imbalance, config["seed"], ODEBudget(**config["ode_budget"]))
              if name in NEEDS_ODENET else None)
    model, _ = train_augmented(config["method"], "resnet", train, Budget(**config["budget"]), odenet,
                               AugmentSettings(**config["augment"]), seed=config["seed"])
    majority, minority = class_halves(train.class_counts())
    imbalanced = imbalance.kind != "none"
    metrics = robust_accuracy(model, test.X, test.y, ATTACKS, minority=minority if imbalanced else None,
                              seed=config["seed"])
    clean = evaluate(test.y, predict_proba(model, test.X), majority, minority)
    metrics["balanced_accuracy"] = clean["balanced_accuracy"]
    return metrics


def _config(dataset: str, imbalance: Imbalance, method: str, seed: int,
            settings: ODEAugmentationSettings) -> dict:
    return dict(chapter="ode-augmentation", version=CODE_VERSION, dataset=dataset, imbalance=imbalance.kind,
                ratio=float(imbalance.ratio), method=method, seed=seed, budget=asdict(settings.budget),
                ode_budget=asdict(settings.ode_budget), augment=asdict(settings.augment),
                test_size=settings.test_size)


def configs(settings: ODEAugmentationSettings) -> list[dict]:
    """Every (data set, method, seed) on the published training split (Tables I-III)."""
    return [_config(d, Imbalance("none"), method, seed, settings)
            for d in settings.datasets for method in settings.methods for seed in settings.seeds]


def imbalance_configs(settings: ODEAugmentationSettings) -> list[dict]:
    """Every (data set, method, seed) under the settings' imbalance protocol."""
    return [_config(d, settings.imbalance, method, seed, settings)
            for d in settings.imbalance_datasets for method in settings.imbalance_methods
            for seed in settings.seeds]


BOOKKEEPING = ("chapter", "version", "budget", "ode_budget", "augment", "test_size")


def run(profile: str | None = None, cache: RunCache | None = None, progress: bool | None = None) -> pd.DataFrame:
    """Tables I-III as a tidy table: dataset, imbalance, ratio, protocol, method, seed,
    metric (``clean_accuracy``, ``fgsm_accuracy``, ``bim_accuracy``, ``balanced_accuracy``), value."""
    settings = SETTINGS[resolve_profile(profile)]
    return tidy(run_grid(configs(settings), run_one, cache, progress, desc="ode augmentation"), BOOKKEEPING)


def run_imbalanced(profile: str | None = None, cache: RunCache | None = None,
                   progress: bool | None = None) -> pd.DataFrame:
    """The imbalance comparison as a tidy table; adds ``*_minority`` metrics (accuracy on
    test series of the minority half of the classes)."""
    settings = SETTINGS[resolve_profile(profile)]
    grid = run_grid(imbalance_configs(settings), run_one, cache, progress, desc="ode augmentation, imbalanced")
    return tidy(grid, BOOKKEEPING)


# Published numbers (Sarkar et al.): Table I's baseline columns are those of Fawaz et al.
# (2019) for the ResNet; Table III has every single augmentation and Table II the
# Feat-Sim variants. Accuracy in %, columns true / FGSM / BIM.
_PAPER_ROWS = {
    # dataset: {method: (true, fgsm, bim)}
    "CricketX": {"none": (79.00, 35.4, 20.8), "in-clamp-grad": (79.74, 44.36, 31.28),
                 "in-sign-grad": (79.49, 47.95, 38.72), "out-sign-grad": (79.49, 72.31, 72.05),
                 "rand-grad": (78.21, 41.54, 31.03), "spec-den": (79.23, 46.67, 37.44),
                 "in-clamp-grad+fs": (79.23, 47.18, 37.44), "in-sign-grad+fs": (79.23, 51.28, 42.05),
                 "out-sign-grad+fs": (79.49, 75.90, 76.41)},
    "CricketZ": {"none": (81.5, 27.7, 16.2), "in-clamp-grad": (82.31, 40.00, 30.00),
                 "in-sign-grad": (82.31, 43.33, 34.87), "out-sign-grad": (81.79, 42.82, 37.18),
                 "rand-grad": (76.92, 34.87, 27.95), "spec-den": (81.03, 40.26, 33.08),
                 "in-clamp-grad+fs": (81.54, 40.00, 31.03), "in-sign-grad+fs": (82.31, 45.90, 36.15),
                 "out-sign-grad+fs": (81.73, 66.41, 66.15)},
    "FiftyWords": {"none": (73.2, 17.1, 8.8), "in-clamp-grad": (74.73, 38.46, 29.23),
                   "in-sign-grad": (74.29, 33.19, 16.70), "out-sign-grad": (76.04, 67.25, 52.97),
                   "rand-grad": (74.29, 33.63, 26.59), "spec-den": (74.07, 25.5, 12.09),
                   "in-clamp-grad+fs": (74.07, 40.66, 30.33), "in-sign-grad+fs": (73.20, 34.73, 19.34),
                   "out-sign-grad+fs": (76.04, 69.23, 55.82)},
    "UWaveGestureLibraryX": {"none": (78.0, 32.1, 11.1), "in-clamp-grad": (78.03, 46.18, 21.11),
                             "in-sign-grad": (78.28, 46.76, 20.91), "out-sign-grad": (79.23, 71.19, 55.05),
                             "rand-grad": (76.33, 56.53, 34.09), "spec-den": (77.11, 40.90, 19.88),
                             "in-clamp-grad+fs": (78.42, 51.90, 28.25), "in-sign-grad+fs": (78.03, 47.74, 24.06),
                             "out-sign-grad+fs": (78.53, 72.47, 62.62)},
    "InsectWingbeatSound": {"none": (50.6, 17.7, 15.7), "in-clamp-grad": (50.81, 25.81, 21.72),
                            "in-sign-grad": (49.29, 27.27, 23.23), "out-sign-grad": (53.48, 39.14, 38.13),
                            "rand-grad": (48.44, 26.06, 23.79), "spec-den": (51.16, 25.20, 20.05),
                            "in-clamp-grad+fs": (49.85, 26.41, 22.42), "in-sign-grad+fs": (49.29, 28.23, 23.38),
                            "out-sign-grad+fs": (51.87, 43.74, 42.17)},
    "Adiac": {"none": (83.1, 3.1, 1.5), "in-clamp-grad": (83.38, 6.39, 3.84),
              "in-sign-grad": (82.10, 6.14, 4.86), "out-sign-grad": (83.63, 45.27, 25.83),
              "rand-grad": (81.07, 17.14, 11.76), "spec-den": (83.38, 5.63, 4.09),
              "in-clamp-grad+fs": (79.28, 7.16, 5.09), "in-sign-grad+fs": (82.61, 6.65, 4.86),
              "out-sign-grad+fs": (83.38, 46.29, 28.64)},
    "TwoLeadECG": {"none": (100, 5.3, 0.4), "in-clamp-grad": (100, 13.61, 6.85),
                   "in-sign-grad": (100, 14.05, 7.64), "out-sign-grad": (100, 61.98, 31.69),
                   "rand-grad": (99.74, 17.38, 6.85), "spec-den": (100, 14.72, 7.20),
                   "in-clamp-grad+fs": (100, 38.81, 29.06), "in-sign-grad+fs": (100, 29.24, 21.60),
                   "out-sign-grad+fs": (100, 73.40, 30.38)},
    "UWaveGestureLibraryY": {"none": (66.7, 27.7, 14.9), "in-clamp-grad": (67.0, 35.32, 18.31),
                             "in-sign-grad": (67.03, 36.24, 17.64), "out-sign-grad": (67.06, 57.96, 47.35),
                             "rand-grad": (65.01, 35.21, 17.61), "spec-den": (66.14, 35.87, 18.01),
                             "in-clamp-grad+fs": (66.86, 36.71, 20.69), "in-sign-grad+fs": (66.95, 41.54, 25.43),
                             "out-sign-grad+fs": (67.07, 59.35, 58.15)},
}


def paper_results() -> pd.DataFrame:
    """The paper's published accuracies (Tables I-III; the ``none`` row is Fawaz et al.'s
    ResNet as the paper reports it) as a tidy table: dataset, method, metric, value in [0, 1].

    Table I repeats, for each family, the best of Table III's methods, so Tables II and
    III hold every published number.
    """
    metrics = ("clean_accuracy", "fgsm_accuracy", "bim_accuracy")
    rows = [dict(dataset=d, method=m, metric=metric, value=value / 100)
            for d, methods in _PAPER_ROWS.items() for m, values in methods.items()
            for metric, value in zip(metrics, values)]
    return pd.DataFrame(rows)


def gains(table: pd.DataFrame, reference: str = "none") -> pd.DataFrame:
    """Each method's accuracy minus the ``reference`` method's, per data set, metric and
    seed (runs of one seed share the initialisation seed), as a tidy table with a
    ``gain`` column. Works on :func:`paper_results` too (one value, no seed)."""
    keys = ["dataset", "metric"] + (["seed"] if "seed" in table.columns else [])
    base = table[table["method"] == reference][keys + ["value"]].rename(columns={"value": "reference"})
    out = table[table["method"] != reference].merge(base, on=keys)
    return out.assign(gain=out["value"] - out["reference"])


def _gains_of(table: pd.DataFrame, method: str, reference: str, metric: str) -> pd.DataFrame:
    rows = table[(table["metric"] == metric) & table["method"].isin([method, reference])]
    return gains(rows, reference).query("method == @method")


# (claim, section of the paper, better method, worse method, metric)
PAPER_CLAIMS = (
    ("In-Clamp-Grad raises FGSM accuracy", "III-D, Table I", "in-clamp-grad", "none", "fgsm_accuracy"),
    ("In-Clamp-Grad raises BIM accuracy", "III-D, Table I", "in-clamp-grad", "none", "bim_accuracy"),
    ("In-Sign-Grad raises FGSM accuracy", "III-D, Table I", "in-sign-grad", "none", "fgsm_accuracy"),
    ("In-Sign-Grad raises BIM accuracy", "III-D, Table I", "in-sign-grad", "none", "bim_accuracy"),
    ("In-Grad keeps clean accuracy (In-Clamp)", "III-D", "in-clamp-grad", "none", "clean_accuracy"),
    ("Out-Sign-Grad raises FGSM accuracy", "III-D, Table I", "out-sign-grad", "none", "fgsm_accuracy"),
    ("Out-Sign-Grad raises BIM accuracy", "III-D, Table I", "out-sign-grad", "none", "bim_accuracy"),
    ("Out-Sign-Grad keeps clean accuracy", "III-D", "out-sign-grad", "none", "clean_accuracy"),
    ("Out-Sign-Grad beats In-Clamp-Grad under BIM", "III-D", "out-sign-grad", "in-clamp-grad", "bim_accuracy"),
    ("Out-Sign-Grad beats Rand-Grad under BIM", "III-D, Table III", "out-sign-grad", "rand-grad", "bim_accuracy"),
    ("Spec-Den raises BIM accuracy", "IV", "spec-den", "none", "bim_accuracy"),
    ("Feat-Sim adds BIM accuracy to Out-Sign-Grad", "III-D, Table II", "out-sign-grad+fs", "out-sign-grad",
     "bim_accuracy"),
    ("Feat-Sim adds BIM accuracy to In-Sign-Grad", "III-D, Table II", "in-sign-grad+fs", "in-sign-grad",
     "bim_accuracy"),
)


def check_claims(ours: pd.DataFrame, paper: pd.DataFrame | None = None,
                 claims: tuple = PAPER_CLAIMS, tolerance: float = 0.01, level: float = 0.05) -> pd.DataFrame:
    """Test each claim "``better`` beats ``worse`` on ``metric``" on our runs.

    The difference is taken per data set and seed (runs of one seed share the
    initialisation seed). For claims that a method *keeps* clean accuracy the claim is
    that the difference exceeds ``-tolerance``; otherwise that it exceeds 0. Columns:
    our mean difference and its seed-to-seed sd (averaged over data sets); on how many
    data sets our mean difference clears the threshold; the one-sided p-value of a
    t-test of the paired differences against the threshold (scipy); and the paper's own
    mean difference over its eight data sets.

    ``verdict``: *supported* (clears the threshold on every data set and ``p < level``),
    *same direction, not significant* (every data set, ``p >= level``), *mixed* (some data
    sets) or *contradicted* (none).
    """
    from scipy.stats import ttest_1samp

    paper = paper_results() if paper is None else paper
    rows = []
    for claim, section, better, worse, metric in claims:
        diff = _gains_of(ours, better, worse, metric)
        per_set = diff.groupby("dataset")["gain"].agg(["mean", "std"])
        threshold = -tolerance if "keeps" in claim else 0.0
        holds, n = int((per_set["mean"] > threshold).sum()), len(per_set)
        p_value = float(ttest_1samp(diff["gain"], threshold, alternative="greater").pvalue)
        if holds == n:
            verdict = "supported" if p_value < level else "same direction, not significant"
        else:
            verdict = "mixed" if holds else "contradicted"
        published = _gains_of(paper, better, worse, metric)["gain"].mean()
        rows.append(dict(claim=claim, section=section, metric=metric, paper_difference=published,
                         our_difference=diff["gain"].mean(), our_sd=per_set["std"].mean(),
                         datasets_holding=f"{holds}/{n}", p_value=p_value, verdict=verdict))
    return pd.DataFrame(rows)
