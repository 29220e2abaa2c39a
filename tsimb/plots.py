"""One plotting style for the whole book, and the figures chapters share (seaborn)."""

from __future__ import annotations

from typing import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .data import Dataset

PALETTE = "colorblind"


def set_style() -> None:
    """The book's style: seaborn's whitegrid, colour-blind palette, compact figures."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook",
                  rc={"figure.figsize": (7.5, 3.6), "figure.dpi": 96, "savefig.bbox": "tight"})


def plot_series_per_class(data: Dataset, per_class: int = 3, channel: int = 0, seed: int = 0) -> plt.Figure:
    """A few series of each class side by side (one panel per class)."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(1, data.n_classes, figsize=(2.4 * data.n_classes, 2.4), sharey=True, squeeze=False)
    for k, ax in enumerate(axes[0]):
        members = np.flatnonzero(data.y == k)
        for i in rng.choice(members, size=min(per_class, members.size), replace=False):
            ax.plot(data.X[i, channel], lw=1)
        ax.set_title(f"{data.class_names[k]} (n={members.size})", fontsize=9)
        ax.set_xlabel("t")
    fig.suptitle(f"{data.name}, {data.split} split, channel {channel}", fontsize=10)
    fig.tight_layout()
    return fig


def plot_class_counts(counts: pd.DataFrame, x: str = "class", hue: str = "protocol", col: str | None = None,
                      log: bool = False) -> sns.FacetGrid:
    """Bars of training-set class counts, e.g. one colour per imbalance protocol."""
    grid = sns.catplot(data=counts, x=x, y="count", hue=hue, col=col, kind="bar", height=3, aspect=1.4,
                       sharex=False, sharey=False)
    if log:
        grid.set(yscale="log")
    return grid


def plot_per_class_metric(table: pd.DataFrame, hue: str = "method", col: str | None = None,
                          prefix: str = "recall_") -> sns.FacetGrid:
    """Bars of a per-class metric (``recall_<k>`` rows of a tidy table): mean over seeds,
    with the range over seeds as error bars."""
    rows = table[table["metric"].str.startswith(prefix)].copy()
    rows["class"] = rows["metric"].str.removeprefix(prefix).astype(int)
    grid = sns.catplot(data=rows, x="class", y="value", hue=hue, col=col, kind="bar", errorbar=("pi", 100),
                       height=3, aspect=1.5, sharex=False)
    grid.set_axis_labels("class (label)", prefix.rstrip("_"))
    return grid


def plot_metric_vs(table: pd.DataFrame, x: str, metric: str, hue: str = "method", log_x: bool = True) -> plt.Axes:
    """A metric against a numeric setting (e.g. the imbalance ratio), mean and sd over seeds."""
    rows = table[table["metric"] == metric]
    ax = sns.lineplot(data=rows, x=x, y="value", hue=hue, marker="o", errorbar="sd")
    if log_x:
        ax.set_xscale("log")
        ax.set_xticks(sorted(rows[x].unique()))
        ax.get_xaxis().set_major_formatter(plt.matplotlib.ticker.ScalarFormatter())
    ax.set_ylabel(metric.replace("_", " "))
    return ax


def with_paper(ours: pd.DataFrame, paper: pd.DataFrame, on: Iterable[str]) -> pd.DataFrame:
    """Our summary beside a paper's published numbers: ``paper`` holds the keys ``on`` and a
    ``paper`` column; the result labels the two sources explicitly."""
    merged = ours.merge(paper, on=list(on), how="outer")
    return merged.rename(columns={"paper": "paper (published)", "mean": "ours (mean)", "std": "ours (sd)"})
