"""Exercises of the chapter "AdaGrad"."""

from __future__ import annotations

import torch

from .checking import Case, Exercise, float64, register, vector
from .gradient_descent import QuadraticCase, rosenbrock_grad


def adagrad(grad, theta0, lr, num_steps, eps=1e-10):
    """Reference: iterates of s_t = s_{t-1} + g_t², θ_t = θ_{t-1} − η g_t/(√s_t + ε), stacked."""
    thetas, s = [theta0], torch.zeros_like(theta0)
    for _ in range(num_steps):
        g = grad(thetas[-1])
        s = s + g * g
        thetas.append(thetas[-1] - lr * g / (s.sqrt() + eps))
    return torch.stack(thetas)


def _case(diagonal, theta0, lr, steps, b=None, **options):
    q = QuadraticCase(diagonal, b)
    extra = "".join(f", {k} = {v}" for k, v in options.items())
    return Case(f"f(θ) = ½θᵀAθ − bᵀθ with {q.text}, θ0 = {vector(theta0)}, lr = {lr}, "
                f"{steps} steps{extra}", (q.grad, float64(theta0), lr, steps), options)


register(Exercise(
    label="ex-adagrad-loop",
    function_name="adagrad",
    reference=adagrad,
    cases=(
        _case((4.0,), (1.0,), 0.1, 3),
        _case((1.0, 100.0), (1.0, 1.0), 0.5, 10),
        _case((2.0, 3.0), (0.5, -1.0), 0.3, 8, b=(1.0, -2.0)),
        _case((1.0, 10.0), (1.0, 1.0), 0.2, 6, eps=0.1),
        _case((1.0, 10.0), (1.0, 1.0), 0.5, 0),
        Case("Rosenbrock, θ0 = (-1, 1.5), lr = 0.1, 25 steps",
             (rosenbrock_grad, float64((-1.0, 1.5)), 0.1, 25)),
    ),
    hint="start with s = 0 (torch.zeros_like(theta0)); at each step add g² to s "
         "first, then take θ − lr·g / (√s + eps), with eps outside the square root; "
         "return torch.stack of θ0, …, θ_T.",
))


def shampoo_direction(grads, eps):
    """Reference: Shampoo's direction L_t^{-1/4} Γ_t R_t^{-1/4} for the gradient
    matrices grads = [Γ_1, …, Γ_t] (a tensor [t, m, n]), with
    L_t = εI_m + Σ_k Γ_k Γ_kᵀ and R_t = εI_n + Σ_k Γ_kᵀ Γ_k (shampoo)."""
    m, n = grads.shape[1:]
    L = eps * torch.eye(m, dtype=grads.dtype)
    R = eps * torch.eye(n, dtype=grads.dtype)
    for G in grads:
        L = L + G @ G.T
        R = R + G.T @ G

    def inverse_fourth_root(M):                     # M = Q diag(λ) Qᵀ, λ > 0
        lam, Q = torch.linalg.eigh(M)
        return Q @ torch.diag(lam ** -0.25) @ Q.T

    return inverse_fourth_root(L) @ grads[-1] @ inverse_fourth_root(R)


def _matrix(rows) -> str:
    return "[" + ", ".join(vector(row) for row in rows) + "]"


def _shampoo_case(matrices, eps):
    shown = ", ".join(f"Γ_{k} = {_matrix(rows)}"
                      for k, rows in enumerate(matrices, start=1))
    return Case(f"{shown}, eps = {eps}", (float64(matrices), eps))


register(Exercise(
    label="ex-adagrad-shampoo",
    function_name="shampoo_direction",
    reference=shampoo_direction,
    cases=(
        # one diagonal gradient: the direction is ≈ diag(1, 1), like AdaGrad's 1st step
        _shampoo_case([[[2.0, 0.0], [0.0, 0.5]]], 1e-3),
        _shampoo_case([[[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]]], 0.1),
        _shampoo_case([[[1.0, 2.0], [0.0, 1.0], [1.0, -1.0]],
                       [[0.5, 0.0], [1.0, 1.0], [-1.0, 2.0]],
                       [[0.0, 1.0], [2.0, 0.0], [1.0, 1.0]]], 0.01),
        _shampoo_case([[[1.0, -2.0, 0.5]], [[0.0, 1.0, 1.0]], [[2.0, 0.0, -1.0]],
                       [[1.0, 1.0, 1.0]]], 0.5),             # a 1×3 parameter
        _shampoo_case([[[3.0, 1.0], [1.0, 0.0]], [[0.0, -1.0], [2.0, 1.0]]], 1.0),
    ),
    hint="start L = eps·I (m×m) and R = eps·I (n×n), add Γ Γᵀ to L and Γᵀ Γ to R "
         "for every gradient, then take matrix powers, not entry-wise ones: with "
         "M = Q diag(λ) Qᵀ from torch.linalg.eigh, M^(-1/4) = Q diag(λ^(-1/4)) Qᵀ; "
         "return L^(-1/4) @ Γ_t @ R^(-1/4) for the last gradient Γ_t.",
))
