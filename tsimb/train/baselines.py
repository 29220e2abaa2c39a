"""The classic corrections for class imbalance, as training recipes over one :func:`fit`.

Every later chapter compares against these, so each is one :class:`ClassicMethod` in
:data:`tsimb.methods.METHODS` (its recipe in :data:`RECIPES`, its constants in
:class:`BaselineParams`): ``METHODS["ros"].train(train, model="resnet", budget=Budget())``.
Explained in the book's chapter *Baselines*.

=====================  ==========================================================
method                 what changes
=====================  ==========================================================
``none``               cross entropy, no correction
``class-weights``      cross entropy weighted by inverse class frequency
``ros`` / ``rus``      random over- / under-sampling to equal counts
``smote``              SMOTE (Chawla et al. 2002) on the flattened series
``adasyn``             ADASYN (He et al. 2008)
``borderline-smote``   Borderline-SMOTE (Han et al. 2005)
``focal``              softmax focal loss, gamma 2 (Lin et al. 2017, eq. 4)
``cb-focal``           class-balanced sigmoid focal loss (Cui et al. 2019, sec. 4),
                       their reduction: weighted sum over the batch size
``ldam-drw``           LDAM loss with deferred re-weighting (Cao et al. 2019, Alg. 1),
                       weighted mean as ``cross_entropy(weight=)`` in their code; Adam
                       with one 10x drop at the re-weighting epoch
``ldam-drw-sgd``       the same under the reference code's SGD schedule (not one of
                       the ten: the baselines chapter compares the two once)
=====================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..data import Dataset
from ..data.resampling import OVERSAMPLERS, oversample, random_resample_index
from ..losses import DeferredReweighting, FocalLoss, LDAMLoss, SigmoidFocalLoss  # isort: skip
from ..losses import class_balanced_weights, inverse_frequency_weights
from ..models import build_model
from ..registry import Registry
from ..runtime import seed_everything
from .budget import Budget
from .callbacks import WarmupStepSchedule
from .method import Method, PreparedRun, Trained, register
from .steps import ClassifierStep


@dataclass(frozen=True)
class BaselineParams:
    """The methods' own constants, part of every stored run's configuration: focal gamma
    (Lin et al.: 2), class-balanced beta (Cui et al.: 0.9999), LDAM's largest margin and
    logit scale (Cao et al.: 0.5 and 30)."""

    focal_gamma: float = 2.0
    cb_beta: float = 0.9999
    ldam_max_margin: float = 0.5
    ldam_scale: float = 30.0


# A recipe turns (series, labels, class counts, budget, seed, params) into the series and
# labels to train on and the extra fit() arguments; one function per method, one table.
Recipe = Callable[[np.ndarray, np.ndarray, np.ndarray, Budget, int, BaselineParams],
                  tuple[np.ndarray, np.ndarray, dict]]


def _none(X, y, counts, budget, seed, params):
    return X, y, {}


def _class_weights(X, y, counts, budget, seed, params):
    return X, y, dict(class_weight=inverse_frequency_weights(counts))


def _random(how: str) -> Recipe:
    def recipe(X, y, counts, budget, seed, params):
        index = random_resample_index(y, how, seed)
        return X[index], y[index], {}
    return recipe


def _synthetic(method: str) -> Recipe:
    def recipe(X, y, counts, budget, seed, params):
        X_new, y_new = oversample(X, y, method, seed=seed)
        return X_new, y_new, {}
    return recipe


def _focal(X, y, counts, budget, seed, params):
    return X, y, dict(loss=FocalLoss(gamma=params.focal_gamma))


def _cb_focal(X, y, counts, budget, seed, params):
    return X, y, dict(loss=SigmoidFocalLoss(gamma=params.focal_gamma),
                      class_weight=class_balanced_weights(counts, beta=params.cb_beta),
                      loss_reduction="mean")


def _ldam_drw(X, y, counts, budget, seed, params):
    start = int(round(budget.drw_fraction * budget.epochs))
    weights = DeferredReweighting(class_balanced_weights(counts, beta=params.cb_beta), start)
    return X, y, dict(loss=LDAMLoss(counts, params.ldam_max_margin, params.ldam_scale), class_weight=weights,
                      lr_milestones=[start], lr_gamma=budget.drw_lr_factor)


def _ldam_drw_reference(X, y, counts, budget, seed, params):
    """LDAM-DRW as its reference code trains (kaidic/LDAM-DRW): SGD with momentum 0.9, lr
    0.1, weight decay 2e-4, warm-up, x0.01 and x0.0001 drops at 80% and 90% of the
    epochs, re-weighting from 80%. Only the budget's epochs are used."""
    start = int(round(0.8 * budget.epochs))
    weights = DeferredReweighting(class_balanced_weights(counts, beta=params.cb_beta), start)
    return X, y, dict(loss=LDAMLoss(counts, params.ldam_max_margin, params.ldam_scale), class_weight=weights,
                      optimizer="sgd", momentum=0.9, lr=0.1, weight_decay=2e-4,
                      callbacks=[WarmupStepSchedule(budget.epochs)])


RECIPES: Registry[Recipe] = Registry("baseline")
RECIPES.add("none", _none, "cross entropy, no correction")
RECIPES.add("class-weights", _class_weights, "cross entropy weighted by inverse class frequency")
RECIPES.add("ros", _random("over"), "random over-sampling to equal counts")
RECIPES.add("rus", _random("under"), "random under-sampling to equal counts")
for _name, _summary in zip(OVERSAMPLERS, ("SMOTE (Chawla et al. 2002)", "ADASYN (He et al. 2008)",
                                          "Borderline-SMOTE (Han et al. 2005)")):
    RECIPES.add(_name, _synthetic(_name), _summary + " on the flattened series")
RECIPES.add("focal", _focal, "softmax focal loss (Lin et al. 2017, eq. 4)")
RECIPES.add("cb-focal", _cb_focal, "class-balanced sigmoid focal loss (Cui et al. 2019, sec. 4)")
RECIPES.add("ldam-drw", _ldam_drw, "LDAM loss with deferred re-weighting (Cao et al. 2019, Alg. 1), Adam")
RECIPES.add("ldam-drw-sgd", _ldam_drw_reference, "LDAM-DRW under the reference code's SGD schedule")
# the ten baselines every chapter compares against; ldam-drw-sgd is the reference code's
# schedule, shown once in the baselines chapter beside our Adam version
BASELINE_METHODS = tuple(m for m in RECIPES if m != "ldam-drw-sgd")
NORMED_HEAD = frozenset({"ldam-drw", "ldam-drw-sgd"})  # LDAM's margins assume cosine logits (Cao et al. sec. 3.2)


class ClassicMethod(Method):
    """A classic correction: its recipe turns the training set into the series, labels and
    :func:`~tsimb.train.fit` options to train on; then one classifier is built (seeded) and
    trained under the budget (its callbacks first, then the recipe's)."""

    Settings = BaselineParams
    config_key = "params"

    def __init__(self, name: str, summary: str, recipe: Recipe) -> None:
        super().__init__(name, summary)
        self.recipe = recipe

    def prepare(self, train: Dataset, *, model: str, budget: Budget, settings: BaselineParams | None = None,
                seed: int = 0, epochs: int | None = None, device: torch.device | str | None = None) -> PreparedRun:
        settings = self.check_settings(settings)
        counts = np.bincount(train.y, minlength=train.n_classes)
        X, y, options = self.recipe(train.X, train.y, counts, budget, seed, settings)
        options = {"lr": budget.lr, "weight_decay": budget.weight_decay, **options}  # a recipe may set its own
        callbacks = [*budget.callbacks(), *options.pop("callbacks", [])]
        seed_everything(seed)
        classifier = build_model(model, train.n_channels, train.n_classes, train.length,
                                 normed_head=self.name in NORMED_HEAD)
        step = ClassifierStep(classifier, X, y, seed=seed, device=device, **options)
        return PreparedRun(step, callbacks, budget.batch_size_for(len(y)), budget.epochs_for(epochs))

    def train(self, train: Dataset, *, model: str, budget: Budget, settings: BaselineParams | None = None,
              seed: int = 0, epochs: int | None = None, device: torch.device | str | None = None) -> Trained:
        return self.prepare(train, model=model, budget=budget, settings=settings, seed=seed, epochs=epochs,
                            device=device).fit()


for _name in RECIPES:
    register(ClassicMethod(_name, RECIPES.summary(_name), RECIPES[_name]))
