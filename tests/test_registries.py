"""The contract of every registered entry: each model, loss, imbalance protocol, baseline
recipe, augmentation, method, chapter and experiment does what the registry promises, so a
new entry is tested the moment it is registered (as aeon checks every estimator)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from tsimb.augment import AUGMENTATIONS, augment_batch
from tsimb.data import PROTOCOLS, Imbalance
from tsimb.experiments import CHAPTERS, PROFILES, chapter_module, chapter_table, experiment, written_chapters
from tsimb.generative import OVERSAMPLERS, gan_oversample
from tsimb.losses import LOSSES
from tsimb.models import MODELS, ODENet, build_model
from tsimb.registry import Registry, UnknownNameError
from tsimb.methods import METHODS
from tsimb.train import RECIPES, BaselineParams, Budget, Trained, fit

BOOK = Path(__file__).resolve().parents[1] / "book"
REGISTRIES = {"model": MODELS, "loss": LOSSES, "imbalance protocol": PROTOCOLS, "baseline": RECIPES,
              "augmentation": AUGMENTATIONS, "chapter": CHAPTERS, "GAN oversampler": OVERSAMPLERS,
              "method": METHODS}


@pytest.mark.parametrize("kind", REGISTRIES)
def test_every_registry_names_its_kind_and_offers_the_closest_name(kind):
    registry = REGISTRIES[kind]
    assert registry.kind == kind and len(registry) >= 1
    first = next(iter(registry))
    with pytest.raises(UnknownNameError, match=f"unknown {kind} .*did you mean '{first}'"):
        registry[first + "x"]
    with pytest.raises(ValueError):  # callers catch it as a ValueError
        registry.check(first + "x")
    assert registry.get(first + "x") is None  # and Mapping.get still works


def test_a_name_registered_twice_is_an_error():
    registry = Registry("thing")
    registry.add("a", 1)
    with pytest.raises(ValueError, match="registered twice"):
        registry.add("a", 2)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_maps_series_to_logits_and_features(name):
    model = build_model(name, 2, 3, length=24).eval()
    x = torch.randn(4, 2, 24)
    logits, features = model(x), model.features(x)
    assert logits.shape == (4, 3) and features.shape[0] == 4
    torch.testing.assert_close(model.head(features), logits)


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_is_per_sample_and_finite(name):
    loss = LOSSES[name](np.array([9, 3, 1]))
    out = loss(torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1]))
    assert out.shape == (5,) and torch.isfinite(out).all() and (out >= 0).all()


@pytest.mark.parametrize("kind", PROTOCOLS)
def test_every_protocol_keeps_a_subset_of_the_training_series(kind):
    y = np.repeat(np.arange(4), 10)
    ratio = {"step": 5, "exp": 5, "binary": 0.2}.get(kind)
    index = Imbalance(kind, ratio).indices(y, seed=0)
    assert index.ndim == 1 and 0 < len(index) <= len(y) and len(set(index.tolist())) == len(index)
    assert index.min() >= 0 and index.max() < len(y)


@pytest.mark.parametrize("method", RECIPES)
def test_every_baseline_recipe_trains(method, make_series):
    X, y = make_series([12, 6], length=16, seed=1)
    counts = np.bincount(y)
    budget = Budget(epochs=5, batch_size=8)  # LDAM-DRW's deferred weights and milestone start at epoch 4
    X_new, y_new, extra = RECIPES[method](X, y, counts, budget, 0, BaselineParams())
    assert X_new.ndim == 3 and len(X_new) == len(y_new) and set(np.unique(y_new)) <= {0, 1}
    history = fit(build_model("cnn", 1, 2), X_new, y_new, epochs=budget.epochs, batch_size=budget.batch_size,
                  **extra)
    assert len(history.loss) == 5 and np.isfinite(history.loss).all()


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_every_augmentation_keeps_shape_and_labels(name):
    torch.manual_seed(0)
    t = torch.linspace(0, 6.28, 20)
    x = torch.sin(t).expand(6, 1, 20) + 0.1 * torch.randn(6, 1, 20)  # a spectrum with a dominant component
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    odenet = ODENet(1, 20) if AUGMENTATIONS[name].needs_odenet else None
    out = augment_batch(name, x, y, odenet=odenet, model=build_model("cnn", 1, 2),
                        generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.isfinite(out).all() and not torch.equal(out, x)


@pytest.mark.parametrize("name", OVERSAMPLERS)
def test_every_gan_oversampler_tops_every_class_up_to_the_majority(name, make_series):
    X, y = make_series([10, 4, 3], length=16, seed=2)
    X_new, y_new = gan_oversample(name, X, y, seed=0, epochs=2, ae_epochs=2)
    assert np.bincount(y_new).tolist() == [10, 10, 10]
    np.testing.assert_array_equal(X_new[:len(X)], X)  # the real series first, unchanged
    assert X_new.shape[1:] == X.shape[1:] and np.isfinite(X_new).all()


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_chapter_has_its_notebook_library_and_experiment(name):
    chapter = CHAPTERS[name]
    for module in chapter.library:
        importlib.import_module(module)
    if chapter.planned:
        with pytest.raises(ValueError, match="planned"):
            chapter_module(name)
        return
    assert (BOOK / f"{chapter.notebook}.py").is_file() and (BOOK / f"{chapter.notebook}.ipynb").is_file()
    exp = experiment(name)
    assert chapter_module(name).EXPERIMENT is exp and exp.chapter == name
    assert exp.reference_method in METHODS and all(m in METHODS for m in exp.own_methods)
    assert all(exp.datasets(profile) for profile in PROFILES)


def test_the_intro_table_lists_every_chapter():
    table = chapter_table()
    assert len(table.splitlines()) == 2 + len(CHAPTERS)
    for name in written_chapters():
        assert f"{{doc}}`{CHAPTERS[name].notebook}`" in table


# --- every method: trains on a tiny set, seeded, replayable, settings stored and re-read ---

TINY_BUDGET = Budget(epochs=2, batch_size=8)


@pytest.fixture(scope="module")
def tiny_train():
    from tsimb.data import Dataset

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], [12, 6])
    X = (rng.normal(size=(18, 1, 16)) + y[:, None, None]).astype(np.float32)
    return Dataset("tiny", "train", X, y, ("a", "b"), "synthetic")


@pytest.mark.parametrize("name", METHODS)
def test_every_method_trains_is_seeded_and_replays_its_start(name, tiny_train):
    method = METHODS[name]
    a = method.train(tiny_train, model="cnn", budget=TINY_BUDGET, seed=1)
    assert isinstance(a, Trained) and len(a.trace) == 2 and np.isfinite(a.trace).all()
    logits = a.classifier(torch.as_tensor(tiny_train.X))
    assert logits.shape == (18, 2)
    b = method.train(tiny_train, model="cnn", budget=TINY_BUDGET, seed=1)
    assert a.trace == b.trace
    replay = method.train(tiny_train, model="cnn", budget=TINY_BUDGET, seed=1, epochs=1)
    assert replay.trace == a.trace[:1]


@pytest.mark.parametrize("name", METHODS)
def test_every_methods_settings_are_stored_whole_and_read_back(name):
    import json

    method = METHODS[name]
    stored = json.loads(json.dumps(method.settings_to_config(None)))  # as the run store keeps them
    assert method.settings_from_config(stored) == method.default_settings()
    with pytest.raises(ValueError, match=re.escape(f"method {name!r} takes")):
        method.check_settings(object())


@pytest.mark.parametrize("name", [n for n, m in METHODS.items() if m.generative])
def test_every_generative_method_samples_one_series_per_real_one(name, tiny_train):
    sampler = METHODS[name].fit_generator(tiny_train, model="cnn", budget=TINY_BUDGET, seed=0)
    X, y = tiny_train.X[12:], tiny_train.y[12:]
    out = sampler(X, y, 0)
    assert out.shape == X.shape and np.isfinite(out).all()
    np.testing.assert_array_equal(out, sampler(X, y, 0))


def test_a_non_generative_method_says_so(tiny_train):
    with pytest.raises(ValueError, match="generates no series; generative methods: .*ibgan"):
        METHODS["ros"].fit_generator(tiny_train, model="cnn", budget=TINY_BUDGET)


# --- every experiment: its grids build, name registered methods, and every stored run's
# settings are read back by its method ---

@pytest.mark.parametrize("name", written_chapters())
def test_every_experiments_grids_name_registered_methods_with_readable_settings(name):
    exp = experiment(name)
    grids = exp.grids("quick")  # the full profile's may need data sets that are not offline
    assert grids and all(isinstance(c, dict) for grid in grids.values() for c in grid)
    for config in (c for grid in grids.values() for c in grid):
        assert config["chapter"] == name and config["version"] == exp.code_version
        method = METHODS[config["method"]]
        method.settings_from_config(config)
        Budget(**config["budget"])
        assert exp.model_key in config and config[exp.model_key] in MODELS
    with pytest.raises(ValueError, match="did you mean"):
        exp.grid_names(["pape"] if "paper" in grids else [next(iter(grids)) + "x"])


@pytest.mark.parametrize("name", written_chapters())
def test_every_stored_run_is_read_back_by_its_method(name):
    from tsimb.experiments import default_store

    store = default_store()
    if store is None:
        pytest.skip("no run store beside this checkout")
    exp = experiment(name)
    records = store.records(name)
    for record in records.values():
        config = record["config"]
        METHODS[config["method"]].settings_from_config(config)
        Budget(**config["budget"])
    assert records, f"no stored runs of {name}"
