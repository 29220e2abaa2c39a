"""The experiment of the book's chapter *Imb-Mix* (Wang 2023, dissertation ch. 5):
supplementary adversarial examples, Remix and stochastic weight averaging on top of PGD
adversarial training, transposed from CIFAR to z-normalised series.

**The protocol** is the SRAT chapter's (:mod:`tsimb.experiments.adversarial_imbalance`):
its :func:`~tsimb.experiments.adversarial_imbalance.protocol_split` (the published splits
pooled, a balanced test split, Step or Exp thinning of the rest), its attack (L-infinity
``eps = 0.1``, PGD-5 in training, PGD-20 in evaluation), small CNN and budget, and its
:func:`~tsimb.experiments.adversarial_imbalance.robust_half_scores` (standard and robust
accuracy, overall and on the under-represented half of the classes).

**The arms** (one grid, ``main``; each arm is one configuration per seed, and no
configuration is trained twice):

* the dissertation's rows: ``adv`` (vanilla PGD training; also the factorial's ``plain``
  cell), ``adv-ros`` (adv. + resample), ``mixup-adv``, ``remix-adv`` (the factorial's
  ``remix`` cell), ``adv-data-aug`` (``copies+remix``), ``imb-mix`` (``copies+remix+swa``);
* the rest of the 2 x 2 x 2 factorial (copies x Remix x SWA,
  :func:`tsimb.robustness.imbmix.factorial_settings`): ``copies+swa``, ``copies``,
  ``remix+swa``, ``swa``;
* ``imb-mix-after``: Imb-Mix with the kappa rule on the class counts after the copies.

``python -m tsimb run imb-mix`` fills the run store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import Dataset, Imbalance
from ..evaluation import Claim
from ..methods import Trained
from ..robustness import AdversarialSettings
from ..robustness.imbmix import METHOD_DEFAULTS, ImbMixSettings, factorial_settings
from ..train import Budget
from ..train.method import settings_from_config
from .adversarial_imbalance import QUICK_ATTACK, protocol_split, robust_half_scores
from .experiment import Experiment

CHAPTER = "imb-mix"
CODE_VERSION = "imb-mix-1"  # bump when a change alters results, so that stored runs are not served
REFERENCE_METHOD, OWN_METHODS = "adv", ("imb-mix",)

FACTORIAL_CELLS = ("copies+remix+swa", "copies+remix", "copies+swa", "copies", "remix+swa", "remix", "swa",
                   "plain")
"""The eight cells of the 2 x 2 x 2 ablation, in :func:`factorial_settings`' order."""

NAMED_CELLS = {"copies+remix+swa": "imb-mix", "copies+remix": "adv-data-aug", "remix": "remix-adv",
               "plain": "adv"}
"""Cells of the factorial that are one of the dissertation's rows (trained once, under that arm)."""

ARMS = ("adv", "adv-ros", "mixup-adv", "remix-adv", "adv-data-aug", "imb-mix", "copies+swa", "copies",
        "remix+swa", "swa", "imb-mix-after")
"""Every arm of the grid: the dissertation's rows, the rest of the factorial, the kappa-rule variant."""


def arm_of_cell(cell: str) -> str:
    """The arm that holds a factorial cell (``"copies+remix+swa"`` -> ``"imb-mix"``)."""
    if cell not in FACTORIAL_CELLS:
        raise ValueError(f"unknown factorial cell {cell!r}; the cells are {', '.join(FACTORIAL_CELLS)}")
    return NAMED_CELLS.get(cell, cell)


def arm_method_settings(arm: str, attack: AdversarialSettings) -> tuple[str, ImbMixSettings | None]:
    """An arm's registered method and its Imb-Mix settings (``None`` for the SRAT chapter's
    methods ``adv`` and ``adv-ros``), all under the chapter's ``attack``."""
    if arm in ("adv", "adv-ros"):
        return arm, None
    if arm in METHOD_DEFAULTS:
        return arm, replace(METHOD_DEFAULTS[arm][0], adversarial=attack)
    if arm == "imb-mix-after":
        return "imb-mix", replace(METHOD_DEFAULTS["imb-mix"][0], adversarial=attack, kappa_counts="after")
    cells = factorial_settings(replace(METHOD_DEFAULTS["imb-mix"][0], adversarial=attack))
    if arm in cells and arm not in NAMED_CELLS:
        return "imb-mix", cells[arm]
    raise ValueError(f"unknown arm {arm!r}; the arms are {', '.join(ARMS)}")


@dataclass(frozen=True)
class ImbMixChapterSettings:
    """One profile of the chapter: the data sets and protocols, the arms, the seeds, the
    model, the budget and the attack (the SRAT chapter's)."""

    datasets: tuple[str, ...]
    imbalances: tuple[Imbalance, ...]
    arms: tuple[str, ...]
    seeds: tuple[int, ...]
    model: str
    budget: Budget
    adversarial: AdversarialSettings
    test_fraction: float


SETTINGS = {
    # MedicalImages Step-10: the SRAT chapter's fastest set (90 training series, 3 CPU-s a run),
    # its model, attack and budget, so that its stored runs sit beside these (same seeds)
    "quick": ImbMixChapterSettings(
        datasets=("MedicalImages",), imbalances=(Imbalance("step", 10),), arms=ARMS, seeds=tuple(range(8)),
        model="cnn", budget=Budget(epochs=40, batch_size=32, lr=1e-2), adversarial=QUICK_ATTACK,
        test_fraction=1 / 3),
    "full": ImbMixChapterSettings(
        datasets=("SwedishLeaf", "FacesUCR", "MedicalImages"),
        imbalances=(Imbalance("exp", 10), Imbalance("exp", 100), Imbalance("step", 10), Imbalance("step", 100)),
        arms=ARMS, seeds=(0, 1, 2, 3, 4), model="resnet",
        budget=Budget(epochs=200, batch_size=32, lr=1e-3),  # the text: 250 epochs on CIFAR
        adversarial=AdversarialSettings(eps=0.1, norm="linf", steps=10, eval_steps=20), test_fraction=1 / 3),
}


def split(config: dict) -> tuple[Dataset, Dataset]:
    """A run's ``(train, test)``: the SRAT chapter's
    :func:`~tsimb.experiments.adversarial_imbalance.protocol_split`."""
    return protocol_split(config["dataset"], Imbalance(config["imbalance"], config["ratio"]), config["seed"],
                          config["test_fraction"])


def score(config: dict, trained: Trained, train: Dataset, test: Dataset) -> dict[str, float]:
    """The SRAT chapter's :func:`~tsimb.experiments.adversarial_imbalance.robust_half_scores`
    under the run's attack, the training set's size, and the Imb-Mix bookkeeping of
    ``Trained.extras``: ``remix_fired`` and ``remix_pairs`` (how often the kappa rule moved a
    label, of all pairs mixed; 0 for the arms without mixing), their ratio
    ``remix_fired_share``, ``swa_averaged`` and ``copies_max`` (the largest ``t_c``)."""
    settings = settings_from_config(AdversarialSettings, config["adversarial"])
    counts = train.class_counts()
    metrics = robust_half_scores(trained.classifier, test, counts, settings, seed=config["seed"])
    extras = trained.extras or {}
    fired, pairs = float(extras.get("remix_fired", 0)), float(extras.get("remix_pairs", 0))
    metrics.update(train_series=float(len(train)), train_min=float(counts.min()), train_max=float(counts.max()),
                   remix_fired=fired, remix_pairs=pairs, remix_fired_share=fired / pairs if pairs else 0.0,
                   swa_averaged=float(extras.get("swa_averaged", 0)),
                   copies_max=float(max(extras.get("copies_per_class", [0]))))
    return metrics


def _config(dataset: str, imbalance: Imbalance, arm: str, seed: int, s: ImbMixChapterSettings) -> dict:
    method, imbmix = arm_method_settings(arm, s.adversarial)
    config = dict(chapter=CHAPTER, version=CODE_VERSION, dataset=dataset, imbalance=imbalance.kind,
                  ratio=float(imbalance.ratio), model=s.model, method=method, arm=arm, seed=seed, study="main",
                  test_fraction=s.test_fraction, budget=asdict(s.budget), adversarial=asdict(s.adversarial))
    if imbmix is not None:
        config["imbmix"] = asdict(imbmix)
    return config


def used_datasets(s: ImbMixChapterSettings) -> set[str]:
    return set(s.datasets)


def build_grids(s: ImbMixChapterSettings) -> dict[str, list[dict]]:
    """``main``: every arm on every set and protocol, every seed."""
    return {"main": [_config(d, imb, arm, seed, s) for d in s.datasets for imb in s.imbalances
                     for arm in s.arms for seed in s.seeds]}


def factorial_table(table: pd.DataFrame, metrics: tuple[str, ...] = ("std_under", "rob_under", "rob_overall")
                    ) -> pd.DataFrame:
    """The 2 x 2 x 2 ablation from the chapter's tidy table: one row per cell (``copies``,
    ``remix``, ``swa`` as yes/no), the mean and sd over seeds of each of ``metrics``, and
    the arm that holds the cell."""
    rows = []
    for cell in FACTORIAL_CELLS:
        arm = arm_of_cell(cell)
        runs = table[table["arm"] == arm]
        row = {part: ("yes" if part in cell.split("+") else "no") for part in ("copies", "remix", "swa")}
        row["arm"] = arm
        for metric in metrics:
            values = runs.loc[runs["metric"] == metric, "value"]
            row[metric] = values.mean() if len(values) else np.nan
            row[f"{metric}_sd"] = values.std(ddof=1) if len(values) > 1 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def main_effects(table: pd.DataFrame, metric: str = "rob_under") -> pd.DataFrame:
    """Each factor's main effect in the 2 x 2 x 2 ablation on ``metric``: per seed, the mean
    over the four cells with the factor on minus the four with it off, then the mean and sd
    of that difference over the seeds (``n`` seeds with all eight cells)."""
    runs = table[(table["metric"] == metric) & table["arm"].isin([arm_of_cell(c) for c in FACTORIAL_CELLS])]
    wide = runs.pivot_table(index="seed", columns="arm", values="value").dropna()
    rows = []
    for factor in ("copies", "remix", "swa"):
        on = [arm_of_cell(c) for c in FACTORIAL_CELLS if factor in c.split("+")]
        off = [arm_of_cell(c) for c in FACTORIAL_CELLS if factor not in c.split("+")]
        effect = wide[on].mean(axis=1) - wide[off].mean(axis=1) if len(wide) else pd.Series(dtype=float)
        rows.append(dict(factor=factor, metric=metric, effect=effect.mean() if len(effect) else np.nan,
                         sd=effect.std(ddof=1) if len(effect) > 1 else np.nan, n=len(effect)))
    return pd.DataFrame(rows)


def claims_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Our runs in the claims' form (``dataset`` = set and protocol, ``seed``, ``method`` =
    the arm, ``metric``, ``value``)."""
    return pd.DataFrame(dict(dataset=table["dataset"] + " " + table["protocol"], seed=table["seed"],
                             method=table["arm"], metric=table["metric"], value=table["value"]))


# --- the paper's numbers and the claims ---

PUBLISHED = Path(__file__).parent / "published" / "wang2023_ch5_tables_5_1-5_7.csv"
PAPER_METHOD_NAMES = {"vanilla adv.": "adv", "adv. + resample": "adv-ros", "adv. + reweight": "adv-reweight",
                      "mixup + adv.": "mixup-adv", "remix + adv.": "remix-adv", "Imb-Mix": "imb-mix"}
"""The tables' row names -> ours."""


def paper_results() -> pd.DataFrame:
    """Tables 5.1-5.7 of the dissertation (CIFAR-10/100, PGD training and evaluation;
    percentages, mean and sd) as a tidy table: table, dataset, imbalance, K, threat,
    paper_method, method (ours), metric, value, sd, protocol (``step-10``, ...), source.
    Labelled as the dissertation's."""
    table = pd.read_csv(PUBLISHED, comment="#")
    table["paper_method"] = table["method"]
    table["method"] = table["method"].map(PAPER_METHOD_NAMES)
    table["protocol"] = [f"{kind.lower()}-{k:g}" for kind, k in zip(table["imbalance"], table["K"])]
    return table.assign(source="dissertation (published)")


def paper_claims_frame(paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """The published tables in the claims' form: one block per table, fractions, our names."""
    paper = paper_results() if paper is None else paper
    return pd.DataFrame(dict(dataset=paper["table"], method=paper["method"], metric=paper["metric"],
                             value=paper["value"] / 100))


def paper_margins(paper: pd.DataFrame | None = None, better: str = "imb-mix", worse: str = "remix-adv",
                  metric: str = "rob_overall") -> pd.DataFrame:
    """Per published table, ``better - worse`` on ``metric`` (points) and that margin over
    the larger of the two rows' sds (how many sds apart the tables put them)."""
    paper = paper_results() if paper is None else paper
    rows = paper[paper["metric"] == metric]
    wide = rows.pivot_table(index="table", columns="method", values="value")
    sd = rows.pivot_table(index="table", columns="method", values="sd")
    margin = wide[better] - wide[worse]
    return pd.DataFrame(dict(table=wide.index, margin=margin.values,
                             in_sds=(margin / np.maximum(sd[better], sd[worse])).values))


def paper_cells_below(paper: pd.DataFrame | None = None, low: str = "adv-ros", high: str = "adv") -> tuple[int, int]:
    """In how many published cells (table x metric) ``low`` scores below ``high``, of all
    cells where both are given."""
    paper = paper_results() if paper is None else paper
    wide = paper.pivot_table(index=["table", "metric"], columns="method", values="value")
    both = wide[[low, high]].dropna()
    return int((both[low] < both[high]).sum()), len(both)


def paper_worst_cells(method: str = "adv-ros", paper: pd.DataFrame | None = None) -> tuple[int, int]:
    """In how many published cells (table x metric) ``method`` has the lowest value of the
    table's rows ("always worst", sec. 5.5.2), of all cells where it is given."""
    paper = paper_results() if paper is None else paper
    wide = paper.pivot_table(index=["table", "metric"], columns="method", values="value")
    given = wide[wide[method].notna()]
    return int((given[method] <= given.min(axis=1)).sum()), len(given)


def paper_across_chapters(method5: str = "imb-mix", method4: str = "srat-ldam",
                          paper5: pd.DataFrame | None = None, paper4: pd.DataFrame | None = None) -> pd.DataFrame:
    """The dissertation's two robustness chapters side by side: for every setting (data
    set, imbalance, K, threat model) and metric that Tables 5.1-5.7 and Tables 4.1-4.7 share,
    ``method5``'s published value in chapter 5, ``method4``'s in chapter 4, and
    ``difference = ch5 - ch4`` (points; both as published)."""
    from .adversarial_imbalance import paper_results as chapter4_results

    paper5 = paper_results() if paper5 is None else paper5
    paper4 = chapter4_results() if paper4 is None else paper4
    keys = ["dataset", "imbalance", "K", "threat", "metric"]
    a = paper5.loc[paper5["method"] == method5, keys + ["table", "value"]].rename(
        columns={"value": "ch5", "table": "table_ch5"})
    b = paper4.loc[paper4["method"] == method4, keys + ["table", "value"]].rename(
        columns={"value": "ch4", "table": "table_ch4"})
    both = a.merge(b, on=keys)
    both["difference"] = both["ch5"] - both["ch4"]
    return both.reset_index(drop=True)


CLAIMS = (
    Claim("Imb-Mix beats Remix + adversarial training on robust under-represented accuracy",
          "sec. 5.5.2, Tables 5.1-5.7", "imb-mix", "remix-adv", "rob_under"),
    Claim("Imb-Mix beats Remix + adversarial training on robust overall accuracy", "sec. 5.5.2, Tables 5.1-5.7",
          "imb-mix", "remix-adv", "rob_overall"),
    Claim("Remix + adversarial training beats mixup + adversarial training (robust under-represented)",
          "sec. 5.5.2, Tables 5.1-5.7", "remix-adv", "mixup-adv", "rob_under"),
    Claim("adversarial training + re-sampling scores below vanilla adversarial training (robust overall)",
          "sec. 5.5.2 ('always worst')", "adv", "adv-ros", "rob_overall"),
    Claim("Imb-Mix beats adversarial training + re-sampling on robust under-represented accuracy",
          "sec. 5.5.2, Tables 5.1-5.7", "imb-mix", "adv-ros", "rob_under"),
    Claim("Imb-Mix beats vanilla adversarial training on robust under-represented accuracy",
          "sec. 5.5.2, Tables 5.1-5.7", "imb-mix", "adv", "rob_under"),
    Claim("SWA adds to copies + Remix (robust under-represented; Imb-Mix vs adv. + data_aug)",
          "sec. 5.5.3, Figures 5.2-5.7", "imb-mix", "adv-data-aug", "rob_under"),
)


CROSS_CLAIMS = (
    Claim("SRAT-LDAM (ch. 4) beats Imb-Mix (ch. 5) on robust under-represented accuracy",
          "Tables 4.1-4.7 beside 5.1-5.7", "srat-ldam", "imb-mix", "rob_under"),
    Claim("SRAT-LDAM (ch. 4) beats Imb-Mix (ch. 5) on robust overall accuracy", "Tables 4.1-4.7 beside 5.1-5.7",
          "srat-ldam", "imb-mix", "rob_overall"),
    Claim("SRAT-LDAM (ch. 4) beats Imb-Mix (ch. 5) on standard under-represented accuracy",
          "Tables 4.1-4.7 beside 5.1-5.7", "srat-ldam", "imb-mix", "std_under"),
)
"""What the dissertation's two chapters imply about each other's methods where their tables
share a setting, tested on the two chapters' runs of the same protocol
(:func:`with_srat_runs`, :func:`paper_cross_frame`)."""


def with_srat_runs(ours: pd.DataFrame, srat: pd.DataFrame) -> pd.DataFrame:
    """This chapter's runs (claims' form, :func:`claims_frame`) and the SRAT chapter's runs
    (its tidy ``main`` table) of the same data set, protocol and seeds, for the methods this
    chapter does not train (``srat-ldam``, ``adv-reweight``, ...): one frame for the
    :data:`CROSS_CLAIMS`, paired on data set and seed."""
    srat = srat[srat["study"] == "main"] if "study" in srat.columns else srat
    theirs = pd.DataFrame(dict(dataset=srat["dataset"] + " " + srat["protocol"], seed=srat["seed"],
                               method=srat["method"], metric=srat["metric"], value=srat["value"]))
    keep = (theirs["dataset"].isin(ours["dataset"].unique()) & theirs["seed"].isin(ours["seed"].unique())
            & ~theirs["method"].isin(ours["method"].unique()))
    return pd.concat([ours, theirs[keep]], ignore_index=True)


def paper_cross_frame(method5: str = "imb-mix", method4: str = "srat-ldam") -> pd.DataFrame:
    """The published values of ``method5`` (Tables 5.1-5.7) and ``method4`` (Tables
    4.1-4.7) on the settings both chapters report, in the claims' form (one block per
    setting, fractions)."""
    both = paper_across_chapters(method5, method4)
    setting = both["dataset"] + " " + both["imbalance"] + "-" + both["K"].astype(str) + " " + both["threat"]
    return pd.concat([pd.DataFrame(dict(dataset=setting, method=method5, metric=both["metric"],
                                        value=both["ch5"] / 100)),
                      pd.DataFrame(dict(dataset=setting, method=method4, metric=both["metric"],
                                        value=both["ch4"] / 100))], ignore_index=True)


EXPERIMENT = Experiment(
    chapter=CHAPTER, code_version=CODE_VERSION, settings=SETTINGS, build_grids=build_grids,
    used_datasets=used_datasets, score=score, split=split,
    bookkeeping=("chapter", "version", "budget", "adversarial", "imbmix", "test_fraction"),
    reference_method=REFERENCE_METHOD, own_methods=OWN_METHODS, claims=CLAIMS, paper_results=paper_results,
)
