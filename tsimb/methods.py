"""Everything a grid can train, in one registry: :data:`METHODS` (name -> :class:`Method`).

Importing this module imports every method family, so the registry is complete: the classic
corrections (:mod:`tsimb.train.baselines`), the ODE-guided and spectral augmentations
(:mod:`tsimb.augment.training`), the GAN oversamplers and IB-GAN
(:mod:`tsimb.generative.methods`), GL-GAN, its ablations and the latent adversarial
augmentation (:mod:`tsimb.generative.latent`), the crowd-label methods
(:mod:`tsimb.crowd.methods`), adversarial training, DRCB and SRAT
(:mod:`tsimb.robustness.training`). Which chapters use a method is read from the chapter
registry (:func:`chapters_using`), not typed into docstrings.

Adding a method: subclass :class:`Method` beside its implementation, give it a frozen
``Settings`` dataclass, call :func:`register`; ``tests/test_registries.py`` then checks it
(see ``book/STYLE.md``, "Adding a method or a chapter").
"""

from __future__ import annotations

from . import augment as _augment  # noqa: F401  (registers the augmentation methods)
from . import crowd as _crowd  # noqa: F401  (registers the crowd-label methods)
from . import generative as _generative  # noqa: F401  (registers the GAN methods)
from .generative import latent as _latent  # noqa: F401  (registers GL-GAN, its ablations, latent adversarial)
from . import robustness as _robustness  # noqa: F401  (registers the adversarial-training methods)
from .train import METHODS, Method, Sampler, Trained, register, settings_from_config


def chapters_using(method: str) -> list[str]:
    """The written chapters whose grids train ``method`` (from their experiments)."""
    from .experiments import experiment, written_chapters

    METHODS.check(method)
    return [name for name in written_chapters() if method in experiment(name).methods()]


__all__ = ["METHODS", "Method", "Sampler", "Trained", "register", "settings_from_config", "chapters_using"]
