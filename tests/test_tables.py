"""tsimb.tables: what a reader meets in the book's tables (issue 21): human labels, "—" for
what does not apply, "99.9 ± 0.1" on one line, no unnamed index column, no cut cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsimb.tables import DASH, LABELS, for_reader, label


def test_labels_name_columns_as_a_reader_reads_them():
    assert label("clean_accuracy_minority") == "clean, minority half"
    assert label("best_epoch") == "best epoch"
    assert label("beta_fraction_of_range") == "β / range"
    assert label("some_new_column") == "some new column"
    assert label("balanced_accuracy", {"balanced_accuracy": "balanced"}) == "balanced"
    assert all("_" not in text for text in LABELS.values())


def test_for_reader_relabels_dashes_and_keeps_numbers_whole():
    frame = pd.DataFrame({"clean_accuracy": [99.9, np.nan], "best_epoch": [79.0, 1483.0],
                          "p_value": [0.0123, 0.5]},
                         index=pd.Index(["none", "out-sign-grad"], name="method"))
    table = for_reader(frame)
    html, text = table._repr_html_(), repr(table)
    for shown in ("clean accuracy", "best epoch", ">79<", ">1483<", DASH, "0.0123", ">method<"):
        assert shown in html, shown
    for raw in ("clean_accuracy", "best_epoch", "NaN", "nan", "79.0"):
        assert raw not in html and raw not in text, raw
    assert 'class="dataframe tsimb-table"' in html
    assert text.splitlines()[0].split() == ["clean", "accuracy", "best", "epoch", "p"]


def test_mean_and_sd_stay_on_one_line_in_html_and_read_plainly_as_text():
    table = for_reader(pd.DataFrame({"ours": ["99.9 ± 0.1"]}, index=pd.Index(["none"], name="method")))
    assert "99.9\u00a0±\u00a00.1" in table._repr_html_()
    assert "99.9 ± 0.1" in repr(table)


def test_no_unnamed_range_index_and_long_text_is_not_cut():
    reason = "balanced_accuracy 0.250, 0.300 below its seed siblings' median; constant predictor: one class " * 2
    flags = pd.DataFrame({"dataset": ["Libras"], "method": ["none"], "seed": [0], "reason": [reason]})
    shown = for_reader(flags)
    html = shown._repr_html_()
    assert "<th>0</th>" not in html and "..." not in html and reason.strip() in html
    assert repr(shown).splitlines()[1].split()[:3] == ["Libras", "none", "0"]
    indexed = for_reader(flags, index=["dataset", "method", "seed"])._repr_html_()
    assert ">data set<" in indexed and "<th>Libras</th>" in indexed


def test_multiindex_columns_are_labelled_level_by_level():
    columns = pd.MultiIndex.from_product([["clean_accuracy", "fgsm_accuracy"], ["ours", "paper"]],
                                         names=["metric", "source"])
    frame = pd.DataFrame([["99.9 ± 0.1", 100.0, "9.1 ± 5.3", np.nan]], columns=columns,
                         index=pd.Index(["none"], name="method"))
    html = for_reader(frame)._repr_html_()
    assert "clean accuracy" in html and "FGSM accuracy" in html and ">ours<" in html and ">paper<" in html
    assert ">100<" in html and DASH in html


def test_too_wide_a_table_is_refused_with_what_to_do():
    wide = pd.DataFrame(np.zeros((2, 8)), columns=[f"c{k}" for k in range(8)])
    with pytest.raises(ValueError, match="pivot it, split it or select columns"):
        for_reader(wide)
    assert for_reader(wide, max_columns=8).shape == (2, 8)


def test_a_series_is_shown_as_a_one_column_table():
    table = for_reader(pd.Series({"none (reference)": 0.884}, name="silhouette"))
    assert table.columns.tolist() == ["silhouette"] and "none (reference)" in table._repr_html_()


def test_whole_numbers_lose_their_decimal_point_only_where_the_whole_column_is_whole():
    frame = pd.DataFrame({"best_epoch": [79.0, np.nan], "clean_accuracy": [100.0, 99.9]},
                         index=pd.Index(["a", "b"], name="method"))
    html = for_reader(frame)._repr_html_()
    assert ">79<" in html and ">100.0<" in html and ">99.9<" in html


def test_numeric_column_labels_read_as_numbers():
    sweep = pd.DataFrame([[96.3, 91.9, 80.7]], columns=pd.Index([1.0, 3.0, 0.1], name="ratio"),
                         index=pd.Index(["none"], name="method"))
    html = for_reader(sweep)._repr_html_()
    assert "<th>1</th>" in html and "<th>3</th>" in html and "<th>0.1</th>" in html and "imbalance ratio" in html
