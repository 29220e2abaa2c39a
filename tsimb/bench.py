"""``python -m tsimb bench``: samples per second of :func:`tsimb.train.fit` against a bare
PyTorch loop on the same data and model (ResNet), the number the foundation issue asks
to keep within 10%; augmentation and attack throughput; the cost of a PGD-k
adversarial-training epoch relative to a natural one (``bench adversarial``)."""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from .models import build_model
from .runtime import get_device, seed_everything
from .train import fit


def bare_loop(model: torch.nn.Module, X: np.ndarray, y: np.ndarray, epochs: int, batch_size: int,
              device: torch.device, seed: int = 0) -> float:
    """The plainest loop that does the same work as ``fit``: data on the device, a random
    permutation per epoch, Adam, cross entropy. Returns seconds."""
    model.to(device).train()
    X_t = torch.as_tensor(X, device=device)
    y_t = torch.as_tensor(y, device=device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    _sync(device)
    start = time.perf_counter()
    for _ in range(epochs):
        for batch in torch.randperm(len(y_t), generator=g).to(device).split(batch_size):
            loss = F.cross_entropy(model(X_t[batch]), y_t[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    _sync(device)
    return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def benchmark(n: int = 256, channels: int = 1, length: int = 128, classes: int = 4, epochs: int = 5,
              batch_size: int = 32, repeats: int = 3, device: str | None = None) -> dict[str, float]:
    """Median samples/second of ``fit`` and the bare loop over ``repeats`` alternating runs.

    Raises ``ValueError`` for a size or count below 1, or fewer series than classes
    (every class gets at least one series)."""
    for name, value in dict(n=n, channels=channels, length=length, classes=classes, epochs=epochs,
                            batch_size=batch_size, repeats=repeats).items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"benchmark: {name} must be a whole number of at least 1, got {value!r}")
    if classes < 2 or n < classes:
        raise ValueError(f"benchmark: n={n} series for {classes} classes; it needs at least 2 classes "
                         f"and one series per class (n >= {max(classes, 2)})")
    dev = get_device(device)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, channels, length)).astype(np.float32)
    y = rng.integers(0, classes, n).astype(np.int64)
    y[:classes] = np.arange(classes)
    fit_times, bare_times = [], []
    # one warm-up of each, then alternate so drift in machine load hits both alike
    for r in range(repeats + 1):
        seed_everything(r)
        model = build_model("resnet", channels, classes)
        bare = bare_loop(model, X, y, epochs, batch_size, dev, seed=r)
        seed_everything(r)
        model = build_model("resnet", channels, classes)
        _sync(dev)
        history = fit(model, X, y, epochs=epochs, batch_size=batch_size, seed=r, device=dev, progress=False)
        _sync(dev)
        if r:
            bare_times.append(bare)
            fit_times.append(history.seconds)
    samples = n * epochs
    fit_sps = samples / float(np.median(fit_times))
    bare_sps = samples / float(np.median(bare_times))
    return {"device": str(dev), "n": n, "channels": channels, "length": length, "epochs": epochs,
            "batch_size": batch_size, "fit_samples_per_s": fit_sps, "bare_samples_per_s": bare_sps,
            "fit_over_bare": fit_sps / bare_sps}


def _time(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


class ImageShaped(torch.nn.Module):
    """A series classifier seen as an image classifier, input ``(n, C, 1, L)``: how the
    torchattacks comparison here (and the tests checking our attacks against it) runs an
    image-attack library on our models."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x[:, :, 0, :])


def benchmark_augment(sizes: tuple[tuple[int, int], ...] = ((32, 128), (128, 128), (128, 512)),
                      repeats: int = 3, device: str | None = None) -> list[dict[str, float]]:
    """Series per second of the ODE-guided augmentations, Spec-Den and the FGSM/BIM attacks
    at several (series, length) sizes; cost should grow linearly in series x length, so
    ``points_per_s`` (series x length per second) should stay roughly flat across sizes.
    Where torchattacks is installed, its FGSM and PGD on the same model are timed beside ours."""
    from .augment import in_clamp_grad, out_sign_grad, spec_den
    from .models.ode import ODENet, derivative, predict_next
    from .robustness import FAWAZ_BIM, FAWAZ_FGSM

    dev = get_device(device)
    rows = []
    for n, length in sizes:
        seed_everything(0)
        x = torch.randn(n, 1, length, device=dev)
        y = torch.randint(0, 4, (n,), device=dev)
        model = build_model("resnet", 1, 4).to(dev).eval()
        odenet = ODENet(1, length).to(dev).eval()
        dzdt = derivative(odenet, x)
        timings = {
            "ode_solve": lambda: predict_next(odenet, x),
            "ode_derivative": lambda: derivative(odenet, x),
            "in_clamp_grad": lambda: in_clamp_grad(x, derivative(odenet, x)),
            "out_sign_grad": lambda: out_sign_grad(model, x, y, dzdt),
            "spec_den": lambda: spec_den(x),
            "fgsm": lambda: FAWAZ_FGSM(model, x, y),
            "bim": lambda: FAWAZ_BIM(model, x, y),
        }
        try:
            import torchattacks

            wrapped = ImageShaped(model)
            x4 = (x[:, :, None, :] - x.min()) / (x.max() - x.min())  # torchattacks needs [0, 1]
            ta_fgsm = torchattacks.FGSM(wrapped, eps=0.1)
            ta_bim = torchattacks.PGD(wrapped, eps=0.1, alpha=0.05, steps=10, random_start=False)
            timings["torchattacks_fgsm"] = lambda: ta_fgsm(x4, y)
            timings["torchattacks_bim"] = lambda: ta_bim(x4, y)
        except ImportError:
            pass
        for name, fn in timings.items():
            seconds = _time(lambda: (fn(), _sync(dev)), repeats)
            rows.append({"what": name, "n": n, "length": length, "series_per_s": n / seconds,
                         "points_per_s": n * length / seconds})
    return rows


def benchmark_adversarial(models: tuple[str, ...] = ("fcn", "resnet"), steps: tuple[int, ...] = (1, 5, 10),
                          n: int = 64, length: int = 128, epochs: int = 3, batch_size: int = 16,
                          device: str | None = None) -> list[dict[str, float]]:
    """Seconds of one PGD-k adversarial-training epoch (:class:`~tsimb.robustness.AdversarialStep`)
    beside one natural epoch of the same model on the same data, and their ratio: what the
    chapter on adversarial training under imbalance quotes for its budget. On a CPU the time
    is the process's CPU time (with one thread, robust to other jobs on a shared machine);
    on a GPU wall time. Each run is warmed up by one epoch first."""
    from .robustness import AdversarialStep, pgd
    from .train import ClassifierStep

    dev = get_device(device)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 1, length)).astype(np.float32)
    y = np.arange(n) % 4
    clock = time.perf_counter if dev.type == "cuda" else time.process_time
    rows = []
    for name in models:
        seconds = {}
        for k in (0, *steps):
            seed_everything(0)
            model = build_model(name, 1, 4)
            step = (ClassifierStep(model, X, y, device=dev) if k == 0 else
                    AdversarialStep(model, X, y, attack=pgd(eps=0.1, step=0.025, steps=k), device=dev))
            fit(step, epochs=1, batch_size=batch_size, progress=False)
            _sync(dev)
            start = clock()
            fit(step, epochs=epochs, batch_size=batch_size, progress=False)
            _sync(dev)
            seconds[k] = (clock() - start) / epochs
        for k in steps:
            rows.append({"model": name, "pgd_steps": k, "natural_epoch_s": seconds[0],
                         "adversarial_epoch_s": seconds[k], "ratio": seconds[k] / seconds[0]})
    return rows
