"""Exercises of the chapter "Momentum"."""

from __future__ import annotations

import torch

from .checking import Case, Exercise, float64, register, vector
from .gradient_descent import QuadraticCase, rosenbrock_grad


def heavy_ball(grad, theta0, lr, beta, num_steps):
    """Reference: iterates of b_t = β b_{t-1} + ∇f(θ_{t-1}), θ_t = θ_{t-1} − η b_t, stacked."""
    thetas, b = [theta0], torch.zeros_like(theta0)
    for _ in range(num_steps):
        b = beta * b + grad(thetas[-1])
        thetas.append(thetas[-1] - lr * b)
    return torch.stack(thetas)


def momentum_window(beta, fraction):
    """Reference: the smallest K with 1 − β^K ≥ fraction (counted exactly, no logarithms)."""
    K = 1
    while 1 - beta**K < fraction:
        K += 1
    return K


def _hb_case(diagonal, theta0, lr, beta, steps, b=None):
    q = QuadraticCase(diagonal, b)
    return Case(f"f(θ) = ½θᵀAθ − bᵀθ with {q.text}, θ0 = {vector(theta0)}, lr = {lr}, "
                f"beta = {beta}, {steps} steps", (q.grad, float64(theta0), lr, beta, steps))


register(Exercise(
    label="ex-momentum-heavy-ball",
    function_name="heavy_ball",
    reference=heavy_ball,
    cases=(
        _hb_case((1.0,), (1.0,), 0.1, 0.5, 3),
        _hb_case((1.0, 10.0), (1.0, 1.0), 0.05, 0.9, 8),
        _hb_case((2.0, 3.0), (0.5, -1.0), 0.1, 0.7, 10, b=(1.0, -2.0)),
        _hb_case((1.0, 10.0), (1.0, 1.0), 0.05, 0.0, 4),   # β = 0: gradient descent
        _hb_case((1.0, 10.0), (1.0, 1.0), 0.05, 0.9, 0),
        Case("Rosenbrock, θ0 = (-1, 1.5), lr = 0.0005, beta = 0.9, 20 steps",
             (rosenbrock_grad, float64((-1.0, 1.5)), 0.0005, 0.9, 20)),
    ),
    hint="start with b = 0 (torch.zeros_like(theta0)); at each step first update "
         "b = beta·b + ∇f(θ) (no factor 1 − beta), then θ = θ − lr·b; return "
         "torch.stack of θ0, …, θ_T.",
))

register(Exercise(
    label="ex-momentum-window",
    function_name="momentum_window",
    reference=momentum_window,
    # ln(1 − fraction)/ln β is at least 0.13 from a whole number in every case, so
    # rounding errors cannot move the answer (no ties such as β = 0.8, fraction = 0.2,
    # where 1 − 0.8**1 < 0.2 in floating point); five cases have a fractional part
    # below 0.5, where rounding the ratio to nearest instead of up gives a wrong K.
    cases=tuple(
        Case(f"β = {beta}, fraction = {fraction}", (beta, fraction))
        for beta, fraction in [(0.9, 0.9), (0.5, 0.2), (0.5, 0.9), (0.8, 0.75),
                               (0.99, 0.6), (0.98, 0.95), (0.999, 0.99)]
    ),
    hint="the last K gradients carry the weight 1 − β^K; return the smallest integer "
         "K ≥ 1 for which this reaches the fraction (a ceiling, not a floor or a round).",
))
