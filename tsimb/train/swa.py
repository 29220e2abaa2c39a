"""Stochastic weight averaging (Izmailov et al. 2018) as a callback of the one training loop
(:func:`tsimb.train.fit`), built on ``torch.optim.swa_utils``: an :class:`AveragedModel`
updated at the end of every epoch from ``start`` on, the learning rate annealed to
``swa_lr`` by :class:`SWALR` over ``anneal_epochs``, and, once training ends, batch norm's
running statistics recomputed for the averaged weights by :func:`update_bn` before the
averaged weights are copied into the trained model (forgetting ``update_bn`` leaves the
statistics of weights that no longer exist: the common mistake).

Used by Imb-Mix (Wang 2023, dissertation sec. 5.3.3: ``theta_SWA <- (theta_SWA n + theta) /
(n + 1)``, an equal-weight running mean of the snapshots), :mod:`tsimb.robustness.imbmix`.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Literal

import torch
from torch import nn
from torch.optim.swa_utils import SWALR, AveragedModel, update_bn

from .callbacks import Callback, FitState

BatchNormInputs = Callable[[nn.Module], Iterable[torch.Tensor]]
"""``inputs(averaged_module)`` -> the input batches :func:`update_bn` passes through it."""


class StochasticWeightAveraging(Callback):
    """Average the weights of the epochs ``start, start + 1, ..., last`` (Izmailov et al.
    2018; Wang 2023, sec. 5.3.3) with ``torch.optim.swa_utils``.

    From epoch ``start`` on, the learning rate moves to ``swa_lr`` over ``anneal_epochs``
    epochs (:class:`~torch.optim.swa_utils.SWALR`, ``anneal_strategy``; 0: at once) and
    then stays there, and each epoch's final weights join the equal-weight running mean
    (:class:`~torch.optim.swa_utils.AveragedModel`, buffers averaged too, so that the
    averaged network is usable when ``bn_inputs`` attacks it). When the run ends, batch norm's running
    statistics are recomputed for the averaged weights over the batches ``bn_inputs``
    gives (:func:`~torch.optim.swa_utils.update_bn`; ``None``: no recomputation, for
    networks without batch norm only), and the averaged weights and statistics replace the
    model's own. A run shorter than ``start + 1`` epochs (a replay of a run's start) keeps
    its last weights. ``n_averaged`` counts the snapshots.

    Raises:
        ValueError: ``start`` not a whole number >= 0, ``swa_lr`` not positive, ``anneal_epochs``
            negative, an unknown ``anneal_strategy``; at the end of a run that averaged, a
            network with batch norm and no ``bn_inputs``.
    """

    def __init__(self, start: int, swa_lr: float, anneal_epochs: int = 1,
                 anneal_strategy: Literal["cos", "linear"] = "cos", bn_inputs: BatchNormInputs | None = None) -> None:
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(f"SWA start must be an epoch index >= 0, got {start!r}")
        if isinstance(swa_lr, bool) or not isinstance(swa_lr, (int, float)) or not (math.isfinite(swa_lr)
                                                                                  and swa_lr > 0):
            raise ValueError(f"swa_lr must be a positive number, got {swa_lr!r}")
        if isinstance(anneal_epochs, bool) or not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be a whole number >= 0, got {anneal_epochs!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.start, self.swa_lr, self.anneal_epochs = start, float(swa_lr), anneal_epochs
        self.anneal_strategy, self.bn_inputs = anneal_strategy, bn_inputs
        self.averaged: AveragedModel | None = None
        self.scheduler: SWALR | None = None
        self.n_averaged = 0

    def on_fit_start(self, state: FitState) -> None:
        self.averaged = AveragedModel(state.model, use_buffers=True)
        self.scheduler, self.n_averaged = None, 0

    def on_epoch_start(self, state: FitState) -> None:
        if state.epoch >= self.start and self.scheduler is None:  # the SWA phase begins with this epoch
            self.scheduler = SWALR(state.optimiser, swa_lr=self.swa_lr, anneal_epochs=self.anneal_epochs,
                                   anneal_strategy=self.anneal_strategy)

    def on_epoch_end(self, state: FitState) -> None:
        if state.epoch < self.start:
            return
        self.averaged.update_parameters(state.model)
        self.n_averaged += 1
        self.scheduler.step()

    def on_fit_end(self, state: FitState) -> None:
        if self.n_averaged == 0:
            return
        module = self.averaged.module
        has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())
        if has_bn:
            if self.bn_inputs is None:
                raise ValueError("the network has batch norm: give StochasticWeightAveraging bn_inputs, the batches "
                                 "over which update_bn recomputes its running statistics for the averaged weights")
            batches = [batch.detach() for batch in self.bn_inputs(module)]  # made before the statistics reset
            update_bn(batches, module, device=state.device)
        state.model.load_state_dict(module.state_dict())
