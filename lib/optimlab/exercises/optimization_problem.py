"""Exercises of the chapter "The optimization problem"."""

from __future__ import annotations

import torch

from .checking import Case, Exercise, float64, register, vector


def softmax_regression_grad(W, X, y, lam):
    r"""Reference: ∇_W of (1/N) Σ_i −log softmax(x_iᵀW)_{y_i} + (λ/2)‖W‖²."""
    N, k = X.shape[0], W.shape[1]
    P = torch.softmax(X @ W, dim=1)
    Y = torch.nn.functional.one_hot(y, k).to(W.dtype)
    return X.T @ (P - Y) / N + lam * W


def _case(n, d, k, lam, seed, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    W = scale * torch.randn(d, k, generator=g, dtype=torch.float64)
    y = torch.randint(0, k, (n,), generator=g)
    return Case(f"N = {n} examples × d = {d} features, k = {k} classes, λ = {lam} "
                f"(X, W, y random, seed {seed})", (W, X, y, lam))


register(Exercise(
    label="ex-optimization_problem-softmax-grad",
    function_name="softmax_regression_grad",
    reference=softmax_regression_grad,
    cases=(
        _case(1, 2, 2, 0.0, 0),
        _case(5, 3, 4, 0.0, 1),
        _case(8, 3, 3, 0.1, 2),
        _case(20, 4, 5, 0.5, 3, scale=3.0),
        _case(7, 1, 2, 2.0, 4),
    ),
    hint="with P = softmax(XW) row by row and Y the one-hot labels, the gradient is "
         "Xᵀ(P − Y)/N + λW: mean (not sum) over the N examples, and the regulariser "
         "(λ/2)‖W‖² contributes λW.",
))


def l1_optimality_gap(theta, g, lam):
    r"""Reference: coordinate by coordinate, the distance from 0 to g_j + λ∂|θ_j|,
    the subdifferential of f_data + λ‖θ‖₁ at θ when g = ∇f_data(θ): zero exactly
    at a minimiser."""
    away = (g + torch.sign(theta) * lam).abs()      # θ_j ≠ 0: {g_j + λ sign θ_j}
    at_zero = (g.abs() - lam).clamp(min=0)          # θ_j = 0: [g_j − λ, g_j + λ]
    return torch.where(theta == 0, at_zero, away)


def _given(theta, g, lam):
    return Case(f"θ = {vector(theta)}, g = {vector(g)}, λ = {lam:g}",
                (float64(theta), float64(g), lam))


def _random(rows, cols, zeros, lam, seed):
    generator = torch.Generator().manual_seed(seed)
    theta = torch.randn(rows * cols, generator=generator, dtype=torch.float64)
    theta[torch.randperm(rows * cols, generator=generator)[:zeros]] = 0.0
    g = 2 * lam * torch.randn(rows, cols, generator=generator, dtype=torch.float64)
    return Case(f"θ a random {rows} × {cols} tensor with {zeros} zeros, g random, "
                f"λ = {lam:g} (seed {seed})", (theta.reshape(rows, cols), g, lam))


register(Exercise(
    label="ex-optimization_problem-l1-optimality",
    function_name="l1_optimality_gap",
    reference=l1_optimality_gap,
    # The first case has no zero weight, the second three; in both, some gaps are
    # exactly 0. Then a random matrix whose zero weights have |g_j| on both sides
    # of λ, λ = 0 (the gap is |g|) and θ = 0 with λ > 1.
    cases=(
        _given((2.0, -1.0, 0.5), (-0.3, 0.1, -0.3), 0.3),
        _given((1.5, 0.0, 0.0, 0.0), (0.1, 0.2, -0.5, 0.3), 0.3),
        _random(5, 3, 6, 0.5, 0),
        _given((0.7, 0.0, -2.0), (0.4, -0.1, 0.3), 0.0),
        _given((0.0, 0.0, 0.0, 0.0), (2.5, -1.0, -3.0, 2.0), 2.0),
    ),
    hint="where θ_j ≠ 0 the set g_j + λ∂|θ_j| is the single point "
         "g_j + λ·sign(θ_j); where θ_j = 0 it is the interval [g_j − λ, g_j + λ], "
         "whose distance from 0 is max(|g_j| − λ, 0), not |g_j|.",
))
