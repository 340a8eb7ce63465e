"""Exercises of the chapter "Stochastic gradient descent"."""

from __future__ import annotations

import math

import torch

from .checking import Case, Exercise, register


def sgd_epoch(per_example_grads, theta, order, batch_size, lr):
    """Reference: one epoch of minibatch SGD over the examples in ``order``.

    The examples are taken in consecutive slices of ``order`` of length
    ``batch_size`` (the last one may be shorter); each step uses the mean of the
    per-example gradients of its slice at the current θ.
    """
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        g = per_example_grads(theta, batch).mean(dim=0)      # minibatch gradient
        theta = theta - lr * g                               # θ_t = θ_{t-1} − η g_t
    return theta


class LeastSquares:
    """Per-example gradients of f_i(θ) = ½ (x_iᵀθ − y_i)², printable for hints."""

    def __init__(self, n, d, seed):
        generator = torch.Generator().manual_seed(seed)
        self.X = torch.randn(n, d, generator=generator, dtype=torch.float64)
        self.y = torch.randn(n, generator=generator, dtype=torch.float64)
        self.text = f"least squares with N = {n} examples in d = {d} (seed {seed})"

    def __call__(self, theta, idx):
        X = self.X[idx]
        return X * (X @ theta - self.y[idx])[:, None]        # row i: x_i (x_iᵀθ − y_i)


def _case(n, d, seed, batch_size, lr, shuffle_seed):
    problem = LeastSquares(n, d, seed)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(shuffle_seed))
    theta = torch.linspace(-1, 1, d, dtype=torch.float64)
    return Case(f"{problem.text}, batch_size = {batch_size}, lr = {lr}, "
                f"order = a random permutation (seed {shuffle_seed})",
                (problem, theta, order, batch_size, lr))


register(Exercise(
    label="ex-sgd-epoch",
    function_name="sgd_epoch",
    reference=sgd_epoch,
    cases=(
        _case(4, 2, 0, 1, 0.1, 1),
        _case(8, 3, 1, 4, 0.2, 2),
        _case(10, 3, 2, 4, 0.3, 3),      # the last batch has 2 examples
        _case(12, 2, 3, 12, 0.5, 4),     # one batch: a full gradient step
        _case(9, 4, 4, 2, 0.05, 5),
    ),
    hint="walk through order in slices order[k:k + batch_size] (the last slice may be "
         "shorter), average the per-example gradients of each slice at the current θ, "
         "and take one step θ ← θ − lr·g per slice.",
))


def best_constant_rate(L, sigma2, gap, T):
    """Reference: the constant rate 0 < η ≤ 1/L that minimises the bound
    2·gap/(ηT) + Lησ² of (sgd-nonconvex-rate), and the bound at that rate.

    The bound is convex in η; its unconstrained minimiser √(2·gap/(Lσ²T)) is
    clipped to 1/L, where the bound stops holding.
    """
    eta = min(1 / L, math.sqrt(2 * gap / (L * sigma2 * T)))
    return eta, 2 * gap / (eta * T) + L * eta * sigma2


def _rate_case(L, sigma2, gap, T):
    return Case(f"L = {L:g}, σ² = {sigma2:g}, f(θ0) − f* = {gap:g}, T = {T}",
                (L, sigma2, gap, T))


register(Exercise(
    label="ex-sgd-rate-budget",
    function_name="best_constant_rate",
    reference=best_constant_rate,
    cases=(
        _rate_case(4.0, 2.0, 10.0, 2000),    # the chapter's noisy quadratic
        _rate_case(10.0, 0.25, 3.0, 500),
        _rate_case(2.0, 8.0, 0.5, 10_000),
        _rate_case(4.0, 0.5, 10.0, 100),     # few steps: the cap η = 1/L is active
        _rate_case(0.5, 0.2, 20.0, 50),      # capped again, with 1/L = 2 > 1
    ),
    hint="the bound 2·gap/(ηT) + Lησ² is convex in η: set its derivative to zero, "
         "use η = 1/L instead if that zero lies above 1/L, and return the pair "
         "(η, the bound evaluated at that η).",
))
