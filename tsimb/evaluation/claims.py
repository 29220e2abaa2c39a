"""Claims of a paper as data, tested against seed noise; gains over a reference; and flags
for runs that look broken. Used by every chapter's "beside the paper" section.

A :class:`Claim` says "``better`` beats ``worse`` on ``metric``" (superiority) or
"``better`` is not worse than ``worse`` by more than ``margin``" (non-inferiority), with
the paper's section. :func:`check_claims` tests each on paired runs (same data set and
seed) with a one-sided t-test (scipy) and gives a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

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


PAIR_KEYS = ("dataset", "seed")
VERDICTS = ("supported", "not supported", "contradicted", "no finite values", "not run")


def _paired(table: pd.DataFrame, claim: Claim, keys: Sequence[str], what: str) -> pd.DataFrame:
    """One row per run of ``claim.better`` with its partner run of ``claim.worse`` (the
    same ``keys``), and their difference in ``gain``. Raises ``ValueError`` when a key
    column is missing or a key names two runs of one method: pairing those would
    cross-join them (3 seeds become 9 "pairs")."""
    missing = [k for k in (*keys, "method", "metric", "value") if k not in table.columns]
    if missing or not keys:
        raise ValueError(f"check_claims pairs runs of the two methods on the columns {tuple(keys)}, but the "
                         f"{what} table has no {', '.join(map(repr, missing))} column; pass keys= naming "
                         "the columns that identify one run of a method (e.g. keys=('dataset',) for one "
                         "value per data set)")
    rows = table[(table["metric"] == claim.metric) & table["method"].isin([claim.better, claim.worse])]
    duplicated = rows.duplicated([*keys, "method"], keep=False)
    if duplicated.any():
        first = rows[duplicated].iloc[0]
        raise ValueError(
            f"the {what} table has {int(duplicated.sum())} rows of {claim.metric!r} for "
            f"{claim.better!r}/{claim.worse!r} that share their keys with another row (e.g. "
            f"{ {k: _plain(first[k]) for k in (*keys, 'method')} }): check_claims pairs runs on {tuple(keys)}, "
            "so each key must name one run per method. Filter the table to one setting, or add the "
            "column that tells the runs apart to keys=")
    base = rows[rows["method"] == claim.worse][[*keys, "value"]].rename(columns={"value": "reference"})
    out = rows[rows["method"] == claim.better].merge(base, on=list(keys))
    return out.assign(gain=out["value"] - out["reference"])


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def minimum_detectable_effect(n: int, sd: float, level: float = 0.05, power: float = 0.8) -> float:
    """The smallest true mean difference (beyond a claim's threshold) that a one-sided
    paired t-test at ``level`` detects with probability ``power``, for ``n`` pairs whose
    differences have standard deviation ``sd`` (statsmodels' power of the t-test)."""
    if n < 2 or not np.isfinite(sd) or sd <= 0:
        return float("nan")
    from statsmodels.stats.power import TTestPower

    effect_size = TTestPower().solve_power(nobs=n, alpha=level, power=power, alternative="larger")
    return float(effect_size) * float(sd)


def _holm(p_values: pd.Series) -> pd.Series:
    """Holm's step-down adjustment over the finite p-values (NaN stays NaN)."""
    from statsmodels.stats.multitest import multipletests

    out = pd.Series(np.nan, index=p_values.index)
    finite = p_values.notna()
    if finite.any():
        out[finite] = multipletests(p_values[finite], method="holm")[1]
    return out


def _verdict(p_claim: float, p_opposite: float, holds: int, n_sets: int, level: float) -> str:
    if p_claim < level and holds == n_sets:
        return "supported"
    if p_opposite < level and holds == 0:
        return "contradicted"
    return "not supported"


SPREAD_TOLERANCE = 1e-9  # below this sd (relative to the mean) the paired differences are taken as equal


def _has_spread(gain: pd.Series) -> bool:
    """More than one paired difference, and not all equal up to rounding."""
    return len(gain) > 1 and gain.std() > SPREAD_TOLERANCE * max(1.0, abs(gain.mean()))


def _p_values(gain: pd.Series, threshold: float) -> tuple[float, float]:
    """One-sided p-values of the paired differences ``gain`` beyond ``threshold`` and of the
    opposite effect: a t-test; where the differences are equal up to rounding (two seeds
    that each moved the same number of test series), for which a t-test is undefined or
    meaningless, the exact sign test (``0.5 ** n`` when every difference is on that side)."""
    from scipy.stats import ttest_1samp

    if len(gain) < 2:
        return np.nan, np.nan
    if _has_spread(gain):
        return (float(ttest_1samp(gain, threshold, alternative="greater").pvalue),
                float(ttest_1samp(gain, threshold, alternative="less").pvalue))
    above, below = bool((gain > threshold).all()), bool((gain < threshold).all())
    return (0.5 ** len(gain) if above else 1.0), (0.5 ** len(gain) if below else 1.0)


def check_claims(ours: pd.DataFrame, claims: Iterable[Claim], paper: pd.DataFrame | None = None,
                 level: float = 0.05, keys: Sequence[str] = PAIR_KEYS, power: float = 0.8) -> pd.DataFrame:
    """Test every claim on our runs (tidy: dataset, method, seed, metric, value).

    Runs of the two methods are paired on ``keys`` (by default the data set and the seed:
    both methods start from the same initialisation); a missing key column or two runs of
    one method under one key is a ``ValueError``, never a silent cross-join. A pair whose
    difference is NaN is left out (``runs`` counts the finite pairs, ``nan_runs`` the others).

    Columns: the paper's mean difference (from ``paper``, if given, paired on the keys it
    has), our mean difference, its seed-to-seed sd (averaged over data sets) and its 95%
    confidence interval (``ci_low``, ``ci_high``; a t interval over the paired runs), the
    number of paired runs, on how many data sets our mean clears the threshold, the
    one-sided p-value of a t-test of the paired differences against the threshold
    (``p_value``) and of the opposite effect (``p_opposite``; where the differences are
    all equal up to rounding, the exact sign test instead, and no interval), the minimum detectable
    effect (``mde``: the smallest true difference beyond the threshold the test finds
    with probability ``power`` at ``level``; :func:`minimum_detectable_effect`), and:

    * ``verdict``: *supported* (``p_value < level`` and every data set on the claim's
      side), *contradicted* (the opposite effect is itself significant, ``p_opposite <
      level``, and no data set on the claim's side: for a non-inferiority claim, the
      margin is significantly missed), *not supported* (neither: no effect detected,
      which is not evidence against the paper; read ``mde`` for what the design could
      have found), *no finite values* (the metric is NaN in every pair) or *not run*.
    * ``p_holm``, ``p_opposite_holm``, ``verdict_holm``: the same after Holm's correction
      for testing every claim of this table (each direction adjusted over the claims).
    """
    from scipy.stats import ttest_1samp

    keys = list(keys)
    rows, holding = [], []
    for claim in claims:
        pairs = _paired(ours, claim, keys, "runs")
        published = (_paired(paper, claim, [k for k in keys if k in paper.columns], "paper")["gain"].mean()
                     if paper is not None else np.nan)
        diff = pairs[np.isfinite(pairs["gain"])]
        row = dict(claim=claim.text, section=claim.section, kind=claim.kind, metric=claim.metric,
                   paper_difference=published, our_difference=np.nan, our_sd=np.nan, ci_low=np.nan,
                   ci_high=np.nan, runs=len(diff), nan_runs=len(pairs) - len(diff), datasets_holding="0/0",
                   p_value=np.nan, p_opposite=np.nan, mde=np.nan,
                   verdict="not run" if pairs.empty else "no finite values")
        if len(diff):
            gain = diff["gain"]
            per_set = diff.groupby("dataset")["gain"].agg(["mean", "std"]) if "dataset" in diff.columns else \
                pd.DataFrame({"mean": [gain.mean()], "std": [gain.std()]})
            holds, n_sets = int((per_set["mean"] > claim.threshold).sum()), len(per_set)
            p_claim, p_opposite = _p_values(gain, claim.threshold)
            ci = (np.nan, np.nan)
            if _has_spread(gain):
                interval = ttest_1samp(gain, claim.threshold).confidence_interval(0.95)
                ci = (float(interval.low), float(interval.high))
            row.update(our_difference=gain.mean(), our_sd=per_set["std"].mean(), ci_low=ci[0], ci_high=ci[1],
                       datasets_holding=f"{holds}/{n_sets}", p_value=p_claim, p_opposite=p_opposite,
                       mde=minimum_detectable_effect(len(gain), float(gain.std()), level, power),
                       verdict=_verdict(p_claim, p_opposite, holds, n_sets, level))
        rows.append(row)
        holding.append((holds, n_sets) if len(diff) else None)
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=[*_COLUMNS])
    out["p_holm"] = _holm(out["p_value"])
    out["p_opposite_holm"] = _holm(out["p_opposite"])
    out["verdict_holm"] = [verdict if holds is None else _verdict(p, q, *holds, level)
                           for p, q, holds, verdict in zip(out["p_holm"], out["p_opposite_holm"], holding,
                                                           out["verdict"])]
    return out[list(_COLUMNS)]


_COLUMNS = ("claim", "section", "kind", "metric", "paper_difference", "our_difference", "our_sd", "ci_low",
            "ci_high", "runs", "nan_runs", "datasets_holding", "p_value", "p_opposite", "mde", "verdict",
            "p_holm", "p_opposite_holm", "verdict_holm")


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


def claims_table(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims table a chapter shows, from :func:`check_claims`: one row per claim with
    the paper's difference, ours with its 95% confidence interval (percentage points), the
    p-value, the smallest difference the design detects (80% power), and the verdict, with
    the verdict after Holm's correction over the table's claims where it differs. Numbers
    are joined by non-breaking spaces, so a narrow column wraps between cells, not inside
    an interval."""
    nbsp = "\u00a0"

    def ours(mean: float, low: float, high: float) -> str:
        if not np.isfinite(mean):
            return "—"  # not run
        interval = f"{nbsp}[{100 * low:+.1f},{nbsp}{100 * high:+.1f}]" if np.isfinite(low) else ""
        return f"{100 * mean:+.1f}{interval}"

    def verdict(plain: str, holm: str) -> str:
        return plain if plain == holm else f"{plain}; after Holm: {holm}"

    shown = pd.DataFrame({
        "claim": claims["claim"],
        "paper": (100 * claims["paper_difference"]).round(1),
        "ours [95% CI]": [ours(m, lo, hi) for m, lo, hi in zip(claims["our_difference"], claims["ci_low"],
                                                                claims["ci_high"])],
        "p": claims["p_value"].round(3),
        "detectable": (100 * claims["mde"]).round(1),
        "verdict": [verdict(v, h) for v, h in zip(claims["verdict"], claims["verdict_holm"])],
    })
    return shown.set_index("claim")
