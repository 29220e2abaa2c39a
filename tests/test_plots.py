"""Every figure of tsimb.plots fits the text column and keeps its text legible (at least
70% of the body text's size), whatever the number of panels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from tsimb import plots  # noqa: E402

METHODS = ["none", "in-clamp-grad", "in-sign-grad", "out-sign-grad", "rand-grad", "spec-den",
           "in-sign-grad+fs", "out-sign-grad+fs"]
METRICS = ["clean_accuracy", "fgsm_accuracy", "bim_accuracy"]


def tidy(methods=METHODS, metrics=METRICS, datasets=("A", "B"), seeds=3) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame([dict(dataset=d, method=m, metric=k, seed=s, value=rng.uniform())
                         for d in datasets for m in methods for k in metrics for s in range(seeds)])


def figures(make_dataset):
    plots.set_style()
    data = make_dataset([5] * 9, length=20)
    series = np.sin(np.linspace(0, 6, 30))
    table = tidy()
    per_class = pd.DataFrame([dict(method=m, metric=f"recall_{k}", seed=s, value=0.5)
                              for m in ("none", "ros") for k in range(6) for s in range(2)])
    sweep = pd.DataFrame([dict(method=m, ratio=r, metric="balanced_accuracy", seed=s, value=0.5)
                          for m in ("none", "ros") for r in (1, 3, 10) for s in range(2)])
    counts = pd.DataFrame([dict(protocol=p, **{"class": k}, count=10 - k) for p in ("step", "exp") for k in range(9)])
    paper = table[table["seed"] == 0].drop(columns="seed")
    yield "series per class", plots.plot_series_per_class(data)
    yield "class counts", plots.plot_class_counts(counts)
    yield "per-class metric", plots.plot_per_class_metric(per_class)
    yield "metric vs", plots.plot_metric_vs(sweep, x="ratio", metric="balanced_accuracy")
    traces = pd.DataFrame([dict(run=r, seed=s, epoch=e, loss=1 / (1 + e)) for r in ("none", "out-sign-grad β=0.05")
                           for s in range(2) for e in range(5)])
    yield "loss traces", plots.plot_loss_traces(traces, reference=("class-prior entropy", 0.6))
    yield "augmented samples", plots.plot_augmented_samples(series[None], {m: series[None] for m in METHODS[1:6]})
    yield "derivative", plots.plot_derivative(series[None].repeat(2, 0), series[None].repeat(2, 0),
                                              series[None].repeat(2, 0), ["a", "b"])
    yield "feature PCA", plots.plot_feature_pca({"a": np.random.rand(20, 5), "b": np.random.rand(20, 5)},
                                                np.arange(20) % 2, ["x", "y"])
    yield "robustness", plots.plot_robustness(table, METHODS, METRICS)
    yield "generated series", plots.plot_generated_series(series[None].repeat(4, 0)[:, None],
                                                          {m: series[None].repeat(4, 0)[:, None] for m in ("a", "b", "c", "d")})
    yield "generated projection", plots.plot_generated_projection(np.random.rand(12, 1, 30),
                                                                  {m: np.random.rand(12, 1, 30) for m in "abcd"})
    yield "beside paper", plots.plot_beside_paper(table[table["dataset"] == "A"], paper[paper["dataset"] == "A"],
                                                  METHODS, METRICS)


def test_every_figure_fits_the_column_and_its_text_is_legible(make_dataset):
    for name, obj in figures(make_dataset):
        fig = plots._figure(obj)
        assert fig.get_size_inches()[0] <= plots.MAX_WIDTH_IN + 1e-6, name
        assert plots.smallest_shown_text_px(obj) >= plots.MIN_TEXT_PX, name
        raw = [t.get_text() for t in fig.findobj(plt.Text) if "_" in t.get_text()]
        assert not raw, f"{name}: raw column names in the figure: {raw}"
        plt.close(fig)


def test_the_robustness_legend_names_the_metrics_as_a_reader_reads_them():
    plots.set_style()
    minority = ["clean_accuracy_minority", "fgsm_accuracy_minority", "bim_accuracy_minority"]
    grid = plots.plot_robustness(tidy(metrics=minority), METHODS[:3], minority)
    shown = [t.get_text() for t in grid.legend.get_texts()]
    assert shown == ["clean, minority half", "FGSM, minority half", "BIM, minority half"]
    plt.close(grid.figure)


def test_in_jupyter_figures_are_stored_at_twice_their_shown_size():
    """The page shows a figure at its own size (metadata width); the PNG has twice the
    pixels, so its text is sharp on phones and high-density screens."""
    pytest.importorskip("matplotlib_inline")
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    shell.display_formatter.formatters["image/png"].enabled = True  # a kernel's shell shows images, a test's not
    plots.set_style()
    fig, ax = plt.subplots(figsize=(plots.MAX_WIDTH_IN, 3))
    ax.set_title("legible")
    data, metadata = shell.display_formatter.format(fig)
    png = data["image/png"]
    import base64
    import io

    from PIL import Image

    pixels = Image.open(io.BytesIO(png if isinstance(png, bytes) else base64.b64decode(png))).size[0]
    shown = metadata["image/png"]["width"]
    assert shown <= plots.MAX_WIDTH_IN * plots.DPI and pixels == pytest.approx(2 * shown, abs=2)
    plt.close(fig)


def test_legible_shrinks_wide_figures_and_raises_small_text():
    fig, ax = plt.subplots(figsize=(14, 3))
    ax.set_title("tiny", fontsize=5)
    assert plots.smallest_text_px(fig) < plots.MIN_TEXT_PX  # too wide and too small: measured as such
    plots.legible(fig)
    assert fig.get_size_inches()[0] == pytest.approx(plots.MAX_WIDTH_IN)
    assert plots.smallest_text_px(fig, plots.PHONE_COLUMN_PX) >= plots.MIN_TEXT_PX
    plt.close(fig)


def test_the_loss_traces_name_the_missing_columns():
    with pytest.raises(ValueError, match="epoch"):
        plots.plot_loss_traces(pd.DataFrame({"run": ["a"], "loss": [1.0]}))
