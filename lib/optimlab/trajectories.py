"""Run any ``torch.optim`` optimizer on a landscape and record where it goes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from .landscapes import Landscape

#: What :func:`run_optimizer` takes to build the optimizer: a function of the
#: parameters, e.g. ``lambda params: optimlab.optim.Adam(params, lr=0.1)``.
OptimizerFactory = Callable[[Iterable[torch.Tensor]], torch.optim.Optimizer]


@dataclass(frozen=True)
class Trajectory:
    """The iterates θ_0, …, θ_T of one run and the losses f(θ_t) along them."""

    points: torch.Tensor  # [T + 1, d]
    losses: torch.Tensor  # [T + 1]

    @property
    def final(self) -> torch.Tensor:
        """θ_T, the last iterate."""
        return self.points[-1]

    @property
    def diverged(self) -> bool:
        """True when the run left the finite numbers or ended far above where it began."""
        finite = torch.isfinite(self.losses).all()
        return not bool(finite) or bool(self.losses[-1] > 1e3 * (1 + self.losses[0].abs()))

    def __len__(self) -> int:
        return self.points.shape[0]


def run_optimizer(landscape: Landscape, make_optimizer: OptimizerFactory, start,
                  steps: int) -> Trajectory:
    """Take ``steps`` optimizer steps on ``landscape`` from ``start`` (float64).

    ``make_optimizer`` builds the optimizer from a parameter list, e.g.
    ``lambda params: torch.optim.SGD(params, lr=0.1)``.  A run that overflows
    keeps going with non-finite values, so ``Trajectory.diverged`` can say so.
    """
    if steps < 0:
        raise ValueError(f"steps must be non-negative, got {steps}")
    theta = torch.tensor(start, dtype=torch.float64).clone().requires_grad_(True)
    optimizer = make_optimizer([theta])

    def closure():
        optimizer.zero_grad()
        loss = landscape(theta)
        loss.backward()
        return loss

    def record():
        with torch.no_grad():
            points.append(theta.detach().clone())
            losses.append(landscape(theta))

    points, losses = [], []
    record()
    for _ in range(steps):
        optimizer.step(closure)
        record()
    return Trajectory(torch.stack(points), torch.stack(losses))
