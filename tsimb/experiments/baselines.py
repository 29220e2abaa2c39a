"""The experiment of the book's chapter *Baselines for imbalanced time-series
classification*: every method of :mod:`tsimb.train.baselines`, FCN and ResNet, several bundled
data sets under step and exponential imbalance, several seeds; plus a sweep of the
imbalance ratio. ``python -m tsimb run baselines`` runs it headless; the chapter reads it through :data:`EXPERIMENT`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..data import Dataset, Imbalance, class_halves, load_train_test
from ..evaluation import evaluate
from ..methods import Trained
from ..train import BASELINE_METHODS, BaselineParams, Budget, predict_proba
from .experiment import Experiment

CHAPTER = "baselines"
CODE_VERSION = "baselines-3"  # bump when a change alters results, so that stored runs are not served


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
    params: BaselineParams = BaselineParams()
    # LDAM-DRW under our Adam schedule and the reference code's SGD schedule, once
    schedule_dataset: str = "JapaneseVowels"
    schedule_imbalance: Imbalance = Imbalance("step", 10)


SETTINGS = {
    "quick": BaselineSettings(
        datasets=("ItalyPowerDemand", "GunPoint", "JapaneseVowels"),
        models=("resnet", "fcn"),
        methods=BASELINE_METHODS,
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
        methods=BASELINE_METHODS,
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


def score(config: dict, trained: Trained, train: Dataset, test: Dataset) -> dict[str, float]:
    """Balanced accuracy, macro F1, MCC, PR-AUC, G-mean and the accuracy of the majority and
    minority halves of the classes (by training count) on the published test split."""
    majority, minority = class_halves(train.class_counts())
    return evaluate(test.y, predict_proba(trained.classifier, test.X), majority, minority)


def _config(dataset: str, imbalance: Imbalance, model: str, method: str, seed: int, budget: Budget,
            params: BaselineParams = BaselineParams()) -> dict:
    return dict(chapter=CHAPTER, version=CODE_VERSION, dataset=dataset, imbalance=imbalance.kind,
                ratio=float(imbalance.ratio), model=model, method=method, seed=seed, budget=asdict(budget),
                params=asdict(params))


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
        _config(d, Imbalance("none"), model, "none", seed, settings.budget, settings.params)
        for d in settings.datasets for model in settings.models for seed in settings.seeds
    ]
    return reference + [
        _config(d, imb, model, method, seed, settings.budget, settings.params)
        for d in settings.datasets for imb in distinct_protocols(d, settings.imbalances)
        for model in settings.models for method in settings.methods for seed in settings.seeds
    ]


def sweep_configs(settings: BaselineSettings) -> list[dict]:
    return [
        _config(settings.sweep_dataset, Imbalance("step", ratio), settings.sweep_model, method, seed,
                settings.budget, settings.params)
        for ratio in settings.sweep_ratios for method in settings.sweep_methods for seed in settings.sweep_seeds
    ]


def used_datasets(settings: BaselineSettings) -> set[str]:
    return {*settings.datasets, settings.sweep_dataset}


def build_grids(settings: BaselineSettings) -> dict[str, list[dict]]:
    """``main`` (every method, model and protocol), ``sweep`` (step imbalance at several
    ratios on one data set) and ``ldam_schedule`` (LDAM-DRW under our Adam schedule and
    the reference code's SGD schedule)."""
    schedule = [_config(settings.schedule_dataset, settings.schedule_imbalance, settings.sweep_model, method, seed,
                        settings.budget, settings.params)
                for method in ("ldam-drw", "ldam-drw-sgd") for seed in settings.seeds]
    return {"main": configs(settings), "sweep": sweep_configs(settings), "ldam_schedule": schedule}


EXPERIMENT = Experiment(
    chapter=CHAPTER, code_version=CODE_VERSION, settings=SETTINGS, build_grids=build_grids,
    used_datasets=used_datasets, score=score, bookkeeping=("chapter", "version", "budget", "params"),
    reference_method="none", own_methods=("ldam-drw", "smote"),
)
