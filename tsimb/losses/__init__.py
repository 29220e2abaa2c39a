"""Losses: per-sample losses for imbalanced classification (focal, class-balanced,
LDAM), class-weight rules and the deferred re-weighting schedule, each in :data:`LOSSES`;
contrastive losses on a batch's features (SRAT's feature separation loss)."""

from .contrastive import separation_loss
from .imbalance import (
    LOSSES,
    CrossEntropy,
    DeferredReweighting,
    FocalLoss,
    LDAMLoss,
    SigmoidFocalLoss,
    class_balanced_weights,
    inverse_frequency_weights,
    make_loss,
)

__all__ = ["LOSSES", "CrossEntropy", "DeferredReweighting", "FocalLoss", "LDAMLoss", "SigmoidFocalLoss",
           "class_balanced_weights", "inverse_frequency_weights", "make_loss", "separation_loss"]
