"""Generative oversampling of series (n, channels, length): IB-GAN (Deng et al. 2022), the
cGAN, AC-GAN and BAGAN baselines, their minibatch steps for the one loop, their
registrations as grid methods, generation-quality scores and a benchmark. Oversampling in
a learned latent space (GL-GAN, Wang 2023 ch. 2; latent adversarial augmentation, Kim et
al. 2021 reconstructed) is the subpackage :mod:`tsimb.generative.latent`."""

from .bench import benchmark_gan
from .ibgan import IBGAN, IBGANSettings, IBGANStep, admissible_bound, discriminator_statistics, fit_ibgan
from .methods import GANOversamplerMethod, IBGANMethod
from .oversamplers import OVERSAMPLERS, GANSettings, TrainedGAN, fit_gan, gan_oversample
from .quality import discriminative_score, diversity, mean_pairwise_distance, tstr_per_class
from .steps import AutoencoderStep, GenerativeStep, TwoPlayerStep

__all__ = [
    "benchmark_gan", "IBGAN", "IBGANSettings", "IBGANStep", "admissible_bound", "discriminator_statistics", "fit_ibgan", "GANOversamplerMethod",
    "IBGANMethod", "OVERSAMPLERS", "GANSettings", "TrainedGAN", "fit_gan", "gan_oversample", "discriminative_score",
    "diversity", "mean_pairwise_distance", "tstr_per_class", "AutoencoderStep", "GenerativeStep", "TwoPlayerStep",
]
