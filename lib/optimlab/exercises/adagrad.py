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
