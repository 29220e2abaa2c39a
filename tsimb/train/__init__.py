"""Training: the one loop every chapter uses (:func:`fit`, with events), its callbacks
(class weights and deferred re-weighting, schedules, keep-best weights), the budget of a
run, prediction, and the classic imbalance corrections as named recipes (:data:`RECIPES`)."""

from .baselines import METHODS, RECIPES, BaselineParams, train_baseline
from .budget import FAWAZ_RESNET, Budget
from .callbacks import (
    Callback,
    ClassWeights,
    FitState,
    History,
    KeepBestWeights,
    PlateauSchedule,
    StepDecay,
    WarmupStepSchedule,
)
from .loop import (
    TrainingDivergedError,
    extract_features,
    fit,
    predict_proba,
    show_progress,
)

__all__ = ["METHODS", "RECIPES", "BaselineParams", "train_baseline", "FAWAZ_RESNET", "Budget", "Callback",
           "ClassWeights", "FitState", "History", "KeepBestWeights", "PlateauSchedule", "StepDecay",
           "WarmupStepSchedule", "TrainingDivergedError", "extract_features", "fit", "predict_proba",
           "show_progress"]
