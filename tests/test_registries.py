"""The contract of every registered entry: each model, loss, imbalance protocol, baseline
recipe, augmentation and chapter does what the registry promises, so a new entry is
tested the moment it is registered."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
import torch

from tsimb.augment import AUGMENTATIONS, augment_batch
from tsimb.data import PROTOCOLS, Imbalance
from tsimb.experiments import CHAPTERS, PROFILES, chapter_module, chapter_table, written_chapters
from tsimb.generative import OVERSAMPLERS, gan_oversample
from tsimb.losses import LOSSES
from tsimb.models import MODELS, ODENet, build_model
from tsimb.registry import Registry, UnknownNameError
from tsimb.train import RECIPES, Budget, fit

BOOK = Path(__file__).resolve().parents[1] / "book"
REGISTRIES = {"model": MODELS, "loss": LOSSES, "imbalance protocol": PROTOCOLS, "baseline": RECIPES,
              "augmentation": AUGMENTATIONS, "chapter": CHAPTERS, "GAN oversampler": OVERSAMPLERS}


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
    X_new, y_new, extra = RECIPES[method](X, y, counts, budget, 0, __import__("tsimb").train.BaselineParams())
    assert X_new.ndim == 3 and len(X_new) == len(y_new) and set(np.unique(y_new)) <= {0, 1}
    history = fit(build_model("cnn", 1, 2), X_new, y_new, **{**budget.fit_kwargs(len(y_new)), **extra})
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
    module = chapter_module(name)
    assert module.CHAPTER == name and module.REFERENCE_METHOD and module.OWN_METHODS
    grids = module.grids("quick")  # the full profile's grids may need data sets that are not offline
    assert grids and all(isinstance(c, dict) for grid in grids.values() for c in grid)
    assert all(module.datasets(profile) for profile in PROFILES)


def test_the_intro_table_lists_every_chapter():
    table = chapter_table()
    assert len(table.splitlines()) == 2 + len(CHAPTERS)
    for name in written_chapters():
        assert f"{{doc}}`{CHAPTERS[name].notebook}`" in table
