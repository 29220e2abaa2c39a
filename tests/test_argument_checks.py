"""Clear ``ValueError``s for the bad arguments of issue 20, item 24 (device names, model
sizes, batch sizes, the benchmark's series count), instead of raw torch or numpy errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tsimb.bench import benchmark
from tsimb.models import build_model
from tsimb.models.ode import fit_odenet
from tsimb.robustness import FAWAZ_FGSM, attack_array
from tsimb.runtime import get_device
from tsimb.train import extract_features, predict_proba


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has MPS")
def test_mps_is_refused_where_there_is_none(monkeypatch):
    with pytest.raises(ValueError, match="asks for Apple's MPS, but this machine has none"):
        get_device("mps")
    monkeypatch.setenv("TSIMB_DEVICE", "mps")
    with pytest.raises(ValueError, match=r"\$TSIMB_DEVICE='mps'"):
        get_device()


@pytest.mark.parametrize("name, channels, classes, match", [
    (None, 1, 2, "the model name must be a string"),
    ("fcn", -1, 2, "in_channels must be a whole number of at least 1, got -1"),
    ("fcn", 1.5, 2, "in_channels must be a whole number of at least 1, got 1.5"),
    ("resnet", True, 2, "in_channels must be a whole number"),
    ("cnn", 1, 0, "n_classes must be a whole number of at least 1, got 0"),
])
def test_build_model_refuses_bad_names_and_sizes(name, channels, classes, match):
    with pytest.raises(ValueError, match=match):
        build_model(name, channels, classes)


def test_build_model_takes_numpy_integers():
    model = build_model("mlp", np.int64(2), np.int64(3), length=np.int64(8))
    assert model(torch.zeros(4, 2, 8)).shape == (4, 3)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_a_batch_size_below_one_is_refused_everywhere(batch_size, make_series):
    X, y = make_series([6, 6], length=8)
    model = build_model("cnn", 1, 2)
    with pytest.raises(ValueError, match="predict_proba: batch_size must be a whole number"):
        predict_proba(model, X, batch_size=batch_size)
    with pytest.raises(ValueError, match="extract_features: batch_size must be a whole number"):
        extract_features(model, X, batch_size=batch_size)
    with pytest.raises(ValueError, match="attack_array: batch_size must be a whole number"):
        attack_array(model, X, y, FAWAZ_FGSM, batch_size=batch_size)
    with pytest.raises(ValueError, match="fit_odenet: batch_size must be a whole number"):
        fit_odenet(X, epochs=1, batch_size=batch_size)


@pytest.mark.parametrize("setting, match", [
    (dict(epochs=0), "fit_odenet: epochs"), (dict(lr=0.0), "fit_odenet: lr"),
    (dict(lr=float("nan")), "fit_odenet: lr"), (dict(weight_decay=-1.0), "fit_odenet: weight_decay"),
])
def test_fit_odenet_refuses_bad_budgets(setting, match, make_series):
    X, _ = make_series([4, 4], length=8)
    with pytest.raises(ValueError, match=match):
        fit_odenet(X, **{"epochs": 1, **setting})


@pytest.mark.parametrize("n", [1, 2, 3])
def test_benchmark_needs_one_series_per_class(n):
    with pytest.raises(ValueError, match=f"n={n} series for 4 classes"):
        benchmark(n=n, length=8, epochs=1, repeats=1)
