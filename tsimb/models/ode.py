"""ODENet: a neural ODE ``dz/dt = f(z(t), t)`` fitted to a set of series (Sarkar et al.,
"ODE guided neural data augmentation techniques for time series data and its benefits on
robustness", sec. II-A, eqs. 1-3 and sec. III-A1). Its derivative guides the In-/Out-Grad
augmentations of :mod:`tsimb.augment`; explained in the book's chapter on
ODE-guided augmentation.

Conventions: time is measured in sampling steps (``t_i = i``), so ``dz/dt`` is a change
per step, comparable with the augmentations' bound ``beta``; the network sees time scaled
to [0, 1]. A multichannel series is modelled as one system (``f`` maps ``(z, t)`` with
``C`` channels to ``C`` derivatives); for ``C = 1`` this is the paper's ODENet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchdiffeq import odeint

from ..data import validate_series
from ..runtime import evaluating, get_device


class ODENet(nn.Module):
    """``f(z, t)``: two hidden layers of 25 units, each followed by batch norm and ELU
    (sec. III-A1); inputs the value(s) ``z(t_i)`` and the time ``t_i``."""

    def __init__(self, channels: int = 1, length: int = 2, hidden: int = 25) -> None:
        super().__init__()
        self.channels = channels
        self.length = length  # used to scale time to [0, 1]
        self.net = nn.Sequential(
            nn.Linear(channels + 1, hidden), nn.BatchNorm1d(hidden), nn.ELU(),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ELU(),
            nn.Linear(hidden, channels),
        )

    def forward(self, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Derivatives ``(m, C)`` at values ``z`` ``(m, C)`` and step times ``t`` ``(m, 1)``."""
        tau = t / max(1, self.length - 1)
        return self.net(torch.cat([z, tau], dim=1))


@dataclass
class ODEFitHistory:
    loss: list[float] = field(default_factory=list)


def _points(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every point of every series as one batch: values ``(n L, C)`` and step times ``(n L, 1)``."""
    n, c, length = x.shape
    t = torch.arange(length, dtype=x.dtype, device=x.device).repeat(n)[:, None]
    return x.permute(0, 2, 1).reshape(-1, c), t


def predict_next(odenet: ODENet, x: torch.Tensor, method: str = "rk4", step_size: float = 0.5) -> torch.Tensor:
    """``z(t_i)`` predicted from the observed ``z(t_{i-1})`` by eq. 2, for every interval of
    every series in one batched solve. Returns ``(n, C, L - 1)``.

    Each interval is mapped onto ``s in [0, 1]`` (``t = t_{i-1} + s``), so all intervals
    share one solver grid and torchdiffeq integrates them together.
    """
    start, t0 = _points(x[:, :, :-1])  # each interval starts at an observed value

    def rhs(s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return odenet(z, t0 + s)

    s = torch.tensor([0.0, 1.0], dtype=x.dtype, device=x.device)
    end = odeint(rhs, start, s, method=method, options={"step_size": step_size})[-1]
    n, c, length = x.shape
    return end.reshape(n, length - 1, c).permute(0, 2, 1)


def fit_odenet(X: np.ndarray, *, epochs: int = 30, batch_size: int = 64, lr: float = 3e-4,
               weight_decay: float = 1e-3, method: str = "rk4", seed: int = 0,
               device: torch.device | str | None = None) -> tuple[ODENet, ODEFitHistory]:
    """Fit an :class:`ODENet` to series ``X`` ``(n, C, L)`` by minimising the squared error of
    one-interval predictions (eq. 2) with Adam (lr 3e-4, weight decay 1e-3, sec. II-A).

    Every minibatch is one batched ODE solve over all its series and intervals.
    """
    validate_series(X)
    if X.shape[2] < 2:
        raise ValueError("series need at least two time steps")
    for name, value in dict(epochs=epochs, batch_size=batch_size).items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"fit_odenet: {name} must be a whole number of at least 1, got {value!r}")
    for name, value, low in (("lr", lr, "above 0"), ("weight_decay", weight_decay, "at least 0")):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value) \
                or (value <= 0 if name == "lr" else value < 0):
            raise ValueError(f"fit_odenet: {name} must be a finite number {low}, got {value!r}")
    device = get_device(device)
    torch.manual_seed(seed)
    odenet = ODENet(X.shape[1], X.shape[2]).to(device)
    X_t = torch.as_tensor(X, dtype=torch.float32, device=device)
    optimiser = torch.optim.Adam(odenet.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    history = ODEFitHistory()
    odenet.train()
    for _ in range(epochs):
        total, count = torch.zeros((), device=device), 0
        for batch in torch.randperm(len(X_t), generator=generator).to(device).split(batch_size):
            xb = X_t[batch]
            loss = F.mse_loss(predict_next(odenet, xb, method), xb[:, :, 1:])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += loss.detach() * len(batch)
            count += len(batch)
        history.loss.append(total.item() / count)
    odenet.eval()
    return odenet, history


@torch.no_grad()
def derivative(odenet: ODENet, X: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``dz/dt`` at every point of every series, ``f(z(t_i), t_i)`` (eq. 3), shaped like ``X``."""
    x = torch.as_tensor(X, dtype=torch.float32, device=next(odenet.parameters()).device)
    if x.dim() != 3 or x.shape[1] != odenet.channels or x.shape[2] != odenet.length:
        raise ValueError(f"this ODENet was fitted to series shaped (n, {odenet.channels}, {odenet.length}), got "
                         f"{tuple(x.shape)}; fit one to these series (tsimb.models.fit_odenet)")
    n, c, length = x.shape
    with evaluating(odenet):
        return odenet(*_points(x)).reshape(n, length, c).permute(0, 2, 1)


def finite_difference(X: np.ndarray) -> np.ndarray:
    """The observed slope per step at every point (central differences, one-sided at the ends)."""
    return np.gradient(np.asarray(X, dtype=np.float64), axis=2)


def derivative_agreement(odenet: ODENet, X: np.ndarray) -> float:
    """Pearson correlation between the fitted ``dz/dt`` (eq. 3) and the finite-difference
    slope of the series ``X``, over interior points: how well ``f(z, t)`` has learned the
    data's dynamics (1 = perfectly, about 0 = not at all)."""
    fitted = derivative(odenet, X).cpu().numpy()[:, :, 1:-1].ravel()
    observed = finite_difference(X)[:, :, 1:-1].ravel()
    if fitted.std() == 0 or observed.std() == 0:
        return 0.0
    return float(np.corrcoef(fitted, observed)[0, 1])
