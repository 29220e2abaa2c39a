"""Models: the time-series classifiers (FCN, ResNet, small CNN and its pooled variant, MLP, LSTM) in
:data:`MODELS`, their heads, and the ODENet of ODE-guided augmentation. Generators and
discriminators live with their training in :mod:`tsimb.generative`."""

from .classifiers import (
           FCN,
           MLP,
           MODELS,
           Classifier,
           LSTMClassifier,
           NormedLinear,
           PooledCNN,
           ResidualBlock,
           ResNet,
           SmallCNN,
           build_model,
           same_conv,
)
from .ode import (
           ODEFitHistory,
           ODENet,
           derivative,
           derivative_agreement,
           finite_difference,
           fit_odenet,
           predict_next,
)

__all__ = ["FCN", "MLP", "MODELS", "Classifier", "LSTMClassifier", "NormedLinear", "PooledCNN", "ResidualBlock", "ResNet",
           "SmallCNN", "build_model", "same_conv", "ODEFitHistory", "ODENet", "derivative", "derivative_agreement",
           "finite_difference", "fit_odenet", "predict_next"]
