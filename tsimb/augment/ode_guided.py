"""ODE-guided and spectral augmentations, and the Feat-Sim regulariser (Sarkar et al.,
"ODE guided neural data augmentation techniques for time series data and its benefits on
robustness", sec. II and III-C). Explained in the book's chapter on ODE-guided augmentation.

All functions take and return ``torch`` tensors shaped ``(n, channels, length)``; the
derivative ``dzdt`` comes from :func:`tsimb.models.derivative`. Labels never change.

The paper's data have an amplitude range of about 6 and it sets ``beta = 0.33`` and
``eps ~ U[0, 0.33]`` "to limit the perturbation range to be almost 1/10th of the amplitude
range" (sec. III-B), though 0.33 / 6 is nearer 1/18. :func:`scaled_bound` computes such a
fraction of the amplitude range for any data (1/18 by default, the paper's actual ratio);
the defaults of the augmentations are the paper's constants.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..models import Classifier
from ..robustness.gradients import loss_gradient
from ..runtime import evaluating

PAPER_BETA = 0.33
PAPER_EPS = 0.33


def scaled_bound(X: np.ndarray | torch.Tensor, fraction: float = 1 / 18) -> float:
    """``fraction`` of the median per-series amplitude range (max - min).

    The paper's 0.33 on series whose range is about 6 is ``fraction = 0.33 / 6 ≈ 1/18``;
    its text calls this "almost 1/10th" of the range, so both readings are one argument away.
    """
    x = torch.as_tensor(X)
    spans = x.flatten(1).amax(dim=1) - x.flatten(1).amin(dim=1)
    return float(fraction * spans.median())


def in_clamp_grad(x: torch.Tensor, dzdt: torch.Tensor, beta: float = PAPER_BETA) -> torch.Tensor:
    """In-Clamp-Grad, eqs. 4-5: ``z + clamp(dz/dt, -beta, beta)``; no point moves more than beta."""
    return x + dzdt.clamp(-beta, beta)


def in_sign_grad(x: torch.Tensor, dzdt: torch.Tensor, eps: float = PAPER_EPS,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """In-Sign-Grad, eq. 7: ``z + e * sign(dz/dt)``, ``e ~ U[0, eps]`` drawn for every point
    (Fig. 2: "each point ... is perturbed by a random number in range [0, eps]")."""
    e = torch.rand(x.shape, generator=generator).to(x) * eps
    return x + e * dzdt.sign()


def input_gradient_sign(model: Classifier, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``sign(d CE(g(z), y) / dz)``: the direction that most increases the classifier's loss
    (eq. 8-9's ``sign(dg(z)/dz)`` for a cross-entropy-trained ``g``), model in eval mode."""
    with evaluating(model):
        return loss_gradient(model, x, y).sign()


def out_sign_grad(model: Classifier, x: torch.Tensor, y: torch.Tensor, dzdt: torch.Tensor,
                  beta: float = PAPER_BETA) -> torch.Tensor:
    """Out-Sign-Grad, eq. 9: ``z + sign(dg/dz) * |clamp(dz/dt)|``: the ODE sets the size of
    each step, the classifier's input gradient its direction."""
    return x + input_gradient_sign(model, x, y) * dzdt.clamp(-beta, beta).abs()


def step_reach(x: torch.Tensor, y: torch.Tensor, step: torch.Tensor, chunk: int = 256) -> dict[str, float]:
    """How far a per-point step reaches towards the other classes, in the training set.

    ``step`` ``(n, C, L)`` is how far each point may move, e.g. Out-Sign-Grad's
    ``|clamp(dz/dt, -beta, beta)|`` (Sarkar et al., eq. 9). Each series' copy lies in the
    box ``{x + d : |d_i| <= step_i}``, and Out-Sign-Grad puts it at the corner that most
    increases the loss. Where the boxes of two series of different classes overlap, no
    classifier labels both boxes correctly: the separation condition of Yang et al. (2020,
    "A closer look at accuracy vs. robustness": the L-infinity balls of radius eps around
    the series of an r-separated set are disjoint when ``2 eps < r``), with a radius per point.
    Returned (plain floats):

    * ``step_mean``: the mean step over all points;
    * ``gap_median``: the median over series of the L-infinity distance to the nearest
      series of another class;
    * ``step_to_gap``: the median over series of their mean step over that distance;
    * ``box_overlap_median``: the median over series of the smallest
      ``max_i |x_i - x'_i| / (step_i + step'_i)`` over series ``x'`` of another class (at
      most 1: the two boxes overlap);
    * ``box_overlap_share``: the share of series whose box overlaps a box of another class.

    Where neither step moves a point, a difference there keeps the boxes apart. Computed in
    chunks of ``chunk`` series (memory: a few ``chunk * n * C * L`` floats).
    """
    if x.shape != step.shape or x.dim() != 3 or y.shape != x.shape[:1]:
        raise ValueError(f"step_reach needs series (n, C, L), labels (n,) and a step shaped like the series; got "
                         f"{tuple(x.shape)}, {tuple(y.shape)} and {tuple(step.shape)}")
    if (step < 0).any() or not torch.isfinite(step).all():
        raise ValueError("step_reach: the step must be finite and non-negative (a size, not a signed change)")
    if y.unique().numel() < 2:
        raise ValueError("step_reach needs series of at least two classes")
    flat, size = x.flatten(1).double(), step.flatten(1).double()
    inf = torch.tensor(float("inf"), dtype=flat.dtype)
    gap, overlap = [], []
    for rows in torch.arange(len(y)).split(chunk):
        difference = (flat[rows, None, :] - flat[None, :, :]).abs()  # (chunk, n, C * L)
        other = y[rows, None] != y[None, :]
        gap.append(difference.amax(2).where(other, inf).amin(1))
        reach = size[rows, None, :] + size[None, :, :]
        # 0 / 0 (no difference, no move) is 0; a difference that neither step covers is inf
        ratio = torch.where(difference == 0, torch.zeros_like(difference), difference / reach)
        overlap.append(ratio.amax(2).where(other, inf).amin(1))
    gap_all, overlap_all = torch.cat(gap), torch.cat(overlap)
    return dict(step_mean=float(size.mean()), gap_median=float(gap_all.median()),
                step_to_gap=float((size.mean(1) / gap_all).median()),
                box_overlap_median=float(overlap_all.median()),
                box_overlap_share=float((overlap_all <= 1).double().mean()))


def rand_grad(x: torch.Tensor, dzdt: torch.Tensor, beta: float = PAPER_BETA,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Rand-Grad, eq. 10: Out-Sign-Grad with a random sign at every point (the paper's control)."""
    sign = torch.randint(0, 2, x.shape, generator=generator).to(x) * 2 - 1
    return x + sign * dzdt.clamp(-beta, beta).abs()


def _two_sided_weights(n_bins: int, length: int, like: torch.Tensor) -> torch.Tensor:
    """How often each one-sided DFT bin occurs in the two-sided spectrum (DC and Nyquist once)."""
    w = torch.full((n_bins,), 2.0, dtype=like.dtype, device=like.device)
    w[0] = 1.0
    if length % 2 == 0:
        w[-1] = 1.0
    return w


def spec_den(x: torch.Tensor, energy: float = 0.9, fraction: float = 0.75) -> torch.Tensor:
    """Spec-Den, eqs. 11-14: redistribute energy among the weakest DFT components.

    For each series and channel the DFT components are sorted by magnitude (eq. 12); the
    index ``C`` is the first at which they hold ``energy`` (90%) of the signal's energy
    (eq. 13). Components after ``C`` are taken three at a time in sorted order, up to
    ``fraction`` (75%) of them, and their magnitudes become
    ``|Z1| + |Z2|/4, |Z2|/2, |Z3| + |Z2|/4`` with phases kept (eq. 14; the paper's text
    prints ``Z2 + Z2/2`` but its appendix, eqs. 19 and 21, and the word "redistribute"
    need ``Z2 - Z2/2``, which we use). The signal is the inverse DFT. Components up to ``C``
    are untouched, and each triplet gains at most ``0.375 |Z1|^2`` of energy (eq. 21).

    Works on the one-sided spectrum of real series (``rfft``), counting each bin's energy
    as often as it occurs in the two-sided spectrum, so the result stays real; the DC and
    Nyquist bins, which have no conjugate twin, are never perturbed, so the bound of
    eq. 21 holds for every triplet.
    """
    n, c, length = x.shape
    spectrum = torch.fft.rfft(x.reshape(n * c, length).double(), dim=1)
    magnitude = spectrum.abs()
    rows, bins = magnitude.shape
    weights = _two_sided_weights(bins, length, magnitude)
    order = magnitude.argsort(dim=1, descending=True, stable=True)
    sorted_mag = magnitude.gather(1, order)
    cumulative = (sorted_mag**2 * weights[order]).cumsum(dim=1)
    # eq. 13: C = first index where the cumulative energy reaches `energy` of the total
    c_index = (cumulative < energy * cumulative[:, -1:]).sum(dim=1, keepdim=True)
    position = torch.arange(bins, device=x.device).expand(rows, bins)
    # candidates: after C, and not DC or Nyquist, which have no conjugate twin
    eligible = (position > c_index) & (weights[order] == 2)
    # candidates first (in sorted order), then the rest: triplets are consecutive candidates
    perm = torch.argsort((~eligible).long() * bins + position, dim=1)
    cand = sorted_mag.gather(1, perm)
    n_perturbed = (torch.floor(fraction * eligible.sum(dim=1, keepdim=True).double() / 3) * 3).long()
    role = position.remainder(3)
    z2 = cand.gather(1, (position - role + 1).clamp(0, bins - 1))
    new_cand = torch.where(role == 1, cand / 2, cand + z2 / 4)
    new_cand = torch.where(position < n_perturbed, new_cand, cand)
    new_sorted = torch.empty_like(sorted_mag).scatter_(1, perm, new_cand)
    new_mag = torch.empty_like(magnitude).scatter_(1, order, new_sorted)
    phase = torch.where(magnitude > 0, spectrum / magnitude.clamp_min(1e-300), torch.ones_like(spectrum))
    out = torch.fft.irfft(phase * new_mag, n=length, dim=1)
    return out.reshape(n, c, length).to(x.dtype)


def other_class_partners(y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """For each series, the index of a random series of another class (Feat-Sim's ``z_c'``)."""
    y_cpu = y.cpu()
    partners = torch.empty_like(y_cpu)
    for k in y_cpu.unique():
        members = (y_cpu == k).nonzero().squeeze(1)
        others = (y_cpu != k).nonzero().squeeze(1)
        if others.numel() == 0:
            raise ValueError("Feat-Sim needs series of at least two classes in a batch")
        partners[members] = others[torch.randint(0, others.numel(), (members.numel(),), generator=generator)]
    return partners.to(y.device)


def feat_sim_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                  margin: float = 1.0) -> torch.Tensor:
    """Feat-Sim, eq. 15: a triplet margin on unit-norm embeddings with squared distances,
    ``mean(max(0, |g(z)-g(z_p)|^2 + alpha - |g(z)-g(z_c')|^2))``: an augmented series should
    embed near its original, a series of another class far from it."""
    def squared(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a - b).pow(2).sum(dim=1)

    return F.triplet_margin_with_distance_loss(
        F.normalize(anchor, dim=1), F.normalize(positive, dim=1), F.normalize(negative, dim=1),
        distance_function=squared, margin=margin,
    )
