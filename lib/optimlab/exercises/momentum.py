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


def stable(eta, beta, lam):
    """Reference: whether the heavy ball converges to 0 from every start on ½λθ²,
    that is whether both roots of r² − (1 + β − ηλ) r + β lie inside the unit
    circle: exactly when −1 < β < 1 and 0 < ηλ < 2(1 + β) (hb-stable)."""
    return abs(beta) < 1 and 0 < eta * lam < 2 * (1 + beta)


register(Exercise(
    label="ex-momentum-stable",
    function_name="stable",
    reference=stable,
    # A case is either off the edges by 0.08 or more, or exactly on one with numbers
    # whose products are exact in binary floating point (0.5·6 = 3 = 2·1.5,
    # 0.125·16 = 2 = 2·1, β = 1, λ = 0), so rounding never decides the answer. The
    # cases separate the likely mistakes: gradient descent's ηλ < 2 (wrong at
    # η = 0.25, β = 0.5, λ = 10), ≤ on the edge, no test of β < 1 or of ηλ > 0.
    cases=tuple(
        Case(f"η = {eta:g}, β = {beta:g}, λ = {lam:g}", (eta, beta, lam))
        for eta, beta, lam in [(0.01, 0.9, 100.0),   # ηλ = 1: inside
                               (0.25, 0.5, 10.0),    # 2 < ηλ = 2.5 < 3: inside
                               (0.5, 0.5, 6.0),      # ηλ = 3 = 2(1 + β): the edge
                               (0.125, 0.0, 16.0),   # ηλ = 2, β = 0: GD's edge
                               (0.02, 1.0, 50.0),    # β = 1: |roots| = 1
                               (0.1, 0.9, -1.0),     # negative curvature
                               (0.1, 0.5, 0.0),      # zero curvature: a root at 1
                               (0.03, 0.99, 130.0),  # ηλ = 3.9 < 3.98: inside
                               (0.05, 1.5, 1.0),     # β > 1
                               (0.2, 0.3, 14.0)]     # ηλ = 2.8 > 2.6: outside
    ),
    hint="test all three conditions of (hb-stable), each strict (on an edge a root "
         "has modulus 1): |β| < 1, ηλ > 0 and ηλ < 2(1 + β); return a Python bool "
         "(True or False), not a numpy or torch one.",
))
