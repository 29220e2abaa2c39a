"""The latent space both latent-space oversamplers share: a series autoencoder ``E``/``Q``
trained with reconstruction plus GL-GAN's clustering loss, and SMOTE over its codes.

* Wang (2023), PhD dissertation, ch. 2 (GL-GAN, SDM 2020), sec. 2.3.1: eq. 2.1
  (reconstruction), eq. 2.2 (clustering: pull each class's codes to its centre, push the
  centres apart), eq. 2.3 (``L_A = L_rec + Lambda_1 L_clu + Lambda_2 R(theta)``) and
  sec. 2.3.1.2 (SMOTE in the latent space).
* The autoencoder of Kim et al. (2021), "Augmenting Imbalanced Time-series Data via
  Adversarial Perturbation in Latent Space" (ACML), whose paper we only have the abstract
  of: the same network with the clustering weight at 0 (:mod:`.adversarial`).

Choices where the dissertation is silent or wrong (the chapter lists them):

* **Network**: BAGAN's series autoencoder of :mod:`tsimb.generative.networks` (dilated
  convolutions, a linear map to the code; the decoder interpolates a coarse sequence to
  the series' length), with a ``tanh`` on the code (:class:`LatentAutoencoder`). The
  bound is not decoration: eq. 2.2's push term ``-lambda_2 ||z_maj - z_min||^2`` is
  unbounded below, and reconstruction is unchanged when the codes are scaled up and the
  decoder's first layer scaled down, so with unbounded codes eq. 2.3 has no minimum and
  the codes run away. Inside ``[-1, 1]^d`` the push term is at least ``-4 d lambda_2``.
* **R(theta)**: the dissertation calls it "the regularizer of the model parameters": the
  squared L2 norm of every parameter of E and Q (weight decay written into the loss, so the
  logged loss is eq. 2.3), ``Lambda_2 = param_weight = 1e-6``.
* **Weights**: ``Lambda_1 = cluster_weight = 0.005``, ``lambda_1 = minority_weight = 1``,
  ``lambda_2 = push_weight = 0.1`` (:class:`AutoencoderSettings`: measured on the digits
  stand-in, where heavier weights collapse each class to a point; see there). The dissertation reuses the symbols lambda/Lambda for different
  weights in eqs. 2.2-2.7; ours have names.
* **Eq. 2.2's typo**: its minority sum runs over ``x_j`` but reads ``E(x_i)``; it is
  ``E(x_j)``.
* **Minibatches**: eq. 2.2 needs both class centres, but at the dissertation's ratio
  ``r = 0.01`` most minibatches hold no minority series. The reconstruction term uses the
  epoch's minibatch; the clustering term a class-balanced draw of as many series (each
  class equally likely, series uniform within it, with replacement, from the run's seeded
  generator), so each class's centre and spread are estimated on every step.
* **More than two classes** (the dissertation is binary): the largest class is the
  "majority" with weight 1, every other class gets ``lambda_1``, and the push term is the
  mean squared distance over pairs of class centres (for two classes exactly eq. 2.2).
* **Reconstruction**: mean squared error over entries divided by the training series'
  variance (eq. 2.1 sums squared errors over a sample's entries): the mean makes the
  weights independent of the series' length, the division independent of the data's scale
  (1 on z-normalised series; the digits' pixels in [0, 1] have a variance of about 0.14),
  so one set of weights serves every data set. GL-GAN's G uses the same (eq. 2.6).
* **Optimiser**: Adam (lr ``1e-3``), 100 epochs of minibatches of 32; no stopping rule
  (on the digits, 50 epochs left the decoded latent-SMOTE "7"s at a diversity of 0.12 of
  the real ones', 100 at 0.51).
* **SMOTE** (sec. 2.3.1.2): imbalanced-learn's, on the codes, topping every class up to the
  majority count: it draws the base code uniformly, so each minority code is the base of
  ``N = (n_maj - n_min) / n_min`` new codes on average rather than exactly ``N``; ``k``
  is lowered to ``n_min - 1`` for a class with fewer than ``k + 1`` series (a class of one
  series has no segment to draw on and raises :class:`~tsimb.data.TooFewSeriesError`).
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...data import TooFewSeriesError
from ...runtime import evaluating
from ...train import FitState, History, fit
from ..common import check_data, check_positive, start, to_device
from ..networks import Autoencoder
from ..steps import GenerativeStep, adam, update

CHUNK = 512  # series encoded or decoded per forward pass outside training
CACHE_SIZE = 4  # fitted generators kept: a grid cell trains several classifiers on one split
T = TypeVar("T")
_CACHE: OrderedDict[tuple, Any] = OrderedDict()


@dataclass(frozen=True)
class AutoencoderSettings:
    """Every constant of a latent autoencoder fit (Wang 2023, sec. 2.3.1, eq. 2.3), storable
    with ``dataclasses.asdict``. The dissertation gives none of them.

    ``cluster_weight`` is eq. 2.3's ``Lambda_1`` (0: a plain autoencoder, the dissertation's
    "AE" of Fig. 2.5 and Kim et al.'s autoencoder), ``minority_weight`` and ``push_weight``
    eq. 2.2's ``lambda_1`` and ``lambda_2``, ``param_weight`` eq. 2.3's ``Lambda_2`` on
    ``R(theta) = sum ||theta||^2``.

    Measured on the 8x8 digits, "4" (181) against "7" at ``r = 0.1`` (18;
    :func:`tsimb.data.load_digits_pair`, :func:`tsimb.data.binary_pair`), 100 epochs, seed 0;
    "separation" is the distance between the class centres over the mean within-class
    spread, "diversity" the decoded latent-SMOTE minority series' mean pairwise distance
    over the real minority's:

    ===============================  ==========  ==============  =========  =========
    ``cluster_weight, push_weight``  separation  reconstruction  diversity  saturated
    ===============================  ==========  ==============  =========  =========
    0 (plain autoencoder)            2.3         0.071           0.59       1%
    0.005, 0.1 (the default)         5.4         0.073           0.51       2%
    0.01, 0.1                        9.8         0.098           0.28       24%
    ===============================  ==========  ==============  =========  =========

    (reconstruction relative to the data's variance; saturated: codes with ``|z| > 0.99``).
    Heavier weights (``0.1, 0.1`` and up, measured before the reconstruction was scaled)
    collapse each class onto one corner of the tanh cube: the decoded minority series are
    copies of one another (diversity 0). No latent-SMOTE code fell nearer a majority code
    in any of these runs: the digits are separable without the clustering loss.
    """

    latent_dim: int = 16
    features: int = 64
    hidden: int = 32
    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    cluster_weight: float = 0.005
    minority_weight: float = 1.0
    push_weight: float = 0.1
    param_weight: float = 1e-6

    def __post_init__(self) -> None:
        check_positive(self, ("latent_dim", "features", "hidden", "epochs", "batch_size"), ("lr",))
        for name in ("cluster_weight", "minority_weight", "push_weight", "param_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"AutoencoderSettings.{name} must be a non-negative number, got {value!r}")


class LatentAutoencoder(Autoencoder):
    """BAGAN's series autoencoder (:class:`tsimb.generative.networks.Autoencoder`) with codes
    bounded by ``tanh`` to ``[-1, 1]^latent_dim``: the encoder ``E`` and decoder ``Q`` of
    Wang (2023), sec. 2.3.1 (see the module docstring for why the bound)."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(super().encode(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


class EncoderHead(nn.Module):
    """A copy of the encoder ``E`` plus one dense layer with ``outputs`` outputs: GL-GAN's
    discriminator (one output) and classifier (one per class), initialised from the
    pre-trained encoder (Wang 2023, sec. 2.3.4). The encoder's ``tanh`` is the activation
    before the new layer. Returns raw outputs (no softmax)."""

    def __init__(self, autoencoder: LatentAutoencoder, outputs: int) -> None:
        super().__init__()
        import copy

        self.trunk = copy.deepcopy(autoencoder.trunk)
        self.to_latent = copy.deepcopy(autoencoder.to_latent)
        self.head = nn.Linear(self.to_latent.out_features, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.to_latent(self.trunk(x))))


def clustering_loss(codes: torch.Tensor, labels: torch.Tensor, n_classes: int, majority: int, *,
                    minority_weight: float = 1.0, push_weight: float = 1.0) -> torch.Tensor:
    """Eq. 2.2 of Wang (2023): the majority's mean squared distance to its centre, plus
    ``minority_weight`` (``lambda_1``) times the minority's (the typo ``E(x_i)`` read as
    ``E(x_j)``), minus ``push_weight`` (``lambda_2``) times the squared distance between the
    two centres. Centres are the means of the given codes of each class. With more than two
    classes, every class but ``majority`` is weighted ``lambda_1`` and the push term is the
    mean over pairs of centres; classes absent from ``labels`` are left out."""
    onehot = F.one_hot(labels, n_classes).to(codes.dtype)
    counts = onehot.sum(dim=0)
    present = counts > 0
    centres = onehot.T @ codes / counts.clamp_min(1.0)[:, None]
    spread = (onehot * ((codes - centres[labels]) ** 2).sum(dim=1, keepdim=True)).sum(dim=0) / counts.clamp_min(1.0)
    weights = torch.full((n_classes,), float(minority_weight), dtype=codes.dtype, device=codes.device)
    weights[majority] = 1.0
    pull = (weights * spread)[present].sum()
    kept = centres[present]
    if kept.shape[0] < 2:
        return pull
    gaps = ((kept[:, None] - kept[None]) ** 2).sum(dim=-1)  # squared distances (no sqrt: smooth at 0)
    pairs = torch.triu_indices(kept.shape[0], kept.shape[0], offset=1, device=codes.device)
    return pull - push_weight * gaps[pairs[0], pairs[1]].mean()


def data_variance(x: torch.Tensor) -> float:
    """The variance of every entry of the training series (floored at 1e-8): what the
    reconstruction error is divided by (see the module docstring; Wang 2023, eq. 2.1)."""
    return max(float(x.var()), 1e-8) if x.numel() > 1 else 1.0


def parameter_norm(module: nn.Module) -> torch.Tensor:
    """``R(theta) = sum ||theta||^2`` over ``module``'s parameters (Wang 2023, eq. 2.3)."""
    return torch.stack([p.pow(2).sum() for p in module.parameters()]).sum()


class LatentAutoencoderStep(GenerativeStep):
    """One minibatch of eq. 2.3 (Wang 2023): ``L_rec`` (eq. 2.1, mean squared error over
    the data's variance) on the
    epoch's minibatch, ``Lambda_1 L_clu`` (eq. 2.2) on a class-balanced draw of as many
    series, ``Lambda_2 R(theta)``; one Adam step. Losses: ``loss`` (eq. 2.3, the trace),
    ``reconstruction``, ``clustering``, ``regulariser``."""

    loss_names = ("loss", "reconstruction", "clustering", "regulariser")

    def __init__(self, x_all: torch.Tensor, y_all: torch.Tensor, generator: torch.Generator,
                 autoencoder: LatentAutoencoder, settings: AutoencoderSettings, n_classes: int) -> None:
        super().__init__(x_all, y_all, generator)
        counts = torch.bincount(y_all, minlength=n_classes).to(torch.float32)
        self.n_classes, self.settings, self.majority = n_classes, settings, int(counts.argmax())
        self.balanced = (1.0 / (n_classes * counts))[y_all]  # each class equally likely in the draw
        self.model, self.modules = autoencoder, (autoencoder,)
        self.optimiser = adam(autoencoder, settings.lr, (0.9, 0.999))
        self.scale = data_variance(x_all)

    def __call__(self, state: FitState, batch: torch.Tensor) -> tuple[torch.Tensor, int]:
        s, ae = self.settings, self.model
        xb = self.x_all[batch]
        rec = F.mse_loss(ae.decode(ae.encode(xb)), xb) / self.scale
        clu = rec.new_zeros(())
        if s.cluster_weight > 0:
            pick = torch.multinomial(self.balanced, batch.numel(), replacement=True, generator=self.generator)
            clu = clustering_loss(ae.encode(self.x_all[pick]), self.y_all[pick], self.n_classes, self.majority,
                                  minority_weight=s.minority_weight, push_weight=s.push_weight)
        reg = parameter_norm(ae) if s.param_weight > 0 else rec.new_zeros(())
        loss = update(self.optimiser, rec + s.cluster_weight * clu + s.param_weight * reg)
        return torch.stack([loss, rec.detach(), clu.detach(), reg.detach()]), batch.numel()


def fit_latent_autoencoder(X: np.ndarray, y: np.ndarray, settings: AutoencoderSettings = AutoencoderSettings(), *,
                           seed: int = 0, device: torch.device | str | None = None,
                           progress: bool | None = None) -> tuple[LatentAutoencoder, History]:
    """Train a :class:`LatentAutoencoder` on series ``X`` ``(n, channels, length)`` with labels
    ``y`` by eq. 2.3 of Wang (2023) through :func:`tsimb.train.fit`, seeded (the network is
    initialised after ``seed_everything(seed)``). Returns it in evaluation mode with its
    per-epoch losses. Raises ``ValueError`` for bad series or labels (every class needs two
    series)."""
    X, y, k = check_data(X, y, who="the latent autoencoder")
    dev, gen = start(seed, device)
    ae = LatentAutoencoder(X.shape[1], X.shape[2], settings.latent_dim, settings.features, settings.hidden).to(dev)
    x_all, y_all = to_device(X, y, dev)
    history = fit(LatentAutoencoderStep(x_all, y_all, gen, ae, settings, k), epochs=settings.epochs,
                  batch_size=settings.batch_size, progress=progress, desc="latent autoencoder epochs")
    return ae.eval(), history


@torch.no_grad()
def encode(autoencoder: LatentAutoencoder, X: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Codes ``E(x)`` of series ``X`` in evaluation mode, on the autoencoder's device."""
    device = next(autoencoder.parameters()).device
    x = torch.as_tensor(X, dtype=torch.float32, device=device)
    with evaluating(autoencoder):
        return torch.cat([autoencoder.encode(xb) for xb in x.split(CHUNK)]) if len(x) else x.new_zeros(
            0, autoencoder.to_latent.out_features)


@torch.no_grad()
def decode(decoder: nn.Module, codes: np.ndarray | torch.Tensor, shape: tuple[int, int]) -> np.ndarray:
    """Series ``Q(z)`` (or ``G(z)``) ``(n, *shape)`` of ``codes``, in evaluation mode, as numpy."""
    device = next(decoder.parameters()).device
    z = torch.as_tensor(codes, dtype=torch.float32, device=device)
    if not len(z):
        return np.zeros((0, *shape), dtype=np.float32)
    with evaluating(decoder):
        return torch.cat([decoder(zb) for zb in z.split(CHUNK)]).cpu().numpy()


def smote_neighbours(counts: np.ndarray, k_neighbors: int) -> int:
    """The ``k`` latent SMOTE uses (Wang 2023, sec. 2.3.1.2): ``k_neighbors``, lowered to
    ``n_min - 1`` when the smallest class has fewer than ``k + 1`` series; a class of a
    single series raises :class:`~tsimb.data.TooFewSeriesError`."""
    present = counts[counts > 0]
    smallest = int(present.min())
    if smallest < 2:
        raise TooFewSeriesError(
            f"latent SMOTE draws a new code on the segment between a code and one of its nearest codes of the "
            f"same class, but classes {np.flatnonzero(counts == 1).tolist()} have a single series; use a milder "
            "imbalance ratio, or random over-sampling for such a class")
    return min(int(k_neighbors), smallest - 1)


def latent_smote(codes: np.ndarray, labels: np.ndarray, targets: dict[int, int], *, k_neighbors: int = 5,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """New codes by SMOTE within each class (Wang 2023, sec. 2.3.1.2; Chawla et al. 2002):
    ``z' = z_i + eta (z_i^n - z_i)``, ``z_i^n`` one of the ``k`` nearest codes of ``z_i``'s
    class, ``eta ~ U[0, 1)``; ``targets[c]`` new codes of class ``c`` (classes in increasing
    order, so the output is grouped by class). imbalanced-learn's ``SMOTE`` does the drawing
    (seeded by ``seed``); ``k`` as :func:`smote_neighbours`. Returns ``(new codes, labels)``."""
    from imblearn.over_sampling import SMOTE

    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels)
    wanted = {int(c): int(m) for c, m in sorted(targets.items()) if m > 0}
    if not wanted:
        return np.zeros((0, codes.shape[1]), dtype=np.float32), np.zeros(0, dtype=np.int64)
    unknown = [c for c in wanted if c >= counts.size or counts[c] == 0]
    if unknown:
        raise ValueError(f"latent SMOTE was asked for codes of classes {unknown}, which have no series")
    k = smote_neighbours(np.array([counts[c] for c in wanted]), k_neighbors)
    if len(np.unique(labels)) < 2:  # imbalanced-learn refuses a single class: add a dummy one it leaves alone
        codes = np.concatenate([codes, codes[:1]])
        labels = np.concatenate([labels, [labels.max() + 1]])
        counts = np.bincount(labels)
    strategy = {c: int(counts[c]) + m for c, m in wanted.items()}
    new, new_labels = SMOTE(k_neighbors=k, sampling_strategy=strategy, random_state=seed).fit_resample(codes, labels)
    return new[len(codes):].astype(np.float32), new_labels[len(codes):].astype(np.int64)


def top_up(labels: np.ndarray, n_classes: int | None = None) -> dict[int, int]:
    """How many new codes each class needs to reach the majority count (Wang 2023, sec.
    2.3.1.2: "until balanced")."""
    counts = np.bincount(labels, minlength=n_classes or 0)
    return {c: int(counts.max() - n) for c, n in enumerate(counts) if counts.max() > n}



def cached_fit(kind: str, X: np.ndarray, y: np.ndarray, settings: object, seed: int, device: object,
               fit_fn: Callable[[], T]) -> T:
    """``fit_fn()``, or its result for the same ``kind``, series, labels, settings, seed and
    device if one of the last few calls had them. Fits are seeded and deterministic, so a grid
    that trains several classifiers on one split (the dissertation's MLP, LinearSVC and
    AdaBoost, sec. 2.4.1.2) fits its generator once. The result is shared: do not change it."""
    from ...runtime import get_device

    digest = hashlib.sha1(np.ascontiguousarray(X, dtype=np.float32).tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    key = (kind, digest.hexdigest(), tuple(np.shape(X)), settings, int(seed), str(get_device(device)))
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    value = fit_fn()
    _CACHE[key] = value
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value
