"""Robustness: gradient attacks (FGSM, BIM, PGD under L-infinity and L2), robust
accuracy, and the input gradient they share with gradient-steered augmentation.
Adversarial training of later chapters goes here too."""

from .attacks import (
           FAWAZ_BIM,
           FAWAZ_FGSM,
           Attack,
           attack_array,
           bim,
           fgsm,
           perturb,
           pgd,
           robust_accuracy,
)
from .gradients import loss_gradient

__all__ = ["FAWAZ_BIM", "FAWAZ_FGSM", "Attack", "attack_array", "bim", "fgsm", "perturb", "pgd",
           "robust_accuracy", "loss_gradient"]
