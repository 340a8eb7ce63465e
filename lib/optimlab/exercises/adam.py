"""Exercises of the chapter "Adam: momentum, RMSProp and bias correction"."""

from __future__ import annotations

import math

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


def forgetting_steps(v0, g, beta2, target):
    """Reference: the number of steps of constant gradient g (g² < target < v0, bias
    corrections 1) after which v has fallen to target or below, under (adam-v) and
    under (yogi-v)."""
    adam = math.ceil(math.log((target - g**2) / (v0 - g**2)) / math.log(beta2))
    yogi = math.ceil((v0 - target) / ((1 - beta2) * g**2))
    return adam, yogi


def _forgetting_case(v0, g, beta2, target, note=""):
    return Case(f"v0 = {v0:g}, g = {g:g}, beta2 = {beta2:g}, target = {target:g}{note}",
                (v0, g, beta2, target))


register(Exercise(
    label="ex-adam-forget",
    function_name="forgetting_steps",
    reference=forgetting_steps,
    # Every exact answer (before rounding up) lies at least 0.2 from a whole number, so
    # rounding errors cannot change it; several fractional parts are below 0.5, where
    # rounding to nearest instead of up gives a wrong count. In the fourth case Yogi's
    # v reaches the target first: there g² is more than half of it.
    cases=(
        _forgetting_case(1.0, 0.3, 0.999, 0.25, " (the defaults)"),
        _forgetting_case(1.0, 0.3, 0.9, 0.4),
        _forgetting_case(4.0, 0.7, 0.95, 1.3),
        _forgetting_case(1.0, 0.6, 0.9, 0.45),
        _forgetting_case(9.0, 1.3, 0.99, 2.0),
        _forgetting_case(1e-4, 3e-3, 0.999, 3e-5),
    ),
    hint="Adam's v approaches g², not 0, geometrically: v_k − g² = β2^k (v0 − g²). "
         "Yogi's v falls by the same amount (1 − β2)·g² at every step while it is above "
         "g². For each, return the smallest whole number of steps k with v_k ≤ target "
         "(round up).",
))
