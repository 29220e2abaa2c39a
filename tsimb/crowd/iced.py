"""ICED: learning from imbalanced crowd-labelled data (Wang 2023, ch. 3, sec. 3.2,
Algorithms 3.1-3.2; SDM 2022). No official code exists; every constant the text leaves
open is a field of :class:`ICEDSettings` with the choice documented there.

The pieces:

* :func:`certainty_score`, the label certainty score (eq. 3.4), and
  :func:`certainty_groups`, the four groups of the warm-up (Alg. 3.1);
* :func:`warm_up_stages`, the warm-up order (third-highest, second-highest, highest group;
  the lowest left out) and the two warm-ups Table 3.3 compares it with;
* :func:`certainty_smote`, SMOTE in a latent space with the certainty-weighted step
  ``delta`` of eq. 3.5 over the estimated minority (eq. 3.3), and :func:`synthetic_votes`,
  each worker's vote on a synthetic series copied from its votes on the k nearest real ones;
* :func:`fit_iced`, the loop of Alg. 3.2: Dawid-Skene on the real votes, then per round:
  synthesise in the latent space, decode, Dawid-Skene on the augmented table, train.

**Latent space.** The dissertation embeds with the classifier's own feature extractor and
decodes with "a pre-trained decoder"; a decoder can only invert the encoder it was trained
with, and the classifier changes every round, so here one autoencoder
(:class:`tsimb.generative.networks.Autoencoder`, trained by
:class:`tsimb.generative.steps.AutoencoderStep` on the training series) embeds and decodes,
fixed for the run. After the latent-space chapter's module (``tsimb/generative/latent.py``)
is merged, ICED should take its autoencoder and latent SMOTE from there; the
certainty-weighted step is what stays here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import torch
from sklearn.neighbors import NearestNeighbors

from ..data.votes import Votes
from ..runtime import evaluating, get_device
from ..train import ClassifierStep, History, fit
from .aggregation import PRIORS, check_votes, dawid_skene, label_accuracy, majority_vote

WarmUp = Literal["iced", "all", "top"]
WARM_UPS: tuple[str, ...] = ("iced", "all", "top")
Grouping = Literal["levels", "quantiles"]


@dataclass(frozen=True)
class ICEDSettings:
    """Every constant of an ICED run. The dissertation gives none of them; our choices:

    Attributes:
        eps: ``epsilon`` of eq. 3.4. A unanimous series scores ``1/eps``; 0.1 keeps that at 10
            against ~2.9 for one dissent among 7 workers and ~1.7 for a two-class tie, so
            ``delta`` of eq. 3.5 stays roughly within [0.15, 0.85] instead of collapsing to 0
            or 1 (which a tiny eps such as 1e-8 would do whenever one side is unanimous).
        eta: ``eta`` of eq. 3.5 is drawn from ``U(-eta, eta)``; ``delta`` is then clipped to
            [0, 1], the range eq. 3.3 states (the text lets it exceed 1).
        k_smote: neighbours among the same estimated class for interpolation (SMOTE's 5).
        k_votes: real neighbours whose workers' votes make a synthetic series' votes.
        grouping: how the warm-up's four certainty groups are formed (see
            :func:`certainty_groups`): ``"levels"``, the distinct agreement levels, or
            ``"quantiles"``.
        warm_up: ``"iced"`` (Alg. 3.1), ``"all"`` (Table 3.3's Trad-I) or ``"top"`` (Trad-II).
        warmup_epochs: epochs per certainty group (Table 3.3: 5 or 2); Trad-I and Trad-II train
            three times as many in one stage.
        epochs_per_round: classifier epochs per ICED round ("in each training epoch",
            sec. 3.2.6: one). Rounds fill the budget's epochs after the warm-up.
        ds_prior: the Dawid-Skene variant (:func:`~tsimb.crowd.dawid_skene`); ``"hard"`` is
            the count updates of sec. 3.2.3.
        ds_iter: Dawid-Skene's most iterations (its tolerance stays the default).
        latent_dim, ae_epochs, ae_lr: the autoencoder's code size, epochs and Adam step.
    """

    eps: float = 0.1
    eta: float = 0.1
    k_smote: int = 5
    k_votes: int = 5
    grouping: Grouping = "levels"
    warm_up: WarmUp = "iced"
    warmup_epochs: int = 2
    epochs_per_round: int = 1
    ds_prior: str = "hard"
    ds_iter: int = 50
    latent_dim: int = 16
    ae_epochs: int = 50
    ae_lr: float = 1e-3

    def __post_init__(self) -> None:
        if not self.eps > 0:
            raise ValueError(f"eps must be positive, got {self.eps!r}")
        if not 0 <= self.eta <= 1:
            raise ValueError(f"eta must be in [0, 1], got {self.eta!r}")
        for name in ("k_smote", "k_votes", "warmup_epochs", "epochs_per_round", "ds_iter", "latent_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.ae_epochs, bool) or not isinstance(self.ae_epochs, (int, np.integer)) or self.ae_epochs < 0:
            raise ValueError(f"ae_epochs must be a non-negative integer, got {self.ae_epochs!r}")
        if self.grouping not in ("levels", "quantiles"):
            raise ValueError(f"grouping must be 'levels' or 'quantiles', got {self.grouping!r}")
        if self.warm_up not in WARM_UPS:
            raise ValueError(f"warm_up must be one of {WARM_UPS}, got {self.warm_up!r}")
        if self.ds_prior not in PRIORS:
            raise ValueError(f"ds_prior must be one of {PRIORS}, got {self.ds_prior!r}")


def certainty_score(votes: Votes, eps: float = 0.1) -> np.ndarray:
    """The label certainty score of each series (Wang 2023, eq. 3.4): the inverse of the
    spread of its one-hot votes around their mean, ``S = 1 / (E_u ||y_u - E_u y||^2 + eps)``,
    which for one-hot votes with shares ``p`` is ``1 / (1 - sum_c p_c^2 + eps)``. Highest
    (``1/eps``) when the workers agree, lowest at a tie. ``eps``: see :class:`ICEDSettings`."""
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    shares = check_votes(votes).shares().astype(np.float64)
    return 1.0 / (1.0 - (shares ** 2).sum(axis=1) + eps)


def certainty_groups(scores: np.ndarray, how: Grouping = "levels") -> np.ndarray:
    """The warm-up's four certainty groups (Wang 2023, Alg. 3.1 line 4), as a group per series:
    3 = highest, 2 = second-highest, 1 = third-highest, 0 = low (left out of the warm-up).

    The text does not say how the groups are cut. ``how="levels"`` (default): the three
    highest distinct scores are groups 3, 2, 1 and every lower score is group 0; with W
    workers on two classes the scores take ``floor(W/2) + 1`` values (4 for W = 7: 7-0, 6-1,
    5-2 and 4-3 splits), so for W = 7 the groups are exactly the agreement levels, and for
    W = 9, 11 the lower levels are pooled into the low group. Fewer than four levels leave
    the lower groups empty. ``how="quantiles"``: quartiles of the scores' ranks (ties
    broken by position), four groups of equal size whatever the ties. Either way every
    series is in exactly one group.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0 or not np.isfinite(scores).all():
        raise ValueError("certainty scores must be a non-empty finite vector")
    if how == "levels":
        levels = np.unique(np.round(scores, 9))[::-1]  # rounding: equal splits must compare equal
        group = np.zeros(scores.size, dtype=np.int64)
        for rank, level in enumerate(levels[:3]):
            group[np.isclose(scores, level, rtol=0, atol=1e-9)] = 3 - rank
        return group
    if how == "quantiles":
        order = np.argsort(scores, kind="stable")
        group = np.empty(scores.size, dtype=np.int64)
        group[order] = np.arange(scores.size) * 4 // scores.size
        return group
    raise ValueError(f"how must be 'levels' or 'quantiles', got {how!r}")


def warm_up_stages(groups: np.ndarray, warm_up: WarmUp = "iced", epochs_per_group: int = 2
                   ) -> list[tuple[np.ndarray, int]]:
    """The warm-up as ``(series indices, epochs)`` stages (Wang 2023, Alg. 3.1; Table 3.3):
    ``"iced"``: group 1 (third-highest), then 2, then 3 (highest), ``epochs_per_group`` each;
    ``"all"`` (Trad-I): every series at once; ``"top"`` (Trad-II): groups 1-3 at once; both
    for ``3 * epochs_per_group`` epochs. An empty group's epochs pass to the next stage (the
    run keeps its length)."""
    groups = np.asarray(groups)
    if warm_up == "all":
        return [(np.arange(groups.size), 3 * epochs_per_group)]
    if warm_up == "top":
        return [(np.flatnonzero(groups > 0), 3 * epochs_per_group)]
    if warm_up != "iced":
        raise ValueError(f"warm_up must be one of {WARM_UPS}, got {warm_up!r}")
    stages, carried = [], 0
    for g in (1, 2, 3):
        members = np.flatnonzero(groups == g)
        carried += epochs_per_group
        if members.size >= 2:  # a classifier step needs two series
            stages.append((members, carried))
            carried = 0
    if carried and stages:
        index, epochs = stages[-1]
        stages[-1] = (index, epochs + carried)
    elif carried:  # no group large enough: warm up on everything
        stages.append((np.arange(groups.size), carried))
    return stages


def certainty_delta(s_anchor: np.ndarray, s_neighbour: np.ndarray, eta: float,
                    rng: np.random.Generator) -> np.ndarray:
    """The interpolation step of eq. 3.5 (Wang 2023): ``delta = S(x_r) / (S(x_i) + S(x_r)) +
    eta``, ``eta ~ U(-eta, eta)``, clipped to [0, 1] (eq. 3.3's range): the synthetic point
    lands nearer the more certain of the two series."""
    delta = s_neighbour / (s_anchor + s_neighbour) + rng.uniform(-eta, eta, size=np.shape(s_anchor))
    return np.clip(delta, 0.0, 1.0)


def certainty_smote(codes: np.ndarray, labels: np.ndarray, certainty: np.ndarray, *, k: int = 5,
                    eta: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic latent codes that top every estimated class up to the largest (Wang 2023,
    sec. 3.2.4, eqs. 3.3 and 3.5): for each synthetic code an anchor ``z_i`` is drawn from the
    class (uniformly), a neighbour ``z_r`` among its ``k`` nearest codes of the same class,
    and ``z' = z_i + delta (z_r - z_i)`` with the certainty-weighted ``delta``.

    Returns the codes and their (estimated) classes. A class of one series repeats it; a
    class absent from ``labels`` cannot be synthesised and is left out. (SMOTE draws ``delta``
    uniformly; imbalanced-learn's SMOTE has no hook for the step, hence this loop over
    scikit-learn's neighbours.)"""
    codes, labels, certainty = np.asarray(codes), np.asarray(labels), np.asarray(certainty, dtype=np.float64)
    if codes.ndim != 2 or labels.shape != (codes.shape[0],) or certainty.shape != labels.shape:
        raise ValueError(f"need codes (n, d), n labels and n certainty scores; got shapes {codes.shape}, "
                         f"{labels.shape}, {certainty.shape}")
    rng = np.random.default_rng(seed)
    counts = np.bincount(labels)
    new_codes, new_labels = [], []
    for c in np.flatnonzero((counts > 0) & (counts < counts.max())):
        members = np.flatnonzero(labels == c)
        n_new = int(counts.max() - counts[c])
        anchors = rng.choice(members, n_new)
        if members.size == 1:
            neighbours = anchors
        else:
            k_c = min(k, members.size - 1)
            _, near = NearestNeighbors(n_neighbors=k_c + 1).fit(codes[members]).kneighbors(codes[anchors])
            pick = near[np.arange(n_new), rng.integers(1, k_c + 1, n_new)]  # column 0 is the anchor itself
            neighbours = members[pick]
        delta = certainty_delta(certainty[anchors], certainty[neighbours], eta, rng)
        new_codes.append(codes[anchors] + delta[:, None] * (codes[neighbours] - codes[anchors]))
        new_labels.append(np.full(n_new, c, dtype=np.int64))
    if not new_codes:
        return np.empty((0, codes.shape[1]), dtype=codes.dtype), np.empty(0, dtype=np.int64)
    return np.concatenate(new_codes).astype(codes.dtype), np.concatenate(new_labels)


def synthetic_votes(real_codes: np.ndarray, votes: Votes, new_codes: np.ndarray, *, k: int = 5,
                    seed: int = 0) -> Votes:
    """Crowd votes for synthetic series (Wang 2023, sec. 3.2.4, last paragraph): for each
    synthetic code, its ``k`` nearest real codes are found, and each worker's vote is one of
    that worker's own votes on those neighbours, drawn uniformly (no vote if the worker voted
    on none of them). A synthetic series left with no vote takes its nearest real
    neighbour's votes. Returns a table with the real table's columns and workers (a subset),
    series numbered ``0..len(new_codes)-1``."""
    votes = check_votes(votes)
    real_codes, new_codes = np.asarray(real_codes), np.asarray(new_codes)
    if real_codes.shape[0] != votes.n_series or new_codes.ndim != 2 or new_codes.shape[0] == 0:
        raise ValueError(f"need one real code per voted series ({votes.n_series}, got {real_codes.shape[0]}) and "
                         f"a non-empty (m, d) array of synthetic codes (got shape {new_codes.shape})")
    rng = np.random.default_rng(seed)
    matrix = votes.matrix()  # (n, max worker + 1), -1 where no vote
    k = min(k, votes.n_series)
    _, near = NearestNeighbors(n_neighbors=k).fit(real_codes).kneighbors(new_codes)
    candidate = matrix[near]  # (m, k, workers)
    # a random order of the k neighbours per (synthetic series, worker); take the first that voted
    order = rng.random(candidate.shape).argsort(axis=1)
    shuffled = np.take_along_axis(candidate, order, axis=1)
    first = (shuffled >= 0).argmax(axis=1)
    chosen = np.take_along_axis(shuffled, first[:, None, :], axis=1)[:, 0, :]  # (m, workers), -1: none voted
    silent = (chosen < 0).all(axis=1)
    chosen[silent] = matrix[near[silent, 0]]
    series, worker = np.nonzero(chosen >= 0)
    table = pd.DataFrame({"series": series, "worker": worker, "label": chosen[series, worker]})
    return Votes(table, votes.n_classes, new_codes.shape[0])


def stack_votes(first: Votes, second: Votes) -> Votes:
    """One table of the votes on ``first``'s series followed by ``second``'s (renumbered after them)."""
    table = second.table.assign(series=second.table["series"] + first.n_series)
    return Votes(pd.concat([first.table, table], ignore_index=True), max(first.n_classes, second.n_classes),
                 first.n_series + second.n_series)


@dataclass
class ICEDRun:
    """What :func:`fit_iced` returns besides the classifier: the loss history over every
    classifier epoch, the certainty groups, the Dawid-Skene label accuracy on the real series
    (``label_accuracy[0]``: before any synthesis, D&S-orig; then one per round; empty
    without true labels), the series synthesised per round and the final labels."""

    history: History
    groups: np.ndarray
    label_accuracy: list[dict] = field(default_factory=list)
    synthesised: list[int] = field(default_factory=list)
    labels: np.ndarray | None = None


class _Stages:
    """Trains one classifier through successive :func:`fit` calls on changing data, up to a
    total epoch count, carrying Adam's state from stage to stage (a stage's data differs, so
    each is its own :class:`~tsimb.train.ClassifierStep`)."""

    def __init__(self, classifier: torch.nn.Module, total: int, batch_size: int, lr: float, weight_decay: float,
                 seed: int, device: torch.device) -> None:
        self.classifier, self.left, self.batch_size = classifier, total, batch_size
        self.lr, self.weight_decay, self.seed, self.device = lr, weight_decay, seed, device
        self.history = History(losses={"loss": []})
        self.optimiser_state: dict | None = None
        self.count = 0

    def run(self, X: np.ndarray, y: np.ndarray, epochs: int) -> None:
        epochs = min(epochs, self.left)
        if epochs <= 0:
            return
        step = ClassifierStep(self.classifier, X, y, lr=self.lr, weight_decay=self.weight_decay,
                              seed=self.seed + self.count, device=self.device)
        if self.optimiser_state is not None:
            step.optimiser.load_state_dict(self.optimiser_state)
        part = fit(step, epochs=epochs, batch_size=self.batch_size, progress=False)
        self.optimiser_state = step.optimiser.state_dict()
        self.history.loss += part.loss
        self.history.losses["loss"] += part.loss
        self.history.lr += part.lr
        self.history.seconds += part.seconds
        self.history.samples_seen += part.samples_seen
        self.left -= epochs
        self.count += 1


def _autoencoder(X: np.ndarray, settings: ICEDSettings, batch_size: int, seed: int, device: torch.device):
    from ..generative.networks import Autoencoder
    from ..generative.steps import AutoencoderStep, adam

    x_all = torch.as_tensor(X, dtype=torch.float32, device=device)
    ae = Autoencoder(X.shape[1], X.shape[2], settings.latent_dim).to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    if settings.ae_epochs:
        step = AutoencoderStep(x_all, torch.zeros(len(X), dtype=torch.long, device=device), generator, ae,
                               adam(ae, settings.ae_lr, (0.9, 0.999)))
        fit(step, epochs=settings.ae_epochs, batch_size=batch_size, progress=False)
    with torch.no_grad(), evaluating(ae):
        codes = torch.cat([ae.encode(xb) for xb in x_all.split(512)]).cpu().numpy()
    return ae, codes


def fit_iced(classifier: torch.nn.Module, X: np.ndarray, votes: Votes, *, settings: ICEDSettings | None = None,
             epochs: int = 20, stop_after: int | None = None, batch_size: int = 16, lr: float = 1e-3,
             weight_decay: float = 0.0, true_y: np.ndarray | None = None, seed: int = 0,
             device: torch.device | str | None = None) -> ICEDRun:
    """Train ``classifier`` by ICED (Wang 2023, Alg. 3.2) on series ``X`` and their ``votes``
    for ``epochs`` classifier epochs in all (``stop_after``: stop sooner, a replay of the
    run's start; the schedule is still the one ``epochs`` sets):

    1. warm-up (Alg. 3.1): majority-vote labels, certainty groups (eq. 3.4), the stages of
       :func:`warm_up_stages` (``settings.warm_up``);
    2. Dawid-Skene on the real votes (D&S-orig of Fig. 3.2);
    3. while epochs are left, one round: codes of the real series from the autoencoder
       (trained at the first round), :func:`certainty_smote` over the classes the current
       labels estimate as smaller, :func:`synthetic_votes`, decode, Dawid-Skene on the real
       and synthetic votes together, ``settings.epochs_per_round`` epochs on the real and
       synthetic series with those labels.

    ``true_y`` (known in simulations) only scores the label inference (``label_accuracy``).
    """
    s = ICEDSettings() if settings is None else settings
    votes = check_votes(votes)
    if X.shape[0] != votes.n_series:
        raise ValueError(f"{X.shape[0]} series but votes on {votes.n_series}")
    dev = get_device(device)
    total = epochs if stop_after is None else min(epochs, stop_after)
    stages = _Stages(classifier, total, batch_size, lr, weight_decay, seed, dev)
    certainty = certainty_score(votes, s.eps)
    groups = certainty_groups(certainty, s.grouping)
    mv = majority_vote(votes, seed=seed)
    for index, stage_epochs in warm_up_stages(groups, s.warm_up, s.warmup_epochs):
        stages.run(X[index], mv[index], stage_epochs)
    run = ICEDRun(stages.history, groups)

    def infer(table: Votes) -> np.ndarray:
        labels = dawid_skene(table, prior=s.ds_prior, n_iter=s.ds_iter, seed=seed).labels
        if true_y is not None:
            run.label_accuracy.append(label_accuracy(labels[:len(X)], true_y, votes.n_classes))
        return labels

    labels = infer(votes)[:len(X)]
    ae = codes = None
    round_ = 0
    while stages.left > 0:
        if ae is None:
            ae, codes = _autoencoder(X, s, batch_size, seed, dev)
        new_codes, _ = certainty_smote(codes, labels, certainty, k=s.k_smote, eta=s.eta, seed=seed + round_)
        if len(new_codes):
            new_votes = synthetic_votes(codes, votes, new_codes, k=s.k_votes, seed=seed + round_)
            with torch.no_grad(), evaluating(ae):
                X_new = ae.decoder(torch.as_tensor(new_codes, device=dev)).cpu().numpy().astype(np.float32)
            augmented = infer(stack_votes(votes, new_votes))
            X_train = np.concatenate([X, X_new])
        else:  # one estimated class only, or already balanced: nothing to synthesise this round
            augmented = infer(votes)
            X_train = X
        labels = augmented[:len(X)]
        run.synthesised.append(len(new_codes))
        stages.run(X_train, augmented, s.epochs_per_round)
        round_ += 1
    run.labels = labels
    return run
