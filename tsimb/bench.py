"""``python -m tsimb bench``: samples per second of :func:`tsimb.train.fit` against a bare
PyTorch loop on the same data and model (ResNet), the number the foundation issue asks
to keep within 10%; augmentation and attack throughput; the cost of a PGD-k
adversarial-training epoch relative to a natural one (``bench adversarial``).
It also reports how much of the machine they use: the model's FLOPs per series, the
achieved GFLOP/s and their fraction of the device's peak, for ``fit``, the bare loop,
``jobs`` single-threaded worker processes side by side (what ``tsimb run --jobs`` does)
and, on request, ``fit`` with ``torch.compile``."""

from __future__ import annotations

import multiprocessing
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .models import build_model
from .runtime import get_device, seed_everything
from .train import fit

# FP32 peak (GFLOP/s, dense, no sparsity) of GPUs from their makers' data sheets; another
# GPU's peak is asked for with ``--peak-gflops``.
GPU_PEAK_GFLOPS = {
    "H200": 67_000.0, "H100 PCIe": 51_000.0, "H100 NVL": 60_000.0, "H100": 67_000.0,  # H100: the SXM part
    "A100": 19_500.0, "L40S": 91_600.0, "L40": 90_500.0, "L4": 30_300.0, "A10G": 31_200.0, "A10": 31_200.0, "V100": 15_700.0,
    "T4": 8_100.0,
}


def cpu_flops_per_cycle() -> int:
    """FP32 FLOPs one core can start per cycle with the vector units tsimb's kernels use:
    lanes x 2 (a fused multiply-add) x 2 FMA units: 32 for AVX2 (8 lanes), 64 for
    AVX-512 (16 lanes; only with ``TSIMB_NATIVE_ISA=1``, since tsimb caps the kernels at
    AVX2), 16 for AVX without FMA (a multiply and an add unit), 8 for SSE. Two FMA units is
    what current x86-64 server cores have (Zen 2-4, Skylake-SP Gold/Platinum and later);
    a core with one gets half its peak here, so the fraction reported is then too low by 2."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return 32 if platform.machine() in ("x86_64", "AMD64") else 8
    native = os.environ.get("TSIMB_NATIVE_ISA", "").lower() in ("1", "true", "yes")
    if native and "avx512f" in flags:
        return 64
    if "avx2" in flags and "fma" in flags:
        return 32
    return 16 if "avx" in flags else 8


def cpu_clock_ghz() -> float | None:
    """The cores' clock from ``/proc/cpuinfo`` (``cpu MHz``: under a hypervisor usually the
    base clock; turbo can run above it), or None where it does not say."""
    try:
        mhz = [float(line.split(":", 1)[1]) for line in Path("/proc/cpuinfo").read_text().splitlines()
               if line.startswith("cpu MHz")]
    except (OSError, ValueError):
        return None
    return max(mhz) / 1000 if mhz else None


def peak_gflops(device: torch.device, cores: int | None = None) -> tuple[float | None, str]:
    """The device's FP32 peak in GFLOP/s and how it was estimated. CPU: cores (this
    process's, :func:`~tsimb.experiments.runner.usable_cores`) x FLOPs per cycle
    (:func:`cpu_flops_per_cycle`) x clock (:func:`cpu_clock_ghz`); a GPU: its data-sheet
    value (:data:`GPU_PEAK_GFLOPS`). None where unknown: pass ``--peak-gflops``."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, value in GPU_PEAK_GFLOPS.items():  # most specific names first
            if key in name:
                return value, f"{name}: FP32 data-sheet peak"
        return None, f"{name}: peak unknown, pass --peak-gflops"
    if device.type != "cpu":
        return None, f"{device.type}: peak unknown, pass --peak-gflops"
    from .experiments.runner import usable_cores

    cores = cores or usable_cores()
    ghz, per_cycle = cpu_clock_ghz(), cpu_flops_per_cycle()
    if ghz is None:
        return None, "CPU clock unknown, pass --peak-gflops"
    return cores * per_cycle * ghz, f"{cores} cores x {per_cycle} FP32 FLOP/cycle x {ghz:.2f} GHz"


def flops_per_sample(model: torch.nn.Module, channels: int, length: int, batch_size: int = 2) -> tuple[float, float]:
    """FLOPs per series of ``model``'s forward pass and of a training step (forward and
    backward), counted by :class:`torch.utils.flop_counter.FlopCounterMode` on a batch of
    random series. It counts matrix products and convolutions only (not batch norm,
    activations or the optimiser: a few percent of a ResNet's), so achieved GFLOP/s is
    slightly understated."""
    from torch.utils.flop_counter import FlopCounterMode

    device = next(model.parameters()).device
    x = torch.randn(batch_size, channels, length, device=device)
    was_training = model.training
    model.train()
    with FlopCounterMode(display=False) as forward:
        with torch.no_grad():
            model(x)
    with FlopCounterMode(display=False) as step:
        model(x).sum().backward()
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return forward.get_total_flops() / batch_size, step.get_total_flops() / batch_size


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


def _data(n: int, channels: int, length: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, channels, length)).astype(np.float32)
    y = rng.integers(0, classes, n).astype(np.int64)
    y[:classes] = np.arange(classes)
    return X, y


def benchmark(n: int = 256, channels: int = 1, length: int = 128, classes: int = 4, epochs: int = 5,
              batch_size: int = 32, repeats: int = 3, device: str | None = None, jobs: int | None = None,
              compiled: bool = False, ensemble: int = 0, peak: float | None = None) -> dict:
    """Median samples/second of ``fit`` and the bare loop over ``repeats`` alternating runs,
    and the utilisation table (``modes``: one row per mode with its processes, threads,
    samples/s, GFLOP/s and fraction of ``peak``; default :func:`peak_gflops`).

    ``jobs`` (CPU only; None: one per core, 0: skip): that many spawned worker processes
    with one thread each train the same model side by side, started together; their
    samples/s is the sum over workers. ``compiled``: ``fit`` once more with the model's
    feature extractor under ``torch.compile`` (the classifier step calls ``features`` and
    ``head``); its warm-up (the compilation, a minute or more on a CPU) is reported apart
    and counted in ``compile_whole_run_samples_per_s``, the rate of one run of ``epochs``.
    ``ensemble`` (at least 2; 0: skip): that many runs trained as one batched model
    (:func:`tsimb.train.ensemble.EnsembleStep`, one warm-up epoch first); its samples/s
    counts every member's series, to set beside ``fit`` (one run) and ``jobs``."""
    for name, value in dict(n=n, channels=channels, length=length, classes=classes, epochs=epochs,
                            batch_size=batch_size, repeats=repeats).items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"benchmark: {name} must be a whole number of at least 1, got {value!r}")
    if classes < 2 or n < classes:
        raise ValueError(f"benchmark: n={n} series for {classes} classes; it needs at least 2 classes "
                         f"and one series per class (n >= {max(classes, 2)})")
    if isinstance(ensemble, bool) or not isinstance(ensemble, (int, np.integer)) or ensemble < 0 or ensemble == 1:
        raise ValueError(f"benchmark: ensemble={ensemble!r} must be 0 (skip) or a number of members of at least 2")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 0):
        raise ValueError(f"jobs={jobs!r}: give a number of worker processes, 0 to skip that mode, or None for one per core")
    dev = get_device(device)
    X, y = _data(n, channels, length, classes)
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
    seed_everything(0)
    forward_flops, step_flops = flops_per_sample(build_model("resnet", channels, classes).to(dev), channels, length,
                                                 batch_size=min(batch_size, n))
    estimate = "given (--peak-gflops)"
    if peak is None:
        peak, estimate = peak_gflops(dev)
    threads = torch.get_num_threads() if dev.type == "cpu" else 0
    modes = [("fit", 1, threads, fit_sps, step_flops), ("bare loop", 1, threads, bare_sps, step_flops)]
    result = {"device": str(dev), "n": n, "channels": channels, "length": length, "epochs": epochs,
              "batch_size": batch_size, "fit_samples_per_s": fit_sps, "bare_samples_per_s": bare_sps,
              "fit_over_bare": fit_sps / bare_sps, "forward_mflop_per_sample": forward_flops / 1e6,
              "train_mflop_per_sample": step_flops / 1e6, "peak_gflops": peak, "peak_estimate": estimate}
    if dev.type == "cpu" and jobs != 0:
        from .experiments.runner import usable_cores

        workers = jobs or usable_cores()
        spec = dict(n=n, channels=channels, length=length, classes=classes, epochs=epochs, batch_size=batch_size)
        seconds = _side_by_side(workers, spec)
        modes.append((f"jobs={workers}", workers, 1, workers * samples / max(seconds), step_flops))
    if compiled:
        seed_everything(0)
        model = build_model("resnet", channels, classes)
        model.features = torch.compile(model.features)
        start = time.perf_counter()
        fit(model, X, y, epochs=1, batch_size=batch_size, seed=0, device=dev, progress=False)
        warm_up = time.perf_counter() - start
        history = fit(model, X, y, epochs=epochs, batch_size=batch_size, seed=1, device=dev, progress=False)
        modes.append(("fit, torch.compile", 1, threads, samples / history.seconds, step_flops))
        result["compile_warm_up_s"] = warm_up
        result["compile_whole_run_samples_per_s"] = samples / (warm_up + history.seconds)
    if ensemble:
        members_per_s = _ensemble(X, y, channels, classes, epochs, batch_size, ensemble, dev)
        modes.append((f"ensemble of {ensemble}", 1, threads, members_per_s, step_flops))
    # scoring as the ODE chapter scores a run: clean, FGSM and BIM predictions of every series,
    # in batches of 512 (large batches, unlike training on the reference protocol's)
    attack_flops, attack_seconds = _scoring(X, y, channels, classes, dev)
    modes.append(("scoring: clean + FGSM + BIM", 1, threads, n / attack_seconds, attack_flops))
    result["scoring_mflop_per_sample"] = attack_flops / 1e6
    result["modes"] = [
        {"mode": mode, "processes": procs, "threads": n_threads, "samples_per_s": sps,
         "gflop_per_s": sps * flops / 1e9,
         "fraction_of_peak": sps * flops / 1e9 / peak if peak else float("nan")}
        for mode, procs, n_threads, sps, flops in modes]
    return result


def _ensemble(X: np.ndarray, y: np.ndarray, channels: int, classes: int, epochs: int, batch_size: int,
              members: int, device: torch.device) -> float:
    """Series per second over all members of ``members`` ResNet runs trained as one
    batched model, after a warm-up epoch."""
    from .train.ensemble import EnsembleStep
    from .train.steps import ClassifierStep

    def build() -> EnsembleStep:
        steps = []
        for seed in range(members):
            seed_everything(seed)
            steps.append(ClassifierStep(build_model("resnet", channels, classes), X, y, seed=seed, device=device))
        return EnsembleStep(steps, [[] for _ in steps])

    fit(build(), epochs=1, batch_size=batch_size, progress=False)  # warm-up
    _sync(device)
    history = fit(build(), epochs=epochs, batch_size=batch_size, progress=False)
    _sync(device)
    return members * len(y) * epochs / history.seconds


def _scoring(X: np.ndarray, y: np.ndarray, channels: int, classes: int, device: torch.device) -> tuple[float, float]:
    """FLOPs per series and seconds of :func:`tsimb.robustness.attacked_probabilities` with
    Fawaz et al.'s FGSM and BIM on ``X`` (an untrained ResNet: the cost does not depend on the
    weights)."""
    from torch.utils.flop_counter import FlopCounterMode

    from .robustness import FAWAZ_BIM, FAWAZ_FGSM, attacked_probabilities

    attacks = {"fgsm": FAWAZ_FGSM, "bim": FAWAZ_BIM}
    seed_everything(0)
    model = build_model("resnet", channels, classes).to(device).eval()
    few = min(len(y), 4)
    # a forward pass and one with the input gradient, counted apart (FlopCounterMode cannot
    # follow the attacks' autograd.grad), times how many of each scoring makes
    x = torch.as_tensor(X[:few], dtype=torch.float32, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as forward:
        model(x)
    for p in model.parameters():
        p.requires_grad_(False)
    with FlopCounterMode(display=False) as with_gradient:
        model(x.clone().requires_grad_(True)).sum().backward()
    for p in model.parameters():
        p.requires_grad_(True)
    forward_flops = forward.get_total_flops() / few
    gradient_flops = with_gradient.get_total_flops() / few - forward_flops
    gradients, forwards = scoring_passes(attacks)
    flops = forwards * forward_flops + gradients * gradient_flops
    attacked_probabilities(model, X[:few], y[:few], attacks)  # warm-up
    _sync(device)
    start = time.perf_counter()
    attacked_probabilities(model, X, y, attacks)
    _sync(device)
    return flops, time.perf_counter() - start


def scoring_passes(attacks: dict) -> tuple[int, int]:
    """Input gradients and forward passes a series of
    :func:`tsimb.robustness.attacked_probabilities`: the clean pass (a forward pass and a
    gradient, shared with the first step of every attack that starts at the clean series),
    each attack's other steps, and one prediction of each attack's adversarial series (for
    Fawaz et al.'s FGSM and BIM: 10 and 12). With no attack to share it, the clean series
    take one forward pass and no gradient."""
    steps = sum(a.steps for a in attacks.values())
    if not any(a.starts_at_input for a in attacks.values()):  # no clean gradient: a clean forward pass
        return steps, 1 + steps + len(attacks)
    gradients = 1 + steps - sum(a.starts_at_input for a in attacks.values())
    return gradients, gradients + len(attacks)


def _side_by_side(workers: int, spec: dict) -> list[float]:
    """Seconds of ``fit`` in each of ``workers`` spawned single-threaded processes that
    start together (a barrier after each one's warm-up epoch)."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(workers), context.Queue()
    processes = [context.Process(target=_fit_worker, args=(barrier, results, spec), daemon=True)
                 for _ in range(workers)]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=1800) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
    errors = [o for o in outcomes if isinstance(o, str)]
    if errors:
        raise RuntimeError(f"a benchmark worker failed: {errors[0]}")
    return outcomes


def _fit_worker(barrier, results, spec: dict) -> None:
    """One process of :func:`_side_by_side`: one thread, as ``tsimb run --jobs`` gives."""
    try:
        from .experiments.runner import _init_worker

        _init_worker(1)
        X, y = _data(spec["n"], spec["channels"], spec["length"], spec["classes"])
        seed_everything(0)
        model = build_model("resnet", spec["channels"], spec["classes"])
        fit(model, X, y, epochs=1, batch_size=spec["batch_size"], seed=0, device="cpu", progress=False)
        barrier.wait(timeout=600)
        history = fit(model, X, y, epochs=spec["epochs"], batch_size=spec["batch_size"], seed=1, device="cpu",
                      progress=False)
        results.put(history.seconds)
    except BaseException as error:  # the driver reports it instead of waiting for a result
        barrier.abort()
        results.put(f"{type(error).__name__}: {error}")


def utilisation_table(result: dict):
    """The ``modes`` of :func:`benchmark` as a printable table."""
    import pandas as pd

    table = pd.DataFrame(result["modes"])
    table["fraction_of_peak"] = [f"{v:.1%}" if v == v else "n/a" for v in table["fraction_of_peak"]]
    return table


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
