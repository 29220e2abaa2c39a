"""Time-series classifiers. Each maps ``(batch, channels, length)`` to ``(batch, classes)``
logits and exposes its penultimate representation through :meth:`Classifier.features`
(Feat-Sim, SRAT, PCA and t-SNE plots need it).

* :class:`FCN` and :class:`ResNet`: Wang, Yan, Oates (2017), "Time series
  classification from scratch with deep neural networks: a strong baseline", as
  re-evaluated by Fawaz et al. (2019); the ResNet is the one the ODE-guided
  augmentation paper (Sarkar et al., sec. III) trains.
* :class:`SmallCNN`: two 1-D convolutions, the "simple CNN" of the IB-GAN paper (sec. 3.1).
* :class:`MLP`: Wang et al. (2017)'s multilayer perceptron baseline.
* :class:`LSTMClassifier`: the LSTM classifier of the IB-GAN paper's appendix.

Explained in the book's chapter *Baselines*, section "Models".
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..registry import Registry


class NormedLinear(nn.Module):
    """Cosine-similarity head, ``logits = normalise(x) @ normalise(W)``, used with LDAM
    (Cao et al. 2019, sec. 3.2: the margins assume bounded logits)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        # uniform, then every column rescaled to unit norm as the reference code does
        # (kaidic/LDAM-DRW): the forward pass ignores the scale, but a weight of norm ~6
        # would turn several times slower under Adam or SGD
        weight = torch.empty(in_features, out_features).uniform_(-1, 1)
        self.weight = nn.Parameter(weight / weight.norm(dim=0, keepdim=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) @ F.normalize(self.weight, dim=0)


class Classifier(nn.Module):
    """A feature extractor followed by a linear head: ``forward(x) = head(features(x))``."""

    feature_dim: int

    def __init__(self, feature_dim: int, n_classes: int, normed_head: bool = False) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.head = NormedLinear(feature_dim, n_classes) if normed_head else nn.Linear(feature_dim, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"expected input shaped (batch, channels, length), got {tuple(x.shape)}")
        return self.head(self.features(x))


def same_conv(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """A stride-1 convolution whose output keeps the input length ("same" padding; for an
    even kernel the extra zero goes on the right, as in Keras)."""
    return nn.Sequential(nn.ConstantPad1d(((kernel - 1) // 2, kernel // 2), 0.0), nn.Conv1d(c_in, c_out, kernel))


def _conv_bn_relu(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(same_conv(c_in, c_out, kernel), nn.BatchNorm1d(c_out), nn.ReLU())


class FCN(Classifier):
    """Fully convolutional network: convolutions of 128/256/128 filters with kernels 8/5/3,
    batch norm and ReLU, then global average pooling (Wang et al. 2017, Fig. 1b)."""

    def __init__(self, in_channels: int, n_classes: int, normed_head: bool = False) -> None:
        super().__init__(128, n_classes, normed_head)
        self.body = nn.Sequential(
            _conv_bn_relu(in_channels, 128, 8), _conv_bn_relu(128, 256, 5), _conv_bn_relu(256, 128, 3)
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=-1)


class ResidualBlock(nn.Module):
    """Three convolutions (kernels 8, 5, 3) with a 1x1-convolution + batch-norm shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            _conv_bn_relu(c_in, c_out, 8),
            _conv_bn_relu(c_out, c_out, 5),
            same_conv(c_out, c_out, 3),
            nn.BatchNorm1d(c_out),
        )
        self.shortcut = nn.Sequential(nn.Conv1d(c_in, c_out, 1), nn.BatchNorm1d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.convs(x) + self.shortcut(x))


class ResNet(Classifier):
    """Three residual blocks of 64/128/128 filters, kernels 8/5/3 in each, global average
    pooling (Wang et al. 2017, Fig. 1c; Fawaz et al. 2019)."""

    def __init__(self, in_channels: int, n_classes: int, normed_head: bool = False) -> None:
        super().__init__(128, n_classes, normed_head)
        self.blocks = nn.Sequential(ResidualBlock(in_channels, 64), ResidualBlock(64, 128), ResidualBlock(128, 128))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).mean(dim=-1)


class SmallCNN(Classifier):
    """Two convolution layers (32 and 64 filters, kernel 5) with ReLU, global average pooling."""

    def __init__(self, in_channels: int, n_classes: int, normed_head: bool = False) -> None:
        super().__init__(64, n_classes, normed_head)
        self.body = nn.Sequential(
            same_conv(in_channels, 32, 5), nn.ReLU(),
            same_conv(32, 64, 5), nn.ReLU(),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=-1)


class PooledCNN(Classifier):
    """The IB-GAN paper's Table 4 classifier as its App. 6.2 describes it (Deng et al. 2022):
    "2 Conv1D layers each with relu-activation, max pooling and batch normalization", with
    the "filter size ... k, the time series dimension" of sec. 3.1, read as the number of
    channels (at least 3, so that a kernel sees a neighbourhood). The paper gives neither the
    filter counts nor the head: 32 and 64 filters as :class:`SmallCNN`, pooling by 2, global
    average pooling and a linear head."""

    def __init__(self, in_channels: int, n_classes: int, normed_head: bool = False) -> None:
        super().__init__(64, n_classes, normed_head)
        self.kernel = max(3, int(in_channels))
        self.body = nn.Sequential(
            same_conv(in_channels, 32, self.kernel), nn.BatchNorm1d(32), nn.ReLU(), nn.MaxPool1d(2, ceil_mode=True),
            same_conv(32, 64, self.kernel), nn.BatchNorm1d(64), nn.ReLU(), nn.MaxPool1d(2, ceil_mode=True),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=-1)


class MLP(Classifier):
    """Three fully connected layers of 500 ReLU units with dropout 0.1/0.2/0.2/0.3
    (Wang et al. 2017, Fig. 1a). Needs the series length, as it flattens the input."""

    def __init__(self, in_channels: int, n_classes: int, length: int, normed_head: bool = False) -> None:
        super().__init__(500, n_classes, normed_head)
        self.length = length
        self.body = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.1), nn.Linear(in_channels * length, 500), nn.ReLU(),
            nn.Dropout(0.2), nn.Linear(500, 500), nn.ReLU(),
            nn.Dropout(0.2), nn.Linear(500, 500), nn.ReLU(), nn.Dropout(0.3),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.length:
            raise ValueError(f"MLP was built for length {self.length}, got {x.shape[-1]}")
        return self.body(x)


class LSTMClassifier(Classifier):
    """One LSTM layer over time; the last hidden state is the feature vector."""

    def __init__(self, in_channels: int, n_classes: int, hidden: int = 64, normed_head: bool = False) -> None:
        super().__init__(hidden, n_classes, normed_head)
        self.lstm = nn.LSTM(in_channels, hidden, batch_first=True)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(x.transpose(1, 2))
        return h[-1]


MODELS: Registry[type[Classifier]] = Registry("model")
MODELS.add("fcn", FCN, "fully convolutional network (Wang, Yan, Oates 2017)")
MODELS.add("resnet", ResNet, "residual network (Wang, Yan, Oates 2017; Fawaz et al. 2019)")
MODELS.add("cnn", SmallCNN, "the small CNN of the IB-GAN paper (sec. 3.1)")
MODELS.add("cnn-pool", PooledCNN, "the IB-GAN paper's Table 4 classifier: 2 Conv1D with batch norm and max pooling "
           "(App. 6.2)")
MODELS.add("mlp", MLP, "multilayer perceptron (Wang, Yan, Oates 2017); needs the length")
MODELS.add("lstm", LSTMClassifier, "LSTM classifier (IB-GAN paper, appendix)")


def build_model(name: str, in_channels: int, n_classes: int, length: int | None = None,
                normed_head: bool = False) -> Classifier:
    """A classifier by name from :data:`MODELS`: ``fcn``, ``resnet``, ``cnn``, ``cnn-pool``, ``mlp``
    (needs ``length``) or ``lstm``. Raises ``ValueError`` for an unknown name (with the
    closest ones) and for sizes that are not whole numbers of at least 1."""
    if not isinstance(name, str):
        raise ValueError(f"the model name must be a string, one of {', '.join(MODELS)}; got {name!r}")
    sizes = dict(in_channels=in_channels, n_classes=n_classes) | ({} if length is None else dict(length=length))
    for what, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"build_model({name!r}): {what} must be a whole number of at least 1, got {value!r}")
    in_channels, n_classes = int(in_channels), int(n_classes)
    length = None if length is None else int(length)
    model = MODELS[name.lower()]
    if model is MLP:
        if length is None:
            raise ValueError("the MLP needs the series length")
        return MLP(in_channels, n_classes, length, normed_head)
    return model(in_channels, n_classes, normed_head=normed_head)
