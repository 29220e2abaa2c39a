"""``python -m tsimb bench``'s utilisation report: FLOPs per series, the device's peak and
each mode's fraction of it (the GPU branches run here on the CPU, with the GPU's name faked)."""

from __future__ import annotations

import math

import pytest
import torch

from tsimb import bench
from tsimb.models import build_model


def test_flops_per_sample_counts_forward_and_backward():
    model = build_model("resnet", 1, 2)
    forward, step = bench.flops_per_sample(model, 1, 82, batch_size=2)
    # the ResNet's three blocks of 64/128/128 filters of widths 8, 5, 3 on 82 points: ~85 MFLOP
    assert 80e6 < forward < 90e6
    assert 2.5 < step / forward < 3.5  # the backward pass costs about twice the forward one
    assert all(p.grad is None for p in model.parameters())  # the count leaves no gradients behind
    longer, _ = bench.flops_per_sample(model, 1, 164, batch_size=2)
    assert longer == pytest.approx(2 * forward, rel=0.05)  # convolutions: linear in the length


def test_the_cpu_peak_is_cores_times_vector_width_times_clock(monkeypatch):
    monkeypatch.setattr(bench, "cpu_clock_ghz", lambda: 2.5)
    monkeypatch.setattr(bench, "cpu_flops_per_cycle", lambda: 32)
    peak, how = bench.peak_gflops(torch.device("cpu"), cores=2)
    assert peak == 160.0 and "2 cores x 32" in how
    monkeypatch.setattr(bench, "cpu_clock_ghz", lambda: None)
    assert bench.peak_gflops(torch.device("cpu"), cores=2)[0] is None


@pytest.mark.parametrize("name, peak", [("NVIDIA H100 80GB HBM3", 67_000.0), ("NVIDIA H100 PCIe", 51_000.0),
                                        ("NVIDIA L40S", 91_600.0), ("NVIDIA L4", 30_300.0),
                                        ("NVIDIA GeForce RTX 9999", None)])
def test_a_gpu_peak_comes_from_its_data_sheet(monkeypatch, name, peak):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    found, how = bench.peak_gflops(torch.device("cuda"))
    assert found == peak
    assert name in how and (peak is not None or "--peak-gflops" in how)


def test_every_mode_reports_gflops_and_fraction_of_peak():
    result = bench.benchmark(n=8, length=16, classes=2, epochs=1, batch_size=4, repeats=1, jobs=2, ensemble=3,
                             peak=100.0)
    assert [m["mode"] for m in result["modes"]] == ["fit", "bare loop", "jobs=2", "ensemble of 3",
                                                    "scoring: clean + FGSM + BIM"]
    for mode in result["modes"]:
        assert mode["samples_per_s"] > 0
        per_sample = result["scoring_mflop_per_sample" if mode["mode"].startswith("scoring")
                            else "train_mflop_per_sample"]
        assert math.isclose(mode["gflop_per_s"], mode["samples_per_s"] * per_sample / 1e3)
        assert math.isclose(mode["fraction_of_peak"], mode["gflop_per_s"] / 100.0)
    # scoring: 12 forward passes and 10 input gradients a series (the backward pass without
    # weight gradients costs about one forward pass)
    assert 17 < result["scoring_mflop_per_sample"] / result["forward_mflop_per_sample"] < 27
    jobs = result["modes"][2]
    assert (jobs["processes"], jobs["threads"]) == (2, 1)
    assert list(bench.utilisation_table(result)["fraction_of_peak"])[0].endswith("%")


def test_scoring_passes_count_the_shared_clean_pass_once():
    from tsimb.robustness import FAWAZ_BIM, FAWAZ_FGSM, pgd

    assert bench.scoring_passes({"fgsm": FAWAZ_FGSM, "bim": FAWAZ_BIM}) == (10, 12)  # 1 + 0 + 9; + 2 predictions
    assert bench.scoring_passes({"pgd": pgd(steps=20)}) == (20, 22)  # nothing shared: a clean forward pass
    assert bench.scoring_passes({"fgsm": FAWAZ_FGSM, "pgd": pgd(steps=5)}) == (6, 8)


@pytest.mark.parametrize("members", [1, -2, 2.5, True])
def test_an_ensemble_of_fewer_than_two_members_is_refused(members):
    with pytest.raises(ValueError, match="ensemble=.* must be 0 .* at least 2"):
        bench.benchmark(n=8, length=16, classes=2, epochs=1, batch_size=4, repeats=1, jobs=0, ensemble=members)
