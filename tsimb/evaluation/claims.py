"""Claims of a paper as data, tested against seed noise; gains over a reference; and flags
for runs that look broken. Used by every chapter's "beside the paper" section.

A :class:`Claim` says "``better`` beats ``worse`` on ``metric``" (superiority) or
"``better`` is not worse than ``worse`` by more than ``margin``" (non-inferiority), with
the paper's section. :func:`check_claims` tests each on paired runs (same data set and
seed) with a one-sided t-test (scipy) and gives a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Claim:
    """One claim of a paper. ``kind="superiority"``: the difference ``better - worse`` is
    above 0; ``"non-inferiority"``: it is above ``-margin``."""

    text: str
    section: str
    better: str
    worse: str
    metric: str
    kind: Literal["superiority", "non-inferiority"] = "superiority"
    margin: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("superiority", "non-inferiority"):
            raise ValueError(f"Claim.kind must be 'superiority' or 'non-inferiority', got {self.kind!r}")
        if self.kind == "non-inferiority" and not self.margin > 0:
            raise ValueError("a non-inferiority claim needs a positive margin")

    @property
    def threshold(self) -> float:
        return -self.margin if self.kind == "non-inferiority" else 0.0


def gains(table: pd.DataFrame, reference: str = "none", by: Iterable[str] = ("dataset",)) -> pd.DataFrame:
    """Each method's value minus the ``reference`` method's, per ``by``, metric and seed
    (runs of one seed share the initialisation seed), with a ``gain`` column. Works on
    published tables too (no ``seed`` column: one value per data set)."""
    keys = [*by, "metric"] + (["seed"] if "seed" in table.columns else [])
    base = table[table["method"] == reference][keys + ["value"]].rename(columns={"value": "reference"})
    out = table[table["method"] != reference].merge(base, on=keys)
    return out.assign(gain=out["value"] - out["reference"])


def _paired(table: pd.DataFrame, claim: Claim) -> pd.DataFrame:
    rows = table[(table["metric"] == claim.metric) & table["method"].isin([claim.better, claim.worse])]
    return gains(rows, claim.worse).query("method == @claim.better")


def check_claims(ours: pd.DataFrame, claims: Iterable[Claim], paper: pd.DataFrame | None = None,
                 level: float = 0.05) -> pd.DataFrame:
    """Test every claim on our runs (tidy: dataset, method, seed, metric, value).

    Columns: the paper's mean difference (from ``paper``, if given), our mean difference
    and its seed-to-seed sd (averaged over data sets), the number of paired runs, on how
    many data sets our mean clears the threshold, the one-sided p-value of a t-test of the
    paired differences against the threshold, and the ``verdict``: *supported* (every data
    set and ``p < level``), *same direction, not significant* (every data set),
    *mixed* (some data sets), *contradicted* (none) or *not run* (no paired runs).
    """
    from scipy.stats import ttest_1samp

    rows = []
    for claim in claims:
        diff = _paired(ours, claim)
        published = _paired(paper, claim)["gain"].mean() if paper is not None else np.nan
        row = dict(claim=claim.text, section=claim.section, kind=claim.kind, metric=claim.metric,
                   paper_difference=published, our_difference=np.nan, our_sd=np.nan, runs=len(diff),
                   datasets_holding="0/0", p_value=np.nan, verdict="not run")
        if len(diff):
            per_set = diff.groupby("dataset")["gain"].agg(["mean", "std"])
            holds, n = int((per_set["mean"] > claim.threshold).sum()), len(per_set)
            p_value = (float(ttest_1samp(diff["gain"], claim.threshold, alternative="greater").pvalue)
                       if len(diff) > 1 and diff["gain"].std() > 0 else np.nan)
            if holds == n:
                verdict = "supported" if p_value < level else "same direction, not significant"
            else:
                verdict = "mixed" if holds else "contradicted"
            row.update(our_difference=diff["gain"].mean(), our_sd=per_set["std"].mean(),
                       datasets_holding=f"{holds}/{n}", p_value=p_value, verdict=verdict)
        rows.append(row)
    return pd.DataFrame(rows)


def rank_methods(table: pd.DataFrame, metric: str, by: Iterable[str] = ("dataset",),
                 higher_is_better: bool = True) -> pd.DataFrame:
    """Mean rank of each method over the groups ``by`` (rank 1 is best), from the mean of
    ``metric`` over seeds: one row per method with ``mean_rank`` and ``groups``."""
    by = list(by)
    means = table[table["metric"] == metric].groupby([*by, "method"])["value"].mean().reset_index()
    means["rank"] = means.groupby(by)["value"].rank(ascending=not higher_is_better)
    out = means.groupby("method")["rank"].agg(mean_rank="mean", groups="count").reset_index()
    return out.sort_values("mean_rank", ignore_index=True)


def flag_runs(table: pd.DataFrame, metric: str, siblings: Iterable[str], drop: float = 0.2,
              constant_metric: str | None = "predicted_classes") -> pd.DataFrame:
    """One row per run that looks broken, with the reason: a constant predictor
    (``constant_metric`` is 1) or ``metric`` more than ``drop`` below the median of its
    seed siblings (same ``siblings`` columns). Such runs stay in the tables, marked."""
    siblings = list(siblings)
    values = table[table["metric"] == metric]
    median = values.groupby(siblings)["value"].transform("median")
    low = values[values["value"] < median - drop].assign(
        reason=lambda d: [f"{metric} {v:.3f}, {m - v:.3f} below its seed siblings' median"
                          for v, m in zip(d["value"], median[d.index])])
    flagged = [low]
    if constant_metric is not None:
        const = table[(table["metric"] == constant_metric) & (table["value"] <= 1)]
        flagged.append(const.assign(reason="constant predictor: one class for every test series"))
    keys = [*siblings, "seed"]
    out = pd.concat(flagged, ignore_index=True)
    if out.empty:
        return pd.DataFrame(columns=[*keys, "reason"])
    return out.groupby(keys, as_index=False)["reason"].agg("; ".join)


def beside_paper(ours: pd.DataFrame, paper: pd.DataFrame, index: list[str], metrics: Iterable[str],
                 scale: float = 100, digits: int = 1) -> pd.DataFrame:
    """One row per ``index`` value; for each metric two columns, ``(metric, "ours")``: ours as
    ``mean ± sd`` over seeds, and ``(metric, "paper")``: the paper's published value (NaN
    where it has none). The column levels are named ``metric`` and ``source``."""
    metrics = list(metrics)
    rows = ours[ours["metric"].isin(metrics)]
    stats = rows.groupby([*index, "metric"])["value"].agg(["mean", "std", "count"]).reset_index()
    stats["ours"] = [f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}" for m, s in
                     zip(stats["mean"], stats["std"].fillna(0))]
    published = paper[paper["metric"].isin(metrics)].assign(paper=lambda d: (d["value"] * scale).round(digits))
    merged = stats.merge(published[[*index, "metric", "paper"]], on=[*index, "metric"], how="left")
    wide = merged.pivot(index=index, columns="metric", values=["ours", "paper"])
    wide = wide.reorder_levels([1, 0], axis=1)
    wide = wide[[(m, source) for m in metrics for source in ("ours", "paper")]]
    wide.columns = wide.columns.set_names(["metric", "source"])
    return wide


def beside_paper_grid(ours: pd.DataFrame, paper: pd.DataFrame, metric: str, rows: str = "method",
                      columns: str = "dataset", scale: float = 100, digits: int = 1,
                      order: tuple[Iterable[str], Iterable[str]] | None = None) -> pd.DataFrame:
    """One ``metric`` as a grid, ``rows`` x ``columns`` (the IB-GAN chapter's Tables 1 and 4
    beside ours): two rows per ``rows`` value, labelled ``"ours"`` (``mean ± sd`` over seeds)
    and ``"paper"`` (the published value, NaN where the paper has none). ``paper`` is tidy
    with the same ``rows``/``columns`` keys; ``order`` gives the order of the row and
    column values (default: sorted)."""
    stats = ours[ours["metric"] == metric].groupby([rows, columns])["value"].agg(["mean", "std"])
    ours_cells = pd.Series([f"{m * scale:.{digits}f} ± {sd * scale:.{digits}f}"
                            for m, sd in zip(stats["mean"], stats["std"].fillna(0.0))], index=stats.index)
    published = (paper[paper["metric"] == metric].set_index([rows, columns])["value"] * scale).round(digits)
    both = pd.concat({"ours": ours_cells.astype(object), "paper": published.astype(object)}, names=["source"])
    grid = both.unstack(columns).reorder_levels([1, 0]).sort_index()
    row_order, column_order = (order if order is not None else
                               (grid.index.get_level_values(0).unique(), grid.columns))
    grid = grid.reindex(pd.MultiIndex.from_product([list(row_order), ["ours", "paper"]], names=[rows, "source"]))
    grid = grid.reindex(columns=list(column_order))
    grid.columns.name = None
    return grid.dropna(how="all")
