"""Throughput of the GAN loop: one epoch of IB-GAN (Deng et al. 2022, "IB-GAN: A Unified
Approach for Multivariate Time Series Classification under Class Imbalance", SDM, sec. 2.2.3:
a D, C and G update per minibatch) and of the naive conditional GAN (sec. 3.1), beside one
epoch of the plain classifier through :func:`tsimb.fit`, in series per second. Meant for
``python -m tsimb bench``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..models import build_model
from ..runtime import get_device, seed_everything
from ..train import fit
from .ibgan import IBGANSettings, fit_ibgan
from .oversamplers import fit_gan


def _median_seconds(run: Callable[[int], float], repeats: int) -> float:
    """Median of ``run(r)`` (its own timed seconds) over ``repeats`` runs after one warm-up."""
    run(0)
    return float(np.median([run(r + 1) for r in range(repeats)]))


def benchmark_gan(n: int = 64, channels: int = 3, length: int = 128, classes: int = 4, repeats: int = 3,
                  device: str | None = None) -> dict[str, float | int | str]:
    """Series per second of ONE epoch over ``n`` series in a single minibatch (``batch_size = n``)
    for IB-GAN (with the IB-GAN paper's small CNN as classifier), the naive conditional GAN and
    the classifier alone via :func:`tsimb.fit`; medians over ``repeats`` after a warm-up. Only the
    epoch is timed (the loops' own clocks), not building the networks. The rate counts the ``n``
    real series of the epoch; IB-GAN also passes ``n`` resampled ones through G, D and C. Deng et al. (2022),
    sec. 2.2.3 and 3.1."""
    dev = get_device(device)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, channels, length)).astype(np.float32)
    y = np.arange(n) % classes

    def ibgan_epoch(r: int) -> float:
        seed_everything(r)
        clf = build_model("cnn", channels, classes)
        _, history = fit_ibgan(X, y, n_classes=classes, classifier=clf, seed=r, device=dev, progress=False,
                               settings=IBGANSettings(epochs=1, batch_size=n))
        return history.epoch_seconds[0]

    def cgan_epoch(r: int) -> float:
        return fit_gan("cgan", X, y, seed=r, device=dev, progress=False, epochs=1, batch_size=n).history.epoch_seconds[0]

    def classifier_epoch(r: int) -> float:
        seed_everything(r)
        clf = build_model("cnn", channels, classes)
        return fit(clf, X, y, epochs=1, batch_size=n, seed=r, device=dev, progress=False).seconds

    seconds = {name: _median_seconds(run, repeats) for name, run in
               (("ibgan", ibgan_epoch), ("cgan", cgan_epoch), ("classifier", classifier_epoch))}
    result: dict[str, float | int | str] = {"device": str(dev), "n": n, "channels": channels, "length": length,
                                            "classes": classes}
    for name, sec in seconds.items():
        result[f"{name}_series_per_s"] = n / sec
    result["ibgan_over_classifier"] = seconds["classifier"] / seconds["ibgan"]
    return result
