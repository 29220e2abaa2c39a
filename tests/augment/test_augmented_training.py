"""Training on augmented minibatches with Feat-Sim (tsimb.augment.training) and the ODE
chapter's experiment (tsimb.experiments.ode_augmentation), on tiny budgets."""

from __future__ import annotations

from types import SimpleNamespace

from dataclasses import asdict, replace

import numpy as np
import pandas as pd
import pytest
import torch

from tsimb.augment import feat_sim_loss, other_class_partners, spec_den
from tsimb.augment import (
    AUGMENTATIONS,
    AUGMENTED_METHODS,
    AugmentedStep,
    AugmentedTraining,
    AugmentSettings,
    ODEBudget,
    augment_batch,
    parse_method,
)
from tsimb.experiments import ode_augmentation as chapter
from tsimb.experiments.store import config_key
from tsimb.robustness import MaskingChecks
from tsimb.methods import METHODS
from tsimb.train import FAWAZ_RESNET, Budget, FitState, History, fit

experiment = chapter.EXPERIMENT
from tsimb.data import Imbalance
from tsimb.models import build_model
from tsimb.models import fit_odenet
from tsimb.runtime import seed_everything


@pytest.fixture(scope="module")
def odenet():
    X = np.random.default_rng(0).normal(size=(8, 1, 16)).astype(np.float32)
    net, _ = fit_odenet(X, epochs=1, batch_size=8)
    return net


def test_method_names_parse():
    assert parse_method("none") == (None, False)
    assert parse_method("spec-den") == ("spec-den", False)
    assert parse_method("out-sign-grad+fs") == ("out-sign-grad", True)
    assert len(AUGMENTED_METHODS) == 1 + 2 * len(AUGMENTATIONS)
    assert set(AUGMENTED_METHODS) <= set(METHODS)
    with pytest.raises(ValueError, match="unknown augmentation method"):
        parse_method("mixup")


@pytest.fixture(scope="module")
def odenet64():
    X = np.random.default_rng(0).normal(size=(8, 1, 64)).astype(np.float32)
    return fit_odenet(X, epochs=1, batch_size=8)[0]


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_every_augmentation_keeps_shape_and_moves_the_series(name, odenet64):
    odenet = odenet64
    seed_everything(0)
    model = build_model("cnn", 1, 2, 64)
    # long enough for Spec-Den to find weak components to redistribute
    x = torch.randn(6, 1, 64)
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    out = augment_batch(name, x, y, odenet=odenet, model=model, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert not torch.equal(out, x)


def test_augmentations_that_need_an_odenet_or_a_model_say_so(odenet):
    x, y = torch.randn(2, 1, 16), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="needs a fitted ODENet"):
        augment_batch("in-clamp-grad", x, y)
    with pytest.raises(ValueError, match="needs the classifier"):
        augment_batch("out-sign-grad", x, y, odenet=odenet)
    with pytest.raises(ValueError, match="needs a fitted ODENet"):
        AugmentedStep(build_model("cnn", 1, 2, 16), np.zeros((4, 1, 16), np.float32), np.array([0, 1, 0, 1]),
                      augmentation="rand-grad")
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment_batch("jitter", x, y)
    # Spec-Den needs neither
    torch.testing.assert_close(augment_batch("spec-den", x, y), spec_den(x))


def _step(odenet, augmentation="in-sign-grad", feat_sim=False, settings=None, classes=3, seed=0):
    X = np.random.default_rng(0).normal(size=(6, 1, 16)).astype(np.float32)
    return AugmentedStep(build_model("cnn", 1, classes, 16), X, np.arange(6) % classes, augmentation=augmentation,
                         feat_sim=feat_sim, odenet=odenet, settings=settings, seed=seed)


def test_augmented_batches_are_originals_then_copies_with_labels_and_weights_repeated(odenet):
    step = _step(odenet)
    x, y = torch.randn(5, 1, 16), torch.tensor([0, 1, 1, 0, 2])
    state = SimpleNamespace(model=step.model)
    w = torch.arange(5.0)
    xb, yb, wb = step.transform(state, x, y, w)
    assert xb.shape == (10, 1, 16)
    torch.testing.assert_close(xb[:5], x)
    assert torch.equal(yb, torch.cat([y, y])) and torch.equal(wb, torch.cat([w, w]))
    # the random draws are seeded, and differ from batch to batch
    again = _step(odenet).transform(state, x, y, None)[0]
    torch.testing.assert_close(again, xb)
    assert not torch.equal(step.transform(state, x, y, None)[0], xb)


def test_feat_sim_pairs_originals_with_their_copies_and_other_classes(odenet):
    torch.manual_seed(0)
    features = torch.randn(8, 5)
    y = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])
    step = _step(odenet, feat_sim=True, settings=AugmentSettings(margin=0.5, feat_sim_weight=2.0), seed=3)
    loss = step.extra_loss(None, features, None, y)
    partners = other_class_partners(y[:4], torch.Generator().manual_seed(3))
    expected = 2.0 * feat_sim_loss(features[:4], features[4:], features[:4][partners], margin=0.5)
    torch.testing.assert_close(loss, expected)
    # copies identical to their originals: only the margin against negatives remains
    same = torch.cat([features[:4], features[:4]])
    d_neg = (torch.nn.functional.normalize(features[:4], dim=1)
             - torch.nn.functional.normalize(features[:4][partners], dim=1)).pow(2).sum(1)
    step = _step(odenet, feat_sim=True, settings=AugmentSettings(margin=0.5), seed=3)
    torch.testing.assert_close(step.extra_loss(None, same, None, y), (0.5 - d_neg).clamp_min(0).mean())


def test_feat_sim_skips_single_class_batches_and_needs_an_augmentation(odenet):
    features = torch.randn(6, 4, requires_grad=True)
    zero = _step(odenet, feat_sim=True).extra_loss(None, features, None, torch.zeros(6, dtype=torch.long))
    assert zero.item() == 0.0
    with pytest.raises(ValueError, match="name an augmentation"):
        _step(odenet, augmentation=None, feat_sim=True)
    assert _step(odenet).extra_loss(None, features, None, torch.zeros(6, dtype=torch.long)) is None


@pytest.mark.parametrize("bad", [dict(beta=-1.0), dict(eps=float("nan")), dict(margin=0.0),
                                 dict(feat_sim_weight=-1.0), dict(spec_den_energy=1.5), dict(beta=True)])
def test_augment_settings_refuse_bounds_that_would_silently_break_the_copies(bad):
    with pytest.raises(ValueError, match="AugmentSettings"):
        AugmentSettings(**bad)


def test_an_odenet_of_another_length_is_refused(odenet):
    from tsimb.models import derivative

    with pytest.raises(ValueError, match="fitted to series shaped"):
        derivative(odenet, np.zeros((2, 1, 20), np.float32))


@pytest.mark.parametrize("method", ["none", "spec-den", "out-sign-grad+fs"])
def test_train_augmented_is_seeded(method, make_dataset, odenet):
    train = make_dataset([8, 8], length=16, separation=1.0)
    budget = Budget(epochs=2, batch_size=8, weight_decay=1e-3)
    a = METHODS[method].train(train, model="cnn", budget=budget, seed=1)
    b = METHODS[method].train(train, model="cnn", budget=budget, seed=1)
    history = a.history
    for p, q in zip(a.classifier.parameters(), b.classifier.parameters()):
        torch.testing.assert_close(p, q)
    augmented = method != "none"
    assert history.samples_seen == 2 * 16 * (2 if augmented else 1)


def test_feat_sim_changes_training(make_dataset, odenet):
    train = make_dataset([8, 8], length=16, separation=1.0)
    budget = Budget(epochs=2, batch_size=8)
    plain = METHODS["in-clamp-grad"].train(train, model="cnn", budget=budget, seed=0).classifier
    regular = METHODS["in-clamp-grad+fs"].train(train, model="cnn", budget=budget, seed=0).classifier
    assert not torch.equal(plain.head.weight, regular.head.weight)


# --- the chapter's experiment -------------------------------------------------------


def test_grids_cover_every_combination_once():
    s = chapter.SETTINGS["quick"]
    grids = experiment.grids("quick")
    assert len(grids["paper"]) == len(s.datasets) * len(s.methods) * len(s.seeds)
    assert len(grids["imbalanced"]) == len(s.imbalance_datasets) * len(s.imbalance_methods) * len(s.imbalance_seeds)
    assert len(grids["beyond"]) == len(s.beyond_datasets) * len(s.beyond_methods) * len(s.seeds)
    assert len(grids["beyond-larger"]) == len(s.larger_datasets) * len(s.beyond_methods) * len(s.larger_seeds)
    # where Out-Sign-Grad does not fit: its control (Rand-Grad at the paper's bound) and its
    # smaller bounds; the step's reach measured once per set, and at the smaller bounds
    collapse = grids["beyond-collapse"]
    assert {(c["method"], c["augment"]["beta"]) for c in collapse} == {
        ("rand-grad", s.augment.beta), *(("out-sign-grad", b) for b in s.collapse_betas)}
    assert len(collapse) == len(s.collapse_datasets) * (1 + len(s.collapse_betas)) * len(s.collapse_seeds)
    reach = grids["step-reach"]
    assert {c["kind"] for c in reach} == {"data"} and {c["method"] for c in reach} == {"out-sign-grad"}
    assert [c["dataset"] for c in reach if c["augment"]["beta"] == s.augment.beta] == list(dict.fromkeys(
        (*s.datasets, *s.more_datasets, *s.beyond_datasets, *s.larger_datasets, *s.collapse_datasets)))
    assert experiment.datasets("quick") >= set(s.collapse_datasets) | set(s.larger_datasets)
    # (the masking-long grid shares seed 0 of its costly methods with masking-more)
    every = [c for name, g in grids.items() if name not in ("time_unit", "step-size", "masking", "masking-long")
             for c in g]
    assert len({config_key(c) for c in every}) == len(every)
    # the time-unit grid: each method under the other unit, and the paper grid's own runs
    units = {unit: [c for c in grids["time_unit"] if c["augment"].get("time_unit", "step") == unit]
             for unit in ("step", "series")}
    paper_keys = {config_key(c) for c in grids["paper"]}
    assert {config_key(c) for c in units["step"]} <= paper_keys and not {config_key(c) for c in units["series"]} & paper_keys
    assert len(units["series"]) == len(units["step"]) == len(chapter.TIME_UNIT_METHODS) * len(s.seeds)
    # the step-size grid: each smaller bound, and the paper's bound under both units read
    # from the paper and time-unit grids
    steps = grids["step-size"]
    paper_bound = [c for c in steps if c["augment"]["beta"] == s.augment.beta]
    assert {config_key(c) for c in paper_bound} <= paper_keys | {config_key(c) for c in grids["time_unit"]}
    assert len(steps) == len(s.beta_methods) * (len(s.betas) + 2) * len(s.seeds)
    assert {c["augment"]["beta"] for c in steps} == {*s.betas, s.augment.beta}
    assert "step-size" not in experiment.grids("full")  # no smaller bound in the full profile
    assert {c.better for c in chapter.STEP_CLAIMS} >= {chapter.step_label(m, b) for m in s.beta_methods
                                                       for b in s.betas}
    assert chapter.step_label("out-sign-grad", 0.33, "series") == "out-sign-grad β=0.33, per series"
    assert set(s.methods) <= set(chapter.PAPER_METHODS) and "none" in s.methods
    assert set(s.datasets) <= set(experiment.published()["dataset"])  # the paper's own data
    assert not {*s.beyond_datasets, *s.larger_datasets} & set(experiment.published()["dataset"])
    assert {c["budget"]["epochs"] for c in grids["long"]} == {s.long_epochs}
    assert len(grids["long"]) == len(s.long_methods) * len(s.long_seeds) >= 4 * 3
    # the masking checks retrain the paper grid's models: same settings, marked as their own kind
    masking = grids["masking"]
    assert {c["kind"] for c in masking} == {"masking"} and {c["method"] for c in masking} == set(s.masking_methods)
    assert all({k: v for k, v in c.items() if k not in ("kind", "masking", "masking_size")} in grids["paper"]
               for c in masking)
    assert set(chapter.SETTINGS["full"].methods) == set(AUGMENTED_METHODS)


def test_masking_more_checks_each_other_grid_once():
    s = chapter.SETTINGS["quick"]
    grids = experiment.grids("quick")
    more = grids["masking-more"]
    bare = [{k: v for k, v in c.items() if k not in ("kind", "masking", "masking_size")} for c in more]
    assert {c["kind"] for c in more} == {"masking"} and {c["seed"] for c in more} == set(s.masking_more_seeds)
    assert len({config_key(c) for c in more}) == len(more)
    # no network the paper grid's checks already cover; every one from another grid
    paper_keys = {config_key(c) for c in grids["paper"]}
    assert not {config_key(c) for c in bare} & paper_keys
    sources = {name: {config_key(c) for c in grids[name]}
               for name in ("step-size", "time_unit", "imbalanced", "long", "paper-more")}
    found = {name: [c for c in bare if config_key(c) in keys] for name, keys in sources.items()}
    assert all(found.values()) and sum(map(len, found.values())) >= len(more)
    # of the costly grids, only the costly methods; of the imbalanced grid, every method
    assert {c["method"] for name in ("long", "paper-more") for c in found[name]} == set(s.masking_costly_methods)
    assert {c["method"] for c in found["imbalanced"]} == set(s.imbalance_methods)
    # each row names the grid its network came from
    table = pd.DataFrame([{"imbalance": c["imbalance"], "epochs": c["budget"]["epochs"],
                           "beta": c["augment"].get("beta", s.augment.beta),
                           "time_unit": c["augment"].get("time_unit", s.augment.time_unit)} for c in bare])
    labels = table.apply(chapter.checked_network, axis=1, epochs=s.budget.epochs)
    assert set(labels) == {"imbalanced", f"{s.long_epochs} epochs", *(f"β={b:g}" for b in s.betas),
                           "time per series", "balanced"}
    # the closer look: one network per entry, a checked network with the probe asked for
    probed = grids["masking-probe"]
    assert len(probed) == len(s.masking_probed) and {c["probe"] for c in probed} == {"gradient-free"}
    checked = {config_key(c) for name in ("masking-beyond", "masking-more") for c in grids[name]}
    assert {config_key({k: v for k, v in c.items() if k != "probe"}) for c in probed} <= checked
    with pytest.raises(ValueError, match="masking_probed names 1 networks but 0"):
        chapter.build_grids(replace(s, masking_probed=(("masking-more", "imbalanced", "Coffee", "none"),)))


def test_masking_long_checks_the_long_grids_costly_methods_and_their_reference():
    s = chapter.SETTINGS["quick"]
    grids = experiment.grids("quick")
    long_checks = grids["masking-long"]
    bare = [{k: v for k, v in c.items() if k not in ("kind", "masking", "masking_size")} for c in long_checks]
    assert {config_key(c) for c in bare} <= {config_key(c) for c in grids["long"]}
    assert {(c["method"], c["seed"]) for c in long_checks} == {
        (m, seed) for m in ("none", *s.masking_costly_methods) for seed in s.masking_long_seeds}
    # seed 0's costly networks are the masking-more grid's runs, not a second record
    more_keys = {config_key(c) for c in grids["masking-more"]}
    assert {config_key(c) for c in long_checks if c["method"] != "none" and c["seed"] in s.masking_more_seeds} <= more_keys
    assert chapter.build_grids(replace(s, masking_long_seeds=()))["masking-long"] == []


def test_profiles_share_code_and_train_every_method_under_fawaz_protocol():
    quick, full = chapter.SETTINGS["quick"], chapter.SETTINGS["full"]
    assert set(quick.__dataclass_fields__) == set(full.__dataclass_fields__)
    assert set(full.datasets) == set(experiment.published()["dataset"])
    assert full.budget == FAWAZ_RESNET
    assert replace(quick.budget, epochs=FAWAZ_RESNET.epochs) == FAWAZ_RESNET
    assert full.augment.beta == full.augment.eps == 0.33


def test_paper_results_are_complete_percentages_as_fractions():
    paper = experiment.published()
    assert len(paper) == 8 * len(chapter.PAPER_METHODS) * 3
    assert paper["value"].between(0, 1).all()
    row = paper.query("dataset == 'CricketX' and method == 'out-sign-grad+fs' and metric == 'bim_accuracy'")
    assert row["value"].item() == pytest.approx(0.7641)
    assert set(paper.query("method == 'none'")["table"]) == {"I"}


def test_evaluation_subset_is_stratified_and_fixed(make_dataset):
    test = make_dataset([60, 40], split="test")
    sub = chapter.evaluation_subset(test, 50)
    assert np.bincount(sub.y).tolist() == [30, 20]
    assert np.array_equal(sub.X, chapter.evaluation_subset(test, 50).X)
    assert chapter.evaluation_subset(test, None) is test
    assert chapter.evaluation_subset(test, 500) is test


def _tiny_settings():
    # no closer look at the quick profile's flagged networks and no larger sets: the tests
    # narrow the grids
    return replace(chapter.SETTINGS["quick"], budget=replace(FAWAZ_RESNET, epochs=2),
                   ode_budget=ODEBudget(epochs=1), test_size=40, masking_probed=(), larger_datasets=(),
                   collapse_datasets=())


def test_run_one_reports_clean_and_robust_accuracy_and_its_trace():
    tiny = _tiny_settings()
    balanced = experiment.run_one(chapter._config("ItalyPowerDemand", Imbalance("none"), "in-sign-grad", 0, tiny))
    assert {"clean_accuracy", "fgsm_accuracy", "bim_accuracy", "balanced_accuracy", "predicted_classes",
            "best_epoch"} == set(balanced.metrics)
    assert len(balanced.trace) == 2
    step = experiment.run_one(chapter._config("ItalyPowerDemand", Imbalance("step", 10), "spec-den", 0, tiny))
    assert {"clean_accuracy_minority", "fgsm_accuracy_minority", "bim_accuracy_minority"} <= set(step.metrics)
    assert all(0 <= v <= 1 for k, v in step.metrics.items() if "accuracy" in k)
    replay = experiment.run_one(chapter._config("ItalyPowerDemand", Imbalance("step", 10), "spec-den", 0, tiny),
                                epochs=1)
    assert replay.metrics == {} and replay.trace == step.trace[:1]


def test_a_data_configuration_measures_the_step_and_trains_nothing():
    tiny = _tiny_settings()
    config = {**chapter._config("ItalyPowerDemand", Imbalance("none"), "out-sign-grad", 0, tiny), "kind": "data"}
    measured = experiment.run_one(config)
    assert set(measured.metrics) == {"step_mean", "gap_median", "step_to_gap", "box_overlap_median",
                                     "box_overlap_share", "ode_agreement"}
    assert measured.trace == [] and 0 < measured.metrics["step_mean"] <= tiny.augment.beta
    assert 0 <= measured.metrics["box_overlap_share"] <= 1
    # a smaller bound shortens the step
    shorter = experiment.run_one({**chapter._config("ItalyPowerDemand", Imbalance("none"), "out-sign-grad", 0, tiny,
                                                    beta=0.05), "kind": "data"})
    assert shorter.metrics["step_mean"] <= 0.05 < measured.metrics["step_mean"]
    assert experiment.run_one(config, epochs=1) == type(measured)({}, [])  # nothing to replay
    with pytest.raises(ValueError, match="train no classifier"):
        experiment.run_ensemble([config, {**config, "seed": 1}])


def test_seeds_trained_as_one_ensemble_score_as_the_runs_alone():
    # ItalyPowerDemand's 67 series: Fawaz's batches of 6, the CNN (no batch norm: the
    # members stay within rounding of their runs alone), 2 epochs, 40 test series
    tiny = replace(_tiny_settings(), classifier="cnn")
    configs = [chapter._config("ItalyPowerDemand", Imbalance("none"), "in-sign-grad", seed, tiny) for seed in (0, 1)]
    together = experiment.run_ensemble(configs)
    for config, member in zip(configs, together):
        alone = experiment.run_one(config)
        np.testing.assert_allclose(member.trace, alone.trace, rtol=1e-4)
        # an accuracy may differ by a series or two of 40 (0.025 each); counts and epochs not at all
        assert member.metrics == pytest.approx(alone.metrics, abs=0.051)
        assert (member.metrics["best_epoch"], member.metrics["predicted_classes"]) == (
            alone.metrics["best_epoch"], alone.metrics["predicted_classes"])
    with pytest.raises(ValueError, match="differ in their seed only"):
        experiment.run_ensemble([configs[0], {**configs[1], "method": "spec-den"}])
    with pytest.raises(ValueError, match="at least two"):
        experiment.run_ensemble(configs[:1])


def test_a_masking_run_adds_the_checks_with_a_transfer_attack_from_the_reference():
    tiny = replace(_tiny_settings(), masking_size=20, masking=MaskingChecks(pgd_steps=2, restarts=2, sweep=(0.1, 1.0)))
    base = chapter._config("ItalyPowerDemand", Imbalance("none"), "out-sign-grad", 0, tiny)
    config = {**base, "kind": "masking", "masking": asdict(tiny.masking), "masking_size": tiny.masking_size}
    run = experiment.run_one(config)
    checks = {k.removeprefix("masking_"): v for k, v in run.metrics.items() if k.startswith("masking_")}
    assert {"clean", "fgsm", "bim", "pgd", "strongest", "transfer_fgsm", "transfer_bim", "eps_0.1", "eps_1",
            "flag_stronger_is_weaker", "flag_transfer_stronger", "flag_eps_plateau"} == set(checks)
    assert checks["strongest"] <= min(checks["bim"], checks["pgd"], checks["transfer_bim"])
    # the run itself trains and scores exactly as the same configuration without the checks
    plain = experiment.run_one(base)
    assert plain.trace == run.trace and plain.metrics == {k: v for k, v in run.metrics.items() if k in plain.metrics}


def test_cli_fills_the_store(tmp_path, monkeypatch):
    import pandas as pd

    from tsimb.cli import main

    tiny = replace(_tiny_settings(), datasets=("ItalyPowerDemand",), methods=("none", "spec-den"), seeds=(0,),
                   imbalance_datasets=("ItalyPowerDemand",), imbalance_methods=("none",), imbalance_seeds=(0,),
                   more_datasets=(), beyond_datasets=(), long_epochs=None, masking_methods=(), masking_more_seeds=(),
                   betas=(), test_size=20)
    monkeypatch.setitem(chapter.SETTINGS, "quick", tiny)
    monkeypatch.delenv("TSIMB_PROFILE", raising=False)
    out = tmp_path / "table.csv"
    store = tmp_path / "runs"
    assert main(["run", "ode-augmentation", "--out", str(out), "--store", str(store)]) == 0
    table = pd.read_csv(out)
    assert set(table["protocol"]) == {"balanced", "step-10"}
    assert {"bim_accuracy", "bim_accuracy_minority"} <= set(table["metric"])
    stored = pd.read_json(store / "ode-augmentation.jsonl", lines=True)
    # three trained runs, and the step's reach measured on the one set (nothing trained)
    kinds = [config.get("kind") for config in stored["config"]]
    assert len(stored) == 4 and kinds.count("data") == 1
    assert main(["run", "ode-augmentation", "--out", str(tmp_path / "missing" / "t.csv"), "--store", str(store)]) == 2


def test_cli_trains_a_grids_seeds_as_ensembles_into_the_store(tmp_path, monkeypatch):
    import pandas as pd

    from tsimb.cli import main

    tiny = replace(_tiny_settings(), classifier="cnn", datasets=("ItalyPowerDemand",), methods=("none", "spec-den"),
                   seeds=(0, 1), imbalance_datasets=(), more_datasets=(), beyond_datasets=(), long_epochs=None,
                   masking_methods=(), betas=(), test_size=20)
    monkeypatch.setitem(chapter.SETTINGS, "quick", tiny)
    monkeypatch.delenv("TSIMB_PROFILE", raising=False)
    store = tmp_path / "runs"
    assert main(["run", "ode-augmentation", "--grid", "paper", "--ensemble", "--jobs", "2", "--store", str(store)]) == 2
    assert main(["run", "ode-augmentation", "--grid", "paper", "--ensemble", "--store", str(store)]) == 0
    records = pd.read_json(store / "ode-augmentation.jsonl", lines=True)
    assert len(records) == 4  # two methods x two seeds, each method's seeds one ensemble
    assert all(p["ensemble"] == 2 and p["numerics"].endswith("/ensemble2") for p in records["provenance"])
    alone = experiment.run_one(records["config"][0])
    np.testing.assert_allclose(records["trace"][0], alone.trace, rtol=1e-4)
