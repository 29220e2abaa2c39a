"""The generative oversamplers as grid methods (:data:`tsimb.methods.METHODS`): the
two-stage GANs of Deng et al. (2022), sec. 3.1 (a GAN tops every class up to the majority,
then a classifier is trained on real plus synthetic series) and IB-GAN, whose classifier
trains jointly with its generator (sec. 2.2, eq. 2.4). Both also expose their trained
generator (``fit_generator``) for the generation-quality scores.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..data import Dataset
from ..models import build_model
from ..runtime import seed_everything
from ..train import METHODS, Budget, Method, Sampler, Trained, register
from .ibgan import IBGANSettings, fit_ibgan
from .oversamplers import OVERSAMPLERS, GANSettings, fit_gan, gan_oversample


class GANOversamplerMethod(Method):
    """A GAN oversampler (``cgan``, ``acgan``, ``bagan``) followed by a second-stage
    classifier trained without correction under the budget (Deng et al. 2022, sec. 3.1)."""

    Settings = GANSettings
    config_key = "gan"
    generative = True

    def train(self, train: Dataset, *, model: str, budget: Budget, settings: GANSettings | None = None,
              seed: int = 0, epochs: int | None = None, device: torch.device | str | None = None) -> Trained:
        settings = self.check_settings(settings)
        X, y = gan_oversample(self.name, train.X, train.y, settings=settings, seed=seed, device=device)
        oversampled = Dataset(train.name, train.split, X, y, train.class_names, train.source)
        return METHODS["none"].train(oversampled, model=model, budget=budget, seed=seed, epochs=epochs, device=device)

    def fit_generator(self, train: Dataset, *, model: str, budget: Budget, settings: GANSettings | None = None,
                      seed: int = 0, device: torch.device | str | None = None) -> Sampler:
        trained = fit_gan(self.name, train.X, train.y, settings=self.check_settings(settings), seed=seed,
                          device=device)
        return lambda X, y, sample_seed: trained.sample(y, seed=sample_seed)


class IBGANMethod(Method):
    """IB-GAN (Deng et al. 2022): the classifier ``model`` trains jointly with the imputation
    GAN. The budget sets its epochs, batch size and the classifier's learning rate
    (``IBGANSettings``' own three are replaced)."""

    Settings = IBGANSettings
    config_key = "ibgan_settings"
    generative = True

    def _fit(self, train: Dataset, model: str, budget: Budget, settings: IBGANSettings | None, seed: int,
             epochs: int | None, device: torch.device | str | None):
        settings = replace(self.check_settings(settings), epochs=budget.epochs_for(epochs),
                           batch_size=budget.batch_size, lr_c=budget.lr)
        seed_everything(seed)
        classifier = build_model(model, train.n_channels, train.n_classes, train.length)
        return fit_ibgan(train.X, train.y, n_classes=train.n_classes, classifier=classifier, settings=settings,
                         seed=seed, device=device, callbacks=budget.callbacks())

    def train(self, train: Dataset, *, model: str, budget: Budget, settings: IBGANSettings | None = None,
              seed: int = 0, epochs: int | None = None, device: torch.device | str | None = None) -> Trained:
        ibgan, history = self._fit(train, model, budget, settings, seed, epochs, device)
        return Trained(ibgan.classifier, history, {"ibgan": ibgan})

    def fit_generator(self, train: Dataset, *, model: str, budget: Budget, settings: IBGANSettings | None = None,
                      seed: int = 0, device: torch.device | str | None = None) -> Sampler:
        ibgan, _ = self._fit(train, model, budget, settings, seed, None, device)
        return lambda X, y, sample_seed: ibgan.generate(X, y, seed=sample_seed)


for _name in OVERSAMPLERS:
    register(GANOversamplerMethod(_name, OVERSAMPLERS.summary(_name) + ", then a second-stage classifier"))
register(IBGANMethod("ibgan", "IB-GAN: imputation balanced GAN, classifier trained jointly (Deng et al. 2022)"))
