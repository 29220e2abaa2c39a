"""The crowd-label methods as grid entries of :data:`tsimb.methods.METHODS` (Wang 2023,
ch. 3, sec. 3.3.2.1 and sec. 3.2):

=================  ==============================================================
method             what it trains on
=================  ==============================================================
``mv``             a classifier on the majority vote
``ds-uniform``     a classifier on Dawid-Skene labels, uniform fixed prior
``ds-hard``        ... learned prior from hard labels (the dissertation's counts)
``ds-soft``        ... soft EM with a learned prior (crowd-kit's)
``crowd-layer``    a classifier with a crowd layer on the raw votes (Rodrigues and
                   Pereira 2018)
``iced``           ICED (Wang 2023, Alg. 3.2)
=================  ==============================================================

Each reads the votes of its training set with :func:`~tsimb.crowd.votes_of`: a
:class:`~tsimb.crowd.CrowdDataset`'s own, or a plain data set's labels as one worker's.
The aggregating methods train the ``none`` classic method on their labels, so they differ
from it only in the labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import Dataset
from ..models import build_model
from ..runtime import seed_everything
from ..train import METHODS, Budget, Method, Trained, fit, register
from .aggregation import PRIORS, dawid_skene, majority_vote
from .crowd_layer import CrowdLayerStep, vote_matrix
from .data import CrowdDataset, votes_of
from .iced import ICEDSettings, fit_iced


@dataclass(frozen=True)
class AggregationSettings:
    """The aggregators' constants: Dawid-Skene's most iterations and tolerance
    (:func:`~tsimb.crowd.dawid_skene`), majority vote's tie rule (:func:`~tsimb.crowd.majority_vote`)."""

    n_iter: int = 100
    tol: float = 1e-5
    ties: str = "random"


class AggregatedMethod(Method):
    """Aggregate the votes (majority vote, or Dawid-Skene with one of its priors), then train
    a classifier without correction on those labels (MV + DNN, D&S + DNN of Wang 2023,
    Table 3.2). ``extras``: the ``labels`` trained on, and ``dawid_skene`` (its result)."""

    Settings = AggregationSettings
    config_key = "aggregation"

    def __init__(self, name: str, summary: str, prior: str | None) -> None:
        super().__init__(name, summary)
        self.prior = prior

    def train(self, train: Dataset, *, model: str, budget: Budget, settings: AggregationSettings | None = None,
              seed: int = 0, epochs: int | None = None, device: torch.device | str | None = None) -> Trained:
        settings = self.check_settings(settings)
        votes = votes_of(train)
        extras: dict = {}
        if self.prior is None:
            labels = majority_vote(votes, ties=settings.ties, seed=seed)
        else:
            result = dawid_skene(votes, prior=self.prior, n_iter=settings.n_iter, tol=settings.tol, seed=seed)
            labels, extras["dawid_skene"] = result.labels, result
        extras["labels"] = labels
        relabelled = Dataset(train.name, train.split, train.X, labels, train.class_names, train.source)
        trained = METHODS["none"].train(relabelled, model=model, budget=budget, seed=seed, epochs=epochs,
                                        device=device)
        trained.extras.update(extras)
        return trained


class CrowdLayerMethod(Method):
    """Crowd-Layer (Rodrigues and Pereira 2018): ``model`` plus one identity-initialised
    ``K x K`` matrix per worker, trained on the raw votes (missing ones masked) under the
    budget's epochs, batch size, learning rate and weight decay (its callbacks too).
    ``extras["crowd_layer"]``: the trained layer (``.confusion()``) and ``workers``, the
    worker ids of its matrices."""

    def train(self, train: Dataset, *, model: str, budget: Budget, settings: None = None, seed: int = 0,
              epochs: int | None = None, device: torch.device | str | None = None) -> Trained:
        self.check_settings(settings)
        matrix, workers = vote_matrix(votes_of(train))
        seed_everything(seed)
        classifier = build_model(model, train.n_channels, train.n_classes, train.length)
        step = CrowdLayerStep(classifier, train.X, matrix, train.n_classes, lr=budget.lr,
                              weight_decay=budget.weight_decay, seed=seed, device=device)
        history = fit(step, epochs=budget.epochs_for(epochs), batch_size=budget.batch_size_for(len(train)),
                      callbacks=budget.callbacks())
        return Trained(classifier, history, {"crowd_layer": step.crowd, "workers": workers})


class ICEDMethod(Method):
    """ICED (Wang 2023, Alg. 3.2) under the budget: its epochs are all classifier epochs
    (warm-up, then one round per ``epochs_per_round``), with its batch size, learning rate
    and weight decay; the budget's callbacks are not applied (every stage is its own
    :func:`~tsimb.train.fit` call). ``extras["iced"]``: the :class:`~tsimb.crowd.ICEDRun`
    (label accuracy per round when the training set knows its true labels)."""

    Settings = ICEDSettings
    config_key = "iced"

    def train(self, train: Dataset, *, model: str, budget: Budget, settings: ICEDSettings | None = None,
              seed: int = 0, epochs: int | None = None, device: torch.device | str | None = None) -> Trained:
        settings = self.check_settings(settings)
        seed_everything(seed)
        classifier = build_model(model, train.n_channels, train.n_classes, train.length)
        true_y = train.true_y if isinstance(train, CrowdDataset) else None
        run = fit_iced(classifier, train.X, votes_of(train), settings=settings, epochs=budget.epochs,
                       stop_after=epochs, batch_size=budget.batch_size_for(len(train)), lr=budget.lr,
                       weight_decay=budget.weight_decay, true_y=true_y, seed=seed, device=device)
        return Trained(classifier, run.history, {"iced": run})


register(AggregatedMethod("mv", "majority vote, then a classifier (MV + DNN, Wang 2023, Table 3.2)", None))
for _prior, _what in zip(PRIORS, ("fixed uniform prior", "prior learned from hard labels (Wang 2023, sec. 3.2.3)",
                                   "soft EM with a learned prior (crowd-kit)")):
    register(AggregatedMethod(f"ds-{_prior}", f"Dawid-Skene labels ({_what}), then a classifier", _prior))
register(CrowdLayerMethod("crowd-layer", "Crowd-Layer: a classifier with one matrix per worker, trained on the votes "
                          "(Rodrigues and Pereira 2018)"))
register(ICEDMethod("iced", "ICED: certainty warm-up, latent SMOTE with synthetic votes, Dawid-Skene rounds "
                    "(Wang 2023, Alg. 3.2)"))
