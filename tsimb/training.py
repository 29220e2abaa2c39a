"""One training loop for every chapter: :func:`fit` with events, plus :func:`predict_proba`.

The whole (small) training set lives on the device as two tensors and each minibatch
is a direct index into them, so there is no DataLoader, collation or host-to-device
copy per batch. Benchmarked against a bare PyTorch loop by ``python -m tsimb bench``.

What varies between methods hooks into the loop at fixed points instead of growing it:
``batch_hook`` may replace a minibatch (augmentation, adversarial examples),
``regulariser`` adds a loss term from the features (Feat-Sim), and :class:`Callback`
objects act at the start and end of the fit and of every epoch (the learning-rate
plateau schedule and keep-best-weights of Fawaz et al. 2019). Explained in the book's
chapter *Baselines*, section "Training".
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .data import validate_series
from .losses import CrossEntropy, DeferredReweighting
from .models import Classifier
from .runtime import evaluating, get_device, in_ci

# regulariser(features, inputs, targets, model) -> scalar added to the loss
Regulariser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, Classifier], torch.Tensor]
# batch_hook(model, inputs, targets, epoch) -> (inputs, targets), e.g. to add augmented series
BatchHook = Callable[[Classifier, torch.Tensor, torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]
ClassWeight = np.ndarray | DeferredReweighting | Callable[[int], np.ndarray | None] | None
Reduction = Literal["weighted_mean", "mean"]


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite; the run is not usable and is never stored."""


@dataclass
class History:
    """Mean training loss of each epoch, the epoch whose weights were kept and the wall time."""

    loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    samples_seen: int = 0
    best_epoch: int | None = None
    lr: list[float] = field(default_factory=list)


@dataclass
class FitState:
    """What a :class:`Callback` sees: the model, its optimiser, the epoch and the history."""

    model: Classifier
    optimiser: torch.optim.Optimizer
    history: History
    epoch: int = 0


class Callback:
    """Hooks into :func:`fit`. Override what you need; every hook gets the :class:`FitState`."""

    def on_fit_start(self, state: FitState) -> None: ...

    def on_epoch_start(self, state: FitState) -> None: ...

    def on_epoch_end(self, state: FitState) -> None: ...

    def on_fit_end(self, state: FitState) -> None: ...


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


@dataclass(frozen=True)
class Budget:
    """Optimisation budget for one training run (Adam), shared by every chapter.

    ``batch_rule="fawaz"`` takes Fawaz et al.'s (2019) batch size,
    ``int(min(n_train / 10, batch_size))``; ``plateau_patience`` switches on
    :class:`PlateauSchedule` and ``keep_best`` :class:`KeepBestWeights`.
    :data:`FAWAZ_RESNET` is their whole protocol.
    """

    epochs: int = 100
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    drw_fraction: float = 0.8  # LDAM-DRW: re-weighting (and a 10x smaller step) from this point on
    drw_lr_factor: float = 0.1
    batch_rule: Literal["fixed", "fawaz"] = "fixed"
    plateau_patience: int | None = None
    plateau_factor: float = 0.5
    min_lr: float = 1e-4
    keep_best: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise ValueError(f"Budget.epochs must be a positive integer, got {self.epochs!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ValueError(f"Budget.batch_size must be a positive integer, got {self.batch_size!r}")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"Budget.lr must be a positive number, got {self.lr!r}")
        if self.batch_rule not in ("fixed", "fawaz"):
            raise ValueError(f"Budget.batch_rule must be 'fixed' or 'fawaz', got {self.batch_rule!r}")

    def batch_size_for(self, n_train: int) -> int:
        """The minibatch size for a training set of ``n_train`` series."""
        if self.batch_rule == "fawaz":
            return max(1, int(min(n_train / 10, self.batch_size)))
        return self.batch_size

    def fit_kwargs(self, n_train: int) -> dict:
        """The :func:`fit` arguments this budget sets."""
        callbacks: list[Callback] = []
        if self.plateau_patience is not None:
            callbacks.append(PlateauSchedule(self.plateau_factor, self.plateau_patience, self.min_lr))
        if self.keep_best:
            callbacks.append(KeepBestWeights())
        return dict(epochs=self.epochs, batch_size=self.batch_size_for(n_train), lr=self.lr,
                    weight_decay=self.weight_decay, callbacks=callbacks)


# Fawaz et al. (2019)'s ResNet protocol, the ``none`` row of Sarkar et al.'s Table I.
FAWAZ_RESNET = Budget(epochs=1500, batch_size=64, lr=1e-3, batch_rule="fawaz", plateau_patience=50,
                      plateau_factor=0.5, min_lr=1e-4, keep_best=True)


def _weights_at(class_weight: ClassWeight, epoch: int) -> np.ndarray | None:
    if class_weight is None:
        return None
    if callable(class_weight):
        return class_weight(epoch)
    return np.asarray(class_weight)


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


def _check_weights(name: str, weights: np.ndarray | None, size: int | None = None) -> None:
    if weights is None:
        return
    if size is not None and len(weights) < size:
        raise ValueError(f"{name} has {len(weights)} entries for {size} classes")
    if not np.isfinite(weights).all() or (np.asarray(weights) < 0).any():
        raise ValueError(f"{name} must be finite and non-negative, got {np.asarray(weights)}")


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
    regulariser: Regulariser | None = None,
    batch_hook: BatchHook | None = None,
    callbacks: Sequence[Callback] = (),
    optimizer: Literal["adam", "sgd"] = "adam",
    momentum: float = 0.9,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool | None = None,
) -> History:
    """Train ``model`` in place with Adam on series ``X`` ``(n, channels, length)`` and labels ``y``.

    Args:
        loss: a per-sample loss module (see :mod:`tsimb.losses`); cross entropy by default.
        loss_reduction: how weighted per-sample losses make a batch loss:
            ``"weighted_mean"``, ``sum(w_i l_i) / sum(w_i)`` (PyTorch's
            ``cross_entropy(weight=)``, the LDAM-DRW reference), or ``"mean"``,
            ``sum(w_i l_i) / B`` (Cui et al. 2019's class-balanced losses).
        class_weight: per-class weights, or a schedule ``epoch -> weights | None`` such as
            :class:`~tsimb.losses.DeferredReweighting` (LDAM-DRW, Cao et al. 2019, Alg. 1).
        sample_weight: per-series weights, multiplied with the class weights.
        lr_milestones, lr_gamma: multiply the learning rate by ``lr_gamma`` at these epochs.
        regulariser: extra loss term from the penultimate features (Feat-Sim, SRAT).
        batch_hook: transform each minibatch before the forward pass (augmentation,
            adversarial examples).
        callbacks: :class:`Callback` objects (plateau schedule, keep-best weights, ...).
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
        _check_weights("sample_weight", sample_weight)
    if y.size < 2:
        raise ValueError("need at least two training series")
    if loss_reduction not in ("weighted_mean", "mean"):
        raise ValueError(f"loss_reduction must be 'weighted_mean' or 'mean', got {loss_reduction!r}")

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
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimiser, list(lr_milestones), lr_gamma)
    generator = torch.Generator().manual_seed(seed)
    n = X_t.shape[0]
    history = History()
    state = FitState(model, optimiser, history)
    start = time.perf_counter()
    model.train()
    for callback in callbacks:
        callback.on_fit_start(state)
    for epoch in tqdm(range(epochs), desc="epochs", disable=not show_progress(progress), leave=False):
        state.epoch = epoch
        for callback in callbacks:
            callback.on_epoch_start(state)
        weights = _weights_at(class_weight, epoch)
        _check_weights("class_weight", weights, n_classes)
        w_class = None if weights is None else torch.as_tensor(weights, dtype=torch.float32, device=device)
        order = torch.randperm(n, generator=generator).to(device)
        batches = list(order.split(batch_size))
        if len(batches) > 1 and batches[-1].numel() == 1:  # batch norm cannot train on one series
            batches.pop()
        losses = torch.zeros(len(batches), device=device)  # on the device: no host sync per batch
        seen = 0
        for b, batch in enumerate(batches):
            xb, yb = X_t[batch], y_t[batch]
            if batch_hook is not None:
                xb, yb = batch_hook(model, xb, yb, epoch)
            features = model.features(xb)
            per_sample = loss_fn(model.head(features), yb)
            w = None if w_class is None else w_class[yb]
            if w_sample is not None:
                if yb.shape[0] != batch.shape[0]:
                    raise ValueError("sample_weight cannot follow a batch_hook that changes the batch size")
                w = w_sample[batch] if w is None else w * w_sample[batch]
            if w is None:
                batch_loss = per_sample.mean()
            elif loss_reduction == "mean":
                batch_loss = (w * per_sample).sum() / per_sample.shape[0]
            else:
                batch_loss = (w * per_sample).sum() / w.sum().clamp_min(1e-12)
            if regulariser is not None:
                batch_loss = batch_loss + regulariser(features, xb, yb, model)
            optimiser.zero_grad(set_to_none=True)
            batch_loss.backward()
            optimiser.step()
            losses[b] = batch_loss.detach() * xb.shape[0]
            seen += xb.shape[0]
        scheduler.step()
        epoch_loss = losses.sum().item() / seen
        if not np.isfinite(epoch_loss):
            bad = int(torch.nonzero(~torch.isfinite(losses))[0])
            raise TrainingDivergedError(
                f"the training loss is not finite at epoch {epoch}, batch {bad} of {len(batches)}: "
                f"likely a learning rate too high for this model (lr {lr:g}), inputs of extreme "
                f"scale (largest |x| = {float(np.abs(X).max()):.3g}; z-normalise them), or a loss "
                "or regulariser that overflowed")
        history.samples_seen += seen
        history.loss.append(epoch_loss)
        history.lr.append(optimiser.param_groups[0]["lr"])
        for callback in callbacks:
            callback.on_epoch_end(state)
    for callback in callbacks:
        callback.on_fit_end(state)
    history.seconds = time.perf_counter() - start
    return history


@torch.no_grad()
def predict_proba(model: Classifier, X: np.ndarray, batch_size: int = 1024,
                  device: torch.device | str | None = None) -> np.ndarray:
    """Class probabilities ``(n, K)`` from ``model`` in evaluation mode (its mode is restored)."""
    validate_series(X)
    device = next(model.parameters()).device if device is None else get_device(device)
    X_t = torch.as_tensor(X, dtype=torch.float32, device=device)
    with evaluating(model.to(device)):
        probs = [torch.softmax(model(xb), dim=1) for xb in X_t.split(batch_size)]
    return torch.cat(probs).cpu().numpy()


@torch.no_grad()
def extract_features(model: Classifier, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Penultimate features ``(n, feature_dim)`` (for PCA / t-SNE plots, Feat-Sim, SRAT)."""
    validate_series(X)
    X_t = torch.as_tensor(X, dtype=torch.float32, device=next(model.parameters()).device)
    with evaluating(model):
        return torch.cat([model.features(xb) for xb in X_t.split(batch_size)]).cpu().numpy()
