"""The experiment of the book's chapter *ODE-guided augmentation*: a ResNet trained without
augmentation, with each ODE-guided or spectral augmentation, and with the Feat-Sim
variants; clean, FGSM and BIM accuracy (Sarkar et al., Tables I-III, with the attacks of
Fawaz et al. 2019). Then what the paper did not measure: the main effect on data sets it
did not use, and the same comparison under step imbalance, scored on the minority half of
the classes. ``python -m tsimb run ode-augmentation`` fills the run store.

Every method trains under one protocol, Fawaz et al.'s (2019) for the ResNet that is the
paper's ``none`` row (:data:`tsimb.train.FAWAZ_RESNET`): Adam at 1e-3, batch
``int(min(n/10, 64))``, learning rate halved after 50 epochs without a lower training
loss (down to 1e-4), and the weights of the epoch with the lowest training loss kept.
The paper trains its augmented networks at lr 2e-4 with weight decay 1e-3 but compares
them with Fawaz's published numbers; one protocol for all isolates the augmentation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from ..augment import (AUGMENTED_METHODS, TIME_UNITS, AugmentSettings, ODEBudget, derivative_in_unit,
                       fitted_odenet, step_reach)
from ..data import Dataset, Imbalance, class_halves
from ..evaluation import Claim, evaluate
from ..methods import METHODS, Trained
from ..models import derivative_agreement
from ..robustness import (FAWAZ_BIM, FAWAZ_FGSM, MaskingChecks, accuracy_scores, attacked_probabilities,
                          gradient_free_sweep, masking_checks, members_attacked_probabilities)
from ..train import FAWAZ_RESNET, Budget
from .experiment import MEASUREMENT, Experiment, imbalanced_split

CHAPTER = "ode-augmentation"
CODE_VERSION = "ode-augmentation-2"  # bump when a change alters results, so that stored runs are not served

ATTACKS = {"fgsm": FAWAZ_FGSM, "bim": FAWAZ_BIM}
TABLE_II_METHODS = ("in-clamp-grad+fs", "in-sign-grad+fs", "out-sign-grad+fs")
PAPER_METHODS = ("none", "in-clamp-grad", "in-sign-grad", "out-sign-grad", "rand-grad", "spec-den",
                 *TABLE_II_METHODS)
REFERENCE_METHOD, OWN_METHODS = "none", ("out-sign-grad",)
# the methods whose perturbation is sized by dz/dt, so by the ODE's time unit
TIME_UNIT_METHODS = ("in-clamp-grad", "out-sign-grad", "rand-grad")  # In-Sign-Grad uses only its sign


@dataclass(frozen=True)
class ODEAugmentationSettings:
    datasets: tuple[str, ...]  # Tables I-III, on the published splits
    methods: tuple[str, ...]
    budget: Budget
    ode_budget: ODEBudget
    seeds: tuple[int, ...]
    imbalance: Imbalance
    imbalance_datasets: tuple[str, ...]
    imbalance_methods: tuple[str, ...]
    imbalance_seeds: tuple[int, ...]
    # more of the paper's sets (Table I), at a subset of the methods: one such run costs
    # 10-40x a TwoLeadECG run on two cores
    more_datasets: tuple[str, ...] = ()
    more_methods: tuple[str, ...] = ("none", "in-sign-grad", "out-sign-grad", "spec-den", "out-sign-grad+fs")
    more_seeds: tuple[int, ...] | None = None  # None: ``seeds``
    beyond_datasets: tuple[str, ...] = ()  # sets the paper did not use
    beyond_methods: tuple[str, ...] = ("none", "out-sign-grad")
    # larger sets the paper did not use (hundreds of training series, so batches of ~60
    # where the small sets train on 2-6), at fewer seeds: a Strawberry run took 14-41 minutes
    # on one thread here
    larger_datasets: tuple[str, ...] = ()
    larger_seeds: tuple[int, ...] = (0, 1, 2)
    # where Out-Sign-Grad fails to fit: on ``collapse_datasets``, at ``collapse_seeds``, its
    # control (Rand-Grad: the same step sizes, random signs) and Out-Sign-Grad at the smaller
    # bounds ``collapse_betas``; and, on every set the chapter uses, how far its step reaches
    # towards the other classes (tsimb.augment.step_reach; no training)
    collapse_datasets: tuple[str, ...] = ()
    collapse_seeds: tuple[int, ...] = (0,)
    collapse_betas: tuple[float, ...] = ()
    long_epochs: int | None = None  # ``long_seeds`` of ``long_methods`` at this budget (Fawaz et
    long_methods: tuple[str, ...] = ("none", "in-sign-grad", "out-sign-grad", "spec-den")  # al.'s), to show what
    long_seeds: tuple[int, ...] = (0, 1, 2)  # the shorter budget changes
    # the gradient-masking checks (tsimb.robustness.masking) on the paper set's models, on a
    # fixed stratified subset of the test split (the checks take ~160 attack steps)
    masking_methods: tuple[str, ...] = ("none", "in-sign-grad", "out-sign-grad", "spec-den")
    masking_seeds: tuple[int, ...] = (0, 1)
    masking_beyond_seeds: tuple[int, ...] = (0,)  # the checks of the beyond grid's networks
    # the checks of the other grids' augmented networks (imbalanced, time unit, step size,
    # 1500 epochs, more sets), at these seeds; of the costly 1500-epoch and more-sets runs,
    # only ``masking_costly_methods``
    masking_more_seeds: tuple[int, ...] = (0,)
    masking_costly_methods: tuple[str, ...] = ("out-sign-grad",)
    # the checks of the long grid's costly methods and its `none` networks at these seeds, so
    # that the budget's claims can be tested against the strongest attack
    masking_long_seeds: tuple[int, ...] = ()
    # a closer look (tsimb.robustness.gradient_free_sweep) at networks the checks flagged, with
    # a `none` network beside them, at seed ``masking_seeds[0]``: (grid, network as
    # checked_network names it, dataset, method)
    masking_probed: tuple[tuple[str, str, str, str], ...] = ()
    # a smaller step bound beta for ``beta_methods`` on the paper set (the paper's is 0.33):
    # does the augmentation's loss of clean accuracy shrink with its step?
    betas: tuple[float, ...] = ()
    beta_methods: tuple[str, ...] = ("out-sign-grad",)
    masking_size: int = 150
    masking: MaskingChecks = MaskingChecks(sweep=(0.05, 0.1, 0.3, 1.0))
    classifier: str = "resnet"
    augment: AugmentSettings = AugmentSettings()
    test_size: int | None = None  # evaluate on a fixed stratified subset of the test split


SETTINGS = {
    "quick": ODEAugmentationSettings(
        # TwoLeadECG is the paper's cheapest set (23 training series); Adiac, the next, costs
        # ~3 CPU-minutes an epoch-100 run without augmentation and ~7 with (see the chapter)
        datasets=("TwoLeadECG",),
        # Table II's In-Clamp-Grad+FS is the one Feat-Sim variant no claim of the paper rests on
        methods=tuple(m for m in PAPER_METHODS if m != "in-clamp-grad+fs"),
        seeds=(0, 1, 2, 3, 4),
        budget=replace(FAWAZ_RESNET, epochs=100),
        # the paper's lr 3e-4 needs a few hundred epochs to fit dz/dt; 3e-3 gets close in 60
        ode_budget=ODEBudget(epochs=60, batch_size=16, lr=3e-3),
        imbalance=Imbalance("step", 10),
        imbalance_datasets=("ItalyPowerDemand", "GunPoint"),
        imbalance_methods=("none", "in-clamp-grad", "out-sign-grad", "spec-den"),
        imbalance_seeds=(0, 1, 2),
        # 7-27 minutes a run on one thread here (the five seeds took ~7.5 CPU-hours)
        more_datasets=("Adiac",),
        # small sets of the archives that the paper did not use: two classes (ItalyPowerDemand,
        # GunPoint, Coffee) and three (CBF)
        beyond_datasets=("ItalyPowerDemand", "GunPoint", "CBF", "Coffee"),
        # binary: 613 training series of 235 points (batches of 61), and 1800 of 80 points
        # (batches of 64; the union of the three phalanx outline sets, whose parts have the
        # 600 series of the collapse the chapter looks into)
        larger_datasets=("Strawberry", "PhalangesOutlinesCorrect"),
        collapse_datasets=("PhalangesOutlinesCorrect",),
        collapse_betas=(0.05,),
        long_epochs=1500,
        betas=(0.1,),
        masking_beyond_seeds=(0, 1),
        masking_long_seeds=(0, 1, 2),
        # the networks of seed 0 whose accuracy at eps 1 stayed above 2% (the sweep's check),
        # chosen after the checks ran, and the `none` networks of the same sets
        masking_probed=(("masking-beyond", "balanced", "ItalyPowerDemand", "none"),
                        ("masking-beyond", "balanced", "ItalyPowerDemand", "out-sign-grad"),
                        ("masking-more", "imbalanced", "ItalyPowerDemand", "none"),
                        ("masking-more", "imbalanced", "ItalyPowerDemand", "out-sign-grad"),
                        ("masking-more", "time per series", "TwoLeadECG", "out-sign-grad"),
                        ("masking-more", "imbalanced", "GunPoint", "none"),
                        ("masking-more", "imbalanced", "GunPoint", "spec-den")),
    ),
    "full": ODEAugmentationSettings(
        # the paper's eight sets (Table I); 50Words is FiftyWords in the 2018 archive
        datasets=("CricketX", "CricketZ", "FiftyWords", "UWaveGestureLibraryX", "InsectWingbeatSound",
                  "Adiac", "TwoLeadECG", "UWaveGestureLibraryY"),
        methods=AUGMENTED_METHODS,  # every augmentation with and without Feat-Sim (the paper's Table II has three)
        seeds=(0, 1, 2, 3, 4),
        budget=FAWAZ_RESNET,
        ode_budget=ODEBudget(epochs=300, batch_size=64, lr=3e-4),
        imbalance=Imbalance("step", 10),
        imbalance_datasets=("CricketX", "UWaveGestureLibraryX", "InsectWingbeatSound", "TwoLeadECG"),
        imbalance_methods=PAPER_METHODS,
        imbalance_seeds=(0, 1, 2, 3, 4),
        beyond_datasets=("ItalyPowerDemand", "GunPoint", "Coffee", "Trace"),
    ),
}


def evaluation_subset(test: Dataset, size: int | None, seed: int = 0) -> Dataset:
    """A fixed stratified subset of ``size`` test series (the whole split when ``size`` is
    None or not smaller), so that attacking a large test split stays cheap."""
    if size is None or size >= len(test.y):
        return test
    keep, _ = train_test_split(np.arange(len(test.y)), train_size=size, stratify=test.y, random_state=seed)
    return test.subset(np.sort(keep))


def split(config: dict) -> tuple[Dataset, Dataset]:
    """The training split under the configuration's protocol; the test split, or a fixed
    stratified subset of ``test_size`` series of it."""
    train, test = imbalanced_split(config)
    return train, evaluation_subset(test, config["test_size"])


def score(config: dict, trained: Trained, train: Dataset, test: Dataset,
          probabilities: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Clean, FGSM and BIM accuracy (Fawaz et al.'s attacks; the minority half's too under
    imbalance), balanced accuracy, how many classes the model predicts, and the kept epoch.
    ``probabilities``: the clean and attacked class probabilities of ``test``, already
    computed (:func:`score_members`)."""
    model, history = trained.classifier, trained.history
    majority, minority = class_halves(train.class_counts())
    imbalanced = config["imbalance"] != "none"
    if probabilities is None:
        probabilities = attacked_probabilities(model, test.X, test.y, ATTACKS, seed=config["seed"])
    metrics = accuracy_scores(probabilities, test.y, minority if imbalanced else None)
    clean = evaluate(test.y, probabilities["clean"], majority, minority)
    metrics["balanced_accuracy"] = clean["balanced_accuracy"]
    metrics["predicted_classes"] = float(len(np.unique(probabilities["clean"].argmax(1))))
    metrics["best_epoch"] = float(history.best_epoch if history.best_epoch is not None else len(history.loss) - 1)
    if config.get("kind") == "masking":
        metrics.update(score_masking(config, model, train, test))
    return metrics


def score_members(configs: list[dict], trained: list[Trained], splits: list[tuple[Dataset, Dataset]]
                  ) -> list[dict[str, float]]:
    """:func:`score` of an ensemble's members (``tsimb run --ensemble``), their FGSM and BIM
    attacks run in one pass over the stacked networks
    (:func:`tsimb.robustness.members_attacked_probabilities`; neither attack has a random
    start, so each member's numbers are its own up to rounding) where the members share
    their test series, as they do unless a protocol draws the test split per seed."""
    tests = [test for _, test in splits]
    shared = all(np.array_equal(t.X, tests[0].X) and np.array_equal(t.y, tests[0].y) for t in tests[1:])
    together = (members_attacked_probabilities([t.classifier for t in trained], tests[0].X, tests[0].y, ATTACKS)
                if shared else [None] * len(configs))
    return [score(config, run, train, test, probabilities)
            for config, run, (train, test), probabilities in zip(configs, trained, splits, together)]


def score_masking(config: dict, model, train: Dataset, test: Dataset) -> dict[str, float]:
    """The gradient-masking checks (:func:`tsimb.robustness.masking_checks`) of a run's
    model on a fixed stratified subset of the test split, with transfer attacks crafted on
    the uncorrected reference network of the same seed (trained here again), as
    ``masking_<check>`` metrics; with ``probe: "gradient-free"``, the closer look of
    :func:`tsimb.robustness.gradient_free_sweep` too."""
    stored = config["masking"]
    checks = MaskingChecks(**{**stored, "sweep": tuple(stored["sweep"])})
    subset = evaluation_subset(test, config["masking_size"], seed=0)
    reference = None
    if config["method"] != REFERENCE_METHOD:
        method, reference_config = METHODS[REFERENCE_METHOD], {**config, "method": REFERENCE_METHOD}
        reference = method.train(train, model=config["classifier"], budget=Budget(**config["budget"]),
                                 settings=method.settings_from_config(reference_config),
                                 seed=config["seed"]).classifier
    found = masking_checks(model, subset.X, subset.y, reference=reference, checks=checks, seed=config["seed"])
    if config.get("probe") == "gradient-free":
        found.update(gradient_free_sweep(model, subset.X, subset.y, checks))
    return {f"masking_{name}": value for name, value in found.items()}


def split_masking(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A masking grid's tidy table split in two: the checks' accuracies (``metric`` without
    its ``masking_`` prefix: clean, fgsm, bim, pgd, transfer_*, eps_*, strongest) and the
    flags raised (value above 0; ``metric`` the flag's name in words, e.g. "eps plateau")."""
    checks = table[table["metric"].str.startswith("masking_") & ~table["metric"].str.startswith("masking_flag_")]
    flags = table[table["metric"].str.startswith("masking_flag_") & (table["value"] > 0)]
    return (checks.assign(metric=checks["metric"].str.removeprefix("masking_")),
            flags.assign(metric=flags["metric"].str.removeprefix("masking_flag_").str.replace("_", " ")))


def _config(dataset: str, imbalance: Imbalance, method: str, seed: int, settings: ODEAugmentationSettings,
            budget: Budget | None = None, **augment_changes) -> dict:
    augment = asdict(replace(settings.augment, **augment_changes))
    if augment["time_unit"] == AugmentSettings.time_unit:
        # added after the chapter's runs were stored: left out at its default, so that their
        # configurations (and keys) stay as they were; a run without it read back gets "step"
        del augment["time_unit"]
    return dict(chapter=CHAPTER, version=CODE_VERSION, dataset=dataset, imbalance=imbalance.kind,
                ratio=float(imbalance.ratio), method=method, seed=seed, classifier=settings.classifier,
                budget=asdict(budget or settings.budget), ode_budget=asdict(settings.ode_budget),
                augment=augment, test_size=settings.test_size)


def _ordered_datasets(s: ODEAugmentationSettings) -> list[str]:
    """The chapter's balanced sets in the order the chapter shows them (no duplicates)."""
    return list(dict.fromkeys((*s.datasets, *s.more_datasets, *s.beyond_datasets, *s.larger_datasets,
                               *s.collapse_datasets)))


def used_datasets(s: ODEAugmentationSettings) -> set[str]:
    return {*_ordered_datasets(s), *s.imbalance_datasets}


def measure(config: dict, train: Dataset, test: Dataset) -> dict[str, float]:
    """How far Out-Sign-Grad's step (eq. 9: ``|clamp(dz/dt, -beta, beta)|`` at every point)
    reaches towards the other classes of the training split
    (:func:`tsimb.augment.step_reach`), and how well the ODENet's ``dz/dt`` (eq. 3) follows
    the series' own slope (:func:`tsimb.models.derivative_agreement`). Nothing is trained
    but the ODENet, fitted as the run of the same set and seed fits it."""
    augment = AugmentSettings(**config["augment"])
    odenet = fitted_odenet(train, config["seed"], ODEBudget(**config["ode_budget"]))
    x = torch.as_tensor(train.X, dtype=torch.float32)
    step = derivative_in_unit(odenet, x, augment.time_unit).clamp(-augment.beta, augment.beta).abs()
    return {**step_reach(x, torch.as_tensor(train.y), step),
            "ode_agreement": derivative_agreement(odenet, train.X)}


def build_grids(s: ODEAugmentationSettings) -> dict[str, list[dict]]:
    """``paper`` (Tables I-III), ``paper-more`` (more of Table I's sets, fewer methods),
    ``beyond`` (sets the paper did not use) and ``beyond-larger`` (larger ones, fewer
    seeds), ``imbalanced``, ``time_unit`` (the other unit
    of the ODE's time), ``step-size`` (smaller step bounds beside the paper's), ``long`` (a few
    seeds of four methods at Fawaz et al.'s 1500 epochs), and ``masking``,
    ``masking-beyond``, ``masking-more`` and ``masking-long`` (the networks of the other
    grids again, with the gradient-masking checks; Carlini et al. 2019), and
    ``masking-probe`` (a gradient-free closer look at the networks the checks flagged);
    ``beyond-collapse`` (a control and smaller steps where Out-Sign-Grad does not fit) and
    ``step-reach`` (how far its step reaches on each set: measured, nothing trained)."""
    balanced = Imbalance("none")
    out = {
        "paper": [_config(d, balanced, m, seed, s) for d in s.datasets for m in s.methods for seed in s.seeds],
        # seed by seed, so that a grid cut short still compares every method
        "paper-more": [_config(d, balanced, m, seed, s) for d in s.more_datasets
                       for seed in (s.seeds if s.more_seeds is None else s.more_seeds) for m in s.more_methods],
        "beyond": [_config(d, balanced, m, seed, s) for d in s.beyond_datasets for m in s.beyond_methods
                   for seed in s.seeds],
        # seed by seed, as paper-more
        "beyond-larger": [_config(d, balanced, m, seed, s) for d in s.larger_datasets for seed in s.larger_seeds
                          for m in s.beyond_methods],
        # a control and smaller steps where Out-Sign-Grad does not fit (the collapse)
        "beyond-collapse": [_config(d, balanced, m, seed, s, beta=beta) for d in s.collapse_datasets
                            for seed in s.collapse_seeds
                            for m, beta in (("rand-grad", s.augment.beta),
                                            *(("out-sign-grad", b) for b in s.collapse_betas))],
        # how far Out-Sign-Grad's step reaches on every set (and at the collapse's bounds)
        "step-reach": [{**_config(d, balanced, "out-sign-grad", 0, s, beta=beta), "kind": MEASUREMENT}
                       for d, beta in (*((d, s.augment.beta) for d in _ordered_datasets(s)),
                                       *((d, b) for d in s.collapse_datasets for b in s.collapse_betas))],
        "imbalanced": [_config(d, s.imbalance, m, seed, s) for d in s.imbalance_datasets
                       for m in s.imbalance_methods for seed in s.imbalance_seeds],
    }
    # the ODE's time unit (the paper does not state it): the methods whose step is dz/dt,
    # under the other unit; their runs under the default are the paper grid's
    other_unit = next(u for u in TIME_UNITS if u != s.augment.time_unit)
    out["time_unit"] = [_config(d, balanced, m, seed, s, time_unit=unit) for d in s.datasets
                        for m in TIME_UNIT_METHODS if m in s.methods
                        for unit in (other_unit, s.augment.time_unit) for seed in s.seeds]
    # the step's size: smaller bounds beside the paper's, and the paper's bound with time per
    # series, which moves almost every point by the whole bound (those runs are the paper
    # and time-unit grids')
    if s.betas:
        out["step-size"] = [_config(s.datasets[0], balanced, m, seed, s, beta=beta, time_unit=unit)
                            for m in s.beta_methods
                            for beta, unit in (*((b, s.augment.time_unit) for b in s.betas),
                                               (s.augment.beta, s.augment.time_unit), (s.augment.beta, other_unit))
                            for seed in s.seeds]
    if s.long_epochs is not None:
        longer = replace(s.budget, epochs=s.long_epochs)
        out["long"] = [_config(s.datasets[0], balanced, m, seed, s, longer) for m in s.long_methods
                       for seed in s.long_seeds]
    def checked(config: dict) -> dict:
        return {**config, "kind": "masking", "masking": asdict(s.masking), "masking_size": s.masking_size}

    out["masking"] = [checked(_config(s.datasets[0], balanced, m, seed, s))
                      for m in s.masking_methods for seed in s.masking_seeds]
    # the same checks on the beyond grid's networks (seed by seed, the cheaper sets first)
    out["masking-beyond"] = [checked(_config(d, balanced, m, seed, s)) for seed in s.masking_beyond_seeds
                             for d in s.beyond_datasets for m in s.beyond_methods]
    # and on the other grids' networks that the two grids above do not already check (the
    # cheaper grids first): the step-size and time-unit arms that differ from the paper
    # grid's, the imbalanced grid's methods, and the costly methods of the long and
    # more-sets grids
    paper_keys = {json.dumps(c, sort_keys=True) for c in out["paper"]}
    more = [c for name in ("step-size", "time_unit", "imbalanced") for c in out.get(name, [])
            if json.dumps(c, sort_keys=True) not in paper_keys]
    more += [c for name in ("long", "paper-more") for c in out.get(name, [])
             if c["method"] in s.masking_costly_methods]
    out["masking-more"] = list({json.dumps(c, sort_keys=True): checked(c) for c in more
                                if c["seed"] in s.masking_more_seeds}.values())
    # the long grid's networks at several seeds: its costly methods and `none`, the claims'
    # reference (seed 0 of the costly methods is the masking-more grid's run)
    out["masking-long"] = [checked(c) for c in out.get("long", []) if c["seed"] in s.masking_long_seeds
                           and c["method"] in (REFERENCE_METHOD, *s.masking_costly_methods)]
    out["masking-probe"] = [{**c, "probe": "gradient-free"} for grid, network, dataset, method in s.masking_probed
                            for c in out[grid] if c["seed"] == s.masking_seeds[0] and c["dataset"] == dataset
                            and c["method"] == method
                            and checked_network(_network_columns(c), s.budget.epochs) == network]
    if len(out["masking-probe"]) != len(s.masking_probed):
        raise ValueError(f"masking_probed names {len(s.masking_probed)} networks but {len(out['masking-probe'])} "
                         "configurations match; name each (grid, network, dataset, method) of one run")
    return out


# the tidy table's columns computed from each configuration (Experiment.derived)
DERIVED = {"epochs": lambda config: config["budget"]["epochs"],
           "time_unit": lambda config: config["augment"].get("time_unit", AugmentSettings.time_unit),
           "beta": lambda config: config["augment"].get("beta", AugmentSettings.beta)}


def _network_columns(config: dict) -> dict:
    return {"imbalance": config["imbalance"], **{name: column(config) for name, column in DERIVED.items()}}


def checked_network(run: Mapping, epochs: int) -> str:
    """Which grid's network a row of the ``masking-more`` grid checked, from its configuration
    columns (imbalance, epochs, beta, time_unit) and the profile's budget ``epochs``:
    "imbalanced", "1500 epochs" (a budget other than the profile's), "β=0.1", "time per
    series", or "balanced" (the paper's settings, on another data set than the paper grid's)."""
    if run["imbalance"] != "none":
        return "imbalanced"
    if run["epochs"] != epochs:
        return f"{run['epochs']:g} epochs"
    if run["beta"] != AugmentSettings.beta:
        return f"β={run['beta']:g}"
    if run["time_unit"] != AugmentSettings.time_unit:
        return f"time per {run['time_unit']}"
    return "balanced"


PUBLISHED = Path(__file__).parent / "published" / "sarkar2023_tables_1_3.csv"


def paper_results() -> pd.DataFrame:
    """The paper's published accuracies (Tables I-III; the ``none`` row is Fawaz et al.'s
    ResNet as the paper reports it), read from ``published/sarkar2023_tables_1_3.csv``, as
    a tidy table: dataset, method, table, metric, value in [0, 1]."""
    wide = pd.read_csv(PUBLISHED, comment="#")
    tidy_table = wide.melt(id_vars=["dataset", "method", "table"], var_name="metric", value_name="value")
    tidy_table["value"] = tidy_table["value"] / 100
    return tidy_table


CLAIMS = (
    Claim("In-Clamp-Grad raises FGSM accuracy", "III-D, Table I", "in-clamp-grad", "none", "fgsm_accuracy"),
    Claim("In-Clamp-Grad raises BIM accuracy", "III-D, Table I", "in-clamp-grad", "none", "bim_accuracy"),
    Claim("In-Sign-Grad raises FGSM accuracy", "III-D, Table I", "in-sign-grad", "none", "fgsm_accuracy"),
    Claim("In-Sign-Grad raises BIM accuracy", "III-D, Table I", "in-sign-grad", "none", "bim_accuracy"),
    Claim("In-Clamp-Grad keeps clean accuracy (within 1 point)", "III-D", "in-clamp-grad", "none",
          "clean_accuracy", "non-inferiority", 0.01),
    Claim("Out-Sign-Grad raises FGSM accuracy", "III-D, Table I", "out-sign-grad", "none", "fgsm_accuracy"),
    Claim("Out-Sign-Grad raises BIM accuracy", "III-D, Table I", "out-sign-grad", "none", "bim_accuracy"),
    Claim("Out-Sign-Grad keeps clean accuracy (within 1 point)", "III-D", "out-sign-grad", "none",
          "clean_accuracy", "non-inferiority", 0.01),
    Claim("Out-Sign-Grad beats In-Clamp-Grad under BIM", "III-D", "out-sign-grad", "in-clamp-grad", "bim_accuracy"),
    Claim("Out-Sign-Grad beats Rand-Grad under BIM", "III-D, Table III", "out-sign-grad", "rand-grad",
          "bim_accuracy"),
    Claim("Spec-Den raises BIM accuracy", "IV", "spec-den", "none", "bim_accuracy"),
    Claim("Feat-Sim adds BIM accuracy to Out-Sign-Grad", "III-D, Table II", "out-sign-grad+fs", "out-sign-grad",
          "bim_accuracy"),
    Claim("Feat-Sim adds BIM accuracy to In-Sign-Grad", "III-D, Table II", "in-sign-grad+fs", "in-sign-grad",
          "bim_accuracy"),
)


# Does the budget change the picture? Each method at Fawaz et al.'s 1500 epochs against the
# same seeds at the quick profile's 100 (runs labelled METHOD@EPOCHS), and the paper's main
# claims at 1500 epochs
BUDGET_CLAIMS = (
    *(Claim(f"1500 epochs raise {m}'s {a} accuracy", "Fawaz et al. 2019", f"{m}@1500", f"{m}@100",
            f"{a.lower()}_accuracy") for m in ("none", "in-sign-grad", "out-sign-grad", "spec-den")
      for a in ("FGSM", "BIM")),
    *(Claim(f"{label} raises {a} accuracy at 1500 epochs", "III-D, Table I", f"{m}@1500", "none@1500",
            f"{a.lower()}_accuracy") for m, label in (("in-sign-grad", "In-Sign-Grad"),
                                                      ("out-sign-grad", "Out-Sign-Grad"), ("spec-den", "Spec-Den"))
      for a in ("FGSM", "BIM")),
)


# Does a shorter step keep clean accuracy? (Not a claim of the paper: our reading of why
# Out-Sign-Grad loses clean accuracy on some seeds.) Each ``beta_methods`` method at each
# smaller bound of the quick profile against the paper's 0.33 and against ``none``, and the
# paper's bound with time per series (longer steps) against per step; runs are labelled by
# :func:`step_label`
def step_label(method: str, beta: float, time_unit: str = AugmentSettings.time_unit) -> str:
    """A run's label in the step-size comparison: "out-sign-grad β=0.1", "... per series"."""
    return f"{method} β={beta:g}" + ("" if time_unit == AugmentSettings.time_unit else f", per {time_unit}")


_PAPER_BETA = AugmentSettings.beta


def _step_claims(method: str, betas: tuple[float, ...], prefix: str = "") -> tuple[Claim, ...]:
    paper = step_label(method, _PAPER_BETA)
    return (
        *(claim for beta in betas for claim in (
            Claim(f"{prefix}β={beta:g} keeps more clean accuracy than β={_PAPER_BETA:g}", "ours",
                  step_label(method, beta), paper, "clean_accuracy"),
            Claim(f"{prefix}β={beta:g} keeps clean accuracy (within 1 point of none)", f"III-D, at β={beta:g}",
                  step_label(method, beta), "none", "clean_accuracy", "non-inferiority", 0.01),
            Claim(f"{prefix}β={_PAPER_BETA:g} gives more BIM accuracy than β={beta:g}", "ours", paper,
                  step_label(method, beta), "bim_accuracy"),
            Claim(f"{prefix}β={beta:g} raises BIM accuracy over none", f"III-D, at β={beta:g}",
                  step_label(method, beta), "none", "bim_accuracy"))),
        Claim(f"{prefix}longer steps (per series) lose more clean accuracy", "ours", paper,
              step_label(method, _PAPER_BETA, "series"), "clean_accuracy"),
    )


# the claims name the method only when the comparison has several
STEP_CLAIMS = tuple(claim for m in SETTINGS["quick"].beta_methods for claim in _step_claims(
    m, SETTINGS["quick"].betas, f"{m}: " if len(SETTINGS["quick"].beta_methods) > 1 else ""))


# the paper's BIM claims again, on the masking grid's models, against the strongest attack
# (per series, the worst case over FGSM, BIM, PGD restarts and the transfer attacks)
MASKING_CLAIMS = tuple(replace(c, text=c.text.replace("BIM accuracy", "accuracy under the strongest attack"),
                               metric="masking_strongest")
                       for c in CLAIMS if c.metric == "bim_accuracy"
                       and {c.better, c.worse} <= set(SETTINGS["quick"].masking_methods))


# the budget's BIM claims of the checked costly methods again, on the masking-long grid's
# networks (labelled METHOD@EPOCHS), against the strongest attack
MASKING_LONG_CLAIMS = tuple(replace(c, text=c.text.replace("BIM accuracy", "accuracy under the strongest attack"),
                                    metric="masking_strongest")
                            for c in BUDGET_CLAIMS if c.metric == "bim_accuracy"
                            and c.worse == f"{REFERENCE_METHOD}@{SETTINGS['quick'].long_epochs}"
                            and c.better.split("@")[0] in SETTINGS["quick"].masking_costly_methods)


# the augmentations whose copies take a sign at every point: of the loss gradient
# (Out-Sign-Grad, eq. 9) or of dz/dt (In-Sign-Grad, eq. 7)
SIGN_METHODS = ("in-sign-grad", "out-sign-grad")


def sign_dependent(config: dict) -> str | None:
    """Why a run made on another processor cannot be replayed here (``tsimb verify``), or
    None: a copy that takes a sign at every point (eqs. 7 and 9) flips wherever the signed
    value is near zero, so last-bit differences change the training data within the first
    epoch (measured: an Out-Sign-Grad run on ItalyPowerDemand made on an AMD EPYC replayed
    4% and 11% off in its first two epochs on an Intel Xeon)."""
    if config["method"].removesuffix("+fs") in SIGN_METHODS:
        return "its augmentation takes a sign at every point (eqs. 7 and 9), which flips where the value is near zero"
    return None


EXPERIMENT = Experiment(
    chapter=CHAPTER, code_version=CODE_VERSION, settings=SETTINGS, build_grids=build_grids,
    used_datasets=used_datasets, score=score, score_members=score_members, measure=measure, split=split,
    model_key="classifier",
    bookkeeping=("chapter", "version", "budget", "ode_budget", "augment", "test_size", "classifier", "masking",
                 "masking_size"),
    derived=DERIVED,
    reference_method=REFERENCE_METHOD, own_methods=OWN_METHODS, claims=CLAIMS, paper_results=paper_results,
    not_replayable=sign_dependent,
)
