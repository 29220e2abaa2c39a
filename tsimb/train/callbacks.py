"""Events of the training loop and the callbacks that use them.

:func:`tsimb.train.fit` calls, on every :class:`Callback` it is given, ``on_fit_start``,
then per epoch ``on_epoch_start`` and ``on_epoch_end``, and at last ``on_fit_end``.
Callbacks observe and schedule: class weights and deferred re-weighting, learning-rate
schedules, keep-best weights. What a method does to a minibatch (augmentation,
adversarial examples, mixing, an extra loss term) lives in its
:class:`~tsimb.train.Step`, never in a callback that must be combined with others.
Explained in the book's chapter *Baselines*, section "Training".
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from ..models import Classifier

ClassWeight = np.ndarray | Callable[[int], np.ndarray | None] | None


@dataclass
class History:
    """Mean training loss of each epoch (``loss``: the step's first loss, the run's trace;
    ``losses``: every loss the step reports, by name, e.g. a GAN's ``d_loss``, ``g_loss``),
    the learning rate after it, the epoch whose weights were kept, the wall time in all and
    per epoch, the series seen and the minibatches taken (``steps``: optimiser steps of each
    network the step updates)."""

    loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    samples_seen: int = 0
    steps: int = 0
    best_epoch: int | None = None
    lr: list[float] = field(default_factory=list)
    losses: dict[str, list[float]] = field(default_factory=dict)
    epoch_seconds: list[float] = field(default_factory=list)


@dataclass
class FitState:
    """What a :class:`Callback` sees and may change: the model, its optimiser, the
    history, the epoch, the device, the number of classes and the class weights in force
    (a tensor indexed by label, or ``None``)."""

    model: Classifier
    optimiser: torch.optim.Optimizer
    history: History
    epoch: int = 0
    device: torch.device = torch.device("cpu")
    n_classes: int = 2
    class_weight: torch.Tensor | None = None


class Callback:
    """Hooks into :func:`tsimb.train.fit` at the start and end of the run and of each epoch.
    Override what you need."""

    def on_fit_start(self, state: FitState) -> None: ...

    def on_epoch_start(self, state: FitState) -> None: ...

    def on_epoch_end(self, state: FitState) -> None: ...

    def on_fit_end(self, state: FitState) -> None: ...


def check_weights(name: str, weights: np.ndarray | None, size: int | None = None) -> None:
    """``ValueError`` unless ``weights`` are finite, non-negative, not all zero and cover
    ``size`` classes."""
    if weights is None:
        return
    if size is not None and len(weights) < size:
        raise ValueError(f"{name} has {len(weights)} entries for {size} classes")
    if not np.isfinite(weights).all() or (np.asarray(weights) < 0).any():
        raise ValueError(f"{name} must be finite and non-negative, got {np.asarray(weights)}")
    if len(weights) and not (np.asarray(weights) > 0).any():  # every loss term would be 0: nothing trains
        raise ValueError(f"{name} is zero everywhere, so the loss is 0 and nothing would be learnt; "
                         "give at least one class or series a positive weight")


class ClassWeights(Callback):
    """Per-class loss weights: a fixed vector (inverse frequency, class-balanced) or a
    schedule ``epoch -> weights | None`` such as
    :class:`~tsimb.losses.DeferredReweighting` (LDAM-DRW, Cao et al. 2019, Alg. 1), set on
    the :class:`FitState` at the start of every epoch."""

    def __init__(self, weights: ClassWeight) -> None:
        self.weights = weights

    def on_epoch_start(self, state: FitState) -> None:
        weights = self.weights(state.epoch) if callable(self.weights) else self.weights
        weights = None if weights is None else np.asarray(weights)
        check_weights("class_weight", weights, state.n_classes)
        state.class_weight = (None if weights is None
                              else torch.as_tensor(weights, dtype=torch.float32, device=state.device))


class StepDecay(Callback):
    """Multiply the learning rate by ``gamma`` at each of the ``milestones`` epochs
    (torch's ``MultiStepLR``; LDAM-DRW's 10x drop when re-weighting starts)."""

    def __init__(self, milestones: Sequence[int], gamma: float = 0.1) -> None:
        self.milestones, self.gamma = list(milestones), gamma

    def on_fit_start(self, state: FitState) -> None:
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(state.optimiser, self.milestones, self.gamma)

    def on_epoch_end(self, state: FitState) -> None:
        self.scheduler.step()


class PlateauSchedule(Callback):
    """Multiply the learning rate by ``factor`` when the epoch's training loss has not
    improved for ``patience`` epochs, down to ``min_lr`` (torch's ``ReduceLROnPlateau``,
    as Fawaz et al. 2019 train their ResNet: factor 0.5, patience 50, minimum 1e-4)."""

    def __init__(self, factor: float = 0.5, patience: int = 50, min_lr: float = 1e-4) -> None:
        self.factor, self.patience, self.min_lr = factor, patience, min_lr

    def on_fit_start(self, state: FitState) -> None:
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            state.optimiser, mode="min", factor=self.factor, patience=self.patience, min_lr=self.min_lr)

    def on_epoch_end(self, state: FitState) -> None:
        self.scheduler.step(state.history.loss[-1])


class WarmupStepSchedule(Callback):
    """The learning-rate schedule of the LDAM-DRW reference code (Cao et al. 2019,
    kaidic/LDAM-DRW, for 200 epochs): linear warm-up over the first ``warmup`` of the
    epochs, then ``x0.01`` from 80% and ``x0.0001`` from 90% of them."""

    def __init__(self, epochs: int, warmup: float = 5 / 200,
                 drops: tuple[tuple[float, float], ...] = ((0.8, 0.01), (0.9, 1e-4))) -> None:
        self.epochs, self.warmup, self.drops = epochs, warmup, drops

    def on_fit_start(self, state: FitState) -> None:
        self.base = [group["lr"] for group in state.optimiser.param_groups]

    def on_epoch_start(self, state: FitState) -> None:
        warm = max(1, round(self.warmup * self.epochs))
        factor = min(1.0, (state.epoch + 1) / warm)
        for start, drop in self.drops:
            if state.epoch >= round(start * self.epochs):
                factor = drop
        for group, base in zip(state.optimiser.param_groups, self.base):
            group["lr"] = base * factor


class KeepBestWeights(Callback):
    """Restore, after the last epoch, the weights of the epoch with the lowest training loss
    (Fawaz et al. 2019 keep their ``best_model.hdf5`` by training loss)."""

    def on_fit_start(self, state: FitState) -> None:
        self.best_loss, self.best_state = float("inf"), None

    def on_epoch_end(self, state: FitState) -> None:
        if state.history.loss[-1] < self.best_loss:
            self.best_loss = state.history.loss[-1]
            self.best_state = copy.deepcopy(state.model.state_dict())
            state.history.best_epoch = state.epoch

    def on_fit_end(self, state: FitState) -> None:
        if self.best_state is not None:
            state.model.load_state_dict(self.best_state)
