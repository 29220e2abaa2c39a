"""The Imb-Mix chapter's experiment (tsimb.experiments.imb_mix): the arms and the 2 x 2 x 2
factorial (no configuration twice), the settings stored and read back, one run on a tiny
budget with the kappa-rule counts, the factorial's tables, the published Tables 5.1-5.7
(rows checked against the dissertation's text) and the cross-chapter comparison."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from tsimb.evaluation import check_claims
from tsimb.experiments import CHAPTERS, config_key
from tsimb.experiments import imb_mix as experiment
from tsimb.experiments.runner import execute
from tsimb.methods import METHODS
from tsimb.robustness.imbmix import factorial_settings

GRID = experiment.EXPERIMENT.grids("quick")["main"]


def test_the_chapter_is_registered_written_and_in_its_place():
    chapter = CHAPTERS["imb-mix"]
    assert not chapter.planned and chapter.notebook == "imb_mix"
    assert chapter.experiment == "tsimb.experiments.imb_mix"
    assert list(CHAPTERS)[-1] == "imb-mix"  # the book's last chapter (the order: tests/test_book.py)


def test_every_arm_every_seed_once_and_no_configuration_twice():
    s = experiment.SETTINGS["quick"]
    assert len(GRID) == len(s.arms) * len(s.seeds) * len(s.datasets) * len(s.imbalances)
    assert len({config_key(c) for c in GRID}) == len(GRID)
    # the eight factorial cells are eight different trainings, each under one arm
    per_seed = [c for c in GRID if c["seed"] == 0]
    cells = {cell: next(c for c in per_seed if c["arm"] == experiment.arm_of_cell(cell))
             for cell in experiment.FACTORIAL_CELLS}
    assert len({config_key(c) for c in cells.values()}) == 8
    # an arm's stored settings are what its method reads back, under the chapter's attack
    for config in per_seed:
        method, expected = experiment.arm_method_settings(config["arm"], s.adversarial)
        assert config["method"] == method
        if expected is not None:
            assert METHODS[method].settings_from_config(config) == expected
            assert expected.adversarial == s.adversarial
    full = factorial_settings(replace(experiment.METHOD_DEFAULTS["imb-mix"][0], adversarial=s.adversarial))
    for cell, config in cells.items():
        if config["method"] == "imb-mix":
            assert METHODS["imb-mix"].settings_from_config(config) == full[cell]
    after = next(c for c in per_seed if c["arm"] == "imb-mix-after")
    assert METHODS["imb-mix"].settings_from_config(after).kappa_counts == "after"


def test_unknown_arms_and_cells_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="the arms are"):
        experiment.arm_method_settings("imbmix", experiment.SETTINGS["quick"].adversarial)
    with pytest.raises(ValueError, match="the cells are"):
        experiment.arm_of_cell("copies+mixup")


def test_one_run_scores_the_halves_and_counts_the_kappa_rule():
    config = next(c for c in GRID if c["arm"] == "imb-mix" and c["seed"] == 0)
    config = {**config, "budget": {**config["budget"], "epochs": 2}}
    record = execute(experiment.EXPERIMENT.run_one, config)
    m = record["metrics"]
    for key in ("std_overall", "std_under", "rob_overall", "rob_under"):
        assert 0 <= m[key] <= 1
    assert m["remix_pairs"] > 0 and 0 < m["remix_fired"] <= m["remix_pairs"]  # counts before the copies: fires
    assert m["remix_fired_share"] == pytest.approx(m["remix_fired"] / m["remix_pairs"])
    assert m["swa_averaged"] >= 1 and m["copies_max"] >= 2
    replay = execute(experiment.EXPERIMENT.run_one, config, epochs=1)
    assert replay["trace"] == record["trace"][:1]


def _toy_table(seeds=(0, 1, 2), jitter: bool = False) -> pd.DataFrame:
    rows, noise = [], np.random.default_rng(0)
    for seed in seeds:
        for i, arm in enumerate(experiment.ARMS):
            copies = "copies" in arm or arm in ("imb-mix", "adv-data-aug", "imb-mix-after")
            value = 0.1 + 0.2 * copies + 0.01 * i + 0.001 * seed + (0.002 * noise.standard_normal() if jitter else 0)
            rows.append(dict(dataset="Toy", protocol="step-10", seed=seed, arm=arm, metric="rob_under", value=value))
    return pd.DataFrame(rows)


def test_the_factorial_table_and_main_effects_read_the_right_arms():
    table = _toy_table()
    factorial = experiment.factorial_table(table, metrics=("rob_under",))
    assert list(factorial["arm"]) == ["imb-mix", "adv-data-aug", "copies+swa", "copies", "remix+swa", "remix-adv",
                                      "swa", "adv"]
    assert (factorial[["copies", "remix", "swa"]].apply(lambda r: "".join(v[0] for v in r), axis=1)
            == ["yyy", "yyn", "yny", "ynn", "nyy", "nyn", "nny", "nnn"]).all()
    effects = experiment.main_effects(table).set_index("factor")
    assert effects.loc["copies", "effect"] > 0.15 and effects.loc["copies", "n"] == 3
    idx = {arm: i for i, arm in enumerate(experiment.ARMS)}
    swa_on = np.mean([idx[a] for a in ("imb-mix", "copies+swa", "remix+swa", "swa")])
    swa_off = np.mean([idx[a] for a in ("adv-data-aug", "copies", "remix-adv", "adv")])
    assert effects.loc["swa", "effect"] == pytest.approx(0.01 * (swa_on - swa_off))


def test_the_claims_run_on_the_chapters_frame():
    frame = experiment.claims_frame(_toy_table(seeds=range(5), jitter=True))
    claims = check_claims(frame, experiment.CLAIMS, experiment.paper_claims_frame())
    assert len(claims) == len(experiment.CLAIMS)
    first = claims.iloc[0]
    assert first["verdict"] == "supported"  # Imb-Mix has the copies, remix-adv not


def test_published_rows_match_the_dissertations_text():
    paper = experiment.paper_results()
    assert paper["method"].notna().all() and len(paper) == 7 * 6 * 4

    def row(table, method, metric):
        hit = paper[(paper["table"] == table) & (paper["paper_method"] == method) & (paper["metric"] == metric)]
        return float(hit["value"].iloc[0]), float(hit["sd"].iloc[0])

    assert row("Table 5.1", "vanilla adv.", "std_overall") == (72.42, 0.52)
    assert row("Table 5.3", "Imb-Mix", "rob_under") == (18.49, 0.45)
    assert row("Table 5.3", "adv. + reweight", "std_under") == (48.71, 0.22)
    assert row("Table 5.3", "remix + adv.", "rob_overall") == (36.37, 0.13)


def test_the_published_orderings_the_issue_quotes():
    margins = experiment.paper_margins()
    assert margins["margin"].min() == pytest.approx(0.23) and margins["margin"].max() == pytest.approx(1.61)
    assert (margins["in_sds"] < 2).sum() == 5
    worst, cells = experiment.paper_worst_cells("adv-ros")
    assert cells - worst == 5  # "always worst" fails in five cells
    across = experiment.paper_across_chapters()
    assert len(across) == 24 and (across["difference"] < 0).sum() == 20
    robust = across[across["metric"].str.startswith("rob")]
    assert len(robust) == 12 and (robust["difference"] < 0).all()
    reweight = experiment.paper_across_chapters("adv-reweight", "adv-reweight")
    cell = reweight[(reweight["table_ch5"] == "Table 5.3") & (reweight["metric"] == "std_under")].iloc[0]
    assert (cell["ch5"], cell["ch4"]) == (48.71, 74.80)


def test_the_srat_chapters_runs_join_ours_for_the_cross_chapter_claims():
    ours = experiment.claims_frame(_toy_table(seeds=range(3), jitter=True))
    srat = pd.DataFrame([dict(dataset="Toy", protocol="step-10", study="main", seed=seed, method=method,
                              metric="rob_under", value=0.9 + 0.01 * seed)
                         for seed in range(5) for method in ("adv", "srat-ldam")]
                        + [dict(dataset="Other", protocol="step-10", study="main", seed=0, method="srat-ldam",
                                metric="rob_under", value=0.0)])
    both = experiment.with_srat_runs(ours, srat)
    added = both[both["method"] == "srat-ldam"]
    assert len(added) == 3 and set(added["dataset"]) == {"Toy step-10"}  # our seeds, our set only
    assert (both["method"] == "adv").sum() == 3  # ours, not theirs
    paper = experiment.paper_cross_frame()
    assert len(paper) == 48 and set(paper["method"]) == {"imb-mix", "srat-ldam"}
    claims = check_claims(both, experiment.CROSS_CLAIMS[:1], paper)
    assert claims["verdict"].iloc[0] == "supported" and claims["paper_difference"].iloc[0] > 0
