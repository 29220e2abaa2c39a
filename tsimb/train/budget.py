"""The optimisation budget of one training run, shared by every chapter, and the
reference protocol of Fawaz et al. (2019)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .callbacks import Callback, KeepBestWeights, PlateauSchedule


@dataclass(frozen=True)
class Budget:
    """Optimisation budget for one training run (Adam), shared by every chapter.

    ``batch_rule="fawaz"`` takes Fawaz et al.'s (2019) batch size,
    ``int(min(n_train / 10, batch_size))``; ``plateau_patience`` switches on
    :class:`~tsimb.train.PlateauSchedule` and ``keep_best``
    :class:`~tsimb.train.KeepBestWeights`. :data:`FAWAZ_RESNET` is their whole protocol.
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
        from .steps import _number, _positive_int

        _positive_int("Budget.epochs", self.epochs)
        _positive_int("Budget.batch_size", self.batch_size)
        _number("Budget.lr", self.lr, positive=True)
        _number("Budget.weight_decay", self.weight_decay, low=0.0)
        # DRW must start within the run (1.0: never, which is then plain LDAM)
        _number("Budget.drw_fraction", self.drw_fraction, low=0.0, high=1.0)
        _number("Budget.drw_lr_factor", self.drw_lr_factor, positive=True)
        _number("Budget.plateau_factor", self.plateau_factor, positive=True, high=1.0)
        _number("Budget.min_lr", self.min_lr, low=0.0)
        if self.plateau_patience is not None:
            _positive_int("Budget.plateau_patience", self.plateau_patience)
        if self.batch_rule not in ("fixed", "fawaz"):
            raise ValueError(f"Budget.batch_rule must be 'fixed' or 'fawaz', got {self.batch_rule!r}")
        if not isinstance(self.keep_best, bool):
            raise ValueError(f"Budget.keep_best must be True or False, got {self.keep_best!r}")

    def batch_size_for(self, n_train: int) -> int:
        """The minibatch size for a training set of ``n_train`` series."""
        if self.batch_rule == "fawaz":
            return max(1, int(min(n_train / 10, self.batch_size)))
        return self.batch_size

    def callbacks(self) -> list[Callback]:
        """The callbacks this budget switches on: the plateau schedule, keep-best weights."""
        callbacks: list[Callback] = []
        if self.plateau_patience is not None:
            callbacks.append(PlateauSchedule(self.plateau_factor, self.plateau_patience, self.min_lr))
        if self.keep_best:
            callbacks.append(KeepBestWeights())
        return callbacks

    def epochs_for(self, epochs: int | None) -> int:
        """The epochs to train: the budget's, or fewer (``epochs``: a replay of a run's start)."""
        return self.epochs if epochs is None else min(int(epochs), self.epochs)


# Fawaz et al. (2019)'s ResNet protocol, the ``none`` row of Sarkar et al.'s Table I.
FAWAZ_RESNET = Budget(epochs=1500, batch_size=64, lr=1e-3, batch_rule="fawaz", plateau_patience=50,
                      plateau_factor=0.5, min_lr=1e-4, keep_best=True)
