"""Robustness: gradient attacks (FGSM, BIM, PGD under L-infinity and L2), robust
accuracy, the gradient-masking checks (:mod:`.masking`), and the input gradient they share with gradient-steered augmentation;
adversarial training under imbalance (PGD, DRCB, SRAT: :mod:`.training`; Imb-Mix and its
mixing baselines: :mod:`.imbmix`; registered as methods) and the Gaussian-mixture theory of
its class-wise errors (:mod:`.theory`)."""

from .attacks import (
           FAWAZ_BIM,
           FAWAZ_FGSM,
           Attack,
           accuracy_scores,
           attack_array,
           attacked_probabilities,
           bim,
           fgsm,
           members_attacked_probabilities,
           perturb,
           pgd,
           robust_accuracy,
)
from .gradients import loss_gradient
from .masking import MaskingChecks, gradient_free_sweep, masking_checks, survives, towards_other_class
from .training import (  # noqa: E402  (registers the adversarial-training methods)
    NORMED_HEAD,
    VARIANTS,
    AdversarialMethod,
    AdversarialSettings,
    AdversarialStep,
    adversarial_scores,
    paper_l2_eps,
)

__all__ = ["FAWAZ_BIM", "FAWAZ_FGSM", "Attack", "accuracy_scores", "attack_array", "attacked_probabilities", "bim", "fgsm",
           "members_attacked_probabilities", "perturb", "pgd",
           "robust_accuracy", "loss_gradient", "MaskingChecks", "masking_checks", "survives",
           "gradient_free_sweep", "towards_other_class", "NORMED_HEAD", "VARIANTS", "AdversarialMethod",
           "AdversarialSettings", "AdversarialStep", "adversarial_scores", "paper_l2_eps"]

from . import imbmix  # noqa: E402,F401  (registers Imb-Mix and its mixing baselines)
