"""The experiment of the book's chapter *Crowd labels*: learning from the labels of several
simulated annotators when one class is rare (Wang 2023, dissertation ch. 3, "ICED", SDM
2022), with the protocol of sec. 3.3.1 transposed from its tabular sets (Gisette, USPS,
GSAD) to series sets.

The protocol (:func:`crowd_split`): a balanced binary set (the two classes of a binary
UCR set, or the two most populous classes of a multi-class one), pooled from the published
train and test splits, cut 80/20 into a candidate training set and a class-balanced test
set with true labels; a reference network trained on the candidate set judges each
series' difficulty; W simulated workers vote on every series with an error probability
that grows with that difficulty; 90% of the minority is then removed from training.
``python -m tsimb run crowd-labels`` runs the grids headless.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binom

from ..crowd import (AnnotatorSettings, CrowdDataset, ICEDSettings, dawid_skene, label_accuracy, majority_vote,
                     simulate_annotators, train_reference)
from ..crowd.aggregation import PRIORS
from ..data import Dataset, load_train_test
from ..evaluation import Claim, evaluate
from ..methods import Trained
from ..train import Budget, predict_proba
from ..train.method import settings_from_config
from .experiment import Experiment

CHAPTER = "crowd-labels"
CODE_VERSION = "crowd-labels-1"  # bump when a change alters results, so that stored runs are not served
AGGREGATORS = ("mv", *(f"ds-{p}" for p in PRIORS))  # label inference without a classifier
CHAPTER_METHODS = (*AGGREGATORS, "crowd-layer", "iced")
WARM_UP_NAMES = {"all": "Trad-I", "top": "Trad-II", "iced": "ICED-w"}  # Table 3.3's names
REFERENCE_METHOD, OWN_METHODS = "mv", ("iced",)


@dataclass(frozen=True)
class ReferenceSettings:
    """The reference network that judges difficulty (sec. 3.3.1): trained on the candidate
    training set's true labels until its training accuracy exceeds ``threshold`` or for
    ``max_epochs`` (our cap: the difficulty is a rank within each class, which an
    under-fitted network still orders)."""

    model: str = "mlp"
    threshold: float = 0.98
    max_epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3


@dataclass(frozen=True)
class CrowdChapterSettings:
    """One profile of the chapter.

    Attributes:
        datasets: ``(data set, W)`` pairs: the main comparison, one worker count per data set
            as the dissertation fixes one per set (7, 9, 11).
        methods, seeds: the main comparison's methods and seeds.
        model, budget: the classifier every method trains and its budget (ICED's epochs are
            all classifier epochs, warm-up included).
        sweep_dataset, sweep_workers: the worker sweep (every method at each W).
        warmup_seeds: Table 3.3's warm-up comparison, on every data set, scored right after
            the warm-up (``3 * warmup_group_epochs`` epochs).
        annotators: how simulated workers err (its ``n_workers`` is replaced by each W).
        iced: ICED's constants.
        reference: the difficulty network.
        warmup_group_epochs: the warm-up grid's epochs per certainty group (Table 3.3: 5 on
            Gisette-Syn, 2 on the others; ICED's own runs keep ``iced.warmup_epochs``).
        iced_priors: ICED's other Dawid-Skene priors, run beside ``iced.ds_prior`` on every
            data set (the ``iced-prior`` grid).
        minority_removed: the share of the minority's training series removed (sec. 3.3.1: 90%).
        test_fraction: the balanced test set's share of the balanced pool (sec. 3.3.1: 20%).
        split_seed: the seed of the pool's balancing and its 80/20 cut (fixed, so that one
            reference network serves every run of a data set).
    """

    datasets: tuple[tuple[str, int], ...]
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    model: str
    budget: Budget
    sweep_dataset: str
    sweep_workers: tuple[int, ...]
    warmup_seeds: tuple[int, ...]
    annotators: AnnotatorSettings
    iced: ICEDSettings
    reference: ReferenceSettings = ReferenceSettings()
    iced_priors: tuple[str, ...] = ("hard",)
    warmup_group_epochs: int = 5
    minority_removed: float = 0.9
    test_fraction: float = 0.2
    split_seed: int = 0


# Our annotators: error 5% on the easiest series of a class and 45% on the hardest (linear in
# the difficulty rank), workers 0.5x to 1.5x that, minority series 1.3x harder to label: the
# lean toward the majority that the chapter's question needs
ANNOTATORS = AnnotatorSettings(n_workers=7, low=0.05, high=0.45, sharpness=1.0, class_scale=(1.0, 1.3),
                               worker_spread=0.5)

SETTINGS = {
    "quick": CrowdChapterSettings(
        datasets=(("PhalangesOutlinesCorrect", 7), ("Strawberry", 9), ("FacesUCR", 11)),
        methods=CHAPTER_METHODS,
        seeds=(0, 1, 2, 3, 4),
        model="mlp",
        budget=Budget(epochs=30, batch_size=32, lr=1e-3),
        sweep_dataset="Strawberry",
        sweep_workers=(7, 9, 11),
        warmup_seeds=(0, 1, 2, 3, 4),
        annotators=ANNOTATORS,
        # ICED's Dawid-Skene with the fixed uniform prior: the D&S the dissertation's argument
        # describes ("assumes a uniform label distribution", sec. 3.3.3); the learned prior of
        # its sec. 3.2.3 is the "iced-prior" grid
        iced=ICEDSettings(warmup_epochs=2, ae_epochs=30, ds_prior="uniform"),
    ),
    "full": CrowdChapterSettings(
        datasets=(("PhalangesOutlinesCorrect", 7), ("Strawberry", 9), ("FacesUCR", 11)),
        methods=CHAPTER_METHODS,
        seeds=(0, 1, 2, 3, 4),
        model="fcn",
        budget=Budget(epochs=100, batch_size=32, lr=1e-3),
        sweep_dataset="Strawberry",
        sweep_workers=(7, 9, 11),
        warmup_seeds=(0, 1, 2, 3, 4),
        annotators=ANNOTATORS,
        iced=ICEDSettings(warmup_epochs=5, ae_epochs=100, ds_prior="uniform"),
        reference=ReferenceSettings(model="fcn", max_epochs=200),
    ),
}


@lru_cache(maxsize=8)
def balanced_pool(dataset: str, split_seed: int = 0, test_fraction: float = 0.2) -> tuple[Dataset, Dataset]:
    """The balanced binary set of sec. 3.3.1 as a candidate training set and a balanced test
    set: the published train and test splits pooled, the two most populous classes kept
    (all of a binary set), the larger cut to the smaller's count, then ``test_fraction`` of each
    class for the test (seeded by ``split_seed``). Label 0 is the class with more
    series in the pool (the majority to be), 1 the other (the minority to be; the
    dissertation draws the two at random)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    train, test = load_train_test(dataset)
    X, y = np.concatenate([train.X, test.X]), np.concatenate([train.y, test.y])
    counts = np.bincount(y, minlength=train.n_classes)
    order = np.argsort(-counts, kind="stable")
    majority, minority = int(order[0]), int(order[1])
    rng = np.random.default_rng(split_seed)
    n = int(counts[minority])
    keep = np.concatenate([rng.choice(np.flatnonzero(y == majority), n, replace=False), np.flatnonzero(y == minority)])
    X, y = X[keep], (y[keep] == minority).astype(np.int64)
    names = (train.class_names[majority], train.class_names[minority])
    n_test = int(round(n * test_fraction))  # per class: the test set is exactly balanced
    test_index = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:n_test] for c in (0, 1)])
    in_test = np.zeros(y.size, dtype=bool)
    in_test[test_index] = True
    return (Dataset(dataset, "train", X[~in_test], y[~in_test], names, train.source),
            Dataset(dataset, "test", X[in_test], y[in_test], names, train.source))


@lru_cache(maxsize=8)
def reference_difficulty(dataset: str, reference: ReferenceSettings = ReferenceSettings(), split_seed: int = 0,
                         test_fraction: float = 0.2) -> tuple[np.ndarray, float, int]:
    """Each candidate training series' difficulty (its rank within its class by the
    reference network's probability of its true class, :func:`tsimb.crowd.train_reference`),
    the network's training accuracy and its epochs (computed once per data set and process)."""
    candidates, _ = balanced_pool(dataset, split_seed, test_fraction)
    net = train_reference(candidates, model=reference.model, threshold=reference.threshold,
                          max_epochs=reference.max_epochs, batch_size=reference.batch_size, lr=reference.lr,
                          seed=split_seed)
    return net.difficulty(candidates.X, candidates.y), net.train_accuracy, net.epochs


def crowd_split(dataset: str, n_workers: int, seed: int, annotators: AnnotatorSettings = ANNOTATORS,
                reference: ReferenceSettings = ReferenceSettings(), minority_removed: float = 0.9,
                split_seed: int = 0, test_fraction: float = 0.2) -> tuple[CrowdDataset, Dataset]:
    """The transposed protocol of Wang (2023, sec. 3.3.1): :func:`balanced_pool`, the
    reference network's difficulty (:func:`reference_difficulty`), ``n_workers`` simulated
    workers on the candidate series (:func:`tsimb.crowd.simulate_annotators`, seeded by
    ``seed``), then ``minority_removed`` of the minority removed (seeded by ``seed``).
    Returns the crowd-labelled training set (``y`` = majority vote, ``true_y`` kept) and the
    balanced test set with true labels."""
    if not 0 <= minority_removed < 1:
        raise ValueError(f"minority_removed must be in [0, 1), got {minority_removed!r}")
    candidates, test = balanced_pool(dataset, split_seed, test_fraction)
    difficulty, _, _ = reference_difficulty(dataset, reference, split_seed, test_fraction)
    votes = simulate_annotators(candidates.y, replace(annotators, n_workers=n_workers), difficulty=difficulty,
                                n_classes=2, seed=seed)
    crowd = CrowdDataset.from_votes(candidates, votes, seed=seed)
    rng = np.random.default_rng(10_000 + seed)
    minority = np.flatnonzero(candidates.y == 1)
    kept = rng.choice(minority, max(2, int(round(len(minority) * (1 - minority_removed)))), replace=False)
    index = np.sort(np.concatenate([np.flatnonzero(candidates.y == 0), kept]))
    return crowd.subset(index), test


def split(config: dict) -> tuple[CrowdDataset, Dataset]:
    return crowd_split(config["dataset"], config["workers"], config["seed"],
                       settings_from_config(AnnotatorSettings, config["annotators"]),
                       settings_from_config(ReferenceSettings, config["reference"]), config["minority_removed"], config["split_seed"],
                       config["test_fraction"])


def aggregator_labels(train: CrowdDataset, seed: int) -> dict[str, np.ndarray]:
    """Every aggregator's labels for a crowd training set: majority vote and Dawid-Skene
    with each prior (:func:`tsimb.crowd.dawid_skene`), as the methods of those names train on."""
    out = {"mv": majority_vote(train.votes, seed=seed)}
    for prior in PRIORS:
        out[f"ds-{prior}"] = dawid_skene(train.votes, prior=prior, n_iter=100, tol=1e-5, seed=seed).labels
    return out


def _label_metrics(prefix: str, scores: dict) -> dict[str, float]:
    out = {f"{prefix}": scores["accuracy"]}
    out.update({f"{prefix}_c{c}": v for c, v in enumerate(scores["per_class"])})
    return out


def score(config: dict, trained: Trained, train: CrowdDataset, test: Dataset) -> dict[str, float]:
    """Accuracy and macro F1 on the balanced test set (and the classic metrics), the label
    accuracy of every aggregator on the training set, overall and per class (``_c0``:
    majority, ``_c1``: minority), and for ICED the D&S label accuracy before synthesis
    (``orig``), after the first round and after the last (Fig. 3.2), the series it
    synthesised first, and the share of series its warm-up keeps (groups 1-3)."""
    proba = predict_proba(trained.classifier, test.X)
    metrics = evaluate(test.y, proba, [0], [1])
    metrics["predicted_classes"] = float(len(set(proba.argmax(1).tolist())))
    metrics["train_series"] = float(len(train))
    metrics["minority_series"] = float((train.true_y == 1).sum())
    for name, labels in aggregator_labels(train, config["seed"]).items():
        metrics.update(_label_metrics(f"label_{name}", label_accuracy(labels, train.true_y, 2)))
    _, ref_accuracy, ref_epochs = reference_difficulty(config["dataset"], settings_from_config(ReferenceSettings, config["reference"]),
                                                       config["split_seed"], config["test_fraction"])
    metrics.update(reference_accuracy=ref_accuracy, reference_epochs=float(ref_epochs))
    run = trained.extras.get("iced")
    if run is not None:
        rounds = run.label_accuracy
        for name, position in (("orig", 0), ("first", 1), ("final", -1)):
            if len(rounds) > max(position, 0) and not (position == -1 and len(rounds) < 2):
                metrics.update(_label_metrics(f"label_iced_{name}", rounds[position]))
        metrics["iced_rounds"] = float(len(run.synthesised))
        metrics["iced_synthesised_first"] = float(run.synthesised[0]) if run.synthesised else 0.0
        metrics["warmup_kept"] = float((run.groups > 0).mean())
    return metrics


def _config(dataset: str, workers: int, method: str, seed: int, s: CrowdChapterSettings,
            iced: ICEDSettings | None = None, budget: Budget | None = None) -> dict:
    iced = s.iced if iced is None else iced
    return dict(chapter=CHAPTER, version=CODE_VERSION, dataset=dataset, workers=workers, method=method, seed=seed,
                model=s.model, budget=asdict(budget or s.budget),
                annotators=asdict(replace(s.annotators, n_workers=workers)), reference=asdict(s.reference),
                minority_removed=s.minority_removed, test_fraction=s.test_fraction, split_seed=s.split_seed,
                iced=asdict(iced) if method == "iced" else None,
                warm_up=iced.warm_up if method == "iced" else None,
                ds_prior=iced.ds_prior if method == "iced" else None)


def used_datasets(s: CrowdChapterSettings) -> set[str]:
    return {d for d, _ in s.datasets} | {s.sweep_dataset}


def build_grids(s: CrowdChapterSettings) -> dict[str, list[dict]]:
    """The chapter's grids: ``main`` (every method on every data set at its W), ``workers``
    (every method on the sweep data set at each W; the main grid's runs at its own W are
    shared) and ``warmup`` (Table 3.3: ICED's warm-up, Trad-I and Trad-II, each scored right
    after its ``3 * warmup_group_epochs`` epochs) and ``iced-prior`` (ICED with the learned, hard-count
    prior of sec. 3.2.3 in its Dawid-Skene, against the main grid's uniform one)."""
    main = [_config(d, w, m, seed, s) for d, w in s.datasets for m in s.methods for seed in s.seeds]
    workers = [_config(s.sweep_dataset, w, m, seed, s) for w in s.sweep_workers for m in s.methods
               for seed in s.seeds]
    warm = replace(s.budget, epochs=3 * s.warmup_group_epochs)
    warmup = [_config(d, w, "iced", seed, s, replace(s.iced, warm_up=kind, warmup_epochs=s.warmup_group_epochs), warm)
              for d, w in s.datasets
              for kind in WARM_UP_NAMES for seed in s.warmup_seeds]
    prior = [_config(d, w, "iced", seed, s, replace(s.iced, ds_prior=p)) for d, w in s.datasets
             for p in s.iced_priors for seed in s.seeds]
    return {"main": main, "workers": workers, "warmup": warmup, "iced-prior": prior}


def top_levels_share(n_workers: int, p_error: float, levels: int = 3) -> float:
    """The share of series whose votes fall in the ``levels`` highest agreement levels (e.g.
    9-0, 8-1 and 7-2 of W = 9 workers on two classes) when every worker errs independently
    with probability ``p_error``: what ICED's warm-up keeps (groups 1-3, Alg. 3.1) under our
    grouping by agreement level. Its smallest value over ``p_error`` is at 0.5 (18% at W = 9),
    the floor against which Table 3.3's 14% kept on USPS-Syn is read."""
    if n_workers < 2 * levels - 1:
        raise ValueError(f"{n_workers} workers have fewer than {levels} agreement levels above a tie")
    # agreement level = the larger side; the top levels are larger sides W, W-1, ..., W-levels+1
    wrong = np.arange(levels)
    return float(binom.pmf(wrong, n_workers, p_error).sum() + binom.pmf(n_workers - wrong, n_workers, p_error).sum())


PUBLISHED = Path(__file__).parent / "published" / "wang2023_tables_3_2_3_3.csv"


def paper_results() -> pd.DataFrame:
    """The dissertation's published numbers (Tables 3.2 and 3.3) as a tidy table: table,
    dataset, workers, method (ours where one matches: ``mv`` for MV+DNN, ``ds`` for
    D&S+DNN, ``crowd-layer``, ``iced``; Table 3.3's warm-ups by their names), metric
    (``accuracy``, ``macro_f1``), value, n_samples and epochs (Table 3.3). Labelled as the
    paper's."""
    return pd.read_csv(PUBLISHED, comment="#").assign(source="paper (published)")


CLAIMS = (
    *(Claim(f"ICED beats {m}", "sec. 3.3.2, Table 3.2", "iced", m, "accuracy")
      for m in ("crowd-layer", "mv", "ds-uniform", "ds-hard", "ds-soft")),
    Claim("MV + classifier beats D&S (uniform prior) + classifier", "sec. 3.3.2, Table 3.2", "mv", "ds-uniform",
          "accuracy"),
    Claim("MV + classifier beats D&S (learned prior, hard) + classifier", "sec. 3.3.2, Table 3.2", "mv", "ds-hard",
          "accuracy"),
)
# claims on other tables of the runs: the label accuracies (:func:`label_accuracy_table`, its
# ``stage`` as the method) and the warm-up grid (Table 3.3's names as the methods)
LABEL_CLAIMS = (
    *(Claim(f"D&S label accuracy in ICED rises from {a[4:]} to {b[4:]} ({prior} prior)", "sec. 3.3.3, Fig. 3.2",
            f"{prior}: {b}", f"{prior}: {a}", "label_accuracy")
      for prior in ("uniform", "hard") for a, b in (("D&S-orig", "D&S-first"), ("D&S-first", "D&S-final"))),
    Claim("a learned prior (hard counts) labels better than a uniform one", "sec. 3.3.2", "ds-hard", "ds-uniform",
          "label_accuracy"),
    Claim("a learned prior (soft EM) labels better than a uniform one", "sec. 3.3.2", "ds-soft", "ds-uniform",
          "label_accuracy"),
    Claim("majority vote labels better than D&S (uniform prior)", "sec. 3.3.2-3.3.3", "mv", "ds-uniform",
          "label_accuracy"),
)
CLASSES = {"": "all", "_c0": "majority", "_c1": "minority"}


def label_accuracy_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The training-set label accuracies stored with the runs (see :func:`score`) as a tidy
    table: one row per run, ``stage`` and ``class`` (``all``, ``majority``, ``minority``),
    with ``value``. The aggregators' (``mv``, ``ds-uniform``, ``ds-hard``, ``ds-soft``) are
    read from the ``mv`` runs (every run of a data set, W and seed stores the same ones);
    ICED's Dawid-Skene before synthesis, after the first round and after the last are
    ``"<prior>: D&S-orig"``, ``"...: D&S-first"``, ``"...: D&S-final"`` (Fig. 3.2), from the
    ``iced`` runs with rounds. ``metric`` is ``label_accuracy`` and ``method`` repeats
    ``stage``, so :func:`tsimb.evaluation.check_claims` reads it."""
    rows = []
    keys = [k for k in ("dataset", "workers", "seed") if k in runs.columns]
    for (method, prior), part in runs.groupby(["method", runs.get("ds_prior", pd.Series(index=runs.index))
                                               .fillna("")], sort=False):
        if method == "mv":
            stages = {f"label_{a}": a for a in AGGREGATORS}
        elif method == "iced" and part["metric"].eq("label_iced_final").any():
            stages = {f"label_iced_{n}": f"{prior}: D&S-{n}" for n in ("orig", "first", "final")}
        else:
            continue
        for base, stage in stages.items():
            for suffix, klass in CLASSES.items():
                picked = part[part["metric"] == base + suffix]
                rows.append(picked[keys + ["value"]].assign(stage=stage, **{"class": klass}))
    if not rows:
        return pd.DataFrame(columns=[*keys, "stage", "class", "method", "metric", "value"])
    out = pd.concat(rows, ignore_index=True)
    return out.assign(method=out["stage"], metric="label_accuracy")


WARMUP_CLAIMS = (
    Claim("ICED's warm-up beats Trad-I (all series)", "sec. 3.3.4, Table 3.3", "ICED-w", "Trad-I", "accuracy"),
    Claim("ICED's warm-up beats Trad-II (groups 1-3 at once)", "sec. 3.3.4, Table 3.3", "ICED-w", "Trad-II",
          "accuracy"),
)


EXPERIMENT = Experiment(
    chapter=CHAPTER, code_version=CODE_VERSION, settings=SETTINGS, build_grids=build_grids,
    used_datasets=used_datasets, score=score, split=split,
    bookkeeping=("chapter", "version", "budget", "annotators", "reference", "iced", "test_fraction", "split_seed",
                 "minority_removed"),
    reference_method=REFERENCE_METHOD, own_methods=OWN_METHODS, claims=CLAIMS, paper_results=paper_results,
    # measured: on an Intel Xeon, runs made on an AMD EPYC began 2-7% apart in their first
    # epoch's loss, their majority-vote labels a point apart
    not_replayable=lambda config: ("each run first trains the reference network that judges each series' "
                                   "difficulty (sec. 3.3.1), which decides what the simulated annotators answer"),
)
