"""Labels from several annotators (the crowd-labels chapter; Wang 2023, ch. 3): simulated
workers whose mistakes follow each series' difficulty, majority vote and Dawid-Skene EM
(three priors), Crowd-Layer (Rodrigues and Pereira 2018) and ICED (Wang 2023, Alg. 3.2),
all on the tidy vote table :class:`tsimb.data.Votes`.

* :mod:`.annotators`: :func:`simulate_annotators`, :func:`error_probability`,
  :func:`difficulty_from_proba`, :func:`train_reference` (the 98% reference network);
* :mod:`.aggregation`: :func:`majority_vote`, :func:`dawid_skene`, :func:`worker_confusion`,
  :func:`label_accuracy`;
* :mod:`.data`: :class:`CrowdDataset` (a data set with its votes; ``y`` = majority vote);
* :mod:`.crowd_layer`: :class:`CrowdLayer`, :class:`CrowdLayerStep`;
* :mod:`.iced`: the certainty score (eq. 3.4), the warm-up groups, the certainty-weighted
  latent SMOTE (eqs. 3.3, 3.5), synthetic votes, :func:`fit_iced`;
* :mod:`.methods`: ``mv``, ``ds-uniform``, ``ds-hard``, ``ds-soft``, ``crowd-layer`` and
  ``iced`` registered in :data:`tsimb.methods.METHODS`.
"""

from .aggregation import (PRIORS, DawidSkeneResult, check_votes, dawid_skene, label_accuracy, majority_vote,
                          one_hot, worker_confusion)
from .annotators import (AnnotatorSettings, ReferenceNetwork, difficulty_from_proba, error_probability,
                         simulate_annotators, train_reference)
from .data import CrowdDataset, subset_votes, votes_of
from .crowd_layer import CrowdLayer, CrowdLayerStep, vote_matrix
from .iced import (ICEDRun, ICEDSettings, certainty_delta, certainty_groups, certainty_score, certainty_smote,
                   fit_iced, stack_votes, synthetic_votes, warm_up_stages)
from .methods import AggregatedMethod, AggregationSettings, CrowdLayerMethod, ICEDMethod  # registers the methods

__all__ = ["PRIORS", "DawidSkeneResult", "check_votes", "dawid_skene", "label_accuracy", "majority_vote", "one_hot",
           "worker_confusion", "AnnotatorSettings", "ReferenceNetwork", "difficulty_from_proba",
           "error_probability", "simulate_annotators", "train_reference", "CrowdDataset", "subset_votes",
           "votes_of", "CrowdLayer", "CrowdLayerStep", "vote_matrix", "ICEDRun", "ICEDSettings",
           "certainty_delta", "certainty_groups", "certainty_score", "certainty_smote", "fit_iced",
           "stack_votes", "synthetic_votes", "warm_up_stages", "AggregatedMethod", "AggregationSettings",
           "CrowdLayerMethod", "ICEDMethod"]
