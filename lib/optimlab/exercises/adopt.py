"""Exercises of the chapter "ADOPT"."""

from __future__ import annotations

import math

import torch

from .checking import Case, Exercise, float64, register


def adopt_updates(grads, lr, beta1, beta2, eps=1e-6, clip=True):
    """Reference: ADOPT's steps Δ_1..Δ_T for the gradients g_0..g_T (rows of grads)."""
    v = grads[0] * grads[0]                                   # v_0 = g_0²
    m = torch.zeros_like(grads[0])
    steps = []
    for t in range(1, len(grads)):
        g = grads[t]
        normalised = g / torch.clamp(v.sqrt(), min=eps)       # g_t / max(√v_{t-1}, ε)
        if clip:
            normalised = normalised.clamp(-t ** 0.25, t ** 0.25)
        m = beta1 * m + (1 - beta1) * normalised
        steps.append(lr * m)
        v = beta2 * v + (1 - beta2) * g * g
    return torch.stack(steps)


_TOY = [[-10.0], [-10.0], [100.0], [-10.0], [-10.0], [-10.0], [100.0], [-10.0]]
_VECTOR = [[0.5, -2.0], [1.5, 0.25], [-3.0, 1.0], [0.2, 4.0], [2.5, -0.5], [-1.0, -1.5]]
_ZERO_START = [[0.0, 1.0], [2.0, -1.0], [1.0, 3.0], [-0.5, 0.5], [4.0, 2.0]]

register(Exercise(
    label="ex-adopt-updates",
    function_name="adopt_updates",
    reference=adopt_updates,
    cases=(
        Case("toy draws g = (-10, -10, 100, -10, …), clip=False, β = (0.9, 0.5)",
             (float64(_TOY), 0.1, 0.9, 0.5), dict(clip=False)),
        Case("a 2-D sequence with mixed magnitudes, clip=False, β = (0.8, 0.3)",
             (float64(_VECTOR), 0.05, 0.8, 0.3), dict(clip=False)),
        Case("a 2-D sequence with mixed magnitudes, clip=True, β = (0.5, 0.9)",
             (float64(_VECTOR), 0.05, 0.5, 0.9), dict(clip=True)),
        Case("g_0 = (0, 1): v_0 is 0 in the first coordinate, clip=True",
             (float64(_ZERO_START), 0.01, 0.9, 0.999), dict(clip=True, eps=1e-3)),
    ),
    hint="v_0 = g_0²; at step t divide g_t by max(√v_{t-1}, ε) BEFORE updating v, clip "
         "at ±t^(1/4) (t = 1 for the first update), average into m, return lr·m, and "
         "only then update v with g_t.",
))


def first_right_step(k, p=0.25):
    """Reference: the first step t ≥ 1 at which the clipped ADOPT step points the
    right way on average on the toy problem (toy-f), with β2 → 0, β1 = 0, c_t = t^p.

    With v_(t-1) = g_(t-1)² the normalised gradient takes the values 1, k, −1/k, −1
    with probabilities 1/k², (1 − 1/k)/k, (1 − 1/k)/k, (1 − 1/k)²; c_t ≥ 1 clips only
    k, to min(k, c_t), and E[ĝ_t] > 0 exactly when
    min(k, c_t) > b = k − 1 − 1/(k(k − 1)), which is below k: when t > b^(1/p).
    """
    b = k - 1 - 1 / (k * (k - 1))
    return math.floor(b ** (1 / p)) + 1


def _exit(k, p, power, note=""):
    return Case(f"k = {k}, c_t = t^({power}){note}", (k, p))


register(Exercise(
    label="ex-adopt-clip-exit",
    function_name="first_right_step",
    reference=first_right_step,
    cases=(
        _exit(10, 0.25, "1/4", " (the k = 10 runs)"),
        _exit(50, 0.25, "1/4", " (the k = 50 runs)"),
        _exit(4, 0.5, "1/2"),
        _exit(7, 1 / 3, "1/3"),
        _exit(3, 0.25, "1/4"),
    ),
    hint="with v_(t-1) = g_(t-1)², ĝ_t takes the values 1, k, −1/k, −1 with "
         "probabilities 1/k², (1 − 1/k)/k, (1 − 1/k)/k, (1 − 1/k)²; c_t = t^p ≥ 1 "
         "clips only the value k, to min(k, c_t). Solve E[ĝ_t] > 0 for min(k, c_t) "
         "exactly (the threshold is a little below k − 1) and return the first "
         "whole t with t^p above it, not the last one below it.",
))
