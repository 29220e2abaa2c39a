"""tsimb: learning from imbalanced time series. The library behind the tsimb book.

Where things live (each module's docstring names the papers and book chapters):

* :mod:`tsimb.data`: loading bundled and downloaded UCR/UEA data sets.
* :mod:`tsimb.imbalance`: step, exponential, drop-half and binary-pair protocols.
* :mod:`tsimb.models`: FCN, ResNet, small CNN, MLP, LSTM.
* :mod:`tsimb.losses`: focal, LDAM, class-balanced weights, deferred re-weighting.
* :mod:`tsimb.training`: :func:`fit`, :func:`predict_proba`.
* :mod:`tsimb.resampling`: SMOTE, ADASYN, Borderline-SMOTE on series.
* :mod:`tsimb.baselines`: the classic corrections as named recipes.
* :mod:`tsimb.metrics`: balanced accuracy, F1, MCC, PR-AUC, G-mean, per-half accuracy.
* :mod:`tsimb.attacks`: FGSM, BIM and PGD under L-infinity and L2; robust accuracy.
* :mod:`tsimb.ode`: the ODENet of ODE-guided augmentation.
* :mod:`tsimb.augmentations`: In/Out-Grad, Rand-Grad, Spec-Den and the Feat-Sim loss.
* :mod:`tsimb.augmented_training`: training on augmented minibatches, with Feat-Sim.
* :mod:`tsimb.experiments`: profiles, the cached tidy runner, each chapter's experiment.
* :mod:`tsimb.plots`: the book's figures.
"""

from .runtime import pin_cpu_numerics

pin_cpu_numerics()  # before any convolution runs: see tsimb.runtime

from .data import Dataset, DatasetUnavailableError, bundled_datasets, load_dataset, load_train_test
from .imbalance import Imbalance, class_halves
from .metrics import evaluate
from .models import build_model
from .runtime import get_device, seed_everything
from .training import extract_features, fit, predict_proba

__version__ = "0.1.0"

__all__ = [
    "Dataset", "DatasetUnavailableError", "bundled_datasets", "load_dataset", "load_train_test",
    "Imbalance", "class_halves", "evaluate", "build_model", "get_device", "seed_everything",
    "fit", "predict_proba", "extract_features", "__version__",
]
