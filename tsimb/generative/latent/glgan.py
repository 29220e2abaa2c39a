"""GL-GAN: Wang (2023), PhD dissertation, ch. 2 ("Generating realistic and discriminative
minority samples ... GL-GAN", SDM 2020), sec. 2.3 and Algorithm 2.1, transposed to series.

1. Pre-train the autoencoder ``E``/``Q`` on eq. 2.3 (reconstruction, clustering loss of
   eq. 2.2, regulariser): :mod:`.autoencoder`.
2. SMOTE on the minority codes until the classes balance: ``Z = Z_maj u Z_min u Z_syn``.
3. ``G`` starts as a copy of ``Q``; ``D`` and ``C`` as copies of ``E`` plus one dense layer.
   Repeat rounds of D epochs (eq. 2.4), C epochs (eq. 2.5), G epochs (eq. 2.6).
4. The synthetic minority series are ``G(Z_syn)``; the training set is
   ``X_org u G(Z_syn)``.

Ablations (registered as methods, :data:`tsimb.methods.METHODS`):

* ``gl-gan``: all of it;
* ``auto-only``: steps 1-2, then ``Q(Z_syn)`` (the dissertation's "Auto-only", sec. 2.4.3);
* ``ae-smote``: ``auto-only`` without the clustering loss (``cluster_weight = 0``: the
  dissertation's "AE" of Fig. 2.5, sec. 2.5.1); GL-GAN without the clustering loss is
  ``gl-gan`` with ``GLGANSettings(autoencoder=AutoencoderSettings(cluster_weight=0))``;
* the dissertation's cGAN ablation ("random noise as input ... minority class label",
  sec. 2.4.3) is the registered ``cgan`` (:mod:`tsimb.generative.oversamplers`: the
  naive conditional GAN of the IB-GAN chapter, BCE losses, noise shaped like a series).

Choices where the dissertation is silent or inconsistent (also :mod:`.autoencoder`'s):

* **D's output**: sec. 2.3.4 says a softmax "binary output", eqs. 2.4 and 2.6 a scalar
  least-squares target (1 real, 0 fake). We keep the least squares and give D one raw
  scalar output, as least-squares GANs do (Mao et al. 2017, a-b-c = 0-1-1).
* **C's output and eq. 2.5**: the softmax of C's logits against the one-hot label,
  squared error summed over classes (the Brier score): bounded, and a "classification
  result" as sec. 2.3.4 says. Eq. 2.7 minimises over ``theta_C`` a sum in which C appears
  only through the fakes; we train C on eq. 2.5 (real and generated series), as
  Algorithm 2.1 (line 10) and sec. 2.3.2.2 say.
* **Weights**: ``lambda`` of eqs. 2.4-2.5 (``fake_weight``) 1; ``lambda_1``, ``lambda_2``
  of eq. 2.6 (``adversarial_weight``, ``class_weight``, eq. 2.7's ``Lambda_1``,
  ``Lambda_2``) 0.1 and 0.1, so that G's reconstruction term (mean squared error, as in
  eq. 2.1) keeps it near the decoder it starts from.
* **Layers**: D's and C's extra layer is one linear map from the (tanh) code; no layer
  of E is frozen.
* **Schedule**: one ``fit`` over ``rounds * (d_epochs + c_epochs + g_epochs)`` epochs; the
  step plays D, C or G by the epoch's place in the cycle (Algorithm 2.1, lines 6-14), one
  epoch each by default, 20 rounds; no convergence test (line 15): a fixed count.
* **Minibatches**: an epoch visits ``Z`` in seeded random minibatches; D's and C's real
  term takes as many series drawn uniformly from ``X_org``; G's reconstruction term is
  the mean over the minibatch's codes that belong to ``Z_org`` (none: no term).
* **Optimiser**: Adam with DCGAN's settings (lr ``2e-4``, betas ``(0.5, 0.999)``, Radford
  et al. 2016) for the three players, as the IB-GAN chapter's GANs.
* **Decoded at the end**: ``G(Z_syn)``, the codes SMOTE drew before the GAN stage (the
  same codes G trained on). :meth:`LatentOversampler.sample` draws fresh latent-SMOTE
  codes of any class (for the generation-quality scores).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...data import Dataset
from ...train import METHODS, Budget, FitState, History, Method, Sampler, Trained, fit, register
from ..common import check_data, check_positive, start, to_device
from ..steps import GenerativeStep, adam, update
from .autoencoder import (AutoencoderSettings, EncoderHead, LatentAutoencoder, cached_fit, data_variance, decode,
                          encode, fit_latent_autoencoder, latent_smote, smote_neighbours, top_up)

Generator = Literal["gan", "decoder", "noise"]
PLAYERS = ("d", "c", "g")


@dataclass(frozen=True)
class GLGANSettings:
    """Every constant of a GL-GAN run (Wang 2023, sec. 2.3; none is given there), storable
    with ``dataclasses.asdict``: the autoencoder's (:class:`AutoencoderSettings`), SMOTE's
    ``k_neighbors``, ``generator`` (``"gan"``: GL-GAN; ``"decoder"``: decode the SMOTE codes
    with ``Q``, the "Auto-only" ablation; ``"noise"``: the dissertation's cGAN ablation, the
    same least-squares GAN without the autoencoder: ``G``, ``D`` and ``C`` randomly
    initialised, ``G`` fed ``tanh`` of white noise labelled minority, no reconstruction
    term), the GAN stage's schedule, learning rates and loss weights (see
    :mod:`tsimb.generative.latent.glgan` for each choice)."""

    autoencoder: AutoencoderSettings = AutoencoderSettings()
    k_neighbors: int = 5
    generator: Generator = "gan"
    rounds: int = 20
    d_epochs: int = 1
    c_epochs: int = 1
    g_epochs: int = 1
    batch_size: int = 32
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    lr_c: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    fake_weight: float = 1.0
    adversarial_weight: float = 0.1
    class_weight: float = 0.1

    def __post_init__(self) -> None:
        if not isinstance(self.autoencoder, AutoencoderSettings):
            raise ValueError(f"GLGANSettings.autoencoder must be AutoencoderSettings, got {self.autoencoder!r}")
        if self.generator not in ("gan", "decoder", "noise"):
            raise ValueError(f"GLGANSettings.generator must be 'gan' (GL-GAN), 'decoder' (Auto-only) or 'noise' "
                             f"(the cGAN ablation without the autoencoder), got {self.generator!r}")
        check_positive(self, ("k_neighbors", "rounds", "batch_size"), ("lr_g", "lr_d", "lr_c"))
        for name in ("d_epochs", "c_epochs", "g_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"GLGANSettings.{name} must be a non-negative integer, got {value!r}")
        if self.d_epochs + self.c_epochs + self.g_epochs == 0:
            raise ValueError("GLGANSettings: d_epochs, c_epochs and g_epochs are all 0; a round needs an epoch")
        for name in ("fake_weight", "adversarial_weight", "class_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ValueError(f"GLGANSettings.{name} must be a non-negative number, got {value!r}")


def brier(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``||softmax(C(x)) - Gamma_x||^2`` averaged over the batch: eq. 2.5's least-squares
    classification loss (Wang 2023) with the one-hot label ``Gamma``."""
    onehot = F.one_hot(labels, logits.shape[1]).to(logits.dtype)
    return ((torch.softmax(logits, dim=1) - onehot) ** 2).sum(dim=1).mean()


class GLGANStep(GenerativeStep):
    """One minibatch of GL-GAN's adversarial stage (Wang 2023, Algorithm 2.1, lines 5-15):
    the epoch's player (D, C or G, by the epoch's place in the cycle of
    ``d_epochs + c_epochs + g_epochs``) takes one step on codes ``z`` of ``Z`` and, for D
    and C, as many real series drawn from ``X_org``:

    * D, eq. 2.4: ``mean (D(x) - 1)^2 + lambda mean D(G(z))^2``;
    * C, eq. 2.5: ``brier(C(x), y) + lambda brier(C(G(z)), Gamma_z)``;
    * G, eq. 2.6: ``mean_{z in Z_org} ||G(z) - x||^2 + lambda_1 mean (D(G(z)) - 1)^2
      + lambda_2 brier(C(G(z)), Gamma_z)``.

    Its one loss (the trace) is the epoch's player's; :func:`player_traces` splits it."""

    def __init__(self, x_org: torch.Tensor, y_org: torch.Tensor, codes: torch.Tensor, code_labels: torch.Tensor,
                 generator: torch.Generator, G: nn.Module, D: nn.Module, C: nn.Module,
                 settings: GLGANSettings, n_classes: int, n_own: int | None = None) -> None:
        super().__init__(codes, code_labels, generator)
        self.x_org, self.y_org, self.n_org = x_org, y_org, int(x_org.shape[0])
        # the first n_own codes are E(X_org), in order (0 for the cGAN ablation: no code has a series)
        self.n_own = self.n_org if n_own is None else int(n_own)
        self.scale = data_variance(x_org)  # as the autoencoder's reconstruction term
        self.G, self.D, self.C, self.settings, self.n_classes = G, D, C, settings, n_classes
        self.cycle = schedule(settings)
        self.opt_d, self.opt_c = adam(D, settings.lr_d, settings.betas), adam(C, settings.lr_c, settings.betas)
        self.model, self.modules, self.optimiser = G, (G, D, C), adam(G, settings.lr_g, settings.betas)

    def __call__(self, state: FitState, batch: torch.Tensor) -> tuple[torch.Tensor, int]:
        s = self.settings
        z, gamma = self.x_all[batch], self.y_all[batch]
        player = self.cycle[state.epoch % len(self.cycle)]
        if player == "g":
            fake = self.G(z)
            own = batch < self.n_own  # Z's first n_own codes are E(X_org), in order
            rec = (F.mse_loss(fake[own], self.x_org[batch[own]]) / self.scale if bool(own.any())
                   else fake.new_zeros(()))
            loss = (rec + s.adversarial_weight * ((self.D(fake).squeeze(1) - 1) ** 2).mean()
                    + s.class_weight * brier(self.C(fake), gamma))
            return update(self.optimiser, loss).reshape(1), batch.numel()
        real = torch.randint(0, self.n_org, (batch.numel(),), generator=self.generator, device=self.device)
        xr, yr = self.x_org[real], self.y_org[real]
        with torch.no_grad():
            fake = self.G(z)
        if player == "d":
            loss = ((self.D(xr).squeeze(1) - 1) ** 2).mean() + s.fake_weight * (self.D(fake).squeeze(1) ** 2).mean()
            return update(self.opt_d, loss).reshape(1), batch.numel()
        loss = brier(self.C(xr), yr) + s.fake_weight * brier(self.C(fake), gamma)
        return update(self.opt_c, loss).reshape(1), batch.numel()


def schedule(settings: GLGANSettings) -> tuple[str, ...]:
    """The players of one round of Algorithm 2.1 (Wang 2023), one entry per epoch."""
    return ("d",) * settings.d_epochs + ("c",) * settings.c_epochs + ("g",) * settings.g_epochs


def player_traces(history: History, settings: GLGANSettings) -> dict[str, list[float]]:
    """The per-epoch losses of D, C and G (eqs. 2.4-2.6) out of a GL-GAN run's one trace."""
    cycle = schedule(settings)
    return {p: [v for e, v in enumerate(history.loss) if cycle[e % len(cycle)] == p] for p in PLAYERS}


@dataclass
class LatentOversampler:
    """A trained GL-GAN (or Auto-only) run (Wang 2023, Algorithm 2.1): the autoencoder, the
    generator that decodes codes (``G``, or ``Q`` for Auto-only), the training codes and
    labels, the SMOTE codes ``Z_syn`` and their labels, the ``k`` SMOTE used and the histories
    (``pretrain``: eq. 2.3's; ``history``: the adversarial stage's, ``traces`` per player)."""

    autoencoder: LatentAutoencoder
    generator: nn.Module
    codes: np.ndarray
    labels: np.ndarray
    synthetic_codes: np.ndarray
    synthetic_labels: np.ndarray
    k_neighbors: int
    series_shape: tuple[int, int]
    pretrain: History
    history: History | None = None
    traces: dict[str, list[float]] = field(default_factory=dict)
    modules: dict[str, nn.Module] = field(default_factory=dict)
    noise: bool = False  # the cGAN ablation: fresh codes are tanh of white noise, not latent SMOTE

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Series of latent ``codes`` through the generator (no gradient, evaluation mode)."""
        return decode(self.generator, codes, self.series_shape)

    def synthetic(self) -> tuple[np.ndarray, np.ndarray]:
        """The synthetic series ``G(Z_syn)`` and their labels (Algorithm 2.1's output)."""
        return self.decode(self.synthetic_codes), self.synthetic_labels.copy()

    def sample(self, labels: np.ndarray, seed: int = 0) -> np.ndarray:
        """One series per entry of ``labels``: a fresh latent-SMOTE code of that class among
        the training codes (sec. 2.3.1.2), decoded; seeded by ``seed``. For the cGAN ablation
        (``noise``) the code is ``tanh`` of white noise whatever the label (its G only learnt
        the classes it topped up)."""
        labels = np.asarray(labels, dtype=np.int64)
        if labels.ndim != 1:
            raise ValueError(f"labels must be a vector of class indices, got shape {labels.shape}")
        if self.noise:
            gen = torch.Generator().manual_seed(int(seed))
            codes = torch.tanh(torch.randn((labels.size, self.synthetic_codes.shape[1]), generator=gen))
            return self.decode(codes.numpy())
        counts = np.bincount(labels, minlength=int(self.labels.max()) + 1)
        new, new_labels = latent_smote(self.codes, self.labels, dict(enumerate(counts.tolist())),
                                       k_neighbors=self.k_neighbors, seed=seed)
        out = np.empty((labels.size, *self.series_shape), dtype=np.float32)
        series = self.decode(new)
        for c in np.unique(labels):  # new codes come grouped by class, in increasing order
            out[labels == c] = series[new_labels == c]
        return out


def fit_glgan(X: np.ndarray, y: np.ndarray, *, settings: GLGANSettings = GLGANSettings(), seed: int = 0,
              device: torch.device | str | None = None, progress: bool | None = None) -> LatentOversampler:
    """Train GL-GAN (Wang 2023, Algorithm 2.1) on series ``X`` ``(n, channels, length)`` with
    labels ``0..K-1``, seeded: the autoencoder (eq. 2.3; shared through
    :func:`~tsimb.generative.latent.autoencoder.cached_fit` by the runs of one split, seed and
    autoencoder settings), latent SMOTE topping every class up to the majority, then
    (``settings.generator == "gan"``) the D/C/G rounds of eqs. 2.4-2.6 through
    :func:`tsimb.train.fit`. ``"noise"`` (the cGAN ablation, sec. 2.4.3) skips the autoencoder:
    untrained networks of the same shapes, ``tanh`` of white noise as the codes of the missing
    series, no reconstruction term. Raises ``ValueError`` for bad data (every class needs two
    series: a single minority series has no SMOTE segment)."""
    X, y, k = check_data(X, y, who="GL-GAN")
    k_neighbors = smote_neighbours(np.bincount(y, minlength=k), settings.k_neighbors)
    shape = (X.shape[1], X.shape[2])
    a = settings.autoencoder
    if settings.generator == "noise":
        dev, gen = start(seed, device)
        ae = LatentAutoencoder(X.shape[1], X.shape[2], a.latent_dim, a.features, a.hidden).to(dev).eval()
        y_syn = np.concatenate([np.full(m, c, dtype=np.int64) for c, m in top_up(y, k).items()] or
                               [np.zeros(0, dtype=np.int64)])
        z_syn = torch.tanh(torch.randn((y_syn.size, a.latent_dim), generator=gen, device=dev)).cpu().numpy()
        result = LatentOversampler(ae, ae.decoder, np.zeros((0, a.latent_dim), np.float32), y, z_syn, y_syn,
                                   k_neighbors, shape, History(), noise=True)
        return _adversarial_stage(result, X, y, k, z_syn, y_syn, None, settings, seed, dev, progress)
    ae, pretrain = cached_fit("latent autoencoder", X, y, a, seed, device,
                              lambda: fit_latent_autoencoder(X, y, a, seed=seed, device=device, progress=progress))
    codes = encode(ae, X)
    z_syn, y_syn = latent_smote(codes.cpu().numpy(), y, top_up(y, k), k_neighbors=k_neighbors, seed=seed)
    result = LatentOversampler(ae, ae.decoder, codes.cpu().numpy(), y, z_syn, y_syn, k_neighbors, shape, pretrain)
    if settings.generator == "decoder":
        return result
    dev = codes.device
    return _adversarial_stage(result, X, y, k, z_syn, y_syn, codes, settings, seed, dev, progress)


def _adversarial_stage(result: LatentOversampler, X: np.ndarray, y: np.ndarray, k: int, z_syn: np.ndarray,
                       y_syn: np.ndarray, codes: torch.Tensor | None, settings: GLGANSettings, seed: int,
                       device: torch.device | str | None, progress: bool | None) -> LatentOversampler:
    """Algorithm 2.1, lines 5-15 (Wang 2023): G from ``Q``, D and C from ``E`` plus a layer,
    rounds of D, C and G epochs over ``Z`` (``E(X_org)`` first when ``codes`` is given)."""
    ae = result.autoencoder
    dev, gen = start(seed, device)  # D's and C's new layers are initialised here, seeded
    G = copy.deepcopy(ae.decoder).train()
    D, C = EncoderHead(ae, 1).to(dev), EncoderHead(ae, k).to(dev)
    x_org, y_org = to_device(X, y, dev)
    z_new, y_new = torch.as_tensor(z_syn, device=dev), torch.as_tensor(y_syn, device=dev)
    z_all = z_new if codes is None else torch.cat([codes.to(dev), z_new])
    y_all = y_new if codes is None else torch.cat([y_org, y_new])
    step = GLGANStep(x_org, y_org, z_all, y_all, gen, G, D, C, settings, k, n_own=0 if codes is None else None)
    history = fit(step, epochs=settings.rounds * len(schedule(settings)), batch_size=settings.batch_size,
                  progress=progress, desc="GL-GAN epochs")
    G.eval()
    result.generator, result.history = G, history
    result.traces = player_traces(history, settings)
    result.modules = {"generator": G, "discriminator": D, "classifier": C}
    return result


def glgan_oversample(X: np.ndarray, y: np.ndarray, *, settings: GLGANSettings = GLGANSettings(), seed: int = 0,
                     device: torch.device | str | None = None,
                     progress: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``X_org u G(Z_syn)`` (Wang 2023, sec. 2.3: the balanced training set): the real series
    first, unchanged, then the synthetic ones, every class at the majority count."""
    trained = fit_glgan(X, y, settings=settings, seed=seed, device=device, progress=progress)
    X_syn, y_syn = trained.synthetic()
    return (np.concatenate([np.asarray(X, dtype=np.float32), X_syn]),
            np.concatenate([np.asarray(y, dtype=np.int64), y_syn]))


class GLGANMethod(Method):
    """GL-GAN and its ablations as a grid method (Wang 2023, sec. 2.3-2.4): the balanced set
    ``X_org u G(Z_syn)`` (or ``Q(Z_syn)``), then the classifier ``model`` trained on it
    without correction under the budget (as ``none``). The generator's own epochs are in the
    settings, not the budget; its fit is shared by the runs of one split, settings and seed
    (:func:`~tsimb.generative.latent.autoencoder.cached_fit`). Each registration has its own
    default settings."""

    Settings = GLGANSettings
    config_key = "glgan"
    generative = True

    def __init__(self, name: str, summary: str, defaults: GLGANSettings = GLGANSettings()) -> None:
        super().__init__(name, summary)
        self.defaults = defaults

    def default_settings(self) -> GLGANSettings:
        return self.defaults

    def settings_from_config(self, config):  # a config without the key gets this name's defaults
        return self.defaults if config.get(self.config_key) is None else super().settings_from_config(config)

    def _fit(self, train: Dataset, settings: GLGANSettings | None, seed: int,
             device: torch.device | str | None) -> LatentOversampler:
        settings = self.check_settings(settings)
        return cached_fit("gl-gan", train.X, train.y, settings, seed, device,
                          lambda: fit_glgan(train.X, train.y, settings=settings, seed=seed, device=device))

    def train(self, train: Dataset, *, model: str, budget: Budget, settings: GLGANSettings | None = None,
              seed: int = 0, epochs: int | None = None, device: torch.device | str | None = None) -> Trained:
        X_syn, y_syn = self._fit(train, settings, seed, device).synthetic()
        X, y = np.concatenate([train.X, X_syn]), np.concatenate([train.y, y_syn])
        oversampled = Dataset(train.name, train.split, X, y, train.class_names, train.source)
        return METHODS["none"].train(oversampled, model=model, budget=budget, seed=seed, epochs=epochs, device=device)

    def fit_generator(self, train: Dataset, *, model: str, budget: Budget, settings: GLGANSettings | None = None,
                      seed: int = 0, device: torch.device | str | None = None) -> Sampler:
        trained = self._fit(train, settings, seed, device)
        return lambda X, y, sample_seed: trained.sample(y, seed=sample_seed)


AUTO_ONLY = GLGANSettings(generator="decoder")
AE_SMOTE = GLGANSettings(autoencoder=AutoencoderSettings(cluster_weight=0.0), generator="decoder")
GLGAN_NO_CLUSTERING = GLGANSettings(autoencoder=AutoencoderSettings(cluster_weight=0.0))
CGAN_NO_AUTOENCODER = GLGANSettings(generator="noise")
register(GLGANMethod("gl-gan", "GL-GAN: latent SMOTE on a clustered autoencoder, refined by a least-squares GAN "
                     "(Wang 2023, ch. 2)"))
register(GLGANMethod("auto-only", "GL-GAN's Auto-only ablation: latent SMOTE codes decoded by the autoencoder "
                     "(Wang 2023, sec. 2.4.3)", AUTO_ONLY))
register(GLGANMethod("gl-gan-noclu", "GL-GAN without the clustering loss (Lambda_1 = 0; Wang 2023, "
                     "sec. 2.5.1's ablation)", GLGAN_NO_CLUSTERING))
register(GLGANMethod("gl-gan-cgan", "GL-GAN's cGAN ablation: the same least-squares GAN from noise, without "
                     "the autoencoder (Wang 2023, sec. 2.4.3)", CGAN_NO_AUTOENCODER))
register(GLGANMethod("ae-smote", "Auto-only without the clustering loss: SMOTE in a plain autoencoder's latent "
                     "space (Wang 2023, Fig. 2.5)", AE_SMOTE))


def majority_region_share(synthetic: np.ndarray, X: np.ndarray, y: np.ndarray, majority: int = 0) -> float:
    """The share of ``synthetic`` minority series whose nearest real series of ``X``
    (Euclidean on the flattened series; scikit-learn's 1-NN) is of class ``majority``: how
    many generated series fall in the majority's region, what the clustering loss of eq. 2.2
    is meant to lower (Wang 2023, sec. 2.3.1 and Fig. 2.5). NaN when ``synthetic`` is empty."""
    from sklearn.neighbors import KNeighborsClassifier

    synthetic, X, y = np.asarray(synthetic), np.asarray(X), np.asarray(y)
    if len(synthetic) == 0:
        return float("nan")
    if synthetic.shape[1:] != X.shape[1:]:
        raise ValueError(f"synthetic and real series must share (channels, length): {synthetic.shape[1:]} vs "
                         f"{X.shape[1:]}")
    nearest = KNeighborsClassifier(1).fit(X.reshape(len(X), -1), y).predict(synthetic.reshape(len(synthetic), -1))
    return float(np.mean(nearest == majority))
