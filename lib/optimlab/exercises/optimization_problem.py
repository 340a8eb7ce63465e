"""Exercises of the chapter "The optimization problem"."""

from __future__ import annotations

import torch

from .checking import Case, Exercise, register


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
