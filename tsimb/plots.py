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


def plot_augmented_samples(original: np.ndarray, augmented: dict[str, np.ndarray], channel: int = 0,
                           title: str = "") -> plt.Figure:
    """One series beside each of its augmentations, one panel per augmentation (the
    ODE-guided augmentation paper's Fig. 3). ``original`` is ``(C, L)``, each augmentation too."""
    fig, axes = plt.subplots(1, len(augmented), figsize=(2.6 * len(augmented), 2.4), sharey=True, squeeze=False)
    for ax, (name, series) in zip(axes[0], augmented.items()):
        ax.plot(original[channel], color="0.3", lw=1.2, label="original")
        ax.plot(series[channel], color=sns.color_palette(PALETTE)[1], lw=1, label="augmented")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("t")
    axes[0][0].legend(fontsize=8, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_derivative(series: np.ndarray, fitted: np.ndarray, observed: np.ndarray, titles: Iterable[str]) -> plt.Figure:
    """Rows of series (top) and their fitted ``dz/dt`` beside the finite-difference slope
    (bottom); each argument is ``(n, L)`` for one channel."""
    titles = list(titles)
    fig, axes = plt.subplots(2, len(series), figsize=(3.2 * len(series), 4.2), sharex="col", squeeze=False)
    for j in range(len(series)):
        axes[0][j].plot(series[j], color="0.3", lw=1)
        axes[0][j].set_title(titles[j], fontsize=9)
        axes[1][j].plot(observed[j], lw=1, label="finite difference")
        axes[1][j].plot(fitted[j], lw=1, label="ODENet f(z, t)")
        axes[1][j].set_xlabel("t")
    axes[0][0].set_ylabel("z(t)")
    axes[1][0].set_ylabel("dz/dt per step")
    axes[1][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_feature_pca(features: dict[str, np.ndarray], y: np.ndarray, class_names: Iterable[str]) -> plt.Figure:
    """Penultimate features of several trained networks projected on each network's own
    first two principal components (scikit-learn's PCA), one panel per network, coloured
    by class (the ODE-guided augmentation paper's Fig. 5)."""
    from sklearn.decomposition import PCA

    names = list(class_names)
    fig, axes = plt.subplots(1, len(features), figsize=(3.3 * len(features), 3.2), squeeze=False)
    for ax, (title, F) in zip(axes[0], features.items()):
        pca = PCA(n_components=2).fit(F)
        Z = pca.transform(F)
        sns.scatterplot(x=Z[:, 0], y=Z[:, 1], hue=[names[k] for k in y], ax=ax, s=14, legend=ax is axes[0][0],
                        palette=PALETTE)
        share = pca.explained_variance_ratio_
        ax.set(title=title, xlabel=f"PC1 ({share[0]:.0%})", ylabel=f"PC2 ({share[1]:.0%})")
    fig.tight_layout()
    return fig


def plot_robustness(table: pd.DataFrame, methods: Iterable[str], metrics: Iterable[str],
                    col: str = "dataset") -> sns.FacetGrid:
    """Bars of clean and adversarial accuracy per method (mean over seeds, with the range
    over seeds as error bars), one panel per ``col`` value."""
    methods, metrics = list(methods), list(metrics)
    rows = table[table["metric"].isin(metrics) & table["method"].isin(methods)]
    grid = sns.catplot(data=rows, x="method", y="value", hue="metric", hue_order=metrics, order=methods, col=col,
                       kind="bar", errorbar=("pi", 100), height=3.2, aspect=1.3, col_wrap=3)
    grid.set_axis_labels("", "accuracy")
    for ax in grid.axes.flat:
        ax.tick_params(axis="x", rotation=60, labelsize=8)
    return grid


def plot_beside_paper(table: pd.DataFrame, paper: pd.DataFrame, methods: Iterable[str],
                      metrics: Iterable[str]) -> sns.FacetGrid:
    """Our accuracy per method (bars: mean over seeds, error bars: the range over seeds,
    dots: the seeds) beside the paper's published value (black diamonds), one panel per
    metric. ``paper`` is tidy (method, metric, value) for the same data set."""
    methods, metrics = list(methods), list(metrics)
    rows = table[table["metric"].isin(metrics) & table["method"].isin(methods)]
    grid = sns.catplot(data=rows, x="method", y="value", col="metric", col_order=metrics, order=methods,
                       kind="bar", errorbar=("pi", 100), height=3.6, aspect=1.25, color="#8fb3d9")
    for ax, metric in zip(grid.axes.flat, metrics):
        sns.stripplot(data=rows[rows["metric"] == metric], x="method", y="value", order=methods, ax=ax,
                      color="#1f4e79", size=3, jitter=0.15)
        published = paper[paper["metric"] == metric].set_index("method")["value"].reindex(methods)
        ax.scatter(range(len(methods)), published.values, marker="D", color="black", zorder=5,
                   label="paper (published)")
        ax.tick_params(axis="x", rotation=60)
        ax.set_title(metric.replace("_", " "))
    grid.axes.flat[0].legend(loc="lower left", fontsize=9)
    grid.set_axis_labels("", "accuracy")
    return grid
