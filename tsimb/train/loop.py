"""One training loop for every model the book trains: :func:`fit`, plus :func:`predict_proba`
and :func:`extract_features`.

:func:`fit` owns what every run shares: epochs, a seeded minibatch order, callbacks
(schedules, class-weight schedules, keep-best weights), the divergence check, the
progress bar and the history. What one minibatch does is a :class:`~tsimb.train.Step`
(:mod:`tsimb.train.steps`): a classifier's by default, a GAN's, IB-GAN's or an
autoencoder's (:mod:`tsimb.generative.steps`). The whole (small) training set lives on the
device and each minibatch is a direct index into it: no DataLoader, collation or
host-to-device copy per batch. Benchmarked against a bare PyTorch loop by
``python -m tsimb bench``. Explained in the book's chapter *Baselines*, section "Training".
"""

from __future__ import annotations

import math
import sys
import time
from typing import Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import validate_series
from ..models import Classifier
from ..runtime import evaluating, get_device, in_ci
from .callbacks import Callback, FitState, History
from .steps import ClassifierStep, Step, _positive_int


class TrainingDivergedError(RuntimeError):
    """A training loss became NaN or infinite (or the parameters did); the run is not usable
    and is never stored. The message names the epoch, the batch and the likely cause."""


def show_progress(progress: bool | None) -> bool:
    """Progress bars where someone watches: ``True`` shows one, ``False`` hides it, ``None``
    shows it on a terminal and in a Jupyter kernel. Never in CI, whose logs (and the
    notebooks it executes) it would fill."""
    if in_ci():
        return False
    if progress is not None:
        return progress
    return sys.stderr.isatty() or "ipykernel" in sys.modules


def fit(model: nn.Module | Step, X: np.ndarray | None = None, y: np.ndarray | None = None, *,
        epochs: int = 50, batch_size: int = 64, callbacks: Sequence[Callback] = (), progress: bool | None = None,
        desc: str = "epochs", seed: int = 0, device: torch.device | str | None = None, **step_options) -> History:
    """Train in place for ``epochs`` passes over the data in seeded random minibatches of
    ``batch_size`` series, and return the :class:`~tsimb.train.History`.

    ``model`` is a :class:`~tsimb.train.Step` (which holds its data: a GAN, IB-GAN or an
    autoencoder, a subclass of :class:`~tsimb.train.ClassifierStep`), or a classifier to
    train on series ``X`` ``(n, channels, length)`` and targets ``y`` (class indices, or
    probability vectors ``(n, K)``, or a :class:`~tsimb.data.Votes` table) with a
    :class:`~tsimb.train.ClassifierStep` built from ``step_options``: ``loss``,
    ``loss_reduction``, ``class_weight`` (a vector, or a schedule such as
    :class:`~tsimb.losses.DeferredReweighting`: LDAM-DRW, Cao et al. 2019, Alg. 1),
    ``sample_weight``, ``lr``, ``weight_decay``, ``optimizer`` (``"adam"`` or ``"sgd"``),
    ``momentum``, ``lr_milestones`` and ``lr_gamma`` (see its docstring). ``seed`` seeds the
    minibatch order (seed the model's initialisation yourself with
    :func:`tsimb.runtime.seed_everything` before building it).

    A last minibatch of a single series is dropped when there are others (batch norm cannot
    train on one series).

    Raises:
        ValueError: bad arguments (shapes, labels, weights, budgets), named.
        TrainingDivergedError: a loss became NaN or infinite (names the epoch and batch), or
            the parameters did after the last step.
    """
    epochs, batch_size = _positive_int("epochs", epochs), _positive_int("batch_size", batch_size)
    if isinstance(model, Step):
        if X is not None or y is not None or step_options:
            raise ValueError("a Step holds its own data and options: call fit(step, epochs=..., batch_size=...)")
        step = model
    else:
        if X is None or y is None:
            raise ValueError("fit(model, X, y): a classifier needs series X and targets y")
        step = ClassifierStep(model, X, y, seed=seed, device=device, **step_options)
    return _train(step, epochs, batch_size, [*step.callbacks(), *callbacks], progress, desc)


def minibatches_per_epoch(n: int, batch_size: int) -> int:
    """How many minibatches (optimiser steps) :func:`fit` takes per epoch over ``n`` series:
    ``ceil(n / batch_size)``, less a last minibatch of a single series when there are others
    (batch norm cannot train on one series)."""
    full, rest = divmod(int(n), int(batch_size))
    count = full + (rest > 0)
    return count - 1 if count > 1 and rest == 1 else count


def _train(step: Step, epochs: int, batch_size: int, callbacks: list[Callback], progress: bool | None,
           desc: str) -> History:
    """The loop itself: epochs of seeded minibatches through ``step``, with ``callbacks``."""
    device = step.device
    history = History(losses={name: [] for name in step.loss_names})
    state = FitState(step.model, step.optimiser, history, device=device, n_classes=step.n_classes)
    start = time.perf_counter()
    for module in (step.model, *step.modules):
        module.train()
    for callback in callbacks:
        callback.on_fit_start(state)
    for epoch in tqdm(range(epochs), desc=desc, disable=not show_progress(progress), leave=False):
        began = time.perf_counter()
        state.epoch = epoch
        for callback in callbacks:
            callback.on_epoch_start(state)
        order = step.epoch_order().to(device)
        batches = list(order.split(batch_size))[:minibatches_per_epoch(step.n, batch_size)]
        # each batch's losses times its size, kept on the device: no host sync per batch
        per_batch = torch.zeros(len(batches), len(step.loss_names), device=device)
        seen = 0
        for b, batch in enumerate(batches):
            values, count = step(state, batch)
            per_batch[b] = values * count
            seen += count
        means = step.epoch_means(per_batch, seen)  # the one host sync of the epoch
        if not all(math.isfinite(v) for v in means):
            bad_batch = int(torch.nonzero(~torch.isfinite(per_batch).all(dim=1))[0])
            bad = {name: value for name, value in zip(step.loss_names, means) if not math.isfinite(value)}
            raise TrainingDivergedError(
                f"the training loss is not finite at epoch {epoch}, batch {bad_batch} of {len(batches)} "
                f"({', '.join(f'{k} = {v}' for k, v in bad.items())}): {step.divergence_hint()}")
        history.samples_seen += seen
        history.steps += len(batches)
        history.loss.append(means[0])
        for name, value in zip(step.loss_names, means):
            history.losses[name].append(value)
        for callback in callbacks:
            callback.on_epoch_end(state)
        history.lr.append(step.optimiser.param_groups[0]["lr"])
        history.epoch_seconds.append(time.perf_counter() - began)
    for callback in callbacks:
        callback.on_fit_end(state)
    step.check_trained()
    history.seconds = time.perf_counter() - start
    return history


@torch.no_grad()
def predict_proba(model: Classifier, X: np.ndarray, batch_size: int = 1024,
                  device: torch.device | str | None = None) -> np.ndarray:
    """Class probabilities ``(n, K)`` from ``model`` in evaluation mode (its mode is restored)."""
    validate_series(X)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"predict_proba: batch_size must be a whole number of at least 1, got {batch_size!r}")
    device = next(model.parameters()).device if device is None else get_device(device)
    X_t = torch.as_tensor(X, dtype=torch.float32, device=device)
    with evaluating(model.to(device)):
        probs = [torch.softmax(model(xb), dim=1) for xb in X_t.split(batch_size)]
    return torch.cat(probs).cpu().numpy()


@torch.no_grad()
def extract_features(model: Classifier, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Penultimate features ``(n, feature_dim)`` (for PCA / t-SNE plots, Feat-Sim, SRAT)."""
    validate_series(X)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"extract_features: batch_size must be a whole number of at least 1, got {batch_size!r}")
    X_t = torch.as_tensor(X, dtype=torch.float32, device=next(model.parameters()).device)
    with evaluating(model):
        return torch.cat([model.features(xb) for xb in X_t.split(batch_size)]).cpu().numpy()
