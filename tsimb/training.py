"""One training loop for every chapter: :func:`fit`, plus :func:`predict_proba`.

The whole (small) training set lives on the device as two tensors and each minibatch
is a direct index into them, so there is no DataLoader, collation or host-to-device
copy per batch. Benchmarked against a bare PyTorch loop by ``python -m tsimb bench``.
Explained in the book's chapter *Baselines*, section "Training".
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm import tqdm

from .data import validate_series
from .losses import CrossEntropy, DeferredReweighting
from .models import Classifier
from .runtime import evaluating, get_device, in_ci

# regulariser(features, inputs, targets, model) -> scalar added to the loss
Regulariser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, Classifier], torch.Tensor]
# batch_hook(model, inputs, targets, epoch) -> (inputs, targets), e.g. to add augmented series
BatchHook = Callable[[Classifier, torch.Tensor, torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]
ClassWeight = np.ndarray | DeferredReweighting | Callable[[int], np.ndarray | None] | None


@dataclass
class History:
    """Mean training loss of each epoch and the wall time of the whole fit."""

    loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    samples_seen: int = 0


def _weights_at(class_weight: ClassWeight, epoch: int) -> np.ndarray | None:
    if class_weight is None:
        return None
    if callable(class_weight):
        return class_weight(epoch)
    return np.asarray(class_weight)


def _resample_index(y: np.ndarray, how: str | None, seed: int) -> np.ndarray:
    """Indices after random over- or under-sampling to equal class counts (imbalanced-learn)."""
    if how is None:
        return np.arange(y.size)
    from imblearn.under_sampling import RandomUnderSampler
    from imblearn.over_sampling import RandomOverSampler

    samplers = {"over": RandomOverSampler, "under": RandomUnderSampler}
    if how not in samplers:
        raise ValueError(f"resample must be None, 'over' or 'under', got {how!r}")
    sampler = samplers[how](random_state=seed)
    sampler.fit_resample(np.arange(y.size)[:, None], y)
    return np.sort(sampler.sample_indices_)


def show_progress(progress: bool | None) -> bool:
    """Progress bars only where someone watches: never in CI, by default only on a terminal."""
    if in_ci():
        return False
    return sys.stderr.isatty() if progress is None else progress


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
    class_weight: ClassWeight = None,
    sample_weight: np.ndarray | None = None,
    resample: str | None = None,
    lr_milestones: Sequence[int] = (),
    lr_gamma: float = 0.1,
    regulariser: Regulariser | None = None,
    batch_hook: BatchHook | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool | None = None,
) -> History:
    """Train ``model`` in place with Adam on series ``X`` ``(n, channels, length)`` and labels ``y``.

    Args:
        loss: a per-sample loss module (see :mod:`tsimb.losses`); cross entropy by default.
        class_weight: per-class weights, or a schedule ``epoch -> weights | None`` such as
            :class:`~tsimb.losses.DeferredReweighting` (LDAM-DRW, Cao et al. 2019, Alg. 1).
        sample_weight: per-series weights, multiplied with the class weights.
        resample: ``"over"`` / ``"under"``: random over-/under-sampling to equal class
            counts before training (imbalanced-learn's samplers, seeded with ``seed``).
        lr_milestones, lr_gamma: multiply the learning rate by ``lr_gamma`` at these epochs.
        regulariser: extra loss term from the penultimate features (Feat-Sim, SRAT).
        batch_hook: transform each minibatch before the forward pass (augmentation,
            adversarial examples).
        seed: seeds the minibatch order and resampling (seed the model's initialisation
            yourself with :func:`tsimb.runtime.seed_everything` before building it).

    The loss of a batch is ``sum(w_i l_i) / sum(w_i)`` with ``w_i`` the product of class
    and sample weights, so weights change the balance between series, not the learning rate.
    """
    validate_series(X, y)
    y = np.asarray(y, dtype=np.int64)
    n_classes = int(y.max()) + 1
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float32)
        if sample_weight.shape != y.shape or (sample_weight < 0).any():
            raise ValueError("sample_weight must be a non-negative vector with one weight per series")
    index = _resample_index(y, resample, seed)
    if index.size < 2:
        raise ValueError("need at least two training series")

    device = get_device(device) if not isinstance(device, torch.device) else device
    model.to(device)
    loss_fn = (loss or CrossEntropy()).to(device)
    X_t = torch.as_tensor(X[index], dtype=torch.float32, device=device)
    y_t = torch.as_tensor(y[index], device=device)
    w_sample = None if sample_weight is None else torch.as_tensor(sample_weight[index], device=device)

    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimiser, list(lr_milestones), lr_gamma)
    generator = torch.Generator().manual_seed(seed)
    n = X_t.shape[0]
    history = History()
    start = time.perf_counter()
    model.train()
    for epoch in tqdm(range(epochs), desc="epochs", disable=not show_progress(progress), leave=False):
        weights = _weights_at(class_weight, epoch)
        if weights is not None and len(weights) < n_classes:
            raise ValueError(f"class_weight has {len(weights)} entries for {n_classes} classes")
        w_class = None if weights is None else torch.as_tensor(weights, dtype=torch.float32, device=device)
        order = torch.randperm(n, generator=generator).to(device)
        batches = list(order.split(batch_size))
        if len(batches) > 1 and batches[-1].numel() == 1:  # batch norm cannot train on one series
            batches.pop()
        total = torch.zeros((), device=device)  # summed on the device: no host sync per batch
        seen = 0
        for batch in batches:
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
            batch_loss = per_sample.mean() if w is None else (w * per_sample).sum() / w.sum().clamp_min(1e-12)
            if regulariser is not None:
                batch_loss = batch_loss + regulariser(features, xb, yb, model)
            optimiser.zero_grad(set_to_none=True)
            batch_loss.backward()
            optimiser.step()
            total += batch_loss.detach() * xb.shape[0]
            seen += xb.shape[0]
        scheduler.step()
        history.samples_seen += seen
        history.loss.append(total.item() / seen)
    history.seconds = time.perf_counter() - start
    return history


@torch.no_grad()
def predict_proba(model: Classifier, X: np.ndarray, batch_size: int = 1024,
                  device: torch.device | str | None = None) -> np.ndarray:
    """Class probabilities ``(n, K)`` from ``model`` in evaluation mode (its mode is restored)."""
    validate_series(X)
    device = next(model.parameters()).device if device is None else torch.device(device)
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
