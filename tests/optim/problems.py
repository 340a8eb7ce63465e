"""A shared test problem: several parameter tensors, stochastic gradients that depend on θ."""

from __future__ import annotations

from typing import Callable

import torch

#: Shapes of the parameters; the last is cut into chunks (see conftest.py).
SHAPES = [(4, 3), (7,), (2, 3, 5), (3001,)]


def make_params(dtype=torch.float64, seed: int = 0, shapes=SHAPES) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=generator, dtype=dtype).requires_grad_()
            for shape in shapes]


def groups(params, **second_group) -> list[dict]:
    """Two parameter groups; the second has its own hyperparameters."""
    return [{"params": params[:2]}, {"params": params[2:], **second_group}]


def set_gradients(params, generator: torch.Generator, skip: int | None = None) -> None:
    """g = ∇ ½ Σ c_i θ_i² + noise; the parameter at index ``skip`` gets no gradient."""
    for i, p in enumerate(params):
        noise = torch.randn(p.shape, generator=generator, dtype=p.dtype)
        p.grad = None if i == skip else (0.5 + 0.1 * i) * p.detach() + noise


def run(make_optimizer: Callable, steps: int = 100, dtype=torch.float64, seed: int = 0,
        shapes=SHAPES, skip_every: int = 7) -> list[torch.Tensor]:
    """Parameters after ``steps`` steps; every ``skip_every``-th step one has no grad."""
    params = make_params(dtype, seed, shapes)
    optimizer = make_optimizer(params)
    generator = torch.Generator().manual_seed(seed + 1)
    for t in range(1, steps + 1):
        set_gradients(params, generator, skip=(t // skip_every) % len(params)
                      if t % skip_every == 0 else None)
        optimizer.step()
    return [p.detach() for p in params]


def max_relative_error(actual, expected) -> float:
    worst = 0.0
    for a, e in zip(actual, expected):
        assert a.shape == e.shape and a.dtype == e.dtype
        error = ((a - e).abs() / e.abs().clamp(min=1e-12)).max().item()
        worst = max(worst, error)
    return worst


def train(optimizer, params, generator, steps, closure=False, skip_every=7):
    """Steps ``steps`` of problems.run; with ``closure``, step(closure), whose closure
    recomputes the step's gradient (the same noise) at the current weights."""
    for t in steps:
        skip = (t // skip_every) % len(params) if t % skip_every == 0 else None
        noise = generator.get_state()

        def gradients():
            generator.set_state(noise)
            set_gradients(params, generator, skip)

        gradients()
        optimizer.step(gradients) if closure else optimizer.step()


def run_closure(make_optimizer):
    """problems.run (100 steps) for optimizers whose step needs a closure (SAM)."""
    params, generator = make_params(), torch.Generator().manual_seed(1)
    train(make_optimizer(params), params, generator, range(1, 101), closure=True)
    return [p.detach() for p in params]
