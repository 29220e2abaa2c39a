"""GAN oversampling of series (n, channels, length): IB-GAN (Deng et al. 2022), cGAN, AC-GAN, BAGAN, quality, bench."""

from .bench import benchmark_gan
from .ibgan import IBGAN, IBGANSettings, admissible_bound, fit_ibgan, train_ibgan
from .loop import GANDivergedError, GANHistory
from .oversamplers import OVERSAMPLERS, GANSettings, TrainedGAN, fit_gan, gan_oversample
from .quality import discriminative_score, diversity, mean_pairwise_distance, tstr_per_class

__all__ = [
    "benchmark_gan", "IBGAN", "IBGANSettings", "admissible_bound", "fit_ibgan", "train_ibgan",
    "GANDivergedError", "GANHistory", "OVERSAMPLERS", "GANSettings", "TrainedGAN", "fit_gan",
    "gan_oversample", "discriminative_score", "diversity", "mean_pairwise_distance", "tstr_per_class",
]
