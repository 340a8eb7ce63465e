"""Exercises of the chapter "Beyond Adam: RAdam, NAdam, LARS, LAMB, Lookahead and SAM"."""

from __future__ import annotations

import math

import torch

from .checking import Case, Exercise, register, vector


def sam_perturbation(grads, rho, p):
    """Reference: the maximiser of eᵀg over ‖e‖_p ≤ rho (the first-order inner problem
    of SAM in an ℓp ball), with the norm over all tensors of ``grads`` together."""
    q = 1.0 if p == math.inf else p / (p - 1)                      # 1/p + 1/q = 1
    total = sum((g.abs() ** q).sum() for g in grads)               # ‖g‖_q^q
    return [rho * g.sign() * g.abs() ** (q - 1) / total ** (1 / p) for g in grads]


def _layers(*layers):
    return [torch.tensor(layer, dtype=torch.float64) for layer in layers]


def _shown(layer) -> str:
    if layer and isinstance(layer[0], (tuple, list)):
        return "(" + ", ".join(vector(row) for row in layer) + ")"
    return vector(layer)


def _sam_case(layers, rho, p, note=""):
    count = "one layer" if len(layers) == 1 else f"{len(layers)} layers"
    return Case(f"{count} {', '.join(_shown(layer) for layer in layers)}, rho = {rho}, "
                f"p = {p}{note}", (_layers(*layers), rho, p))


_two = ((1.0, -2.0, 0.0), ((0.5, 0.25), (-1.0, 3.0)))     # a zero entry, two layers
register(Exercise(
    label="ex-beyond-sam-lp",
    function_name="sam_perturbation",
    reference=sam_perturbation,
    cases=(
        _sam_case(((3.0, -4.0),), 0.1, 2, " (the chapter's SAM)"),
        _sam_case(_two, 0.05, 2),
        _sam_case(_two, 0.2, 3),
        _sam_case(_two, 0.05, 1.5),
        _sam_case(_two, 0.1, math.inf),
        _sam_case(((2.0,), (-0.5, 0.0, 1.5)), 0.3, 4),
    ),
    hint="by Hölder's inequality the maximiser points along sign(g)·|g|^(q−1), with "
         "the dual exponent q (1/p + 1/q = 1; q = 1 for p = ∞), scaled so that its "
         "p-norm, taken over all layers together, is rho.",
))


def lookahead_floor(lr, a, sigma, k, alpha):
    """Reference: the stationary E[½ a θ̄²] at the slow weights of Lookahead around
    SGD on the noisy quadratic ½ a θ² with gradient noise of standard deviation σ."""
    c = 1 - lr * a                                                 # one fast step
    fast = lr**2 * sigma**2 * (1 - c ** (2 * k)) / (1 - c**2)      # noise of k steps
    b = 1 - alpha + alpha * c**k                                   # slow factor
    return 0.5 * a * alpha**2 * fast / (1 - b**2)                  # ½ a Var[θ̄]


def _floor_case(lr, a, sigma, k, alpha, note=""):
    return Case(f"lr = {lr}, a = {a:g}, sigma = {sigma:g}, k = {k}, alpha = {alpha}"
                f"{note}", (lr, a, sigma, k, alpha))


register(Exercise(
    label="ex-beyond-lookahead-floor",
    function_name="lookahead_floor",
    reference=lookahead_floor,
    cases=(
        _floor_case(0.1, 4.0, 1.0, 5, 0.5),
        _floor_case(0.05, 1.0, 2.0, 10, 0.8),
        _floor_case(0.3, 3.0, 0.5, 3, 0.3),
        _floor_case(0.2, 2.0, 1.0, 1, 1.0, " (k = 1, alpha = 1: plain SGD)"),
        _floor_case(0.45, 4.0, 1.0, 5, 0.5, " (c < 0)"),
        _floor_case(0.55, 4.0, 1.0, 5, 0.5, " (c < −1: SGD alone diverges)"),
    ),
    hint="with c = 1 − lr·a, k fast steps give c^k θ̄ plus noise of variance "
         "lr²σ²(1 − c^(2k))/(1 − c²); the slow weights follow θ̄ ← bθ̄ + α·noise with "
         "b = 1 − α + α c^k, so their stationary variance V solves V = b²V + α²·(that "
         "variance). Return ½·a·V.",
))
