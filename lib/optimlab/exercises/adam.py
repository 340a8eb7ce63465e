"""Exercises of the chapter "Adam: momentum, RMSProp and bias correction"."""

from __future__ import annotations

import torch

from .checking import Case, Exercise, float64, register, vector
from .gradient_descent import QuadraticCase, rosenbrock_grad


def adam(grad, theta0, lr, beta1, beta2, eps, num_steps):
    """Reference: the iterates θ_0, …, θ_T of Adam with bias correction, stacked."""
    theta = theta0
    m, v = torch.zeros_like(theta0), torch.zeros_like(theta0)
    thetas = [theta0]
    for t in range(1, num_steps + 1):
        g = grad(theta)
        m = beta1 * m + (1 - beta1) * g                      # (adam-m)
        v = beta2 * v + (1 - beta2) * g**2                   # (adam-v)
        m_hat = m / (1 - beta1**t)                           # (adam-hat)
        v_hat = v / (1 - beta2**t)
        theta = theta - lr * m_hat / (v_hat.sqrt() + eps)    # (adam-update)
        thetas.append(theta)
    return torch.stack(thetas)


def _adam_case(text, grad, theta0, lr, beta1, beta2, eps, steps):
    return Case(f"{text}, θ0 = {vector(theta0)}, lr = {lr}, β1 = {beta1}, β2 = {beta2}, "
                f"eps = {eps}, {steps} steps",
                (grad, float64(theta0), lr, beta1, beta2, eps, steps))


_bowl = QuadraticCase((1.0, 25.0))
_shifted = QuadraticCase((2.0, 0.5), b=(1.0, -1.0))
register(Exercise(
    label="ex-adam-loop",
    function_name="adam",
    reference=adam,
    cases=(
        _adam_case(f"f(θ) = ½θᵀAθ with {_bowl.text}", _bowl.grad, (2.0, 1.0),
                   0.1, 0.9, 0.999, 1e-8, 1),
        _adam_case(f"f(θ) = ½θᵀAθ with {_bowl.text}", _bowl.grad, (2.0, 1.0),
                   0.1, 0.9, 0.999, 1e-8, 6),
        _adam_case(f"f(θ) = ½θᵀAθ − bᵀθ with {_shifted.text}", _shifted.grad, (0.5, 2.0),
                   0.3, 0.5, 0.9, 0.5, 5),
        _adam_case("Rosenbrock", rosenbrock_grad, (-1.0, 1.5), 0.05, 0.8, 0.99, 1e-3, 8),
        _adam_case(f"f(θ) = ½θᵀAθ with {_bowl.text}", _bowl.grad, (2.0, 1.0),
                   0.1, 0.9, 0.999, 1e-8, 0),
    ),
    hint="start from m = v = 0; at step t = 1, 2, … update m and v, divide them by "
         "1 − β1^t and 1 − β2^t, then step θ − lr·m̂/(√v̂ + eps); return torch.stack of "
         "θ0 and every iterate.",
))
