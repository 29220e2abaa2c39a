"""tsimb: learning from imbalanced time series. The library behind the tsimb book.

Subpackages by concern (each one's docstring says what it holds; each public function's
docstring names its paper, equation and book chapter):

* :mod:`tsimb.data`: data sets (archive folders, bundled, downloads), imbalance
  protocols, re-sampling (random, SMOTE and kin).
* :mod:`tsimb.models`: classifiers (FCN, ResNet, small CNN, MLP, LSTM), the ODENet.
* :mod:`tsimb.losses`: focal, class-balanced and LDAM losses, class weights, DRW.
* :mod:`tsimb.train`: :func:`fit` with callbacks, budgets, prediction, the classic
  corrections as named recipes.
* :mod:`tsimb.augment`: ODE-guided and spectral augmentations, Feat-Sim.
* :mod:`tsimb.robustness`: FGSM, BIM and PGD; robust accuracy.
* :mod:`tsimb.generative`: GAN oversamplers and IB-GAN.
* :mod:`tsimb.evaluation`: metrics, claims as data, ranks, broken-run flags.
* :mod:`tsimb.experiments`: profiles, the run store, the grid runner, ``verify``, one
  module per chapter (its registry :data:`tsimb.experiments.CHAPTERS` maps chapters to
  modules).
* :mod:`tsimb.plots`: the book's figures. :mod:`tsimb.registry`: named things.
  :mod:`tsimb.runtime`: device, seeds, reproducible CPU numerics.
"""

from importlib import import_module as _import_module
from typing import TYPE_CHECKING

from .runtime import pin_cpu_numerics

pin_cpu_numerics()  # before any convolution runs: see tsimb.runtime

__version__ = "0.1.0"

# The public names load on first use (PEP 562), so that ``import tsimb`` and
# ``python -m tsimb --help`` do not import torch; ``from tsimb import fit`` works as before.
_LAZY = {
    "Dataset": "data", "DatasetUnavailableError": "data", "Imbalance": "data", "bundled_datasets": "data",
    "class_halves": "data", "load_dataset": "data", "load_train_test": "data",
    "evaluate": "evaluation", "build_model": "models", "get_device": "runtime", "seed_everything": "runtime",
    "extract_features": "train", "fit": "train", "predict_proba": "train",
}
_SUBPACKAGES = ("augment", "bench", "booktools", "cli", "data", "evaluation", "experiments", "generative",
                "losses", "models", "plots", "registry", "robustness", "runtime", "train")

if TYPE_CHECKING:  # what type checkers and IDEs see
    from .data import (Dataset, DatasetUnavailableError, Imbalance, bundled_datasets, class_halves,  # noqa: F401
                       load_dataset, load_train_test)
    from .evaluation import evaluate  # noqa: F401
    from .models import build_model  # noqa: F401
    from .runtime import get_device, seed_everything  # noqa: F401
    from .train import extract_features, fit, predict_proba  # noqa: F401


def __getattr__(name: str) -> object:
    if name in _LAZY:
        value = getattr(_import_module(f".{_LAZY[name]}", __name__), name)
    elif name in _SUBPACKAGES:
        value = _import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'tsimb' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBPACKAGES})


__all__ = [
    "Dataset", "DatasetUnavailableError", "bundled_datasets", "load_dataset", "load_train_test",
    "Imbalance", "class_halves", "evaluate", "build_model", "get_device", "seed_everything",
    "fit", "predict_proba", "extract_features", "__version__",
]
