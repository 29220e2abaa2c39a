"""tsimb.generative: IB-GAN (Deng et al. 2022) and the GAN oversamplers, on tiny series."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tsimb import build_model, seed_everything
from tsimb.generative import (OVERSAMPLERS, IBGANSettings, admissible_bound, benchmark_gan,
                              discriminative_score, diversity, fit_gan, fit_ibgan, gan_oversample,
                              mean_pairwise_distance, tstr_per_class)
from tsimb.generative.common import draw_mask, draw_noise, draw_weighted
from tsimb.generative.ibgan import imputation_weights, resample_probabilities, resolve_alpha, synthetic_prior
from tsimb.generative.networks import (Autoencoder, AuxiliaryDiscriminator, BAGANDiscriminator,
                                       ConditionalDiscriminator, ConditionalGenerator, MaskDiscriminator)

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def two_class_toy(n: int = 16, length: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class 0: a sine period, class 1: the negated sine, small noise."""
    rng = np.random.default_rng(seed)
    base = np.sin(np.linspace(0, 2 * np.pi, length))
    X = np.concatenate([base + 0.1 * rng.standard_normal((n, length)), -base + 0.1 * rng.standard_normal((n, length))])
    return X[:, None, :].astype(np.float32), np.repeat([0, 1], n)


def nearest_class_mean(series: np.ndarray, X: np.ndarray, y: np.ndarray,
                       weights: np.ndarray | None = None) -> np.ndarray:
    """Index of the class mean each series is nearest to (optionally only on weighted entries)."""
    means = np.stack([X[y == c].mean(axis=0) for c in np.unique(y)])
    w = np.ones_like(series) if weights is None else weights
    return (((series[:, None] - means[None]) ** 2) * w[:, None]).sum(axis=(2, 3)).argmin(axis=1)


def ibgan(X, y, pmiss=0.1, epochs=1, seed=0, **kw):
    seed_everything(seed)
    clf = build_model("cnn", X.shape[1], int(y.max()) + 1)
    return fit_ibgan(X, y, n_classes=int(y.max()) + 1, classifier=clf, seed=seed, progress=False,
                     settings=IBGANSettings(pmiss=pmiss, epochs=epochs, batch_size=16, **kw))


# --- networks --------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("length", [30, 45, 50, 152, 206])
def test_every_network_keeps_shapes_at_any_length(device, length):
    x = torch.randn(5, 3, length, device=device)
    y = torch.tensor([0, 1, 2, 0, 1], device=device)
    ae = Autoencoder(3, length).to(device)
    assert ConditionalGenerator(3, 3).to(device)(x, torch.ones_like(x), y).shape == x.shape
    assert MaskDiscriminator(3, 3).to(device)(x, y).shape == x.shape  # element-wise
    assert ConditionalDiscriminator(3, 3).to(device)(x, y).shape == (5,)
    real, classes = AuxiliaryDiscriminator(3, 3).to(device)(x)
    assert real.shape == (5,) and classes.shape == (5, 3)
    assert ae(x).shape == x.shape
    assert BAGANDiscriminator(ae, 3).to(device)(x).shape == (5, 4)  # K classes + fake


def test_bagan_discriminator_starts_from_the_encoder():
    ae = Autoencoder(2, 40)
    D = BAGANDiscriminator(ae, 3)
    for a, b in zip(ae.trunk.parameters(), D.trunk.parameters()):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()  # copied, not shared


# --- IB-GAN pieces: masking, resampling, prior, weights ---------------------------------------

@settings(max_examples=15)
@given(st.floats(0.0, 1.0))
def test_mask_rate_is_pmiss(pmiss):
    mask = draw_mask((40, 2, 50), pmiss, torch.Generator().manual_seed(1))
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert abs(mask.mean().item() - pmiss) < 0.04  # 4000 entries: > 5 standard errors


def test_mask_limits_are_exact():
    g = torch.Generator().manual_seed(0)
    assert draw_mask((10, 3, 20), 0.0, g).sum() == 0
    assert draw_mask((10, 3, 20), 1.0, g).min() == 1
    with pytest.raises(ValueError, match=r"pmiss must lie in \[0, 1\]"):
        draw_mask((2, 1, 4), 1.5, g)


@settings(max_examples=20)
@given(st.lists(st.integers(2, 60), min_size=2, max_size=5))
def test_weighted_resample_balances_the_classes(counts):
    y = torch.as_tensor(np.repeat(np.arange(len(counts)), counts))
    w_prime = synthetic_prior(np.array(counts), alpha=0.1, prior="inverse")
    picks = draw_weighted(resample_probabilities(y, np.array(counts), w_prime), 20000, torch.Generator().manual_seed(0))
    freq = np.bincount(y[picks].numpy(), minlength=len(counts)) / 20000
    assert np.abs(freq - 1 / len(counts)).max() < 0.02


def test_complement_prior_balances_the_alpha_mix():
    counts = np.array([40, 10, 6])
    alpha = resolve_alpha(None, counts)
    w, w_prime = counts / counts.sum(), synthetic_prior(counts, alpha, "complement")
    assert w_prime.min() > 0 and np.isclose(w_prime.sum(), 1)
    np.testing.assert_allclose(alpha * w + (1 - alpha) * w_prime, 1 / 3)  # sec. 2.1


def test_admissible_prior_is_enforced():
    counts = np.array([40, 10])  # w_max = 0.8: alpha < 1 / (2 * 0.8) = 0.625
    assert admissible_bound(counts) == pytest.approx(0.625)
    assert resolve_alpha(0.6, counts) == 0.6
    assert resolve_alpha(None, counts) == pytest.approx(0.3125)
    with pytest.raises(ValueError, match=r"alpha=0.7 is not admissible.*0.625"):
        resolve_alpha(0.7, counts)
    X, y = two_class_toy()
    keep = np.r_[0:16, 16:20]
    with pytest.raises(ValueError, match="not admissible"):
        ibgan(X[keep], y[keep], alpha=0.7)  # counts 16/4: bound 0.625


def test_imputation_weights():
    logits, mask = torch.zeros(3, 1, 8), torch.zeros(3, 1, 8)
    assert torch.equal(imputation_weights(logits, mask, 0.0, 10.0), torch.ones(3))  # nothing imputed
    mask[:2, :, :4] = 1  # series 2 has no imputed entry: weight 1
    pmiss = 0.4
    pi = pmiss / 2
    at_prior = torch.full_like(logits, float(np.log(pi / (1 - pi))))  # D says "imputed with prob pi"
    np.testing.assert_allclose(imputation_weights(at_prior, mask, pmiss, 10.0).numpy(), 1.0, rtol=1e-5)
    sure_fake = torch.full_like(logits, 20.0)
    assert imputation_weights(sure_fake, mask, pmiss, 10.0)[:2].max() < 1e-6
    assert imputation_weights(-sure_fake, mask, pmiss, 10.0)[:2].min() == 10.0  # capped


def test_pmiss_zero_is_a_weighted_bootstrap():
    X, y = two_class_toy(8)
    seed_everything(0)
    initial = ConditionalGenerator(1, 2).state_dict()  # what fit_ibgan builds first after seeding
    model, history = ibgan(X, y, pmiss=0.0, epochs=2)
    np.testing.assert_array_equal(model.generate(X, y, pmiss=0.0), X)  # X' is the real series
    for k, v in model.generator.state_dict().items():
        assert torch.equal(v, initial[k]), "G must not train when nothing is masked"
    moved = ibgan(X, y, pmiss=0.5, epochs=1)[0].generator.state_dict()
    assert any(not torch.equal(v, initial[k]) for k, v in moved.items())  # ...but does otherwise
    assert history.loss == history.losses["c_loss"] and len(history.loss) == 2 and all(np.isfinite(history.loss))


def test_pmiss_one_generates_every_entry():
    X, y = two_class_toy(8)
    model, _ = ibgan(X, y, pmiss=1.0, epochs=1)
    other = np.random.default_rng(3).standard_normal(X.shape).astype(np.float32)
    a, b = model.generate(X, y, pmiss=1.0, seed=4), model.generate(other, y, pmiss=1.0, seed=4)
    np.testing.assert_array_equal(a, b)  # the real series play no part: noise only
    assert not np.isclose(a, X).any()
    partial = model.generate(X, y, pmiss=0.3, seed=4)
    kept = np.isclose(partial, X).mean()
    assert 0.6 < kept < 0.8  # the ~70% unmasked entries are copied exactly


def test_ibgan_imputes_towards_the_class():
    X, y = two_class_toy()
    model, history = ibgan(X, y, pmiss=0.5, epochs=60)
    x, yt = torch.as_tensor(X), torch.as_tensor(y)
    g = torch.Generator().manual_seed(5)
    mask = draw_mask(x.shape, 0.5, g)
    with torch.no_grad():
        out = model.impute(x, yt, mask, draw_noise(x.shape, g)).numpy()
    m = mask.numpy()
    hits = nearest_class_mean(out, X, y, weights=m) == y  # judged on imputed entries only
    assert hits.mean() >= 0.9
    rmse = np.sqrt((((out - X) ** 2) * m).sum() / m.sum())
    assert rmse < 0.6  # the noise it replaced is off by about 1.2
    assert len(history.losses["d_loss"]) == len(history.losses["g_loss"]) == len(history.epoch_seconds) == 60


def test_fit_ibgan_trains_the_classifier_in_place_and_is_seeded():
    X, y = two_class_toy(8)

    def run(seed):
        seed_everything(seed)
        clf = build_model("cnn", 1, 2)
        model, history = fit_ibgan(X, y, n_classes=2, classifier=clf, seed=seed, progress=False,
                                   settings=IBGANSettings(epochs=2, batch_size=8))
        assert model.classifier is clf
        return torch.cat([p.detach().flatten() for p in clf.parameters()]), history

    (a, ha), (b, hb), (c, _) = run(0), run(0), run(1)
    assert torch.equal(a, b) and ha.loss == hb.loss
    assert not torch.equal(a, c)


def test_ibgan_classifier_gets_the_budgets_callbacks():
    """Keep-best weights and schedules act on IB-GAN's classifier, as on every classifier."""
    from tsimb.train import KeepBestWeights

    X, y = two_class_toy(8)
    _, history = fit_ibgan(X, y, n_classes=2, classifier=build_model("cnn", 1, 2), progress=False,
                           settings=IBGANSettings(epochs=3, batch_size=8), callbacks=[KeepBestWeights()])
    assert history.best_epoch == int(np.argmin(history.loss))


def test_settings_are_storable_and_checked():
    stored = dataclasses.asdict(IBGANSettings(pmiss=0.2))
    assert stored["pmiss"] == 0.2 and "alpha" in stored and "lr_c" in stored
    with pytest.raises(ValueError, match=r"pmiss must lie in \[0, 1\]"):
        IBGANSettings(pmiss=1.5)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        IBGANSettings(epochs=0)
    from tsimb.methods import METHODS

    with pytest.raises(ValueError, match="did you mean 'pmiss'"):
        METHODS["ibgan"].settings_from_config({"ibgan_settings": {"pmis": 0.3}})
    assert METHODS["ibgan"].settings_from_config({"ibgan_settings": dataclasses.asdict(IBGANSettings())}) \
        == IBGANSettings()


def test_divergence_names_the_epoch():
    class NaNClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(1, 2)

        def forward(self, x):
            return self.lin(x.mean(dim=(1, 2))[:, None]) * float("nan")

    X, y = two_class_toy(4)
    from tsimb.train import TrainingDivergedError

    with pytest.raises(TrainingDivergedError, match="not finite at epoch 0.*c_loss"):
        fit_ibgan(X, y, n_classes=2, classifier=NaNClassifier(), settings=IBGANSettings(epochs=1), progress=False)


# --- bad inputs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    (lambda X, y: (X, np.r_[y[:-1], 2]), r"classes \[2\] have a single series"),
    (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X), y), "NaN"),
    (lambda X, y: (X, np.where(y == 1, 2, y)), r"classes \[1\] have no series"),
    (lambda X, y: (X, y - 1), "0..K-1"),
    (lambda X, y: (X[:, 0], y), r"\(n, channels, length\)"),
    (lambda X, y: (X, y.astype(float)), "integers"),
])
def test_bad_inputs_say_what_is_wrong(change, message):
    X, y = change(*two_class_toy(4))
    with pytest.raises(ValueError, match=message):
        gan_oversample("cgan", X, y, epochs=1)
    with pytest.raises(ValueError, match=message):
        fit_ibgan(X, y, n_classes=max(2, int(np.nanmax(y)) + 1), classifier=build_model("cnn", 1, 3),
                  settings=IBGANSettings(epochs=1), progress=False)


def test_wrong_classifier_and_unknown_method():
    X, y = two_class_toy(4)
    with pytest.raises(ValueError, match=r"logits \(batch, 2\)"):
        fit_ibgan(X, y, n_classes=2, classifier=build_model("cnn", 1, 5), progress=False)
    with pytest.raises(ValueError, match="did you mean 'cgan'"):
        gan_oversample("cgna", X, y)
    with pytest.raises(ValueError, match="did you mean 'ae_epochs'"):
        gan_oversample("bagan", X, y, ae_epoch=3)


# --- oversamplers -----------------------------------------------------------------------------

@pytest.mark.parametrize("method", sorted(OVERSAMPLERS))
def test_oversampler_tops_up_to_the_majority(method):
    X, y = two_class_toy(12)
    keep = np.r_[0:12, 12:16]
    X_new, y_new = gan_oversample(method, X[keep], y[keep], epochs=1, ae_epochs=1)
    assert X_new.shape == (24, 1, 32) and X_new.dtype == np.float32
    assert np.bincount(y_new).tolist() == [12, 12]
    np.testing.assert_array_equal(X_new[:16], X[keep])  # real series first, unchanged
    assert np.isfinite(X_new).all()


@pytest.mark.parametrize("method", sorted(OVERSAMPLERS))
def test_each_gan_learns_the_two_classes(method):
    X, y = two_class_toy()
    trained = fit_gan(method, X, y, epochs=60, ae_epochs=60, batch_size=16, progress=False)
    labels = np.repeat([0, 1], 20)
    fake = trained.sample(labels, seed=1)
    assert (nearest_class_mean(fake, X, y) == labels).mean() >= 0.9
    assert len(trained.history.losses["d_loss"]) == 60


@pytest.mark.parametrize("device", DEVICES)
def test_training_runs_on_the_device(device):
    X, y = two_class_toy(4)
    model, _ = fit_ibgan(X, y, n_classes=2, classifier=build_model("cnn", 1, 2), device=device, progress=False,
                         settings=IBGANSettings(epochs=1))
    assert next(model.classifier.parameters()).device.type == device
    assert model.generate(X[:3], y[:3]).shape == (3, 1, 32)  # any subset of classes
    trained = fit_gan("bagan", X, y, epochs=1, ae_epochs=1, device=device, progress=False)
    assert trained.sample(np.array([1, 0, 1])).shape == (3, 1, 32)
    assert trained.sample(np.array([], dtype=int)).shape == (0, 1, 32)
    with pytest.raises(ValueError, match=r"integers in 0..1"):
        trained.sample(np.array([0, 2]))


def test_untrained_gan_fails_the_class_check():
    """The check above can fail: one epoch is not enough."""
    X, y = two_class_toy()
    labels = np.repeat([0, 1], 20)
    fake = fit_gan("cgan", X, y, epochs=1, batch_size=16, progress=False).sample(labels, seed=1)
    assert (nearest_class_mean(fake, X, y) == labels).mean() < 0.9


def test_oversampling_is_seeded():
    X, y = two_class_toy(8)
    keep = np.r_[0:8, 8:11]
    a = gan_oversample("cgan", X[keep], y[keep], epochs=2, seed=0)[0]
    b = gan_oversample("cgan", X[keep], y[keep], epochs=2, seed=0)[0]
    c = gan_oversample("cgan", X[keep], y[keep], epochs=2, seed=1)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[11:], c[11:])


# --- quality ----------------------------------------------------------------------------------

def test_discriminative_score():
    X, _ = two_class_toy(10)
    noise = np.random.default_rng(0).standard_normal(X.shape).astype(np.float32)
    assert discriminative_score(X, X.copy()) == 0.0  # a copy cannot be told apart
    assert discriminative_score(X, noise) > 0.4


def test_tstr_per_class():
    X, y = two_class_toy(6)
    perfect = tstr_per_class(X, y, X, y)
    assert perfect["recall"].tolist() == [1.0, 1.0] and perfect["n_synthetic"].tolist() == [6, 6]
    swapped = tstr_per_class(X, 1 - y, X, y)
    assert swapped["recall"].tolist() == [0.0, 0.0]


def test_diversity_of_a_collapsed_generator_is_zero():
    X, y = two_class_toy(6)
    collapsed = np.repeat(X[:1], 12, axis=0)
    assert mean_pairwise_distance(collapsed) == 0.0
    table = diversity(collapsed, np.repeat([0, 1], 6), X, y)
    assert table["generated"].tolist() == [0.0, 0.0] and (table["real"] > 0).all()
    assert np.allclose(diversity(X, y, X, y)["ratio"], 1.0)


def test_benchmark_gan_reports_rates():
    result = benchmark_gan(n=8, channels=2, length=16, classes=2, repeats=1, device="cpu")
    for key in ("ibgan_series_per_s", "cgan_series_per_s", "classifier_series_per_s"):
        assert result[key] > 0
