"""Exercises of the chapter "RMSProp and Adadelta"."""

from __future__ import annotations

import math

import torch

from .checking import Case, Exercise, float64, register, vector
from .gradient_descent import QuadraticCase, rosenbrock_grad


def rmsprop(grad, theta0, lr, beta2, eps, num_steps):
    """Reference: the iterates θ_0, …, θ_T of RMSProp (ε outside the root), stacked."""
    theta, v = theta0, torch.zeros_like(theta0)
    thetas = [theta0]
    for _ in range(num_steps):
        g = grad(theta)
        v = beta2 * v + (1 - beta2) * g**2                   # (rms-v)
        theta = theta - lr * g / (v.sqrt() + eps)            # (rms-update)
        thetas.append(theta)
    return torch.stack(thetas)


def _case(text, grad, theta0, lr, beta2, eps, steps):
    return Case(f"{text}, θ0 = {vector(theta0)}, lr = {lr}, beta2 = {beta2}, eps = {eps}, "
                f"{steps} steps", (grad, float64(theta0), lr, beta2, eps, steps))


_bowl = QuadraticCase((1.0, 25.0))
_bowl_text = f"f(θ) = ½θᵀAθ with {_bowl.text}"
_shifted = QuadraticCase((2.0, 0.5), b=(1.0, -1.0))
register(Exercise(
    label="ex-rmsprop-loop",
    function_name="rmsprop",
    reference=rmsprop,
    cases=(
        _case(_bowl_text, _bowl.grad, (2.0, 1.0), 0.05, 0.9, 1e-8, 1),
        _case(_bowl_text, _bowl.grad, (2.0, 1.0), 0.05, 0.9, 1e-8, 6),
        _case(f"f(θ) = ½θᵀAθ − bᵀθ with {_shifted.text}", _shifted.grad, (0.5, 2.0),
              0.2, 0.5, 0.5, 5),
        _case("Rosenbrock", rosenbrock_grad, (-1.0, 1.5), 0.01, 0.99, 1e-3, 8),
        _case(_bowl_text, _bowl.grad, (2.0, 1.0), 0.05, 0.9, 1e-8, 0),
    ),
    hint="start from v = 0; at every step update v = β2·v + (1 − β2)·g², then step "
         "θ − lr·g/(√v + eps) (eps outside the square root); return torch.stack of θ0 "
         "and every iterate.",
))


def centred_step_length(t, eta, beta2, eps, g):
    """Reference: the length of step t of centred RMSProp, ε outside the root as in
    PyTorch, for a constant gradient g from v_0 = ḡ_0 = 0."""
    decay = beta2**t
    variance = g**2 * decay * (1 - decay)                # v_t − ḡ_t²
    return eta * abs(g) / (math.sqrt(variance) + eps)


def _centred_case(t, eta, beta2, eps, g, note=""):
    return Case(f"constant gradient g = {g:g}, step t = {t}, eta = {eta:g}, "
                f"beta2 = {beta2:g}, eps = {eps:g}{note}", (t, eta, beta2, eps, g))


register(Exercise(
    label="ex-rmsprop-centred-step",
    function_name="centred_step_length",
    reference=centred_step_length,
    # The first two cases are the chapter's run. In the second, ε changes the
    # answer in the fourth digit (inside the root it would change it by a factor
    # of about 4); in the fourth, ε is larger than |g|·√(v_t − ḡ_t²). The others
    # have |g| ≠ 1, one a negative g.
    cases=(
        _centred_case(1, 1e-3, 0.9, 1e-8, 1.0, " (the chapter's run)"),
        _centred_case(200, 1e-3, 0.9, 1e-8, 1.0, " (the chapter's run)"),
        _centred_case(5, 0.01, 0.99, 1e-8, -3.0),
        _centred_case(40, 0.1, 0.8, 1e-3, 0.05),
        _centred_case(3, 0.5, 0.5, 0.1, 2.0),
    ),
    hint="from v_0 = ḡ_0 = 0 with g_t = g, unrolling gives v_t = (1 − β2^t)·g² "
         "and ḡ_t = (1 − β2^t)·g; the step is η·|g| / (√(v_t − ḡ_t²) + eps), eps "
         "outside the root, and a length is not negative.",
))
