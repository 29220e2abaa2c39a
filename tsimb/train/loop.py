"""One training loop for every chapter: :func:`fit` with events, plus :func:`predict_proba`
and :func:`extract_features`.

The whole (small) training set lives on the device as two tensors and each minibatch
is a direct index into them, so there is no DataLoader, collation or host-to-device
copy per batch. Benchmarked against a bare PyTorch loop by ``python -m tsimb bench``.

What varies between methods hooks into the loop through :class:`~tsimb.train.Callback`
events instead of growing it (see :mod:`tsimb.train.callbacks`): a callback may replace
a minibatch (augmentation, adversarial examples), add a loss term from the features
(Feat-Sim), set the class weights of an epoch (deferred re-weighting) or change the
learning rate. Explained in the book's chapter *Baselines*, section "Training".
"""

from __future__ import annotations

import sys
import time
from typing import Literal, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data import validate_series
from ..losses import CrossEntropy
from ..models import Classifier
from ..runtime import evaluating, get_device, in_ci
from .callbacks import (
    Callback,
    ClassWeight,
    ClassWeights,
    FitState,
    History,
    StepDecay,
    check_weights,
    overriding,
)

Reduction = Literal["weighted_mean", "mean"]


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite; the run is not usable and is never stored."""


def show_progress(progress: bool | None) -> bool:
    """Progress bars where someone watches: ``True`` shows one (also in Jupyter), ``False``
    hides it, ``None`` shows it on a terminal only. Never in CI, whose logs it would fill."""
    if in_ci():
        return False
    return sys.stderr.isatty() if progress is None else progress


def _check_inputs(X: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, lr: float) -> np.ndarray:
    validate_series(X, y)
    if isinstance(X, np.ndarray) and X.dtype != np.float32 and not np.issubdtype(X.dtype, np.floating):
        raise ValueError(f"series must be floating point, got dtype {X.dtype}")
    if not (isinstance(epochs, (int, np.integer)) and epochs >= 1):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    return np.asarray(y, dtype=np.int64)


def fit(
    model: Classifier,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 50,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    loss: torch.nn.Module | None = None,
    loss_reduction: Reduction = "weighted_mean",
    class_weight: ClassWeight = None,
    sample_weight: np.ndarray | None = None,
    lr_milestones: Sequence[int] = (),
    lr_gamma: float = 0.1,
    callbacks: Sequence[Callback] = (),
    optimizer: Literal["adam", "sgd"] = "adam",
    momentum: float = 0.9,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool | None = None,
) -> History:
    """Train ``model`` in place on series ``X`` ``(n, channels, length)`` and labels ``y``.

    Args:
        loss: a per-sample loss module (see :mod:`tsimb.losses`); cross entropy by default.
        loss_reduction: how weighted per-sample losses make a batch loss:
            ``"weighted_mean"``, ``sum(w_i l_i) / sum(w_i)`` (PyTorch's
            ``cross_entropy(weight=)``, the LDAM-DRW reference), or ``"mean"``,
            ``sum(w_i l_i) / B`` (Cui et al. 2019's class-balanced losses).
        class_weight: per-class weights, or a schedule ``epoch -> weights | None`` such as
            :class:`~tsimb.losses.DeferredReweighting` (LDAM-DRW, Cao et al. 2019, Alg. 1);
            shorthand for a :class:`~tsimb.train.ClassWeights` callback.
        sample_weight: per-series weights, multiplied with the class weights.
        lr_milestones, lr_gamma: multiply the learning rate by ``lr_gamma`` at these
            epochs; shorthand for a :class:`~tsimb.train.StepDecay` callback.
        callbacks: :class:`~tsimb.train.Callback` objects: batch transforms (augmentation,
            adversarial examples), loss terms (Feat-Sim), schedules, keep-best weights.
        optimizer: ``"adam"`` (every chapter's default) or ``"sgd"`` with ``momentum``
            (the LDAM-DRW reference protocol).
        seed: seeds the minibatch order (seed the model's initialisation yourself with
            :func:`tsimb.runtime.seed_everything` before building it).

    Raises:
        ValueError: bad arguments (shapes, labels, weights, budgets), named.
        TrainingDivergedError: the loss became NaN or infinite; names the epoch and batch.
    """
    y = _check_inputs(X, y, epochs, batch_size, lr)
    n_classes = int(y.max()) + 1
    if isinstance(model.head, torch.nn.Linear) and n_classes > model.head.out_features:
        raise ValueError(f"labels go up to {n_classes - 1} but the model has {model.head.out_features} outputs")
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float32)
        if sample_weight.shape != y.shape:
            raise ValueError("sample_weight must be a vector with one weight per series")
        check_weights("sample_weight", sample_weight)
    if y.size < 2:
        raise ValueError("need at least two training series")
    if loss_reduction not in ("weighted_mean", "mean"):
        raise ValueError(f"loss_reduction must be 'weighted_mean' or 'mean', got {loss_reduction!r}")
    # the shorthands first: milestones step before a plateau schedule, as they always have
    callbacks = [*([ClassWeights(class_weight)] if class_weight is not None else []),
                 *([StepDecay(lr_milestones, lr_gamma)] if len(lr_milestones) else []), *callbacks]

    device = get_device(device)
    model.to(device)
    loss_fn = (loss or CrossEntropy()).to(device)
    X_t = torch.as_tensor(X, dtype=torch.float32, device=device)
    y_t = torch.as_tensor(y, device=device)
    w_sample = None if sample_weight is None else torch.as_tensor(sample_weight, device=device)

    if optimizer == "adam":
        optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    elif optimizer == "sgd":
        optimiser = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    generator = torch.Generator().manual_seed(seed)
    n = X_t.shape[0]
    history = History()
    state = FitState(model, optimiser, history, device=device, n_classes=n_classes)
    batch_transforms, loss_terms = overriding(callbacks, "on_batch"), overriding(callbacks, "loss_term")
    start = time.perf_counter()
    model.train()
    for callback in callbacks:
        callback.on_fit_start(state)
    for epoch in tqdm(range(epochs), desc="epochs", disable=not show_progress(progress), leave=False):
        state.epoch = epoch
        for callback in callbacks:
            callback.on_epoch_start(state)
        order = torch.randperm(n, generator=generator).to(device)
        batches = list(order.split(batch_size))
        if len(batches) > 1 and batches[-1].numel() == 1:  # batch norm cannot train on one series
            batches.pop()
        losses = torch.zeros(len(batches), device=device)  # on the device: no host sync per batch
        seen = 0
        for b, batch in enumerate(batches):
            xb, yb = X_t[batch], y_t[batch]
            for callback in batch_transforms:
                xb, yb = callback.on_batch(state, xb, yb)
            features = model.features(xb)
            per_sample = loss_fn(model.head(features), yb)
            w = None if state.class_weight is None else state.class_weight[yb]
            if w_sample is not None:
                if yb.shape[0] != batch.shape[0]:
                    raise ValueError("sample_weight cannot follow a callback's on_batch that changes the batch size")
                w = w_sample[batch] if w is None else w * w_sample[batch]
            if w is None:
                batch_loss = per_sample.mean()
            elif loss_reduction == "mean":
                batch_loss = (w * per_sample).sum() / per_sample.shape[0]
            else:
                batch_loss = (w * per_sample).sum() / w.sum().clamp_min(1e-12)
            for callback in loss_terms:
                term = callback.loss_term(state, features, xb, yb)
                if term is not None:
                    batch_loss = batch_loss + term
            optimiser.zero_grad(set_to_none=True)
            batch_loss.backward()
            optimiser.step()
            losses[b] = batch_loss.detach() * xb.shape[0]
            seen += xb.shape[0]
        epoch_loss = losses.sum().item() / seen
        if not np.isfinite(epoch_loss):
            bad = int(torch.nonzero(~torch.isfinite(losses))[0])
            raise TrainingDivergedError(
                f"the training loss is not finite at epoch {epoch}, batch {bad} of {len(batches)}: "
                f"likely a learning rate too high for this model (lr {lr:g}), inputs of extreme "
                f"scale (largest |x| = {float(np.abs(X).max()):.3g}; z-normalise them), or a loss "
                "or callback's loss term that overflowed")
        history.samples_seen += seen
        history.loss.append(epoch_loss)
        for callback in callbacks:
            callback.on_epoch_end(state)
        history.lr.append(optimiser.param_groups[0]["lr"])
    for callback in callbacks:
        callback.on_fit_end(state)
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
