"""The classic corrections for class imbalance, as training recipes over one :func:`fit`.

Every later chapter compares against these, so each is one entry of :data:`METHODS`
and one call of :func:`train_baseline`. Explained in the book's chapter *Baselines*.

=====================  ==========================================================
method                 what changes
=====================  ==========================================================
``none``               cross entropy, no correction
``class-weights``      cross entropy weighted by inverse class frequency
``ros`` / ``rus``      random over- / under-sampling to equal counts
``smote``              SMOTE (Chawla et al. 2002) on the flattened series
``adasyn``             ADASYN (He et al. 2008)
``borderline-smote``   Borderline-SMOTE (Han et al. 2005)
``focal``              focal loss, gamma 2 (Lin et al. 2017, eq. 4)
``cb-focal``           focal loss with class-balanced weights (Cui et al. 2019, sec. 3)
``ldam-drw``           LDAM loss with deferred re-weighting (Cao et al. 2019, Alg. 1)
=====================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .data import Dataset
from .losses import (
    DeferredReweighting,
    FocalLoss,
    LDAMLoss,
    class_balanced_weights,
    inverse_frequency_weights,
)
from .models import Classifier, build_model
from .resampling import OVERSAMPLERS, oversample
from .runtime import seed_everything
from .training import History, fit

METHODS = (
    "none", "class-weights", "ros", "rus", "smote", "adasyn", "borderline-smote",
    "focal", "cb-focal", "ldam-drw",
)


@dataclass(frozen=True)
class Budget:
    """Optimisation budget for one training run (Adam)."""

    epochs: int = 100
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    drw_fraction: float = 0.8  # LDAM-DRW: re-weighting (and a 10x smaller step) from this point on


def train_baseline(method: str, model_name: str, train: Dataset, budget: Budget, seed: int = 0,
                   device: torch.device | str | None = None) -> tuple[Classifier, History]:
    """Build ``model_name`` and train it on ``train`` with imbalance correction ``method``.

    The model's initialisation, the minibatch order and any re-sampling are seeded by ``seed``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown baseline {method!r}; choose one of {METHODS}")
    X, y = train.X, train.y
    counts = np.bincount(y, minlength=train.n_classes)
    kwargs: dict = dict(epochs=budget.epochs, batch_size=budget.batch_size, lr=budget.lr,
                        weight_decay=budget.weight_decay, seed=seed, device=device)
    if method in OVERSAMPLERS:
        X, y = oversample(X, y, method, seed=seed)
    elif method == "class-weights":
        kwargs["class_weight"] = inverse_frequency_weights(counts)
    elif method == "ros":
        kwargs["resample"] = "over"
    elif method == "rus":
        kwargs["resample"] = "under"
    elif method == "focal":
        kwargs["loss"] = FocalLoss(gamma=2.0)
    elif method == "cb-focal":
        kwargs["loss"] = FocalLoss(gamma=2.0)
        kwargs["class_weight"] = class_balanced_weights(counts, beta=0.9999)
    elif method == "ldam-drw":
        start = int(round(budget.drw_fraction * budget.epochs))
        kwargs["loss"] = LDAMLoss(counts)
        kwargs["class_weight"] = DeferredReweighting(class_balanced_weights(counts, beta=0.9999), start)
        kwargs["lr_milestones"] = [start]
    seed_everything(seed)
    model = build_model(model_name, train.n_channels, train.n_classes, train.length,
                        normed_head=(method == "ldam-drw"))
    history = fit(model, X, y, **kwargs)
    return model, history
