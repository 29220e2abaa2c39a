"""Training: the one loop every model uses (:func:`fit`, driving a :class:`Step`), its
callbacks (class weights and deferred re-weighting, schedules, keep-best weights), the
budget of a run, prediction, several runs trained as one batched model
(:func:`train_ensemble`), the :class:`Method` protocol and its registry
(:data:`METHODS`; complete once :mod:`tsimb.methods` is imported), and the classic
imbalance corrections (:data:`RECIPES`, registered as methods)."""

from .method import METHODS, Method, PreparedRun, Sampler, Trained, register, settings_from_config
from .baselines import BASELINE_METHODS, RECIPES, BaselineParams, ClassicMethod  # noqa: E402  (registers)
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
from .steps import ClassifierStep, Step
from .ensemble import EnsembleStep, StackedMembers, train_ensemble
from .loop import (
    TrainingDivergedError,
    extract_features,
    fit,
    minibatches_per_epoch,
    predict_proba,
    show_progress,
)

__all__ = ["METHODS", "Method", "PreparedRun", "Sampler", "Trained", "register", "settings_from_config", "BASELINE_METHODS",
           "RECIPES", "BaselineParams", "ClassicMethod", "FAWAZ_RESNET", "Budget", "Callback",
           "ClassWeights", "FitState", "History", "KeepBestWeights", "PlateauSchedule", "StepDecay",
           "WarmupStepSchedule", "TrainingDivergedError", "extract_features", "fit", "minibatches_per_epoch", "predict_proba",
           "show_progress", "Step", "ClassifierStep", "EnsembleStep", "StackedMembers", "train_ensemble"]
