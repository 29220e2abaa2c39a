"""Oversampling in a learned latent space, the book's latent-space chapter:

* GL-GAN (Wang 2023, PhD dissertation, ch. 2; SDM 2020): an autoencoder with a clustering
  loss, SMOTE over the minority codes, a least-squares GAN initialised from the autoencoder
  (:mod:`.glgan`), and its ablations "Auto-only" and "AE + SMOTE";
* latent adversarial augmentation, our reconstruction of Kim et al. (2021, ACML) from its
  abstract (:mod:`.adversarial`);
* what both share: the series autoencoder, eq. 2.2's clustering loss and latent SMOTE
  (:mod:`.autoencoder`).

Importing this package registers ``gl-gan``, ``auto-only``, ``ae-smote``, ``gl-gan-noclu``,
``gl-gan-cgan`` and ``latent-adversarial`` in :data:`tsimb.methods.METHODS`.
"""

from .autoencoder import (AutoencoderSettings, EncoderHead, LatentAutoencoder, LatentAutoencoderStep, cached_fit,
                          clustering_loss, data_variance, decode, encode, fit_latent_autoencoder, latent_smote,
                          parameter_norm, smote_neighbours, top_up)
from .glgan import (GLGANMethod, GLGANSettings, GLGANStep, LatentOversampler, brier, fit_glgan, glgan_oversample,
                    majority_region_share, player_traces)
from .adversarial import (LatentAdversarialMethod, LatentAdversarialSettings, LatentAdversarialStep,
                          draw_probabilities, latent_adversarial, latent_adversarial_oversample, perturb_codes,
                          project)

__all__ = ["AutoencoderSettings", "cached_fit", "data_variance", "EncoderHead", "LatentAutoencoder",
           "LatentAutoencoderStep", "clustering_loss", "decode", "encode", "fit_latent_autoencoder", "latent_smote",
           "parameter_norm", "smote_neighbours", "top_up", "GLGANMethod", "GLGANSettings", "GLGANStep",
           "LatentOversampler", "brier", "fit_glgan", "glgan_oversample", "majority_region_share", "player_traces", "LatentAdversarialMethod",
           "LatentAdversarialSettings", "LatentAdversarialStep", "draw_probabilities", "latent_adversarial",
           "latent_adversarial_oversample", "perturb_codes", "project"]
