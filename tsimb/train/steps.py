"""What one minibatch of a training run does: :class:`Step` objects for :func:`tsimb.train.fit`.

The loop (:func:`tsimb.train.fit`) owns epochs, the seeded minibatch order, callbacks
(schedules, keep-best weights, class-weight schedules), the divergence check and the
progress bar; a step owns the data on the device, the optimisers and the losses. A method
whose loss differs writes a step, never a loop (as d2l's ``Trainer``):

* :class:`ClassifierStep`: supervised training of a :class:`~tsimb.models.Classifier` with
  any per-sample loss, class and per-sample weights, hard labels or probability vectors
  (soft targets: mixing, annotators' vote shares). Subclasses change a minibatch
  (:meth:`ClassifierStep.transform`: augmentation, adversarial examples) or add a loss
  term from the batch's features (:meth:`ClassifierStep.extra_loss`: Feat-Sim, SupCon).
* the GAN, IB-GAN and autoencoder steps of :mod:`tsimb.generative.steps`.

Explained in the book's chapter *Baselines*, section "Training".
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np
import torch
from torch import nn

from ..data import validate_series
from ..losses import CrossEntropy
from ..runtime import get_device
from .callbacks import Callback, ClassWeight, ClassWeights, FitState, StepDecay, check_weights

Reduction = Literal["weighted_mean", "mean"]


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _number(name: str, value: object, *, positive: bool = False, low: float | None = None,
            high: float | None = None) -> float:
    """``value`` as a finite float, or a ``ValueError`` naming ``name`` and the range."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0) or (low is not None and value < low) or (
            high is not None and value > high):
        wanted = "a positive number" if positive else "a finite number"
        if low is not None or high is not None:
            wanted += f" in [{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return value


class Step:
    """One minibatch of a training run, called by :func:`tsimb.train.fit` with the
    :class:`~tsimb.train.FitState` and the indices of the batch's series; it updates its
    networks and returns the batch's mean losses (a detached vector, one entry per
    :attr:`loss_names`, the first one is the run's training-loss trace) and how many series
    they average over.

    Attributes every step sets: ``n`` (series an epoch visits), ``device``, ``generator``
    (draws the epoch's order: a seed fixes the run), ``model`` and ``optimiser`` (what
    callbacks see: keep-best weights, learning-rate schedules), ``modules`` (put in
    training mode at the start), ``n_classes``.
    """

    loss_names: tuple[str, ...] = ("loss",)
    n: int
    device: torch.device
    generator: torch.Generator
    model: nn.Module
    optimiser: torch.optim.Optimizer
    modules: tuple[nn.Module, ...] = ()
    n_classes: int = 0

    def callbacks(self) -> list[Callback]:
        """Callbacks the step brings (e.g. a class-weight schedule); they run before the caller's."""
        return []

    def epoch_order(self) -> torch.Tensor:
        """The order in which an epoch visits the ``n`` series, drawn from ``generator``; the
        loop cuts it into minibatches."""
        return torch.randperm(self.n, generator=self.generator, device=self.generator.device)

    def __call__(self, state: FitState, batch: torch.Tensor) -> tuple[torch.Tensor, int]:  # pragma: no cover
        raise NotImplementedError

    def divergence_hint(self) -> str:
        """What likely made a loss NaN or infinite (ends the divergence error's message)."""
        return "lower the learning rate(s), or z-normalise the series"

    def epoch_means(self, per_batch: torch.Tensor, seen: int) -> list[float]:
        """The epoch's mean losses from each batch's ``losses x size`` rows ``(batches, losses)``:
        one sum on the device, then a division in double precision."""
        return [total / seen for total in per_batch.sum(dim=0).tolist()]

    def check_trained(self) -> None:
        """Raise :class:`~tsimb.train.TrainingDivergedError` if a network's parameters stopped
        being finite (the last optimiser step is not covered by the epoch losses)."""
        from .loop import TrainingDivergedError

        for module in (self.model, *self.modules):
            bad = [name for name, p in module.named_parameters() if not torch.isfinite(p).all()]
            if bad:
                raise TrainingDivergedError(
                    f"parameters {bad[:3]} of {type(module).__name__} are not finite after training, although "
                    f"every epoch's loss was: {self.divergence_hint()}")


class ClassifierStep(Step):
    """Supervised training of a classifier: ``loss(head(features(x)), y)`` per series, times
    the class weight in force (a :class:`~tsimb.train.ClassWeights` callback) and the series'
    own weight, reduced to the batch loss; then one optimiser step.

    ``y`` holds class indices ``(n,)`` or probability vectors ``(n, K)`` (soft targets, for
    the losses that accept them, such as cross entropy); class weights of a soft target are
    its expected weight ``y @ w``. Subclasses override :meth:`transform` and
    :meth:`extra_loss`; sample weights follow the transform, which must return one per series.

    ``loss_reduction``: ``"weighted_mean"``, ``sum(w_i l_i) / sum(w_i)`` (PyTorch's
    ``cross_entropy(weight=)``, the LDAM-DRW reference), or ``"mean"``, ``sum(w_i l_i) / B``
    (Cui et al. 2019's class-balanced losses).
    """

    def __init__(self, model: nn.Module, X: np.ndarray, y: np.ndarray, *, loss: nn.Module | None = None,
                 loss_reduction: Reduction = "weighted_mean", class_weight: ClassWeight = None,
                 sample_weight: np.ndarray | None = None, lr: float = 1e-3, weight_decay: float = 0.0,
                 optimizer: Literal["adam", "sgd"] = "adam", momentum: float = 0.9,
                 lr_milestones: Sequence[int] = (), lr_gamma: float = 0.1, seed: int = 0,
                 device: torch.device | str | None = None) -> None:
        targets = _check_targets(X, y)
        lr = _number("lr", lr, positive=True)
        weight_decay = _number("weight_decay", weight_decay, low=0.0)
        momentum = _number("momentum", momentum, low=0.0, high=1.0)
        lr_gamma = _number("lr_gamma", lr_gamma, positive=True)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        if loss_reduction not in ("weighted_mean", "mean"):
            raise ValueError(f"loss_reduction must be 'weighted_mean' or 'mean', got {loss_reduction!r}")
        n_classes = targets.shape[1] if targets.ndim == 2 else int(targets.max()) + 1
        outputs = _outputs(model)
        if outputs is not None and n_classes > outputs:
            raise ValueError(f"labels go up to {n_classes - 1} but the model has {outputs} outputs; "
                             "build it with as many classes as the labels have")
        self.n_classes = n_classes
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float32)
            if sample_weight.shape != (targets.shape[0],):
                raise ValueError(f"sample_weight must be a vector with one weight per series ({targets.shape[0]}), "
                                 f"got shape {sample_weight.shape}")
            check_weights("sample_weight", sample_weight)
        self.device = get_device(device)
        self.model = model.to(self.device)
        self.modules = (model,)
        self.loss_fn = (loss or CrossEntropy()).to(self.device)
        self.loss_reduction = loss_reduction
        self.X = torch.as_tensor(X, dtype=torch.float32, device=self.device)
        self.y = torch.as_tensor(targets, device=self.device)
        self.sample_weight = None if sample_weight is None else torch.as_tensor(sample_weight, device=self.device)
        self.n = int(self.X.shape[0])
        self.lr = lr
        if optimizer == "adam":
            self.optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        elif optimizer == "sgd":
            self.optimiser = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
        else:
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
        self.generator = torch.Generator().manual_seed(int(seed))
        # the shorthands, in this order: milestones step before a plateau schedule, as they always have
        self._callbacks: list[Callback] = [*([ClassWeights(class_weight)] if class_weight is not None else []),
                                           *([StepDecay(lr_milestones, lr_gamma)] if len(lr_milestones) else [])]
        self._max_abs = float(np.abs(X).max())

    def callbacks(self) -> list[Callback]:
        return list(self._callbacks)

    def transform(self, state: FitState, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The minibatch to train on instead of ``(x, y)`` with its per-series weights (default:
        unchanged). Augmentation and adversarial training override it."""
        return x, y, weight

    def extra_loss(self, state: FitState, features: torch.Tensor, x: torch.Tensor,
                   y: torch.Tensor) -> torch.Tensor | None:
        """A term added to the batch loss, from the penultimate ``features`` of ``x``."""
        return None

    def batch_loss(self, state: FitState, logits: torch.Tensor, y: torch.Tensor,
                   weight: torch.Tensor | None) -> torch.Tensor:
        """The weighted, reduced loss of one minibatch."""
        per_sample = self.loss_fn(logits, y)
        w = None
        if state.class_weight is not None:
            w = state.class_weight[y] if y.ndim == 1 else y @ state.class_weight
        if weight is not None:
            w = weight if w is None else w * weight
        if w is None:
            return per_sample.mean()
        if self.loss_reduction == "mean":
            return (w * per_sample).sum() / per_sample.shape[0]
        return (w * per_sample).sum() / w.sum().clamp_min(1e-12)

    def __call__(self, state: FitState, batch: torch.Tensor) -> tuple[torch.Tensor, int]:
        weight = None if self.sample_weight is None else self.sample_weight[batch]
        x, y, weight = self.transform(state, self.X[batch], self.y[batch], weight)
        if weight is not None and weight.shape[0] != x.shape[0]:
            raise ValueError(f"{type(self).__name__}.transform returned {x.shape[0]} series but "
                             f"{weight.shape[0]} sample weights; return one weight per series")
        features = self.model.features(x)
        loss = self.batch_loss(state, self.model.head(features), y, weight)
        term = self.extra_loss(state, features, x, y)
        if term is not None:
            loss = loss + term
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        return loss.detach().reshape(1), int(x.shape[0])

    def divergence_hint(self) -> str:
        return (f"likely a learning rate too high for this model (lr {self.lr:g}), inputs of extreme scale "
                f"(largest |x| = {self._max_abs:.3g}; z-normalise them), or a loss or loss term that overflowed")


def _outputs(model: nn.Module) -> int | None:
    """The number of classes a classifier's head outputs (linear or normed head), if known."""
    head = getattr(model, "head", None)
    for name in ("out_features", "n_classes"):
        if head is not None and isinstance(getattr(head, name, None), int):
            return getattr(head, name)
    weight = getattr(head, "weight", None)
    return int(weight.shape[0]) if isinstance(weight, torch.Tensor) and weight.ndim == 2 else None


def _check_targets(X: np.ndarray, y: object) -> np.ndarray:
    """Series and their targets checked: class indices ``(n,)`` (int64) or probability
    vectors ``(n, K)`` (float32; each row non-negative, summing to 1). A
    :class:`~tsimb.data.Votes` table becomes its vote shares."""
    from ..data.votes import Votes

    if isinstance(y, Votes):
        y = y.shares()
    if not isinstance(X, np.ndarray):
        raise TypeError(f"series must be a numpy array, got {type(X).__name__}")
    if not np.issubdtype(X.dtype, np.floating):
        raise ValueError(f"series must be floating point, got dtype {X.dtype}")
    y = np.asarray(y)
    if y.ndim == 2:  # probability vectors
        validate_series(X)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"{X.shape[0]} series but {y.shape[0]} target vectors")
        y = y.astype(np.float32)
        if not np.isfinite(y).all() or (y < 0).any() or not np.allclose(y.sum(axis=1), 1.0, atol=1e-4):
            raise ValueError("soft targets must be probability vectors: finite, non-negative, each row summing to 1")
        if y.shape[1] < 2:
            raise ValueError("soft targets need at least two classes (columns)")
    else:
        validate_series(X, y)
        y = y.astype(np.int64)
    if y.shape[0] < 2:
        raise ValueError("need at least two training series")
    return y
