r"""Online linear problems on :math:`[-1, 1]` on which Adam fails, and a loop to run them.

Reddi, Kale & Kumar (ICLR 2018) built two one-dimensional problems whose
losses are linear, :math:`f_t(\theta) = c_t\,\theta` on the feasible set
:math:`\theta \in [-1, 1]`, so the gradient at step :math:`t` is the number
:math:`g_t = c_t`, whatever :math:`\theta`:

* :class:`CyclicProblem`: :math:`c_t = C` when :math:`t \bmod 3 = 1` and
  :math:`c_t = -1` otherwise (the online example of their Theorem 1);
* :class:`StochasticProblem`: :math:`c_t = C` with probability
  :math:`p = (1 + \delta)/(C + 1)` and :math:`-1` otherwise (their Theorem 3),
  whose expected loss is :math:`\delta\,\theta`.

In both the average loss increases with :math:`\theta`, so the best point is
:math:`\theta^\star = -1`.

:func:`simulate` runs any ``torch.optim`` optimizer on such a problem and
projects :math:`\theta` back onto :math:`[-1, 1]` after every step.  Its
parameters must be 1-D tensors of one shape ``[R]``: since the optimizers of
the book act element by element, a tensor of ``R`` entries holds ``R``
independent runs, and each parameter group (one per hyperparameter value)
is one more set of ``R`` runs.  The stochastic problem draws an independent
:math:`c_t` for every entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

__all__ = ["CyclicProblem", "StochasticProblem", "OnlineRun", "simulate"]


def _check_number(name: str, value, low: float, *, strict: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or (value <= low if strict else value < low):
        sign = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {sign} {low}, got {value!r}")


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


class _LinearProblem:
    """Shared part: the loss f_t(θ) = c_t θ on [-1, 1] and its mean slope."""

    #: the slope μ of the average loss F(θ) = μ θ
    mean_gradient: float

    @property
    def minimizer(self) -> float:
        """The best point of the average loss on [-1, 1]: -1 when μ > 0."""
        return -1.0 if self.mean_gradient > 0 else 1.0

    def excess_loss(self, theta: torch.Tensor) -> torch.Tensor:
        r""":math:`F(\theta) - F(\theta^\star) = \mu\theta + |\mu|` for the average loss."""
        return self.mean_gradient * theta + abs(self.mean_gradient)

    def gradients(self, t: int, shape, generator: torch.Generator,
                  dtype=torch.float64) -> torch.Tensor:
        """The gradients c_t of step t (counted from 1) for every run, of ``shape``."""
        raise NotImplementedError


@dataclass(frozen=True)
class CyclicProblem(_LinearProblem):
    r"""The cyclic problem: :math:`C\theta` if :math:`t \bmod k = 1`, else :math:`-\theta`.

    :math:`k` is ``period``, and :math:`f_t(\theta)` is the loss of step :math:`t`.

    Reddi et al. use ``period=3`` and :math:`C > 2`; then one period of three
    steps adds :math:`(C - 2)\,\theta` to the loss and :math:`\theta^\star = -1`.
    Every run sees the same sequence.
    """

    C: float
    period: int = 3

    def __post_init__(self):
        _check_int("period", self.period, 2)
        _check_number("C", self.C, self.period - 1, strict=True)

    @property
    def mean_gradient(self) -> float:
        """The gradient of the average loss over one period, (C − (k − 1))/k."""
        return (self.C - (self.period - 1)) / self.period

    def gradients(self, t, shape, generator=None, dtype=torch.float64):
        _check_int("t", t, 1)
        return torch.full(shape, self.C if t % self.period == 1 else -1.0, dtype=dtype)


@dataclass(frozen=True)
class StochasticProblem(_LinearProblem):
    r"""The stochastic problem: :math:`f_t(\theta) = C\theta` with probability :math:`p`.

    Otherwise :math:`f_t(\theta) = -\theta`; :math:`p = (1+\delta)/(C+1)`.

    The expected loss is :math:`pC - (1 - p) = \delta` times :math:`\theta`,
    so :math:`\theta^\star = -1`, and the informative gradient :math:`C`
    arrives on average once every :math:`1/p \approx C` steps.  Each run
    (each entry of the parameters) draws its own sequence.
    """

    C: float
    delta: float

    def __post_init__(self):
        _check_number("C", self.C, 0.0, strict=True)
        _check_number("delta", self.delta, 0.0, strict=True)
        if self.delta >= self.C:
            raise ValueError(f"delta must be < C so that p < 1, got delta={self.delta} "
                             f"and C={self.C}")

    @property
    def p(self) -> float:
        """The probability of the large gradient C."""
        return (1 + self.delta) / (self.C + 1)

    @property
    def mean_gradient(self) -> float:
        r""":math:`\delta`, the gradient of the expected loss."""
        return self.delta

    def gradients(self, t, shape, generator=None, dtype=torch.float64):
        _check_int("t", t, 1)
        rare = torch.rand(shape, generator=generator, dtype=dtype) < self.p
        return torch.where(rare, torch.tensor(self.C, dtype=dtype),
                           torch.tensor(-1.0, dtype=dtype))


@dataclass(frozen=True)
class OnlineRun:
    r"""What :func:`simulate` records at the steps ``steps`` (0 included).

    ``thetas[k, i, r]`` is :math:`\theta_t` of run ``r`` of parameter ``i``
    (in the order of the optimizer's groups) at ``t = steps[k]``, and
    ``regret[k, i, r]`` its regret after ``t`` rounds,

    .. math::
        R_t = \sum_{s=1}^{t} f_s(\theta_{s-1}) - \min_{\theta \in [-1, 1]}
              \sum_{s=1}^{t} f_s(\theta),

    the loss of the decisions against the best fixed point in hindsight.
    """

    steps: torch.Tensor   # [K]
    thetas: torch.Tensor  # [K, P, R]
    regret: torch.Tensor  # [K, P, R]

    @property
    def final(self) -> torch.Tensor:
        """θ_T of every run, shape [P, R]."""
        return self.thetas[-1]

    @property
    def average_regret(self) -> torch.Tensor:
        """R_t / t at the recorded steps t ≥ 1, shape [K - 1, P, R]."""
        return self.regret[1:] / self.steps[1:, None, None]


def _parameters(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if not params:
        raise ValueError("optimizer has no parameters")
    shape = params[0].shape
    for p in params:
        if p.ndim != 1 or p.shape != shape or not p.is_floating_point():
            raise ValueError(f"optimizer must hold 1-D floating-point parameters of one "
                             f"shape [R] (R runs each), got shapes "
                             f"{[tuple(q.shape) for q in params]}")
    return params


def simulate(problem: _LinearProblem, optimizer: torch.optim.Optimizer, steps: int, *,
             schedule: Callable[[int], float] | None = None, record_every: int = 1,
             seed: int = 0) -> OnlineRun:
    r"""Run ``optimizer`` for ``steps`` rounds of ``problem``, projecting onto [-1, 1].

    At round :math:`t = 1, \dots, T` every run receives the gradient
    :math:`g_t = c_t` of :math:`f_t` (written into ``p.grad``; no autograd),
    the optimizer steps, and :math:`\theta_t` is clamped to :math:`[-1, 1]`.
    The parameters start wherever they are (:math:`\theta_0`) and end at
    :math:`\theta_T`.

    Args:
        problem: a :class:`CyclicProblem` or :class:`StochasticProblem`.
        optimizer: any ``torch.optim.Optimizer`` whose parameters are 1-D
            tensors of one shape ``[R]``.
        steps: T, the number of rounds; an int >= 1.
        schedule: optional map from the step index ``s = t - 1`` to a factor of
            each group's learning rate, as the schedules of
            :mod:`optimlab.schedules` do (``InverseSqrtDecay()`` gives
            :math:`\eta/\sqrt{t}`); the learning rates are restored at the end.
        record_every: record :math:`\theta_t` and :math:`R_t` every this many
            rounds (and at round T); an int >= 1.
        seed: seed of the stochastic problem's draws.
    """
    _check_int("steps", steps, 1)
    _check_int("record_every", record_every, 1)
    if schedule is not None and not callable(schedule):
        raise ValueError(f"schedule must be callable or None, got {schedule!r}")
    params = _parameters(optimizer)
    generator = torch.Generator().manual_seed(seed)
    dtype, shape = params[0].dtype, (len(params), params[0].shape[0])
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    loss_sum = torch.zeros(shape, dtype=dtype)      # Σ_s f_s(θ_{s-1})
    slope_sum = torch.zeros(shape, dtype=dtype)     # Σ_s c_s
    recorded_steps, thetas, regrets = [0], [torch.stack(params).detach().clone()], \
        [torch.zeros(shape, dtype=dtype)]
    try:
        for t in range(1, steps + 1):
            c = problem.gradients(t, shape, generator, dtype)
            with torch.no_grad():
                loss_sum += c * torch.stack(params)
            slope_sum += c
            for p, c_p in zip(params, c):
                p.grad = c_p                            # g_t = c_t
            if schedule is not None:
                for group, lr in zip(optimizer.param_groups, base_lrs):
                    group["lr"] = lr * schedule(t - 1)
            optimizer.step()
            with torch.no_grad():
                for p in params:
                    p.clamp_(-1.0, 1.0)                 # projection onto [-1, 1]
            if t % record_every == 0 or t == steps:
                recorded_steps.append(t)
                thetas.append(torch.stack(params).detach().clone())
                regrets.append(loss_sum + slope_sum.abs())  # min_θ θ·S = -|S|
    finally:
        for group, lr in zip(optimizer.param_groups, base_lrs):
            group["lr"] = lr
    return OnlineRun(torch.tensor(recorded_steps, dtype=dtype), torch.stack(thetas),
                     torch.stack(regrets))
