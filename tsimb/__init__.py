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

from .runtime import pin_cpu_numerics

pin_cpu_numerics()  # before any convolution runs: see tsimb.runtime

from .data import (  # noqa: E402
    Dataset,
    DatasetUnavailableError,
    Imbalance,
    bundled_datasets,
    class_halves,
    load_dataset,
    load_train_test,
)
from .evaluation import evaluate  # noqa: E402
from .models import build_model  # noqa: E402
from .runtime import get_device, seed_everything  # noqa: E402
from .train import extract_features, fit, predict_proba  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Dataset", "DatasetUnavailableError", "bundled_datasets", "load_dataset", "load_train_test",
    "Imbalance", "class_halves", "evaluate", "build_model", "get_device", "seed_everything",
    "fit", "predict_proba", "extract_features", "__version__",
]
