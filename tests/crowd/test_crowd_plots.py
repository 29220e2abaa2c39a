"""The crowd-labels chapter's figures (tsimb.plots): they fit the column with legible text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsimb import plots


def figures():
    plots.set_style()
    rng = np.random.default_rng(0)
    true = rng.dirichlet([5, 1], size=(7, 2))
    yield plots.plot_confusion_recovery(true, {"ds-uniform": true + 0.01, "ds-hard": true, "ds-soft": true})
    rows = pd.DataFrame([dict(dataset=d, aggregator=a, **{"class": c}, seed=s, value=rng.uniform())
                         for d in ("A", "B", "C") for a in ("mv", "ds-uniform", "ds-hard", "ds-soft")
                         for c in ("majority", "minority") for s in range(3)])
    yield plots.plot_label_accuracy_per_class(rows)
    yield plots.plot_label_rounds(rows.rename(columns={"aggregator": "stage"}))


def test_crowd_figures_fit_the_column_and_their_text_is_legible():
    for obj in figures():
        fig = plots._figure(obj)
        assert fig.get_size_inches()[0] <= plots.MAX_WIDTH_IN + 1e-6
        assert plots.smallest_text_px(fig) >= plots.MIN_FONT_PT * plots.DPI / 72 - 1e-6
        plots.plt.close(fig)


def test_confusion_recovery_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="estimated confusion has shape"):
        plots.plot_confusion_recovery(np.zeros((3, 2, 2)), {"x": np.zeros((4, 2, 2))})
