"""The experiment of the book's chapter *Adversarial training under imbalance* (SRAT; Wang
2023, dissertation ch. 4, ICDM 2022), transposed from CIFAR to z-normalised series.

**The protocol** (reusable: :func:`protocol_split`, :func:`pair_split`,
:func:`robust_half_scores`). The published training and test splits of a UCR set are
pooled and re-split (:func:`tsimb.data.pooled_balanced_split`): a balanced test split of
``floor(test_fraction * n_min)`` series per class, the rest a training pool that the
dissertation's Step or Exp protocol thins (:class:`tsimb.data.Imbalance`, sec. 4.5.1).
The classes are halved by training count (:func:`tsimb.data.class_halves`: the
well-represented and under-represented halves). Every model is scored on the balanced
test split, clean ("standard") and under PGD-20 ("robust", cross entropy, random start,
the training budget), overall, on each half, and per class.

**The grids** (quick profile, sized to about 25 CPU-minutes in total on one thread):

* ``main``: natural training and the adversarial methods on each set and protocol (the
  tables' comparison; with ``none`` and ``adv`` also the preliminary study, Figure 4.1);
* ``pair``: a two-class set at a large ratio, natural and adversarial training with the
  under-represented class's weight raised (Figure 4.2);
* ``lambda`` and ``tau``: SRAT-CE's sensitivity to the separation weight and the
  temperature (Figure 4.6);
* ``ratio``: SRAT-CE against DRCB-CE at another imbalance ratio (Figure 4.7).

``python -m tsimb run adversarial-imbalance`` fills the run store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import Dataset, Imbalance, class_halves, load_train_test, pooled_balanced_split
from ..evaluation import Claim
from ..methods import Trained
from ..robustness import AdversarialSettings, attack_array
from ..train import Budget, predict_proba
from ..train.method import settings_from_config
from .experiment import Experiment

CHAPTER = "adversarial-imbalance"
CODE_VERSION = "adversarial-imbalance-1"  # bump when a change alters results, so that stored runs are not served
REFERENCE_METHOD, OWN_METHODS = "adv", ("srat-ce", "srat-ldam")
TABLE_METHODS = ("none", "adv", "adv-reweight", "drcb-ce", "drcb-ldam", "srat-ce", "srat-ldam")
ALL_METHODS = ("none", "adv", "adv-focal", "adv-ldam", "adv-ros", "adv-reweight", "adv-cb-focal", "drcb-ce",
               "drcb-focal", "drcb-ldam", "srat-ce", "srat-focal", "srat-ldam")


@dataclass(frozen=True)
class AdversarialChapterSettings:
    """One profile of the chapter: the main grid's sets, protocols, methods and seeds (with
    fewer seeds on the ``extra_datasets``), the model and budgets, the attack
    (:class:`tsimb.robustness.AdversarialSettings`) and the three small studies."""

    datasets: tuple[str, ...]  # the main grid, every seed
    extra_datasets: tuple[str, ...]  # the main grid's first imbalance only, extra_seeds
    imbalances: tuple[Imbalance, ...]
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    extra_seeds: tuple[int, ...]
    model: str
    budget: Budget
    adversarial: AdversarialSettings
    test_fraction: float
    pair_dataset: str
    pair_ratio: float  # K of the two-class set
    pair_weights: tuple[float, ...]  # the under-represented class's weight (Figure 4.2)
    pair_seeds: tuple[int, ...]
    sweep_dataset: str
    sweep_imbalance: Imbalance
    lambdas: tuple[float, ...]  # besides the default's (main grid)
    taus: tuple[float, ...]
    sweep_seeds: tuple[int, ...]
    ratio_values: tuple[float, ...]  # Step-K besides the main grid's
    ratio_methods: tuple[str, ...]
    ratio_seeds: tuple[int, ...]


# z-normalised series: l-inf eps 0.1 plays the role of CIFAR's 8/255 (0.13 pixel sd); step eps/4
# (the paper's 2/255 of 8/255); a small CNN trained with PGD-5 so the quick grid fits 25 CPU-minutes
QUICK_ATTACK = AdversarialSettings(eps=0.1, norm="linf", steps=5, eval_steps=20)

SETTINGS = {
    "quick": AdversarialChapterSettings(
        datasets=("SwedishLeaf",),
        extra_datasets=("FacesUCR", "MedicalImages"),
        imbalances=(Imbalance("step", 10), Imbalance("exp", 10)),
        methods=TABLE_METHODS,
        seeds=(0, 1, 2),
        extra_seeds=(0, 1, 2),
        model="cnn",
        # Adam at 1e-2 (at 1e-3 the small CNN is far from fitted in 40 epochs); DRW and its
        # 10x smaller step at epoch 32 (the paper's 160 of 200)
        budget=Budget(epochs=40, batch_size=32, lr=1e-2),
        adversarial=QUICK_ATTACK,
        test_fraction=1 / 3,
        pair_dataset="FacesUCR",
        pair_ratio=50,
        pair_weights=(1, 10, 50, 150),
        pair_seeds=(0, 1, 2),
        sweep_dataset="SwedishLeaf",
        sweep_imbalance=Imbalance("step", 10),
        lambdas=(0.25, 4.0, 8.0),
        taus=(0.05, 0.5),
        sweep_seeds=(0, 1),
        ratio_values=(25,),
        ratio_methods=("drcb-ce", "srat-ce"),
        ratio_seeds=(0, 1),
    ),
    "full": AdversarialChapterSettings(
        datasets=("SwedishLeaf", "FacesUCR", "MedicalImages"),
        extra_datasets=(),
        # K = 100 leaves one series in every under-represented class (see the chapter's counts)
        imbalances=(Imbalance("step", 10), Imbalance("exp", 10), Imbalance("step", 100), Imbalance("exp", 100)),
        methods=ALL_METHODS,
        seeds=(0, 1, 2, 3, 4),
        extra_seeds=(),
        model="resnet",
        budget=Budget(epochs=200, batch_size=32, lr=1e-3),  # the paper: 200 epochs, DRW at 160
        adversarial=AdversarialSettings(eps=0.1, norm="linf", steps=10, eval_steps=20),
        test_fraction=1 / 3,
        pair_dataset="FacesUCR",
        pair_ratio=50,
        pair_weights=(1, 10, 50, 100, 150, 200),
        pair_seeds=(0, 1, 2, 3, 4),
        sweep_dataset="SwedishLeaf",
        sweep_imbalance=Imbalance("step", 10),
        lambdas=(0.25, 0.5, 2.0, 4.0, 8.0),
        taus=(0.05, 0.2, 0.5),
        sweep_seeds=(0, 1, 2, 3, 4),
        ratio_values=(5, 20, 25, 50),
        ratio_methods=("drcb-focal", "srat-focal", "drcb-ce", "srat-ce"),
        ratio_seeds=(0, 1, 2, 3, 4),
    ),
}


# --- the protocol (reused by later chapters) ---

def protocol_split(dataset: str, imbalance: Imbalance, seed: int, test_fraction: float = 1 / 3
                   ) -> tuple[Dataset, Dataset]:
    """The chapter's protocol (Wang 2023, sec. 4.5.1, on series): the published splits
    pooled, a balanced test split drawn with ``seed``
    (:func:`tsimb.data.pooled_balanced_split`), the training pool thinned by ``imbalance``
    (Step or Exp with ratio ``K``) with the same seed. Returns ``(train, test)``."""
    pool, test = pooled_balanced_split(*load_train_test(dataset), test_fraction=test_fraction, seed=seed)
    return imbalance.apply(pool, seed=seed), test


def pair_split(dataset: str, ratio: float, seed: int, test_fraction: float = 1 / 3) -> tuple[Dataset, Dataset]:
    """The two-class set of the preliminary study (Wang 2023, sec. 4.2.2, Figure 4.2): the
    two largest classes of the pooled splits (relabelled 0, the larger, and 1), a balanced
    test split, and Step imbalance with ratio ``K`` on the rest (class 0 keeps ``n``, class
    1 ``n / K``; ``n`` the smaller pooled count after the test draw)."""
    train, test = load_train_test(dataset)
    counts = train.class_counts() + test.class_counts()
    pair = sorted(range(len(counts)), key=lambda c: (-counts[c], c))[:2]
    names = tuple(train.class_names[c] for c in pair)

    def restrict(split: Dataset) -> Dataset:
        keep = np.isin(split.y, pair)
        labels = np.where(split.y[keep] == pair[0], 0, 1).astype(np.int64)
        return Dataset(split.name, split.split, split.X[keep], labels, names, split.source)

    pool, test = pooled_balanced_split(restrict(train), restrict(test), test_fraction=test_fraction, seed=seed)
    return Imbalance("step", ratio).apply(pool, seed=seed), test


def robust_half_scores(model, test: Dataset, counts: np.ndarray, settings: AdversarialSettings,
                       seed: int = 0) -> dict[str, float]:
    """The tables' numbers (Wang 2023, Tables 4.1-4.7) and more: standard (clean) and
    robust accuracy (under ``settings``' PGD-``eval_steps`` attack, cross entropy on the
    true labels, random start seeded by ``seed``) on the test split, overall (``std_overall``,
    ``rob_overall``), on the under- and well-represented halves of the classes by training
    ``counts`` (``std_under``, ``std_well``, ...), the gap ``well - under`` (``std_gap``,
    ``rob_gap``), and per class (``std_class_<k>``, ``rob_class_<k>``)."""
    well, under = class_halves(np.asarray(counts))
    attacked = attack_array(model, test.X, test.y, settings.evaluation_attack(), seed=seed)
    out: dict[str, float] = {}
    for prefix, X in (("std", test.X), ("rob", attacked)):
        correct = predict_proba(model, X).argmax(1) == test.y
        out[f"{prefix}_overall"] = float(correct.mean())
        for name, classes in (("under", under), ("well", well)):
            mask = np.isin(test.y, classes)
            out[f"{prefix}_{name}"] = float(correct[mask].mean()) if mask.any() else float("nan")
        out[f"{prefix}_gap"] = out[f"{prefix}_well"] - out[f"{prefix}_under"]
        for k in range(test.n_classes):
            mask = test.y == k
            if mask.any():
                out[f"{prefix}_class_{k}"] = float(correct[mask].mean())
    return out


def split(config: dict) -> tuple[Dataset, Dataset]:
    """A run's ``(train, test)``: :func:`pair_split` for the two-class study, else
    :func:`protocol_split`."""
    if config["study"] == "pair":
        return pair_split(config["dataset"], config["ratio"], config["seed"], config["test_fraction"])
    return protocol_split(config["dataset"], Imbalance(config["imbalance"], config["ratio"]), config["seed"],
                          config["test_fraction"])


def score(config: dict, trained: Trained, train: Dataset, test: Dataset) -> dict[str, float]:
    """:func:`robust_half_scores` under the run's attack settings, plus the training-set
    size and its smallest and largest class."""
    settings = settings_from_config(AdversarialSettings, config["adversarial"])
    counts = train.class_counts()
    metrics = robust_half_scores(trained.classifier, test, counts, settings, seed=config["seed"])
    metrics.update(train_series=float(len(train)), train_min=float(counts.min()), train_max=float(counts.max()))
    return metrics


# --- the grids ---

def _config(dataset: str, imbalance: str, ratio: float, method: str, seed: int, s: AdversarialChapterSettings,
            study: str, adversarial: AdversarialSettings | None = None) -> dict:
    return dict(chapter=CHAPTER, version=CODE_VERSION, dataset=dataset, imbalance=imbalance, ratio=float(ratio),
                model=s.model, method=method, seed=seed, study=study, test_fraction=s.test_fraction,
                budget=asdict(s.budget), adversarial=asdict(adversarial or s.adversarial))


def used_datasets(s: AdversarialChapterSettings) -> set[str]:
    return {*s.datasets, *s.extra_datasets, s.pair_dataset, s.sweep_dataset}


def build_grids(s: AdversarialChapterSettings) -> dict[str, list[dict]]:
    """``main`` (every method on each set and protocol), ``pair`` (Figure 4.2: natural
    and adversarial training of a two-class set with the under-represented class's weight
    raised; weight 1 is plain training), ``lambda`` and ``tau`` (SRAT-CE's sweeps, Figure
    4.6; the default's runs are the main grid's), ``ratio`` (SRAT-CE vs DRCB-CE at other
    Step ratios, Figure 4.7)."""
    sweep = (s.sweep_dataset, s.sweep_imbalance.kind, s.sweep_imbalance.ratio)
    main = [_config(d, imb.kind, imb.ratio, m, seed, s, "main") for d in s.datasets for imb in s.imbalances
            for m in s.methods for seed in s.seeds]
    main += [_config(d, s.imbalances[0].kind, s.imbalances[0].ratio, m, seed, s, "main") for d in s.extra_datasets
             for m in s.methods for seed in s.extra_seeds]
    pair = [_config(s.pair_dataset, "step", s.pair_ratio, method, seed, s, "pair",
                    replace(s.adversarial, under_weight=float(w)))
            for method in ("natural-reweight", "adv-reweight") for w in s.pair_weights for seed in s.pair_seeds]
    lambdas = [_config(*sweep, "srat-ce", seed, s, "lambda", replace(s.adversarial, separation_weight=lam))
               for lam in s.lambdas for seed in s.sweep_seeds]
    taus = [_config(*sweep, "srat-ce", seed, s, "tau", replace(s.adversarial, temperature=tau))
            for tau in s.taus for seed in s.sweep_seeds]
    ratio = [_config(s.sweep_dataset, "step", k, m, seed, s, "ratio") for k in s.ratio_values
             for m in s.ratio_methods for seed in s.ratio_seeds]
    return {"main": main, "pair": pair, "lambda": lambdas, "tau": taus, "ratio": ratio}


# --- the paper's numbers and the claims ---

PUBLISHED = Path(__file__).parent / "published" / "wang2023_ch4_tables_4_1-4_7.csv"
PAPER_METHOD_NAMES = {"CE": "adv", "Focal": "adv-focal", "LDAM": "adv-ldam", "CB-Reweight": "adv-reweight",
                      "CB-Focal": "adv-cb-focal", "DRCB-CE": "drcb-ce", "DRCB-Focal": "drcb-focal",
                      "DRCB-LDAM": "drcb-ldam", "SRAT-CE": "srat-ce", "SRAT-Focal": "srat-focal",
                      "SRAT-LDAM": "srat-ldam"}
"""The tables' row names -> ours (CE is vanilla PGD adversarial training)."""


def paper_results() -> pd.DataFrame:
    """Tables 4.1-4.7 of the dissertation (CIFAR-10/100, ResNet-18, PGD-10 training,
    PGD-20 evaluation; percentages, mean and sd over repeated runs) as a tidy table:
    table, dataset, imbalance, K, threat, paper_method, method (ours), metric, value, sd,
    protocol (``step-10``, ...), source. Labelled as the dissertation's."""
    table = pd.read_csv(PUBLISHED, comment="#")
    table["paper_method"] = table["method"]
    table["method"] = table["method"].map(PAPER_METHOD_NAMES)
    table["protocol"] = [f"{kind.lower()}-{k:g}" for kind, k in zip(table["imbalance"], table["K"])]
    return table.assign(source="dissertation (published)")


def paper_orderings(paper: pd.DataFrame) -> pd.DataFrame:
    """For each published table, the best method on each metric, and in how many of its
    cells (variant X in CE, Focal, LDAM times the four metrics) SRAT-X beats DRCB-X."""
    rows = []
    for table, group in paper.groupby("table", sort=True):
        wide = group.pivot_table(index="paper_method", columns="metric", values="value")
        wins = cells = 0
        for x in ("CE", "Focal", "LDAM"):
            if f"SRAT-{x}" in wide.index and f"DRCB-{x}" in wide.index:
                diff = wide.loc[f"SRAT-{x}"] - wide.loc[f"DRCB-{x}"]
                wins, cells = wins + int((diff > 0).sum()), cells + int(diff.notna().sum())
        rows.append(dict(table=table, setting=f"{group['dataset'].iloc[0]} {group['imbalance'].iloc[0]}-"
                                               f"{group['K'].iloc[0]:g} ({group['threat'].iloc[0]})",
                         **{f"best_{m}": wide[m].idxmax() for m in ("std_overall", "rob_overall")},
                         srat_wins=f"{wins}/{cells}"))
    return pd.DataFrame(rows)


def claims_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Our runs as the tidy table the claims are tested on (``dataset``, ``seed``,
    ``method``, ``metric``, ``value``): ``dataset`` names the set and the protocol (each a
    block of paired runs), plus derived rows:

    * ``pair``: per seed, ``cost_well`` (the well-represented class's standard accuracy at
      weight 1 minus at the largest weight) under the methods ``natural`` and ``adversarial``;
    * ``lambda``: SRAT-CE's runs as methods ``lambda-<value>`` (the default's from ``main``).
    """
    main = table[table["study"].isin(["main", "ratio"])]
    out = [main.assign(dataset=main["dataset"] + " " + main["protocol"])[["dataset", "seed", "method", "metric",
                                                                          "value"]]]
    pair = table[(table["study"] == "pair") & (table["metric"] == "std_well")]
    if not pair.empty:
        weights = pair["under_weight"]
        low, high = pair[weights == weights.min()], pair[weights == weights.max()]
        cost = low.merge(high, on=["dataset", "seed", "method"], suffixes=("_low", "_high"))
        out.append(pd.DataFrame(dict(dataset=cost["dataset"] + " pair", seed=cost["seed"],
                                     method=cost["method"].map({"natural-reweight": "natural",
                                                                "adv-reweight": "adversarial"}),
                                     metric="cost_well", value=cost["value_low"] - cost["value_high"])))
    sweep = table[(table["method"] == "srat-ce") & table["study"].isin(["main", "lambda"])
                  & (table["protocol"] == "step-10")]
    if (table["study"] == "lambda").any():
        sweep = sweep[sweep["dataset"].isin(table.loc[table["study"] == "lambda", "dataset"].unique())]
        out.append(sweep.assign(dataset=sweep["dataset"] + " lambda",
                                method=[f"lambda-{v:g}" for v in sweep["lambda"]])[
            ["dataset", "seed", "method", "metric", "value"]])
    return pd.concat(out, ignore_index=True)


CLAIMS = (
    Claim("the well/under gap is larger under adversarial than natural training", "sec. 4.2.1, Figure 4.1",
          "adv", "none", "std_gap"),
    Claim("up-weighting the minority costs the well-represented class more under adversarial training",
          "sec. 4.2.2, Figure 4.2", "adversarial", "natural", "cost_well"),
    *(Claim(f"SRAT-{x} beats DRCB-{x} on robust under-represented accuracy", "sec. 4.5.2, Tables 4.1-4.7",
            f"srat-{x.lower()}", f"drcb-{x.lower()}", "rob_under") for x in ("CE", "LDAM")),
    *(Claim(f"SRAT-{x} beats DRCB-{x} on standard overall accuracy", "sec. 4.5.2, Tables 4.1-4.7",
            f"srat-{x.lower()}", f"drcb-{x.lower()}", "std_overall") for x in ("CE", "LDAM")),
    Claim("SRAT-LDAM is more robust than SRAT-CE (robust overall)", "sec. 4.5.2", "srat-ldam", "srat-ce",
          "rob_overall"),
    Claim("SRAT-LDAM beats SRAT-CE on standard overall accuracy", "sec. 4.5.2", "srat-ldam", "srat-ce",
          "std_overall"),
    Claim("results are flat for lambda <= 4: lambda 4 within 2 points of lambda 1", "sec. 4.5.3, Figure 4.6",
          "lambda-4", "lambda-1", "rob_overall", kind="non-inferiority", margin=0.02),
    Claim("results are flat for lambda <= 4: lambda 0.25 within 2 points of lambda 1", "sec. 4.5.3, Figure 4.6",
          "lambda-0.25", "lambda-1", "rob_overall", kind="non-inferiority", margin=0.02),
)


def _derived_setting(name: str):
    return lambda config: (config.get("adversarial") or {}).get(name)


EXPERIMENT = Experiment(
    chapter=CHAPTER, code_version=CODE_VERSION, settings=SETTINGS, build_grids=build_grids,
    used_datasets=used_datasets, score=score, split=split,
    bookkeeping=("chapter", "version", "budget", "adversarial", "test_fraction"),
    derived={"lambda": _derived_setting("separation_weight"), "tau": _derived_setting("temperature"),
             "under_weight": _derived_setting("under_weight")},
    reference_method=REFERENCE_METHOD, own_methods=OWN_METHODS, claims=CLAIMS, paper_results=paper_results,
)


def paper_claims_frame(paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """The published tables in the claims' form: one block per table (``dataset`` is the
    table's label), values as fractions (the tables print percentages), our method names;
    what :func:`tsimb.evaluation.check_claims` reads as the paper's differences."""
    paper = paper_results() if paper is None else paper
    return pd.DataFrame(dict(dataset=paper["table"], method=paper["method"], metric=paper["metric"],
                             value=paper["value"] / 100))
