"""One plotting style for the whole book, and the figures chapters share (seaborn).

Every figure is made legible at the page width by :func:`legible`: at most
:data:`MAX_WIDTH_IN` inches wide (shown at its own size in the text column at :data:`DPI`)
and no text under :data:`MIN_FONT_PT` points, so that its smallest text is at least
:data:`MIN_TEXT_PX` CSS pixels both on a desktop and on a phone, where the browser shrinks
it to :data:`PHONE_COLUMN_PX`. :func:`smallest_text_px` measures it; the tests check every
figure here at both widths."""

from __future__ import annotations

from typing import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .data import Dataset
from .tables import label

PALETTE = "colorblind"
DPI = 100
MAX_WIDTH_IN = 6.0  # 600 CSS px: inside the book theme's ~720 px text column on a desktop
# a 412 px phone shows the text column ~380 px wide and shrinks wider images to it (0.63 of
# a 6 in figure), so 11 pt (15.3 px at 100 dpi) stays at ~9.7 px there
PHONE_COLUMN_PX = 380.0
DESKTOP_COLUMN_PX = 720.0
MIN_FONT_PT = 11.0
MIN_TEXT_PX = 9.0  # the smallest text a reader meets, at either width
BODY_TEXT_PX = 16.0
# Jupyter (and so the book's pages) stores figures as PNG at twice their shown size
# ("retina"): text stays sharp on phones and high-density screens, at the same shown size
INLINE_FORMAT = "retina"


def set_style() -> None:
    """The book's style: seaborn's whitegrid, colour-blind palette, fonts that stay
    legible at the page width; in Jupyter, figures stored as 2x PNG (:data:`INLINE_FORMAT`)."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # no Jupyter here: nothing is shown inline
        shell = None
    else:
        shell = get_ipython()
    if shell is not None:
        set_matplotlib_formats(INLINE_FORMAT)
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook",
                  rc={"figure.figsize": (MAX_WIDTH_IN, 3.6), "figure.dpi": DPI, "savefig.dpi": DPI,
                      "savefig.bbox": "tight", "font.size": 12, "axes.titlesize": 12, "axes.labelsize": 12,
                      "xtick.labelsize": 11, "ytick.labelsize": 11, "legend.fontsize": 11,
                      "legend.title_fontsize": 11, "figure.titlesize": 13})


def _label_legend(legend) -> None:
    """Legend entries named as the book names them (``clean_accuracy_minority`` reads
    "clean, minority half"; :func:`tsimb.tables.label`)."""
    if legend is None:
        return
    for text in legend.get_texts():
        text.set_text(label(text.get_text()))


def _figure(obj) -> plt.Figure:
    return obj.figure if hasattr(obj, "figure") and not isinstance(obj, plt.Figure) else obj


def legible(obj, max_width: float = MAX_WIDTH_IN, min_font: float = MIN_FONT_PT):
    """Fit a figure (or a seaborn grid / axes) to the text column: shrink it to
    ``max_width`` inches keeping its aspect, raise any text below ``min_font`` points,
    and lay it out again. Returns ``obj``."""
    fig = _figure(obj)
    width, height = fig.get_size_inches()
    if width > max_width:
        fig.set_size_inches(max_width, height * max_width / width)
    for text in fig.findobj(plt.Text):
        if text.get_text() and text.get_fontsize() < min_font:
            text.set_fontsize(min_font)
    fig.set_dpi(DPI)
    fig.tight_layout()
    return obj


def smallest_text_px(obj, column_px: float = DESKTOP_COLUMN_PX) -> float:
    """The height in CSS pixels of the figure's smallest text when the figure is shown at
    most ``column_px`` wide (browsers shrink wider images to the column)."""
    fig = _figure(obj)
    width_px = fig.get_size_inches()[0] * DPI
    scale = min(1.0, column_px / width_px)
    sizes = [t.get_fontsize() for t in fig.findobj(plt.Text) if t.get_text() and t.get_visible()]
    return min(sizes) * DPI / 72 * scale


def smallest_shown_text_px(obj) -> float:
    """The smallest text of a figure in CSS pixels as readers meet it: the smaller of its
    height in a desktop's text column and in a phone's (:data:`MIN_TEXT_PX` is the floor)."""
    return min(smallest_text_px(obj, column) for column in (DESKTOP_COLUMN_PX, PHONE_COLUMN_PX))


def _panels(n: int, ncols: int, panel_height: float, **kwargs) -> tuple[plt.Figure, np.ndarray]:
    """``n`` panels in rows of at most ``ncols``, the column's width; unused panels hidden."""
    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(MAX_WIDTH_IN, panel_height * nrows), squeeze=False, **kwargs)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat[:n]


def plot_series_per_class(data: Dataset, per_class: int = 3, channel: int = 0, seed: int = 0) -> plt.Figure:
    """A few series of each class side by side (one panel per class, four to a row)."""
    rng = np.random.default_rng(seed)
    fig, axes = _panels(data.n_classes, 4, 2.0, sharey=True)
    for k, ax in enumerate(axes):
        members = np.flatnonzero(data.y == k)
        for i in rng.choice(members, size=min(per_class, members.size), replace=False):
            ax.plot(data.X[i, channel], lw=1)
        ax.set_title(f"{data.class_names[k]} (n={members.size})")
        ax.set_xlabel("t")
    fig.suptitle(f"{data.name}, {data.split} split, channel {channel}")
    return legible(fig)


def plot_class_counts(counts: pd.DataFrame, x: str = "class", hue: str = "protocol", col: str | None = None,
                      log: bool = False) -> sns.FacetGrid:
    """Bars of training-set class counts, e.g. one colour per imbalance protocol."""
    grid = sns.catplot(data=counts, x=x, y="count", hue=hue, col=col, kind="bar", height=3, aspect=1.4,
                       sharex=False, sharey=False)
    sns.move_legend(grid, "lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(5, counts[hue].nunique()), title=None)
    if log:
        grid.set(yscale="log")
    return legible(grid)


def plot_per_class_metric(table: pd.DataFrame, hue: str = "method", col: str | None = None,
                          prefix: str = "recall_") -> sns.FacetGrid:
    """Bars of a per-class metric (``recall_<k>`` rows of a tidy table): mean over seeds,
    with the range over seeds as error bars."""
    rows = table[table["metric"].str.startswith(prefix)].copy()
    rows["class"] = rows["metric"].str.removeprefix(prefix).astype(int)
    grid = sns.catplot(data=rows, x="class", y="value", hue=hue, col=col, kind="bar", errorbar=("pi", 100),
                       height=3, aspect=1.5, sharex=False)
    grid.set_axis_labels("class (label)", prefix.rstrip("_"))
    sns.move_legend(grid, "lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(5, rows[hue].nunique()), title=None)
    _label_legend(grid.legend)
    return legible(grid)


def plot_metric_vs(table: pd.DataFrame, x: str, metric: str, hue: str = "method", log_x: bool = True) -> plt.Axes:
    """A metric against a numeric setting (e.g. the imbalance ratio), mean and sd over seeds."""
    rows = table[table["metric"] == metric]
    ax = sns.lineplot(data=rows, x=x, y="value", hue=hue, marker="o", errorbar="sd")
    if log_x:
        ax.set_xscale("log")
        ax.set_xticks(sorted(rows[x].unique()))
        ax.get_xaxis().set_major_formatter(plt.matplotlib.ticker.ScalarFormatter())
    ax.set_ylabel(label(metric))
    ax.set_xlabel(label(x))
    if ax.get_legend() is not None:
        ax.get_legend().set_title(label(hue))
        _label_legend(ax.get_legend())
    return legible(ax)


def plot_loss_traces(traces: pd.DataFrame, hue: str = "run", reference: tuple[str, float] | None = None,
                     order: Iterable[str] | None = None, log_y: bool = False) -> plt.Axes:
    """Training loss per epoch, one line per ``hue`` value (mean and sd over seeds where a
    value has several), from a tidy table with the columns ``epoch``, ``loss`` and ``hue``
    (:func:`tsimb.experiments.stored_traces` gives one). ``reference``: a wide grey horizontal
    line and its legend entry, e.g. ``("class-prior entropy", 0.646)``: the loss of a
    network that predicts the class shares and learns nothing else. ``order``: the ``hue``
    values in legend order (default: as they first appear)."""
    missing = [c for c in ("epoch", "loss", hue) if c not in traces.columns]
    if missing:
        raise ValueError(f"plot_loss_traces needs the columns {missing}; got {list(traces.columns)}")
    fig, ax = plt.subplots(figsize=(MAX_WIDTH_IN, 3.6))
    order = None if order is None else list(order)
    # a dash pattern per line as well as a colour: neighbouring colours of the palette are
    # hard to tell apart in thin lines
    sns.lineplot(data=traces, x="epoch", y="loss", hue=hue, hue_order=order, style=hue, style_order=order,
                 errorbar="sd", palette=PALETTE, ax=ax)
    if reference is not None:
        name, value = reference
        ax.axhline(value, color="0.55", lw=2.5, alpha=0.6, zorder=1, label=name)  # a grey band, unlike the runs
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    # below the axes: beside them, the entries would take half of a phone's width
    ax.legend(fontsize=11, bbox_to_anchor=(0.5, -0.25), loc="upper center", ncol=2, borderaxespad=0, frameon=False)
    _label_legend(ax.get_legend())
    return legible(ax)


def with_paper(ours: pd.DataFrame, paper: pd.DataFrame, on: Iterable[str]) -> pd.DataFrame:
    """Our summary beside a paper's published numbers: ``paper`` holds the keys ``on`` and a
    ``paper`` column; the result labels the two sources explicitly."""
    merged = ours.merge(paper, on=list(on), how="outer")
    return merged.rename(columns={"paper": "paper (published)", "mean": "ours (mean)", "std": "ours (sd)"})


def plot_augmented_samples(original: np.ndarray, augmented: dict[str, np.ndarray], channel: int = 0,
                           title: str = "") -> plt.Figure:
    """One series beside each of its augmentations, one panel per augmentation, three to a
    row (the ODE-guided augmentation paper's Fig. 3). ``original`` is ``(C, L)``, each
    augmentation too."""
    fig, axes = _panels(len(augmented), 3, 2.2, sharey=True)
    for ax, (name, series) in zip(axes, augmented.items()):
        ax.plot(original[channel], color="0.3", lw=1.2, label="original")
        ax.plot(series[channel], color=sns.color_palette(PALETTE)[1], lw=1, label="augmented")
        ax.set_title(name)
        ax.set_xlabel("t")
    axes[0].legend(loc="best")
    fig.suptitle(title)
    return legible(fig)


def plot_derivative(series: np.ndarray, fitted: np.ndarray, observed: np.ndarray, titles: Iterable[str]) -> plt.Figure:
    """Rows of series (top) and their fitted ``dz/dt`` beside the finite-difference slope
    (bottom); each argument is ``(n, L)`` for one channel."""
    titles = list(titles)
    fig, axes = plt.subplots(2, len(series), figsize=(3.2 * len(series), 4.2), sharex="col", squeeze=False)
    for j in range(len(series)):
        axes[0][j].plot(series[j], color="0.3", lw=1)
        axes[0][j].set_title(titles[j])
        axes[1][j].plot(observed[j], lw=1, label="finite difference")
        axes[1][j].plot(fitted[j], lw=1, label="ODENet f(z, t)")
        axes[1][j].set_xlabel("t")
    axes[0][0].set_ylabel("z(t)")
    axes[1][0].set_ylabel("dz/dt per step")
    axes[1][0].legend()
    return legible(fig)


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
    return legible(fig)


def plot_robustness(table: pd.DataFrame, methods: Iterable[str], metrics: Iterable[str],
                    col: str = "dataset") -> sns.FacetGrid:
    """Horizontal bars of clean and adversarial accuracy per method (mean over seeds, the
    range over seeds as error bars), one panel per ``col`` value."""
    methods, metrics = list(methods), list(metrics)
    rows = table[table["metric"].isin(metrics) & table["method"].isin(methods)]
    n_panels = rows[col].nunique()
    height = 0.22 * len(methods) * len(metrics) + 1.0  # room for one bar per method and metric
    grid = sns.catplot(data=rows, y="method", x="value", hue="metric", hue_order=metrics, order=methods, col=col,
                       kind="bar", errorbar=("pi", 100), height=height,
                       aspect=MAX_WIDTH_IN / min(n_panels, 3) / height, col_wrap=min(n_panels, 3))
    grid.set_axis_labels("accuracy", "")
    grid.set_titles(col_template="{col_name}")
    sns.move_legend(grid, "lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(metrics), title=None)
    _label_legend(grid.legend)
    return legible(grid)


def plot_beside_paper(table: pd.DataFrame, paper: pd.DataFrame, methods: Iterable[str],
                      metrics: Iterable[str]) -> sns.FacetGrid:
    """Our accuracy per method (horizontal bars: mean over seeds, error bars: the range
    over seeds, dots: the seeds) beside the paper's published value (black diamonds),
    one panel per metric. ``paper`` is tidy (method, metric, value) for the same data set."""
    methods, metrics = list(methods), list(metrics)
    rows = table[table["metric"].isin(metrics) & table["method"].isin(methods)]
    height = 0.32 * len(methods) + 1.0
    grid = sns.catplot(data=rows, y="method", x="value", col="metric", col_order=metrics, order=methods,
                       kind="bar", errorbar=("pi", 100), height=height, aspect=MAX_WIDTH_IN / len(metrics) / height,
                       color="#8fb3d9")
    for ax, metric in zip(grid.axes.flat, metrics):
        sns.stripplot(data=rows[rows["metric"] == metric], y="method", x="value", order=methods, ax=ax,
                      color="#1f4e79", size=3, jitter=0.15)
        published = paper[paper["metric"] == metric].set_index("method")["value"].reindex(methods)
        ax.scatter(published.values, range(len(methods)), marker="D", color="black", zorder=5,
                   label="paper (published)")
        ax.set_title(label(metric))
        ax.set_xlim(0, 1)
    grid.figure.legend(*grid.axes.flat[0].get_legend_handles_labels(), loc="lower center",
                       bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    grid.set_axis_labels("accuracy", "")
    return legible(grid)




def plot_generated_series(real: np.ndarray, generated: dict[str, np.ndarray], title: str = "", channel: int = 0,
                          per_panel: int = 3) -> plt.Figure:
    """A few real series of one class (first panel) beside the series each generator made
    for that class (one panel per generator), one channel, shared axes: what "looks like
    the class" means for each (Deng et al. 2022's generated minority classes)."""
    panels = {"real": real, **generated}
    fig, axes = _panels(len(panels), 3, 2.0, sharey=True)
    for ax, (name, series) in zip(axes, panels.items()):
        for s in series[:per_panel]:
            ax.plot(s[channel], lw=1, color="0.3" if name == "real" else None)
        ax.set_title(name)
        ax.set_xlabel("t")
    fig.suptitle(title)
    return legible(fig)


def plot_generated_projection(real: np.ndarray, generated: dict[str, np.ndarray]) -> plt.Figure:
    """Real and generated series of the same classes projected on the real series' first
    two principal components (scikit-learn's PCA), one panel per generator: generated
    points that cover the real cloud resemble the data; a tight clump is a collapsed mode."""
    from sklearn.decomposition import PCA

    flat = real.reshape(len(real), -1)
    pca = PCA(n_components=2).fit(flat)
    Z = pca.transform(flat)
    fig, axes = _panels(len(generated), 4, 2.2, sharex=True, sharey=True)
    for ax, (name, series) in zip(axes, generated.items()):
        G = pca.transform(series.reshape(len(series), -1))
        ax.scatter(Z[:, 0], Z[:, 1], s=10, color="0.6", label="real")
        ax.scatter(G[:, 0], G[:, 1], s=10, color=sns.color_palette(PALETTE)[1], label="generated")
        ax.set_title(name)
    axes[0].legend(loc="best")
    fig.supxlabel("PC1 of the real series")
    fig.supylabel("PC2")
    return legible(fig)


def plot_realism_usefulness(points: pd.DataFrame, x: str = "discriminative_score", y: str = "gain",
                            hue: str = "method", style: str | None = None) -> plt.Figure:
    """Realism against usefulness, one point per method (and setting): the discriminative
    score of the synthetic minority series (0: the forest cannot tell them from real ones) on
    the x axis, the gain they bring to the classifier (e.g. minority F1 over no
    oversampling) on the y axis; the trade-off Kim et al. (2021)'s abstract claims. ``points``
    holds the columns ``x``, ``y``, ``hue`` (and ``style``), plus optional ``x_sd``/``y_sd``
    drawn as error bars."""
    missing = [c for c in (x, y, hue) if c not in points.columns]
    if missing:
        raise ValueError(f"plot_realism_usefulness needs the columns {missing}; got {list(points.columns)}")
    fig, ax = plt.subplots(figsize=(MAX_WIDTH_IN, 4.2))
    colours = dict(zip(points[hue].unique(), sns.color_palette(PALETTE, points[hue].nunique())))
    if {"x_sd", "y_sd"} <= set(points.columns):
        for _, row in points.iterrows():
            ax.errorbar(row[x], row[y], xerr=row["x_sd"], yerr=row["y_sd"], color=colours[row[hue]], lw=0.8,
                        alpha=0.5, zorder=1)
    sns.scatterplot(data=points, x=x, y=y, hue=hue, style=style, palette=colours, s=70, ax=ax, zorder=2)
    ax.axhline(0, color="0.5", lw=0.8, ls="--")
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    # below the axes, in columns: beside them, the ~15 entries would take half of a phone's width
    ax.legend(fontsize=9, bbox_to_anchor=(0.5, -0.3), loc="upper center", ncol=3, borderaxespad=0, frameon=False)
    _label_legend(ax.get_legend())
    return legible(fig)


def plot_image_rows(rows: dict[str, np.ndarray], side: int = 8, per_row: int = 8) -> plt.Figure:
    """Rows of small grey images, one row per name (e.g. the real minority digits and what
    each oversampler generates for them, Wang 2023, Figs. 2.5-2.6): ``rows[name]`` holds
    ``(n, side * side)`` or ``(n, 1, side * side)`` pixel arrays; the first ``per_row`` are shown."""
    if not rows:
        raise ValueError("plot_image_rows needs at least one row of images")
    fig, axes = plt.subplots(len(rows), per_row, figsize=(MAX_WIDTH_IN, 1.0 * len(rows) + 0.2), squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        images = np.asarray(images).reshape(len(images), -1)
        if images.shape[1] != side * side:
            raise ValueError(f"row {name!r}: images of {images.shape[1]} pixels are not {side}x{side}")
        for c in range(per_row):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                ax.imshow(images[c].reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
    fig.subplots_adjust(left=0.22, wspace=0.05, hspace=0.1)
    return legible(fig)


def plot_latent_views(views: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                      class_names: Iterable[str] = ("majority", "minority")) -> plt.Figure:
    """2-D views of latent codes, one panel per autoencoder (e.g. with and without GL-GAN's
    clustering loss, Wang 2023, eq. 2.2): ``views[name] = (codes, labels, synthetic codes)``,
    all projected on the first two principal components of that panel's real codes; the
    synthetic (latent SMOTE) codes are drawn as crosses."""
    from sklearn.decomposition import PCA

    names = list(class_names)
    fig, axes = _panels(len(views), 2, 3.0)
    palette = sns.color_palette(PALETTE)
    for ax, (title, (codes, labels, synthetic)) in zip(axes, views.items()):
        pca = PCA(n_components=2).fit(codes)
        Z = pca.transform(codes)
        for k, name in enumerate(names):
            ax.scatter(Z[labels == k, 0], Z[labels == k, 1], s=10, color=palette[k], label=name, alpha=0.7)
        if len(synthetic):
            S = pca.transform(synthetic)
            ax.scatter(S[:, 0], S[:, 1], s=14, marker="x", color=palette[3], label="latent SMOTE", alpha=0.7)
        ax.set_title(title)
        ax.set_xlabel("PC1")
    axes[0].set_ylabel("PC2")
    axes[0].legend(fontsize=9, loc="best")
    return legible(fig)


def plot_closed_form_check(table: pd.DataFrame, evaluation: str = "robust") -> plt.Figure:
    """Measured class-wise errors of the trained linear model against the closed form of the
    Gaussian-mixture analysis (Wang 2023, sec. 4.3, corrected; the rows of
    :func:`tsimb.robustness.theory.compare_with_closed_form`), one panel per budget
    ``eps``, one colour per training, one marker per class; on the diagonal the two agree."""
    rows = table[table["evaluation"] == evaluation]
    epss = sorted(rows["eps"].unique())
    fig, axes = _panels(len(epss), 3, 2.6, sharex=True, sharey=True)
    trainings = list(dict.fromkeys(rows["training"]))
    colours = dict(zip(trainings, sns.color_palette(PALETTE, len(trainings))))
    markers = dict(zip(dict.fromkeys(rows["cls"]), ("o", "^")))
    for ax, eps in zip(axes, epss):
        here = rows[rows["eps"] == eps]
        for (training, cls), group in here.groupby(["training", "cls"], sort=False):
            ax.scatter(group["closed_form"], group["measured"], color=colours[training], marker=markers[cls], s=22)
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        ax.set(title=f"eps = {eps:g}", xlabel="closed form", xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    axes[0].set_ylabel(f"measured ({evaluation})")
    handles = [plt.Line2D([], [], color=c, marker="s", ls="", label=t) for t, c in colours.items()]
    handles += [plt.Line2D([], [], color="grey", marker=m, ls="", label=c) for c, m in markers.items()]
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    return legible(fig)


def plot_linear_boundaries(X: np.ndarray, y: np.ndarray, boundaries: dict[str, tuple[np.ndarray, float]],
                           eps: float = 0.0, max_points: int = 600, seed: int = 0) -> plt.Figure:
    """A two-dimensional sample of the Gaussian mixture (Wang 2023, eq. 4.1; classes -1 and
    +1) with the decision boundary ``w^T x = b`` of each trained linear model in
    ``boundaries`` (name -> ``(w, b)``), and, with ``eps``, the L-infinity box of that
    radius around the two class means (the attack's reach)."""
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_linear_boundaries draws two-dimensional points, got X of shape {X.shape}")
    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(MAX_WIDTH_IN * 0.75, 5.2))
    for cls, name, colour in ((1, "well-represented (+1)", "#8fb3d9"), (-1, "under-represented (-1)", "#d98f8f")):
        members = np.flatnonzero(y == cls)
        shown = rng.choice(members, size=min(max_points, members.size), replace=False)
        ax.scatter(X[shown, 0], X[shown, 1], s=6, color=colour, alpha=0.6, label=f"{name}, n={members.size}")
    low = min(np.percentile(X[y == cls], 1, axis=0).min() for cls in (-1, 1))
    high = max(np.percentile(X[y == cls], 99, axis=0).max() for cls in (-1, 1))
    grid = np.linspace(low, high, 50)
    for (name, (w, b)), colour in zip(boundaries.items(), sns.color_palette("dark", len(boundaries))):
        w = np.asarray(w, dtype=float)
        if abs(w[1]) > 1e-12:
            ax.plot(grid, (b - w[0] * grid) / w[1], color=colour, lw=1.6, label=name)
        else:
            ax.axvline(b / w[0], color=colour, lw=1.6, label=name)
    if eps > 0:
        for mean in (X[y == 1].mean(axis=0), X[y == -1].mean(axis=0)):
            ax.add_patch(plt.Rectangle(mean - eps, 2 * eps, 2 * eps, fill=False, color="black", lw=1))
    ax.set(xlim=(low, high), ylim=(low, high), xlabel="x1", ylabel="x2", aspect="equal")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
    return legible(fig)


def plot_reweighting_tradeoff(table: pd.DataFrame, x: str = "under_weight", col: str = "method",
                              metrics: Iterable[str] = ("std_well", "std_under", "rob_well", "rob_under")
                              ) -> plt.Figure:
    """Class-wise standard and robust accuracy as the under-represented class's weight grows
    (Wang 2023, Figure 4.2), one panel per ``col`` value (natural and adversarial
    training): mean over seeds with the range as a band, weight on a log axis."""
    metrics = list(metrics)
    rows = table[table["metric"].isin(metrics)]
    panels = list(dict.fromkeys(rows[col]))
    fig, axes = _panels(len(panels), 2, 3.0, sharey=True)
    for ax, panel in zip(axes, panels):
        sns.lineplot(data=rows[rows[col] == panel], x=x, y="value", hue="metric", hue_order=metrics, marker="o",
                     errorbar=("pi", 100), ax=ax, legend=ax is axes[0])
        ax.set(xscale="log", title=label(panel), xlabel=label(x), ylabel="accuracy", ylim=(-0.02, 1.02))
        ax.set_xticks(sorted(rows.loc[rows[col] == panel, x].unique()))
        ax.get_xaxis().set_major_formatter(plt.matplotlib.ticker.ScalarFormatter())
        ax.get_xaxis().set_minor_locator(plt.matplotlib.ticker.NullLocator())
    legend = axes[0].get_legend()
    if legend is not None:
        _label_legend(legend)
        handles, labels = axes[0].get_legend_handles_labels()
        legend.remove()
        fig.legend(handles, [label(t) for t in labels], loc="lower center", bbox_to_anchor=(0.5, 1.0),
                   ncol=len(metrics), frameon=False)
    return legible(fig)


def plot_confusion_recovery(true: np.ndarray, estimated: dict[str, np.ndarray],
                            class_names: Iterable[str] = ("majority", "minority")) -> plt.Figure:
    """Each worker's error rates as estimated (y) against the true ones (x), one panel per
    estimator (e.g. Dawid-Skene with each prior, Wang 2023 eqs. 3.1-3.2): ``true`` and each
    ``estimated`` are ``(W, K, K)`` confusion matrices (rows: true class); every off-diagonal
    entry is a point, coloured by its true class. Points on the diagonal are recovered."""
    names = list(class_names)
    true = np.asarray(true)
    K = true.shape[1]
    fig, axes = _panels(len(estimated), 3, 2.6, sharex=True, sharey=True)
    colours = sns.color_palette(PALETTE)
    top = max(float(np.nanmax([true[:, a, b] for a in range(K) for b in range(K) if a != b])),
              *(float(np.nanmax(est[:, a, b])) for est in estimated.values() for a in range(K) for b in range(K)
                if a != b), 0.05) * 1.05
    for ax, (name, est) in zip(axes, estimated.items()):
        est = np.asarray(est)
        if est.shape != true.shape:
            raise ValueError(f"{name}: estimated confusion has shape {est.shape}, the true one {true.shape}")
        for a in range(K):
            for b in range(K):
                if a != b:
                    ax.scatter(true[:, a, b], est[:, a, b], s=22, color=colours[a % len(colours)],
                               label=f"true {names[a]}" if K == 2 else f"{names[a]} as {names[b]}")
        ax.plot([0, top], [0, top], color="0.5", lw=1, ls="--")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_title(label(name))
    axes[0].legend(loc="upper left")
    fig.supxlabel("true error rate of a worker")
    fig.supylabel("estimated")
    return legible(fig)


def plot_label_accuracy_per_class(table: pd.DataFrame, x: str = "aggregator", col: str | None = "dataset",
                                  hue: str = "class") -> sns.FacetGrid:
    """Bars of the label accuracy of each aggregator (tidy: ``x``, ``hue`` and ``value``
    columns, one row per run), the mean over seeds with the range as error bars: the
    per-class view in which an aggregator's bias under imbalance shows."""
    grid = sns.catplot(data=table, x=x, y="value", hue=hue, col=col, kind="bar", errorbar=("pi", 100),
                       height=3, aspect=0.9, sharex=True)
    grid.set_axis_labels("", "label accuracy")
    grid.set_titles("{col_name}" if col else "")
    for ax in grid.axes.flat:
        ax.tick_params(axis="x", rotation=30)
        ax.set_ylim(0, 1.02)
    sns.move_legend(grid, "lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(5, table[hue].nunique()), title=None)
    _label_legend(grid.legend)
    return legible(grid)


def plot_label_rounds(table: pd.DataFrame, x: str = "stage", hue: str = "class",
                      col: str | None = "dataset") -> sns.FacetGrid:
    """The label accuracy on the training set along ICED's rounds (Wang 2023, Fig. 3.2):
    points per ``x`` stage (MV, D&S before synthesis, after the first round, after the last),
    mean over seeds with the range, one line per ``hue``."""
    grid = sns.catplot(data=table, x=x, y="value", hue=hue, col=col, kind="point", errorbar=("pi", 100),
                       height=3, aspect=0.9, dodge=0.2)
    grid.set_axis_labels("", "label accuracy")
    grid.set_titles("{col_name}" if col else "")
    for ax in grid.axes.flat:
        ax.tick_params(axis="x", rotation=30)
    sns.move_legend(grid, "lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(5, table[hue].nunique()), title=None)
    _label_legend(grid.legend)
    return legible(grid)
