"""What a grid can train: the :class:`Method` protocol and its registry :data:`METHODS`.

A method is one registration: a name, a frozen ``Settings`` dataclass holding its own
constants (stored whole in each run's configuration, rebuilt by
:func:`settings_from_config`), and ``train(train, *, model, budget, settings, seed,
epochs=None) -> Trained``. Generative methods also have ``fit_generator``, which returns a
:data:`Sampler` (what the generation-quality scores look at). Every chapter's grid
dispatches through :data:`METHODS`; ``tests/test_registries.py`` checks every entry.

The families register themselves beside their implementation: the classic corrections
(:mod:`tsimb.train.baselines`), the ODE-guided and spectral augmentations
(:mod:`tsimb.augment.training`), the GAN oversamplers and IB-GAN
(:mod:`tsimb.generative.methods`). Import :mod:`tsimb.methods` for the complete registry.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import numpy as np
from torch import nn

from ..data import Dataset
from ..registry import Registry, closest
from .budget import Budget
from .callbacks import Callback, History
from .steps import ClassifierStep

# sampler(real series, their labels, seed) -> one generated series per real one, same labels
Sampler = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


@dataclass
class Trained:
    """What a method's training returns: the ``classifier`` to score, its ``history`` (the
    loss trace that ``tsimb verify`` replays is ``history.loss``) and whatever else a chapter
    scores (``extras``: e.g. an IB-GAN run's per-epoch discriminator statistics)."""

    classifier: nn.Module
    history: History
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def trace(self) -> list[float]:
        return list(self.history.loss)


@dataclass
class PreparedRun:
    """A run that trains one classifier, built and ready for :func:`tsimb.train.fit`: its
    step (the model, initialised from the run's seed, its data and optimiser), the
    callbacks its budget and method switch on (``fit`` runs the step's own,
    ``step.callbacks()``, before them), the minibatch size and the epochs. What
    :meth:`Method.train` fits, and what :func:`tsimb.train.train_ensemble` fits together
    with other runs of the same method."""

    step: ClassifierStep
    callbacks: list[Callback]
    batch_size: int
    epochs: int

    def fit(self, progress: bool | None = None) -> Trained:
        from .loop import fit

        history = fit(self.step, epochs=self.epochs, batch_size=self.batch_size, callbacks=self.callbacks,
                      progress=progress)
        return Trained(self.step.model, history)


class Method:
    """One trainable method of a grid. Subclasses set ``Settings`` (a frozen dataclass of
    the method's own constants; ``None``: it has none), ``config_key`` (where a run's
    configuration keeps them: one key holding the whole dataclass, or ``None`` when each
    field is a key of its own) and implement :meth:`train`."""

    Settings: ClassVar[type | None] = None
    config_key: ClassVar[str | None] = None
    generative: ClassVar[bool] = False

    def __init__(self, name: str, summary: str) -> None:
        self.name, self.summary = name, summary

    def default_settings(self) -> Any:
        return None if self.Settings is None else self.Settings()

    def check_settings(self, settings: Any) -> Any:
        """``settings`` (``None``: the defaults) if they are this method's, else a ``ValueError``."""
        if settings is None:
            return self.default_settings()
        if self.Settings is None or not isinstance(settings, self.Settings):
            wanted = "no settings" if self.Settings is None else self.Settings.__name__
            raise ValueError(f"method {self.name!r} takes {wanted}, got {type(settings).__name__}")
        return settings

    def settings_from_config(self, config: Mapping[str, Any]) -> Any:
        """The settings a stored run's ``config`` holds (defaults for what it lacks)."""
        if self.Settings is None:
            return None
        if self.config_key is not None:
            stored = config.get(self.config_key)
            return self.Settings() if stored is None else settings_from_config(self.Settings, stored)
        names = {f.name for f in dataclasses.fields(self.Settings)}
        return settings_from_config(self.Settings, {k: v for k, v in config.items() if k in names})

    def settings_to_config(self, settings: Any) -> dict[str, Any]:
        """The configuration entries that store ``settings`` (inverse of :meth:`settings_from_config`)."""
        settings = self.check_settings(settings)
        if settings is None:
            return {}
        if self.config_key is not None:
            return {self.config_key: dataclasses.asdict(settings)}
        return {f.name: _plain(getattr(settings, f.name)) for f in dataclasses.fields(settings)}

    def train(self, train: Dataset, *, model: str, budget: Budget, settings: Any = None, seed: int = 0,
              epochs: int | None = None, device: Any = None) -> Trained:  # pragma: no cover - abstract
        """Build ``model`` and train it on ``train`` under ``budget``; ``epochs`` stops early
        (a replay of a stored run's start). Seeded by ``seed``."""
        raise NotImplementedError

    def prepare(self, train: Dataset, *, model: str, budget: Budget, settings: Any = None, seed: int = 0,
                epochs: int | None = None, device: Any = None) -> PreparedRun:
        """The run :meth:`train` would fit, built but not trained, for methods that train one
        classifier with one step (what an ensemble of runs needs); others raise ``ValueError``."""
        raise ValueError(f"method {self.name!r} does not train a single classifier step, so it cannot be prepared "
                         "as an ensemble member; train its runs one by one with .train()")

    def fit_generator(self, train: Dataset, *, model: str, budget: Budget, settings: Any = None, seed: int = 0,
                      device: Any = None) -> Sampler:
        """For generative methods: train the generator alone and return its sampler."""
        raise ValueError(f"method {self.name!r} generates no series; generative methods: "
                         f"{', '.join(n for n, m in METHODS.items() if m.generative)}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


METHODS: Registry[Method] = Registry("method")


def register(method: Method) -> Method:
    """Add ``method`` to :data:`METHODS` under its name (its summary is the registry's)."""
    METHODS.add(method.name, method, method.summary)
    return method


def settings_from_config(cls: type, data: Mapping[str, Any]) -> Any:
    """Rebuild the frozen dataclass ``cls`` from its stored dictionary (``dataclasses.asdict``
    read back from JSON): nested dataclasses are rebuilt and lists become tuples where the
    field is a tuple. An unknown key raises ``ValueError`` with the closest names."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise ValueError(f"stored {cls.__name__} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for key, value in data.items():
        if key not in fields:
            raise ValueError(closest(f"{cls.__name__} setting", key, sorted(fields)))
        values[key] = _rebuild(hints.get(key), value)
    return cls(**values)


def _rebuild(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    for candidate in (hint, *typing.get_args(hint)):
        if dataclasses.is_dataclass(candidate) and isinstance(value, Mapping):
            return settings_from_config(candidate, value)
    origin = typing.get_origin(hint)
    if isinstance(value, list) and (origin is tuple or any(typing.get_origin(a) is tuple or a is tuple
                                                           for a in typing.get_args(hint))):
        return tuple(_rebuild(None, v) for v in value)
    return value


def _plain(value: Any) -> Any:
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
