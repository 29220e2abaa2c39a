"""The latent-generation chapter's figures (tsimb.plots): realism against usefulness, rows of
digit images, 2-D latent views; each fits the column with legible text."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from tsimb import plots  # noqa: E402


def test_the_latent_chapters_figures_fit_the_column_and_stay_legible():
    plots.set_style()
    rng = np.random.default_rng(0)
    points = pd.DataFrame({"method": ["smote", "gl-gan", "latent-adversarial eps=0.2"],
                           "discriminative_score": [0.1, 0.3, 0.45], "gain": [0.05, -0.01, 0.02],
                           "x_sd": [0.01, 0.02, 0.03], "y_sd": [0.02, 0.02, 0.01]})
    figures = [plots.plot_realism_usefulness(points),
               plots.plot_image_rows({"real 7": rng.uniform(size=(8, 64)), "SMOTE": rng.uniform(size=(5, 1, 64))}),
               plots.plot_latent_views({"with eq. 2.2": (rng.normal(size=(30, 4)), np.r_[np.zeros(20), np.ones(10)],
                                                         rng.normal(size=(5, 4))),
                                        "without": (rng.normal(size=(30, 4)), np.r_[np.zeros(20), np.ones(10)],
                                                    np.zeros((0, 4)))})]
    for fig in figures:
        assert fig.get_size_inches()[0] <= plots.MAX_WIDTH_IN + 1e-9
        assert plots.smallest_shown_text_px(fig) >= plots.MIN_TEXT_PX
        plt.close(fig)


def test_the_latent_chapters_figures_name_bad_input():
    with pytest.raises(ValueError, match="needs the columns"):
        plots.plot_realism_usefulness(pd.DataFrame({"method": ["a"]}))
    with pytest.raises(ValueError, match="not 8x8"):
        plots.plot_image_rows({"x": np.zeros((2, 10))})
    with pytest.raises(ValueError, match="at least one row"):
        plots.plot_image_rows({})
