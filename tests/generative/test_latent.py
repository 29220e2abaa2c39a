"""tsimb.generative.latent: GL-GAN (Wang 2023, ch. 2) and the latent adversarial augmentation
(Kim et al. 2021, reconstructed), on tiny series."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tsimb import build_model, seed_everything
from tsimb.data import Dataset, TooFewSeriesError, load_digits_pair
from tsimb.generative.latent import (AutoencoderSettings, EncoderHead, GLGANSettings, LatentAdversarialSettings,
                                     LatentAdversarialStep, LatentAutoencoder, clustering_loss, encode, fit_glgan,
                                     fit_latent_autoencoder, glgan_oversample, latent_adversarial, latent_smote,
                                     perturb_codes, player_traces, project, smote_neighbours, top_up)
from tsimb.methods import METHODS
from tsimb.train import Budget, FitState, History, fit

FAST_AE = AutoencoderSettings(epochs=3, latent_dim=4, features=16, hidden=8)
FAST = GLGANSettings(autoencoder=FAST_AE, rounds=2)


def separation(codes: np.ndarray, y: np.ndarray) -> float:
    """Distance between the class centres over the mean within-class spread."""
    centres = [codes[y == c].mean(axis=0) for c in (0, 1)]
    spread = np.mean([np.sqrt(((codes[y == c] - centres[c]) ** 2).sum(axis=1)).mean() for c in (0, 1)])
    return float(np.linalg.norm(centres[0] - centres[1]) / spread)


def on_a_segment(point: np.ndarray, ends: np.ndarray, tol: float = 1e-5) -> bool:
    """Whether ``point`` lies on a segment between two rows of ``ends``."""
    for a, b in itertools.combinations(ends, 2):
        d = b - a
        t = np.clip((point - a) @ d / max(d @ d, 1e-30), 0.0, 1.0)
        if np.linalg.norm(a + t * d - point) < tol:
            return True
    return False


# --- eq. 2.2 and the autoencoder --------------------------------------------------------------

def test_clustering_loss_is_eq_2_2_with_the_typo_read_as_E_x_j():
    codes = torch.tensor([[0.0, 0.0], [2.0, 0.0], [5.0, 5.0], [7.0, 5.0], [6.0, 8.0]])
    labels = torch.tensor([0, 0, 1, 1, 1])
    c_maj, c_min = codes[:2].mean(0), codes[2:].mean(0)
    expected = (((codes[:2] - c_maj) ** 2).sum(1).mean() + 0.5 * ((codes[2:] - c_min) ** 2).sum(1).mean()
                - 0.3 * ((c_maj - c_min) ** 2).sum())
    out = clustering_loss(codes, labels, 2, 0, minority_weight=0.5, push_weight=0.3)
    torch.testing.assert_close(out, expected)
    # a class absent from the draw has no centre: only the pull of the present one
    torch.testing.assert_close(clustering_loss(codes[:2], labels[:2], 2, 0), ((codes[:2] - c_maj) ** 2).sum(1).mean())


def test_the_clustering_loss_separates_two_classes_codes(make_series):
    X, y = make_series([24, 8], length=16, seed=3, separation=0.4)  # overlapping classes
    ratios = {}
    for weight in (0.0, 1.0):
        settings = dataclasses.replace(FAST_AE, epochs=40, cluster_weight=weight, push_weight=1.0)
        ae, history = fit_latent_autoencoder(X, y, settings, seed=0, progress=False)
        codes = encode(ae, X).numpy()
        assert np.abs(codes).max() <= 1.0  # tanh-bounded
        ratios[weight] = separation(codes, y)
    assert ratios[1.0] > 2 * ratios[0.0] and ratios[1.0] > 2.0, ratios
    assert history.losses["clustering"][-1] < history.losses["clustering"][0]


def test_discriminator_and_classifier_start_as_the_encoder_plus_one_layer():
    ae = LatentAutoencoder(1, 16, latent_dim=4, features=16, hidden=8)
    head = EncoderHead(ae, 3)
    x = torch.randn(5, 1, 16)
    assert head(x).shape == (5, 3)
    for a, b in zip([*ae.trunk.parameters(), *ae.to_latent.parameters()],
                    [*head.trunk.parameters(), *head.to_latent.parameters()]):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()  # copied, not shared


# --- latent SMOTE -------------------------------------------------------------------------------

def test_latent_smote_draws_on_segments_between_minority_codes():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(20, 3)).astype(np.float32)
    labels = np.repeat([0, 1], [14, 6])
    new, new_labels = latent_smote(codes, labels, top_up(labels), k_neighbors=3, seed=1)
    assert new.shape == (8, 3) and (new_labels == 1).all()
    minority = codes[labels == 1]
    assert all(on_a_segment(z, minority) for z in new)
    assert not any(on_a_segment(z, codes[labels == 0]) for z in new)
    same, _ = latent_smote(codes, labels, top_up(labels), k_neighbors=3, seed=1)
    np.testing.assert_array_equal(new, same)


def test_a_minority_smaller_than_k_plus_one_lowers_k_and_a_single_series_is_an_error():
    assert smote_neighbours(np.array([10, 3]), 5) == 2
    rng = np.random.default_rng(1)
    codes, labels = rng.normal(size=(13, 2)), np.repeat([0, 1], [10, 3])
    new, _ = latent_smote(codes, labels, {1: 7}, k_neighbors=5, seed=0)
    assert all(on_a_segment(z, codes[labels == 1]) for z in new)
    with pytest.raises(TooFewSeriesError, match="single series"):
        latent_smote(codes[:11], labels[:11], {1: 9}, k_neighbors=5)
    X = rng.normal(size=(11, 1, 16)).astype(np.float32)
    with pytest.raises(ValueError, match="single series"):
        fit_glgan(X, labels[:11], settings=FAST)


# --- GL-GAN -------------------------------------------------------------------------------------

def test_glgan_balances_keeps_the_real_series_and_repeats_with_its_seed(make_series):
    X, y = make_series([12, 5], length=16, seed=4, separation=1.0)
    X_new, y_new = glgan_oversample(X, y, settings=FAST, seed=2)
    assert np.bincount(y_new).tolist() == [12, 12] and np.isfinite(X_new).all()
    np.testing.assert_array_equal(X_new[:17], X)
    again, _ = glgan_oversample(X, y, settings=FAST, seed=2)
    other, _ = glgan_oversample(X, y, settings=FAST, seed=3)
    np.testing.assert_array_equal(X_new, again)
    assert not np.allclose(X_new[17:], other[17:])


def test_glgan_alternates_d_c_g_epochs_and_auto_only_decodes_with_Q(make_series):
    X, y = make_series([12, 5], length=16, seed=5)
    settings = dataclasses.replace(FAST, rounds=2, d_epochs=2, c_epochs=1, g_epochs=1)
    trained = fit_glgan(X, y, settings=settings, seed=0)
    assert len(trained.history.loss) == 8
    traces = player_traces(trained.history, settings)
    assert [len(traces[p]) for p in "dcg"] == [4, 2, 2]
    assert trained.generator is not trained.autoencoder.decoder  # G is a trained copy of Q
    auto = fit_glgan(X, y, settings=dataclasses.replace(FAST, generator="decoder"), seed=0)
    X_syn, y_syn = auto.synthetic()
    ae = auto.autoencoder
    with torch.no_grad():
        np.testing.assert_allclose(X_syn, ae.decode(torch.as_tensor(auto.synthetic_codes)).numpy(), atol=1e-6)
    # the codes G starts from are the auto-only run's: same seed, same autoencoder, same SMOTE
    np.testing.assert_array_equal(auto.synthetic_codes, trained.synthetic_codes)
    sample = trained.sample(np.array([1, 0, 1]), seed=0)
    assert sample.shape == (3, 1, 16)
    np.testing.assert_array_equal(sample, trained.sample(np.array([1, 0, 1]), seed=0))


def test_glgan_settings_name_what_is_wrong():
    with pytest.raises(ValueError, match="generator must be 'gan'"):
        GLGANSettings(generator="cgan")
    with pytest.raises(ValueError, match="all 0"):
        GLGANSettings(d_epochs=0, c_epochs=0, g_epochs=0)
    with pytest.raises(ValueError, match="cluster_weight must be a non-negative"):
        AutoencoderSettings(cluster_weight=-1.0)
    assert METHODS["ae-smote"].default_settings().autoencoder.cluster_weight == 0.0
    assert METHODS["auto-only"].settings_from_config({}).generator == "decoder"
    assert METHODS["gl-gan-noclu"].default_settings().autoencoder.cluster_weight == 0.0
    assert METHODS["gl-gan-noclu"].default_settings().generator == "gan"
    assert METHODS["gl-gan-cgan"].default_settings().generator == "noise"


def test_the_cgan_ablation_trains_no_autoencoder_and_tops_up_the_minority(make_series):
    X, y = make_series([20, 5], length=16, seed=2)
    out = fit_glgan(X, y, settings=dataclasses.replace(FAST, generator="noise"), seed=0)
    assert out.pretrain.loss == [] and out.codes.shape[0] == 0  # no autoencoder was trained
    assert out.noise and set(out.traces) == {"d", "c", "g"}
    X_syn, y_syn = out.synthetic()
    assert X_syn.shape == (15, 1, 16) and (y_syn == 1).all()
    assert np.abs(out.synthetic_codes).max() <= 1.0  # tanh of noise: the decoder's code range
    again = fit_glgan(X, y, settings=dataclasses.replace(FAST, generator="noise"), seed=0)
    np.testing.assert_array_equal(X_syn, again.synthetic()[0])
    np.testing.assert_array_equal(out.sample(np.array([1, 1]), seed=3), out.sample(np.array([1, 1]), seed=3))


def test_gl_gan_and_auto_only_share_one_autoencoder_fit(make_series):
    X, y = make_series([20, 5], length=16, seed=4)
    gan = fit_glgan(X, y, settings=FAST, seed=1)
    auto = fit_glgan(X, y, settings=dataclasses.replace(FAST, generator="decoder"), seed=1)
    assert gan.autoencoder is auto.autoencoder  # cached: one pre-training per split, seed and settings
    np.testing.assert_array_equal(gan.synthetic_codes, auto.synthetic_codes)


# --- latent adversarial augmentation (Kim et al. 2021, reconstructed) --------------------------

def tiny_pair(seed: int = 0):
    seed_everything(seed)
    ae = LatentAutoencoder(1, 16, latent_dim=4, features=16, hidden=8).eval()
    clf = build_model("cnn", 1, 2, 16).eval()
    x = torch.randn(6, 1, 16, generator=torch.Generator().manual_seed(seed))
    return ae, clf, x, torch.tensor([1, 1, 1, 0, 0, 1])


def test_eps_zero_gives_the_autoencoders_reconstructions():
    ae, clf, x, y = tiny_pair()
    out = latent_adversarial(x, y, ae, clf, LatentAdversarialSettings(eps=0.0))
    with torch.no_grad():
        torch.testing.assert_close(out, ae(x))


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_the_adversarial_steps_raise_the_classifiers_loss_within_the_ball(norm):
    ae, clf, x, y = tiny_pair(1)
    settings = LatentAdversarialSettings(eps=0.3, steps=3, norm=norm, random_start=False)
    with torch.no_grad():
        z0 = ae.encode(x)
        before = F.cross_entropy(clf(ae.decode(z0)), y)
    z = perturb_codes(z0, y, ae.decoder, clf, settings)
    with torch.no_grad():
        after = F.cross_entropy(clf(ae.decode(z)), y)
    assert after > before
    size = (z - z0).abs().amax(dim=1) if norm == "linf" else (z - z0).norm(dim=1)
    assert (size <= 0.3 + 1e-6).all() and (z.abs() <= 1).all()
    assert not any(p.grad is not None for p in [*ae.parameters(), *clf.parameters()])


def test_projection_keeps_the_ball_and_the_code_range():
    centre = torch.tensor([[0.9, 0.0]])
    out = project(torch.tensor([[2.0, -3.0]]), centre, 0.5, "linf")
    torch.testing.assert_close(out, torch.tensor([[1.0, -0.5]]))
    out = project(torch.tensor([[0.9, 3.0]]), centre, 0.5, "l2")
    torch.testing.assert_close(out, torch.tensor([[0.9, 0.5]]))


def test_the_step_tops_minibatches_up_with_decoded_minority_series(make_series):
    X, y = make_series([12, 4], length=16, seed=6)
    ae, clf, _, _ = tiny_pair()
    step = LatentAdversarialStep(clf, X, y, autoencoder=ae, settings=LatentAdversarialSettings(sync_every=2), seed=0)
    assert step.share == pytest.approx(0.5)  # (2 * 12 - 16) / 16
    state = FitState(clf, step.optimiser, History(losses={}), device=step.device, n_classes=2)
    x, labels, weight = step.transform(state, step.X[:8], step.y[:8], None)
    assert x.shape == (12, 1, 16) and (labels[8:] == 1).all() and weight is None
    assert step.attacker is not clf  # m = 2: a copy, refreshed every second minibatch
    history = fit(step, epochs=2, batch_size=8)
    assert len(history.loss) == 2 and np.isfinite(history.loss).all()


def test_latent_adversarial_method_repeats_with_its_seed_and_its_sampler_too(make_dataset):
    train = make_dataset([12, 6], length=16, seed=7, separation=1.0)
    settings = LatentAdversarialSettings(autoencoder=FAST_AE)
    method = METHODS["latent-adversarial"]
    a = method.train(train, model="cnn", budget=Budget(epochs=2, batch_size=8), settings=settings, seed=3)
    b = method.train(train, model="cnn", budget=Budget(epochs=2, batch_size=8), settings=settings, seed=3)
    assert a.trace == b.trace
    sampler = method.fit_generator(train, model="cnn", budget=Budget(epochs=1, batch_size=8), settings=settings)
    out = sampler(train.X[12:], train.y[12:], 0)
    np.testing.assert_array_equal(out, sampler(train.X[12:], train.y[12:], 0))
    assert not np.array_equal(out, sampler(train.X[12:], train.y[12:], 1))  # the random start


# --- the digits stand-in ------------------------------------------------------------------------

def test_digits_pair_is_a_series_dataset_of_fours_and_sevens():
    data = load_digits_pair()
    assert isinstance(data, Dataset) and data.X.shape[1:] == (1, 64) and data.class_names == ("4", "7")
    assert data.class_counts().tolist() == [181, 179] and 0 <= data.X.min() and data.X.max() <= 1
    with pytest.raises(ValueError, match="different digits"):
        load_digits_pair(3, 3)


def test_majority_region_share_counts_synthetic_series_nearest_a_majority_series():
    from tsimb.generative.latent import majority_region_share

    X = np.array([[[0.0, 0.0]], [[0.1, 0.0]], [[5.0, 5.0]], [[5.1, 5.0]]], dtype=np.float32)
    y = np.array([0, 0, 1, 1])
    synthetic = np.array([[[0.2, 0.1]], [[4.9, 5.0]], [[5.2, 4.8]], [[4.0, 4.0]]], dtype=np.float32)
    assert majority_region_share(synthetic, X, y) == 0.25
    assert np.isnan(majority_region_share(synthetic[:0], X, y))
    with pytest.raises(ValueError, match="share"):
        majority_region_share(np.zeros((2, 1, 3)), X, y)
