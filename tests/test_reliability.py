"""Reproducers of the reliability audit (issue 11): each bad input gets a clear error
and nothing silently wrong comes back; plus property tests over public entry points."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tsimb.robustness import FAWAZ_FGSM, bim, fgsm, perturb, robust_accuracy
from tsimb.data import Imbalance, exponential_imbalance, step_imbalance
from tsimb.models import build_model
from tsimb.runtime import get_device, seed_everything


def _model(channels=1, classes=2):
    seed_everything(0)
    return build_model("cnn", channels, classes, length=16)


# --- protocols ------------------------------------------------------------------------------


def test_step_protocol_ignores_a_label_with_no_series():
    y = np.array([0] * 10 + [2] * 10 + [3] * 10)
    counts = np.bincount(y[step_imbalance(y, 10)], minlength=4)
    assert counts.tolist() == [10, 0, 10, 1]  # classes 0 and 2 keep 10, class 3 is the minority


@pytest.mark.parametrize("ratio", [float("nan"), float("inf"), 0.5, "10", None, True])
def test_bad_ratios_are_refused(ratio):
    y = np.repeat([0, 1], 10)
    with pytest.raises(ValueError, match="ratio"):
        if ratio is None or isinstance(ratio, (str, bool)):
            Imbalance("step", ratio)
        else:
            step_imbalance(y, ratio)
    if isinstance(ratio, float):
        with pytest.raises(ValueError, match="ratio"):
            Imbalance("exp", ratio)


def test_an_integer_ratio_is_stored_as_a_float_and_labels_well():
    assert Imbalance("step", 10).ratio == 10.0 and Imbalance("step", 10).label == "step-10"
    assert Imbalance("step", np.int64(10)) == Imbalance("step", 10.0)


@given(counts=st.lists(st.integers(0, 30), min_size=2, max_size=8), ratio=st.floats(1, 50),
       seed=st.integers(0, 10))
def test_ratio_protocols_keep_every_present_class_and_never_invent_series(counts, ratio, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    if (np.asarray(counts) > 0).sum() == 0:
        return
    for protocol in (step_imbalance, exponential_imbalance):
        index = protocol(y, ratio, seed)
        kept = np.bincount(y[index], minlength=len(counts))
        assert len(np.unique(index)) == len(index)
        assert ((kept > 0) == (np.asarray(counts) > 0)).all()
        assert (kept <= counts).all()


# --- attacks --------------------------------------------------------------------------------


@pytest.mark.parametrize("eps", [float("nan"), float("inf"), -0.1])
def test_attack_budgets_must_be_finite_and_non_negative(eps):
    with pytest.raises(ValueError, match="eps"):
        fgsm(eps)
    with pytest.raises(ValueError, match="eps"):
        bim(eps)


def test_eps_zero_is_the_clean_input_for_an_eps_sweep():
    model = _model()
    x = torch.randn(8, 1, 16)
    torch.testing.assert_close(perturb(model, x, None, fgsm(0.0)), x)


@pytest.mark.parametrize("bounds, match", [(([0.0, 0.0, 0.0], [1.0, 1.0, 1.0]), "3 values per channel"),
                                           ((1.0, -1.0), "low must not exceed high"),
                                           ((0.0,), r"\(low, high\)")])
def test_attack_bounds_are_checked(bounds, match):
    model = _model()
    with pytest.raises(ValueError, match=match):
        perturb(model, torch.randn(8, 1, 16), None, FAWAZ_FGSM, bounds=bounds)


@given(eps=st.floats(0, 1), steps=st.integers(1, 3), seed=st.integers(0, 5))
def test_attacks_stay_in_their_ball_and_finite(eps, steps, seed):
    torch.manual_seed(seed)
    model = _model()
    x = torch.randn(4, 1, 16)
    x_adv = perturb(model, x, None, bim(eps, step=max(eps / 2, 1e-3) if eps else 0.0, steps=steps))
    assert torch.isfinite(x_adv).all() and x_adv.shape == x.shape
    assert (x_adv - x).abs().max() <= eps + 1e-6


def test_robust_accuracy_is_a_fraction():
    model = _model()
    X = np.random.default_rng(0).normal(size=(10, 1, 16)).astype(np.float32)
    out = robust_accuracy(model, X, np.repeat([0, 1], 5), {"fgsm": FAWAZ_FGSM})
    assert set(out) == {"clean_accuracy", "fgsm_accuracy"} and all(0 <= v <= 1 for v in out.values())


# --- settings from the environment ----------------------------------------------------------


@pytest.mark.parametrize("value, match", [("cuda", "no CUDA device"), ("foo", "is not a device")])
def test_bad_device_settings_name_the_variable(monkeypatch, value, match):
    if value == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.setenv("TSIMB_DEVICE", value)
    with pytest.raises(ValueError, match=rf"\$TSIMB_DEVICE='{value}'.*{match}"):
        get_device()


def test_get_device_accepts_a_device_a_string_or_nothing(monkeypatch):
    monkeypatch.delenv("TSIMB_DEVICE", raising=False)
    assert get_device(torch.device("cpu")) == get_device("cpu") == torch.device("cpu")
    assert get_device().type in ("cpu", "cuda")


def test_a_bad_profile_names_the_variable(monkeypatch):
    from tsimb.experiments import resolve_profile

    monkeypatch.setenv("TSIMB_PROFILE", "bogus")
    with pytest.raises(ValueError, match=r"unknown profile 'bogus' \(from \$TSIMB_PROFILE\); choose one of quick, full"):
        resolve_profile()


@pytest.mark.parametrize("flag", ["--repeats", "--epochs"])
def test_bench_refuses_zero_repeats_or_epochs(flag, capsys):
    from tsimb.cli import main

    assert main(["bench", flag, "0"]) == 2
    assert f"argument {flag}: must be at least 1" in capsys.readouterr().err


def test_unknown_names_get_the_closest_known_ones():
    from tsimb.methods import METHODS
    from tsimb.experiments import chapter_module

    with pytest.raises(ValueError, match="unknown method 'smtoe'; did you mean 'smote'"):
        METHODS["smtoe"]
    with pytest.raises(ValueError, match="did you mean 'ode-augmentation'"):
        chapter_module("ode-augmentaton")


def test_the_cpu_kernels_are_pinned_to_avx2_on_import():
    import os

    import tsimb  # noqa: F401

    if os.environ.get("TSIMB_NATIVE_ISA"):
        pytest.skip("TSIMB_NATIVE_ISA is set")
    assert os.environ["ONEDNN_MAX_CPU_ISA"] == "AVX2"


# --- properties over the public entry points ----------------------------------------------

from hypothesis import HealthCheck, settings  # noqa: E402

from tsimb.data import DatasetUnavailableError, load_dataset  # noqa: E402
from tsimb.train import TrainingDivergedError, fit  # noqa: E402


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 6), length=st.integers(1, 8), labels=st.lists(st.sampled_from(["a", "b", "7", ""]),
                                                                       min_size=1, max_size=6),
       cut=st.integers(0, 40), garbage=st.booleans())
def test_loading_an_archive_file_returns_valid_data_or_a_named_error(tmp_path_factory, monkeypatch, n, length,
                                                                     labels, cut, garbage):
    """Whatever a UCR file holds (truncated, empty labels, one class, binary junk), loading
    returns float32 (n, 1, L) data with labels 0..K-1, or a DatasetUnavailableError naming it."""
    import tsimb.data.sources as data_module

    folder = tmp_path_factory.mktemp("archive")
    rng = np.random.default_rng(n * 100 + length)
    lines = [f"{labels[i % len(labels)]}\t" + "\t".join(f"{v:.3f}" for v in rng.normal(size=length))
             for i in range(n)]
    text = ("\n".join(lines) + "\n").encode()
    text = text[:max(len(text) - cut, 0)] if cut else text
    if garbage:
        text = b"\xff\xfe" + text
    (folder / "P").mkdir()
    (folder / "P" / "P_TRAIN.tsv").write_bytes(text)
    (folder / "P" / "P_TEST.tsv").write_text("a\t" + "\t".join(["0.5"] * length) + "\nb\t"
                                             + "\t".join(["0.1"] * length) + "\n")
    monkeypatch.setenv("TSIMB_ARCHIVE", str(folder))
    data_module._raw_splits.cache_clear()
    try:
        train = load_dataset("P")
    except DatasetUnavailableError as error:
        assert "P_TRAIN.tsv" in str(error) or "single class" in str(error)
        return
    finally:
        data_module._raw_splits.cache_clear()
    assert train.X.dtype == np.float32 and train.X.ndim == 3 and np.isfinite(train.X).all()
    assert train.y.min() >= 0 and train.y.max() < train.n_classes


@settings(max_examples=20, deadline=None)
@given(counts=st.lists(st.integers(0, 6), min_size=1, max_size=3), batch=st.integers(1, 8),
       scale=st.sampled_from([1.0, 1e3, 1e30]), epochs=st.integers(1, 2))
def test_fit_trains_finite_or_raises_a_documented_error(counts, batch, scale, epochs):
    y = np.repeat(np.arange(len(counts)), counts)
    X = (np.random.default_rng(len(y)).normal(size=(len(y), 1, 8)) * scale).astype(np.float32)
    seed_everything(0)
    model = build_model("mlp", 1, max(len(counts), 1), length=8)
    try:
        history = fit(model, X, y, epochs=epochs, batch_size=batch, device="cpu")
    except (ValueError, TrainingDivergedError):
        return
    assert len(history.loss) == epochs and all(np.isfinite(history.loss))
    assert all(torch.isfinite(p).all() for p in model.parameters())


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 5), channels=st.integers(1, 2), length=st.integers(4, 20),
       name=st.sampled_from(["in-clamp-grad", "in-sign-grad", "rand-grad", "spec-den", "out-sign-grad"]))
def test_augmentations_keep_shape_and_stay_finite(n, channels, length, name):
    from tsimb.augment import augment_batch
    from tsimb.models import ODENet

    torch.manual_seed(0)
    x = torch.randn(n, channels, length)
    y = torch.zeros(n, dtype=torch.long)
    odenet = ODENet(channels, length).eval()
    seed_everything(0)
    model = build_model("cnn", channels, 2, length=length)
    out = augment_batch(name, x, y, odenet=odenet, model=model, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.isfinite(out).all()
