"""Several runs of one method trained as one batched model: :func:`train_ensemble`.

K runs that share a data set, an architecture and a budget (seeds of one method, or
methods whose minibatches have the same size) are trained by :func:`tsimb.train.fit` in
lockstep through one :class:`EnsembleStep`. Each member keeps everything a run alone has:
its initialisation (built from its own seed by :meth:`Method.prepare`), its data order
(its step's generator), its batch transform (augmentation, run on its own network), its
optimiser and its callbacks (plateau schedule, keep-best weights), each seeing the
member's own loss. Only the forward and backward passes are batched: the members'
parameters are stacked and the network is evaluated once for all of them with
``torch.func.vmap`` over ``torch.func.functional_call``, so K small minibatches become one
batched kernel per layer. The gradients flow back into each member's own parameters.

A member matches the same run trained alone up to floating-point rounding in the first
steps (batched kernels sum in another order); over many epochs the two trajectories drift
apart as any two runs with different numerics do (``tests/train/test_ensemble.py`` states
the tolerance). On a GPU the K launches per layer become one; on a CPU a batched kernel is
not faster than K small ones, and worker processes are the better use of the cores
(``python -m tsimb bench`` measures both).
"""

from __future__ import annotations

import copy
import time
from typing import Any, Sequence

import torch
from torch import nn
from torch.func import functional_call, vmap

from ..data import Dataset
from .budget import Budget
from .callbacks import Callback, FitState, History
from .method import Method, PreparedRun, Trained
from .steps import ClassifierStep, Step


class _FeaturesAndLogits(nn.Module):
    """A classifier's penultimate features and logits from one call (what a step's loss and
    extra terms need), as the module ``functional_call`` evaluates."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model.features(x)
        return features, self.model.head(features)


class EnsembleStep(Step):
    """One minibatch of each member (a :class:`~tsimb.train.ClassifierStep` with its own
    data order, transform and optimiser), evaluated as one batched network; the members'
    callbacks run on their own :class:`~tsimb.train.FitState` and history (see
    :func:`train_ensemble`). The loop's epoch order is the identity: each minibatch's
    positions index every member's own order. Reports one loss per member
    (``member_0``, ...); a member whose loss stops being finite ends the whole ensemble
    (the error names it). Models with dropout are refused (their masks would be drawn in
    another order than alone)."""

    def __init__(self, members: Sequence[ClassifierStep], member_callbacks: Sequence[Sequence[Callback]]) -> None:
        members = list(members)
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least two members, got {len(members)}")
        if len(member_callbacks) != len(members):
            raise ValueError(f"{len(members)} members but {len(member_callbacks)} lists of callbacks")
        first = members[0]
        if any(isinstance(module, nn.Dropout) for module in first.model.modules()):
            raise ValueError(f"{type(first.model).__name__} has dropout, whose masks an ensemble would draw in "
                             "another order than the runs alone; train its runs one by one")
        _check_one_architecture([member.model for member in members], "ensemble member")
        for k, member in enumerate(members[1:], start=1):
            if member.n != first.n or member.device != first.device:
                raise ValueError(f"ensemble member {k} trains on {member.n} series on {member.device}, member 0 on "
                                 f"{first.n} on {first.device}; members must share the data size and device")
        self.members = members
        self.n, self.device, self.n_classes = first.n, first.device, first.n_classes
        self.model, self.optimiser = first.model, first.optimiser  # what the loop's own callbacks would see
        self.modules = tuple(member.model for member in members)
        self.loss_names = tuple(f"member_{k}" for k in range(len(members)))
        self.states = [FitState(m.model, m.optimiser, History(losses={"loss": []}), device=m.device,
                                n_classes=m.n_classes) for m in members]
        self.member_callbacks = [list(c) for c in member_callbacks]
        self._network = _FeaturesAndLogits(copy.deepcopy(first.model)).to("meta")  # structure only
        self._parameter_names = [name for name, _ in first.model.named_parameters()]
        self._buffer_names = [name for name, _ in first.model.named_buffers()]
        self._orders: list[torch.Tensor] = []

    @property
    def histories(self) -> list[History]:
        """Each member's history, as :func:`tsimb.train.fit` would return it for the member alone."""
        return [state.history for state in self.states]

    def callbacks(self) -> list[Callback]:
        return [_MemberCallbacks(self)]

    def epoch_order(self) -> torch.Tensor:
        # each member draws its own order, exactly as the loop would for it alone
        self._orders = [member.epoch_order().to(self.device) for member in self.members]
        return torch.arange(self.n)

    def __call__(self, state: FitState, positions: torch.Tensor) -> tuple[torch.Tensor, int]:
        xs, ys, weights = [], [], []
        for member, member_state, order in zip(self.members, self.states, self._orders):
            batch = order[positions]
            weight = None if member.sample_weight is None else member.sample_weight[batch]
            x, y, weight = member.transform(member_state, member.X[batch], member.y[batch], weight)
            if weight is not None and weight.shape[0] != x.shape[0]:
                raise ValueError(f"{type(member).__name__}.transform returned {x.shape[0]} series but "
                                 f"{weight.shape[0]} sample weights; return one weight per series")
            xs.append(x), ys.append(y), weights.append(weight)
        if len({x.shape for x in xs}) > 1:
            raise ValueError(f"ensemble members' minibatches differ in shape ({sorted({tuple(x.shape) for x in xs})}): "
                             "their transforms must return batches of one size; train such runs one by one")
        parameters = {f"model.{name}": torch.stack([member.model.get_parameter(name) for member in self.members])
                      for name in self._parameter_names}
        buffers = {f"model.{name}": torch.stack([member.model.get_buffer(name) for member in self.members])
                   for name in self._buffer_names}
        features, logits = vmap(self._evaluate, randomness="different")(parameters, buffers, torch.stack(xs))
        losses = []
        for k, (member, member_state) in enumerate(zip(self.members, self.states)):
            loss = member.batch_loss(member_state, logits[k], ys[k], weights[k])
            term = member.extra_loss(member_state, features[k], xs[k], ys[k])
            losses.append(loss if term is None else loss + term)
        for member in self.members:
            member.optimiser.zero_grad(set_to_none=True)
        torch.stack(losses).sum().backward()  # the members share no parameter: each gets its own gradient
        for member in self.members:
            member.optimiser.step()
        with torch.no_grad():  # batch norm updated the stacked running statistics: hand them back
            for name, stacked in buffers.items():
                for member, value in zip(self.members, stacked):
                    member.model.get_buffer(name.removeprefix("model.")).copy_(value)
        return torch.stack(losses).detach(), int(xs[0].shape[0])

    def _evaluate(self, parameters: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor],
                  x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return functional_call(self._network, {**parameters, **buffers}, (x,))

    def divergence_hint(self) -> str:
        return self.members[0].divergence_hint()


class _MemberCallbacks(Callback):
    """Runs each member's callbacks on the member's own state, with the member's epoch loss
    in its own history (so a plateau schedule or keep-best weights act per member)."""

    def __init__(self, ensemble: EnsembleStep) -> None:
        self.ensemble = ensemble

    def _each(self, event: str) -> None:
        for state, callbacks in zip(self.ensemble.states, self.ensemble.member_callbacks):
            for callback in callbacks:
                getattr(callback, event)(state)

    def on_fit_start(self, state: FitState) -> None:
        self._began = time.perf_counter()
        self._each("on_fit_start")

    def on_epoch_start(self, state: FitState) -> None:
        for member_state in self.ensemble.states:
            member_state.epoch = state.epoch
        self._each("on_epoch_start")

    def on_epoch_end(self, state: FitState) -> None:
        for name, member_state in zip(self.ensemble.loss_names, self.ensemble.states):
            loss = state.history.losses[name][-1]
            member_state.history.loss.append(loss)
            member_state.history.losses["loss"].append(loss)
        self._each("on_epoch_end")
        for member_state in self.ensemble.states:
            member_state.history.lr.append(member_state.optimiser.param_groups[0]["lr"])

    def on_fit_end(self, state: FitState) -> None:
        self._each("on_fit_end")
        seconds = time.perf_counter() - self._began
        for member_state in self.ensemble.states:
            history = member_state.history
            history.samples_seen, history.steps = state.history.samples_seen, state.history.steps
            history.seconds = seconds  # the ensemble's wall time: the members trained together
            history.epoch_seconds = list(state.history.epoch_seconds)


def train_ensemble(method: Method, train: Dataset | Sequence[Dataset], *, model: str, budget: Budget,
                   seeds: Sequence[int], settings: Any = None, epochs: int | None = None, device: Any = None,
                   progress: bool | None = None) -> list[Trained]:
    """Train one run of ``method`` per seed as one batched model (:class:`EnsembleStep`)
    and return each run's :class:`~tsimb.train.Trained`, in the order of ``seeds``: what
    ``method.train(train, ..., seed=s)`` returns for each, up to floating-point rounding.
    ``train`` is one training set, or one per seed (of one size: a seeded subsample).

    Raises:
        ValueError: fewer than two seeds, or repeated ones; a method that does not train
            one classifier step (:meth:`Method.prepare`); runs whose minibatches differ in
            size.
    """
    from .loop import fit

    seeds = list(seeds)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"train_ensemble: seeds must differ, got {seeds}")
    sets = [train] * len(seeds) if isinstance(train, Dataset) else list(train)
    if len(sets) != len(seeds):
        raise ValueError(f"train_ensemble: {len(sets)} training sets for {len(seeds)} seeds; give one, or one per seed")
    prepared: list[PreparedRun] = [method.prepare(data, model=model, budget=budget, settings=settings, seed=seed,
                                                  epochs=epochs, device=device) for data, seed in zip(sets, seeds)]
    if len({(run.batch_size, run.epochs) for run in prepared}) > 1:
        raise ValueError("train_ensemble: the runs differ in minibatch size or epochs; train them one by one")
    # each member's callbacks as fit would run them for it alone: the step's own first
    ensemble = EnsembleStep([run.step for run in prepared], [[*run.step.callbacks(), *run.callbacks]
                                                             for run in prepared])
    fit(ensemble, epochs=prepared[0].epochs, batch_size=prepared[0].batch_size, progress=progress,
        desc=f"{method.name} x{len(seeds)}")
    return [Trained(run.step.model, history) for run, history in zip(prepared, ensemble.histories)]


class StackedMembers(nn.Module):
    """K trained networks of one architecture (an ensemble's members) evaluated as one
    batched network, for scoring and attacking them in one pass
    (:func:`tsimb.robustness.members_attacked_probabilities`).

    The input interleaves the members: row ``i * K + k`` is series ``i`` for member ``k``
    (``np.repeat(X, K, axis=0)``), so any batch of a multiple of K rows splits into K equal
    parts; each part goes through its own member (``vmap`` over ``functional_call``, as
    :class:`EnsembleStep` trains them) and the logits come back in the input's order. A
    member's rows see only that member's weights, so a per-series attack on the stack is
    the attack on each member. The weights are a snapshot taken here: train first, then
    stack. Evaluation only (batch norm uses each member's running statistics)."""

    def __init__(self, models: Sequence[nn.Module]) -> None:
        super().__init__()
        models = list(models)
        if len(models) < 2:
            raise ValueError(f"StackedMembers: stack at least two networks, got {len(models)}")
        _check_one_architecture(models, "stacked network")
        self.members = nn.ModuleList(models)  # so the stack's device is the members'
        self.parameter_names = [name for name, _ in models[0].named_parameters()]
        self.buffer_names = [name for name, _ in models[0].named_buffers()]
        self._weights = {name: torch.stack([m.get_parameter(name).detach() for m in models])
                         for name in self.parameter_names}
        self._weights.update({name: torch.stack([m.get_buffer(name) for m in models]) for name in self.buffer_names})
        self._structure = [copy.deepcopy(models[0]).to("meta")]  # a list: not a registered submodule

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = len(self.members)
        if self.training:
            raise RuntimeError("StackedMembers evaluates trained networks only; call .eval() first")
        if x.shape[0] % k:
            raise ValueError(f"StackedMembers: a batch of {x.shape[0]} rows does not split among {k} members; "
                             f"give a multiple of {k} rows (row i*{k}+k is series i for member k)")
        network = self._structure[0].eval()
        per_member = x.reshape(-1, k, *x.shape[1:]).transpose(0, 1)  # (K, n, ...)
        logits = vmap(lambda weights, xb: functional_call(network, weights, (xb,)))(self._weights, per_member)
        return logits.transpose(0, 1).reshape(x.shape[0], -1)


def _check_one_architecture(models: Sequence[nn.Module], noun: str) -> None:
    shapes = _parameter_shapes(models[0])
    for k, other in enumerate(models[1:], start=1):
        if type(other) is not type(models[0]) or _parameter_shapes(other) != shapes:
            raise ValueError(f"{noun} {k} has another architecture than {noun} 0; they must share the network "
                             "(same model name, channels, classes and length)")


def _parameter_shapes(model: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(name, tuple(p.shape)) for name, p in model.named_parameters()]
