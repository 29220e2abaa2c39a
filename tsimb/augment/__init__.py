"""Augmentation: ODE-guided (In-Clamp/In-Sign/Out-Sign/Rand-Grad) and spectral (Spec-Den)
augmentations, the Feat-Sim loss, and training on augmented minibatches as :func:`tsimb.train.fit`
callbacks. Mixing adversarial examples (Remix, Imb-Mix) lives in :mod:`tsimb.robustness.imbmix`."""

from .ode_guided import (
    PAPER_BETA,
    PAPER_EPS,
    feat_sim_loss,
    in_clamp_grad,
    in_sign_grad,
    input_gradient_sign,
    other_class_partners,
    out_sign_grad,
    rand_grad,
    scaled_bound,
    spec_den,
    step_reach,
)
from .training import (
    AUGMENTATIONS,
    AUGMENTED_METHODS,
    NEEDS_ODENET,
    Augmentation,
    AugmentationMethod,
    AugmentedStep,
    AugmentedTraining,
    AugmentSettings,
    ODEBudget,
    TIME_UNITS,
    augment_all,
    augment_batch,
    derivative_in_unit,
    fitted_odenet,
    parse_method,
)

__all__ = ["PAPER_BETA", "PAPER_EPS", "feat_sim_loss", "in_clamp_grad", "in_sign_grad", "input_gradient_sign",
           "other_class_partners", "out_sign_grad", "rand_grad", "scaled_bound", "spec_den", "step_reach",
           "AUGMENTATIONS",
           "AUGMENTED_METHODS", "NEEDS_ODENET", "Augmentation", "AugmentationMethod", "AugmentedStep",
           "AugmentedTraining", "AugmentSettings", "ODEBudget", "TIME_UNITS", "augment_all", "augment_batch",
           "derivative_in_unit", "fitted_odenet", "parse_method"]
