"""The experiment of the book's chapter *Baselines for imbalanced time-series
classification*: every method of :mod:`tsimb.train.baselines`, FCN and ResNet, several bundled
data sets under step and exponential imbalance, several seeds; plus a sweep of the
imbalance ratio. ``python -m tsimb run baselines`` runs it headless.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..data import Imbalance, TooFewSeriesError, class_halves, load_train_test
from ..evaluation import evaluate
from ..train import Budget, predict_proba
from ..train.baselines import METHODS, BaselineParams, train_baseline
from .profiles import resolve_profile
from .runner import RunOutput, SkipRun, run_grid, tidy

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


def run_one(config: dict, epochs: int | None = None) -> RunOutput:
    """Train and evaluate one configuration (keys as built by :func:`configs`); with
    ``epochs``, train only that many epochs and return the loss trace (a replay)."""
    train, test = load_train_test(config["dataset"])
    imbalance = Imbalance(config["imbalance"], config["ratio"])
    train = imbalance.apply(train, seed=config["seed"])
    try:
        model, history = train_baseline(config["method"], config["model"], train, Budget(**config["budget"]),
                                        seed=config["seed"], epochs=epochs, params=BaselineParams(**config["params"]))
    except TooFewSeriesError as error:
        raise SkipRun(str(error)) from error
    if epochs is not None:
        return RunOutput({}, history.loss)
    majority, minority = class_halves(train.class_counts())
    return RunOutput(evaluate(test.y, predict_proba(model, test.X), majority, minority), history.loss)


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


BOOKKEEPING = ("chapter", "version", "budget", "params")
REFERENCE_METHOD, OWN_METHODS = "none", ("ldam-drw", "smote")


def datasets(profile: str | None = None) -> set[str]:
    """The data sets the chapter's grids use under ``profile`` (without loading them)."""
    settings = SETTINGS[resolve_profile(profile)]
    return {*settings.datasets, settings.sweep_dataset}


def grids(profile: str | None = None) -> dict[str, list[dict]]:
    """Every grid of the chapter under ``profile``, by name (what ``tsimb run`` fills)."""
    settings = SETTINGS[resolve_profile(profile)]
    schedule = [_config(settings.schedule_dataset, settings.schedule_imbalance, settings.sweep_model, method, seed,
                        settings.budget, settings.params)
                for method in ("ldam-drw", "ldam-drw-sgd") for seed in settings.seeds]
    return {"main": configs(settings), "sweep": sweep_configs(settings), "ldam_schedule": schedule}


def run(profile: str | None = None, progress: bool | None = None, **runner) -> pd.DataFrame:
    """The main grid as a tidy table: dataset, imbalance, ratio, protocol, model, method,
    seed, metric, value. Rows with protocol ``balanced`` are the unsubsampled reference.
    ``runner`` goes to :func:`~tsimb.experiments.runner.run_grid` (store, cache, executor, ...)."""
    grid = run_grid(grids(profile)["main"], run_one, chapter=CHAPTER, progress=progress, desc="baselines", **runner)
    return tidy(grid, BOOKKEEPING)


def run_ldam_schedule(profile: str | None = None, progress: bool | None = None, **runner) -> pd.DataFrame:
    """LDAM-DRW with Adam and one 10x drop (ours) against the reference code's SGD
    schedule, on one data set, as a tidy table."""
    grid = run_grid(grids(profile)["ldam_schedule"], run_one, chapter=CHAPTER, progress=progress,
                    desc="LDAM-DRW schedules", **runner)
    return tidy(grid, BOOKKEEPING)


def run_sweep(profile: str | None = None, progress: bool | None = None, **runner) -> pd.DataFrame:
    """Step imbalance at several ratios on one data set, as a tidy table."""
    grid = run_grid(grids(profile)["sweep"], run_one, chapter=CHAPTER, progress=progress, desc="ratio sweep",
                    **runner)
    return tidy(grid, BOOKKEEPING)
