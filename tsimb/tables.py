"""Tables as the book shows them: human column labels, "—" where a value does not apply,
numbers such as "99.9 ± 0.1" kept on one line, and no unnamed 0..N index column.

:func:`for_reader` turns a DataFrame into a :class:`ReaderTable`, which Jupyter (and
myst-nb, which builds the book's pages) shows as an HTML table of class ``tsimb-table``
(styled by the book's ``_static/tsimb.css``) and whose plain-text form is the same table
as text (what nbval compares). :func:`label` names a column the way a reader reads it,
from :data:`LABELS`; a name not listed there loses its underscores.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd

__all__ = ["DASH", "LABELS", "MAX_COLUMNS", "ReaderTable", "for_reader", "label", "one_line"]

DASH = "—"  # a value that does not apply (a paper without that row, a protocol not run)
NBSP = "\u00a0"
MAX_COLUMNS = 6  # book/STYLE.md: a table fits the text column with at most ~6 columns

# the names the library's tidy tables use -> what a reader sees
LABELS: dict[str, str] = {
    # keys
    "dataset": "data set",
    "method": "method",
    "model": "model",
    "protocol": "protocol",
    "seed": "seed",
    "metric": "metric",
    "epochs": "epochs",
    "classifier": "classifier",
    "ratio": "imbalance ratio",
    "pmiss": "pmiss",
    "claim": "claim",
    # metrics
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "macro_f1": "macro F1",
    "micro_f1": "micro F1",
    "mcc": "MCC",
    "pr_auc": "PR-AUC",
    "g_mean": "G-mean",
    "minority_accuracy": "minority-half accuracy",
    "majority_accuracy": "majority-half accuracy",
    "clean_accuracy": "clean accuracy",
    "fgsm_accuracy": "FGSM accuracy",
    "bim_accuracy": "BIM accuracy",
    "clean_accuracy_minority": "clean, minority half",
    "fgsm_accuracy_minority": "FGSM, minority half",
    "bim_accuracy_minority": "BIM, minority half",
    "best_epoch": "best epoch",
    "discriminative_score": "discriminative score (0 best)",
    "tstr_recall": "TSTR recall",
    "diversity_ratio": "diversity (1 = data)",
    # evaluation tables
    "mean_rank": "mean rank",
    "paper_difference": "paper",
    "our_difference": "ours",
    "our_sd": "sd",
    "p_value": "p",
    "datasets_holding": "data sets where it holds",
    "verdict": "verdict",
    "reason": "reason",
    # data-set tables
    "in_paper": "in the paper",
    "classes": "classes",
    "channels": "channels",
    "length": "length",
    "train": "train series",
    "test": "test series",
    "median_range": "median range",
    "beta_fraction_of_range": "β / range",
    # adversarial training under imbalance (Wang 2023, Tables 4.1-4.7)
    "std_overall": "standard, overall",
    "std_under": "standard, under-represented",
    "std_well": "standard, well-represented",
    "std_gap": "standard gap (well - under)",
    "rob_overall": "robust, overall",
    "rob_under": "robust, under-represented",
    "rob_well": "robust, well-represented",
    "rob_gap": "robust gap (well - under)",
    "under_weight": "weight of the under-represented classes",
    "cost_well": "well-represented accuracy lost to up-weighting",
}
# the latent-generation chapter (GL-GAN, Wang 2023 ch. 2)
LABELS.update({"majority_region_share": "share nearest a majority series", "gain": "minority F1 gain over none",
               "minority_f1": "minority F1"})


def label(name: object, labels: Mapping[str, str] | None = None) -> str:
    """What a reader calls the column ``name``: ``labels`` (then :data:`LABELS`), else the
    name with its underscores as spaces."""
    text = str(name)
    for table in (labels or {}, LABELS):
        if text in table:
            return table[text]
    return text.replace("_", " ")


def one_line(value: object) -> object:
    """A cell's text with the spaces around "±" made non-breaking, so that "99.9 ± 0.1"
    never wraps inside its cell (other values are returned unchanged)."""
    if isinstance(value, str):
        return value.replace(" ± ", f"{NBSP}±{NBSP}")
    return value


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return DASH
    if isinstance(value, str) and value.strip().lower() in ("", "nan"):
        return DASH
    return one_line(value)


def _whole_numbers(column: pd.Series) -> pd.Series:
    """A float column whose every value is a whole number (an epoch, a count) as integers:
    "79", not "79.0"; NaN stays (it becomes "—")."""
    if not pd.api.types.is_float_dtype(column):
        return column
    values = column.dropna()
    if len(values) == 0 or not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        return column
    return pd.Series([v if pd.isna(v) else int(v) for v in column], index=column.index, dtype=object,
                     name=column.name)


class ReaderTable:
    """A DataFrame as the book shows it (see :func:`for_reader`); ``frame`` is the table
    with its labels and cells as shown, ``show_index`` whether its index is a column."""

    def __init__(self, frame: pd.DataFrame, show_index: bool = True) -> None:
        self.frame = frame
        self.show_index = show_index

    def _repr_html_(self) -> str:
        # pandas adds class="dataframe" too, which the theme styles
        return self.frame.to_html(classes="tsimb-table", index=self.show_index, border=0, escape=True,
                                  na_rep=DASH, max_rows=None, max_cols=None)

    def __repr__(self) -> str:
        with pd.option_context("display.max_colwidth", None, "display.width", 10_000):
            return self.frame.to_string(index=self.show_index, na_rep=DASH).replace(NBSP, " ")

    def _repr_latex_(self) -> str | None:
        """The table for the PDF build (LaTeX), or None where jinja2 is missing."""
        try:
            return self.frame.to_latex(index=self.show_index, na_rep=DASH, escape=True)
        except ImportError:
            return None

    @property
    def shape(self) -> tuple[int, int]:
        return self.frame.shape

    @property
    def columns(self) -> pd.Index:
        return self.frame.columns


def for_reader(frame: pd.DataFrame | pd.Series, index: str | Iterable[str] | None = None,
               labels: Mapping[str, str] | None = None, max_columns: int = MAX_COLUMNS) -> ReaderTable:
    """``frame`` as the book shows it: every column and index name through :func:`label`
    (``labels`` overrides), NaN and empty cells as "—", whole-number floats as integers,
    "±" kept with its numbers, and no unnamed 0..N index (``index`` names the columns to use
    as the index instead; by default an unnamed range index is simply not shown).

    Raises :class:`ValueError` for a table of more than ``max_columns`` columns (index
    excluded): pivot it, split it or select columns first (book/STYLE.md)."""
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    frame = frame.copy()
    if index is not None:
        frame = frame.set_index([index] if isinstance(index, str) else list(index))
    if frame.shape[1] > max_columns:
        raise ValueError(f"a table of {frame.shape[1]} columns does not fit the text column (at most "
                         f"{max_columns}): pivot it, split it or select columns before for_reader "
                         f"(columns: {[str(c) for c in frame.columns]})")
    show_index = not (isinstance(frame.index, pd.RangeIndex) and frame.index.name is None)

    def name(value: object) -> object:
        if isinstance(value, str):
            return label(value, labels)
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return int(value)  # a ratio of 10, not 10.0
        return value

    def relabel(axis: pd.Index) -> pd.Index:
        if isinstance(axis, pd.MultiIndex):
            axis = axis.set_levels([[name(v) for v in level] for level in axis.levels])
            return axis.set_names([label(n, labels) if n is not None else None for n in axis.names])
        return pd.Index([name(v) for v in axis], name=label(axis.name, labels) if axis.name is not None else None,
                        dtype=object)

    frame.columns = relabel(frame.columns)
    if show_index:
        # index values are names (methods, data sets) and stay as they are; only the names
        # of the index levels become labels
        names = [label(n, labels) if n is not None else None for n in frame.index.names]
        frame.index = frame.index.set_names(names)
    cells = frame.apply(_whole_numbers).astype(object)
    frame = cells.map(_cell) if hasattr(cells, "map") else cells.applymap(_cell)  # pandas < 2.1
    if show_index:
        frame.index = frame.index.map(lambda v: one_line(v) if not isinstance(v, tuple) else v)
    return ReaderTable(frame, show_index)

