"""The experiment of the book's chapter *Baselines for imbalanced time-series
classification*: every method of :mod:`tsimb.baselines`, FCN and ResNet, several bundled
data sets under step and exponential imbalance, several seeds; plus a sweep of the
imbalance ratio. ``python -m tsimb run baselines`` runs it headless.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..baselines import METHODS, Budget, train_baseline
from ..data import load_train_test
from ..imbalance import Imbalance, class_halves
from ..metrics import evaluate
from ..training import predict_proba
from .profiles import resolve_profile
from ..resampling import TooFewSeriesError
from .runner import RunCache, SkipRun, run_grid, tidy

CODE_VERSION = "baselines-2"  # bump when a change alters results, to invalidate cached runs


@dataclass(frozen=True)
class BaselineSettings:
    datasets: tuple[str, ...]
    models: tuple[str, ...]
    methods: tuple[str, ...]
    imbalances: tuple[Imbalance, ...]
    seeds: tuple[int, ...]
    budget: Budget
    sweep_dataset: str
    sweep_model: str
    sweep_methods: tuple[str, ...]
    sweep_ratios: tuple[float, ...]
    sweep_seeds: tuple[int, ...] = field(default=(0, 1))


SETTINGS = {
    "quick": BaselineSettings(
        datasets=("ItalyPowerDemand", "GunPoint", "JapaneseVowels"),
        models=("resnet", "fcn"),
        methods=METHODS,
        imbalances=(Imbalance("step", 10), Imbalance("exp", 10)),
        seeds=(0, 1, 2),
        budget=Budget(epochs=30, batch_size=16, lr=1e-3),
        sweep_dataset="ItalyPowerDemand",
        sweep_model="resnet",
        sweep_methods=("none", "class-weights", "ros", "ldam-drw"),
        sweep_ratios=(1, 3, 10, 30),
        sweep_seeds=(0, 1),
    ),
    "full": BaselineSettings(
        # bundled sets plus downloaded ones with at least 20 training series per class;
        # at ratio 100 the rarest classes keep one series and the SMOTE family is skipped
        datasets=("ItalyPowerDemand", "GunPoint", "JapaneseVowels", "OSULeaf", "Trace",
                  "CricketX", "UWaveGestureLibraryX", "InsectWingbeatSound"),
        models=("resnet", "fcn"),
        methods=METHODS,
        imbalances=(Imbalance("step", 10), Imbalance("exp", 10), Imbalance("step", 100), Imbalance("exp", 100)),
        seeds=(0, 1, 2, 3, 4),
        budget=Budget(epochs=500, batch_size=16, lr=1e-3),
        sweep_dataset="JapaneseVowels",
        sweep_model="resnet",
        sweep_methods=("none", "class-weights", "ros", "smote", "focal", "ldam-drw"),
        sweep_ratios=(1, 2, 5, 10, 20, 30),
        sweep_seeds=(0, 1, 2, 3, 4),
    ),
}


def run_one(config: dict) -> dict[str, float]:
    """Train and evaluate one configuration (keys as built by :func:`configs`)."""
    train, test = load_train_test(config["dataset"])
    imbalance = Imbalance(config["imbalance"], config["ratio"])
    train = imbalance.apply(train, seed=config["seed"])
    budget = Budget(**config["budget"])
    try:
        model, _ = train_baseline(config["method"], config["model"], train, budget, seed=config["seed"])
    except TooFewSeriesError as error:
        raise SkipRun(str(error)) from error
    majority, minority = class_halves(train.class_counts())
    return evaluate(test.y, predict_proba(model, test.X), majority, minority)


def _config(dataset: str, imbalance: Imbalance, model: str, method: str, seed: int, budget: Budget) -> dict:
    return dict(chapter="baselines", version=CODE_VERSION, dataset=dataset, imbalance=imbalance.kind,
                ratio=float(imbalance.ratio), model=model, method=method, seed=seed, budget=asdict(budget))


def distinct_protocols(dataset: str, imbalances: tuple[Imbalance, ...]) -> list[Imbalance]:
    """The protocols that give ``dataset`` different class counts; e.g. with two classes
    exponential imbalance is step imbalance, so only the first of the two is kept."""
    y = load_train_test(dataset)[0].y
    kept, seen = [], set()
    for imbalance in imbalances:
        counts = tuple(np.bincount(y[imbalance.indices(y)], minlength=int(y.max()) + 1).tolist())
        if counts not in seen:
            seen.add(counts)
            kept.append(imbalance)
    return kept


def configs(settings: BaselineSettings) -> list[dict]:
    """Every (data set, distinct protocol, model, method, seed), plus the reference of each
    data set and model trained on the published, unsubsampled training split without
    correction."""
    reference = [
        _config(d, Imbalance("none"), model, "none", seed, settings.budget)
        for d in settings.datasets for model in settings.models for seed in settings.seeds
    ]
    return reference + [
        _config(d, imb, model, method, seed, settings.budget)
        for d in settings.datasets for imb in distinct_protocols(d, settings.imbalances)
        for model in settings.models for method in settings.methods for seed in settings.seeds
    ]


def sweep_configs(settings: BaselineSettings) -> list[dict]:
    return [
        _config(settings.sweep_dataset, Imbalance("step", ratio), settings.sweep_model, method, seed, settings.budget)
        for ratio in settings.sweep_ratios for method in settings.sweep_methods for seed in settings.sweep_seeds
    ]


BOOKKEEPING = ("chapter", "version", "budget")


def run(profile: str | None = None, cache: RunCache | None = None, progress: bool | None = None) -> pd.DataFrame:
    """The main grid as a tidy table: dataset, imbalance, ratio, protocol, model, method,
    seed, metric, value. Rows with protocol ``balanced`` are the unsubsampled reference."""
    settings = SETTINGS[resolve_profile(profile)]
    return tidy(run_grid(configs(settings), run_one, cache, progress, desc="baselines"), BOOKKEEPING)


def run_sweep(profile: str | None = None, cache: RunCache | None = None, progress: bool | None = None) -> pd.DataFrame:
    """Step imbalance at several ratios on one data set, as a tidy table."""
    settings = SETTINGS[resolve_profile(profile)]
    return tidy(run_grid(sweep_configs(settings), run_one, cache, progress, desc="ratio sweep"), BOOKKEEPING)
