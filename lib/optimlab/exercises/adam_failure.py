"""Exercises of the chapter "When Adam fails"."""

from __future__ import annotations

import math

import torch

from .checking import Case, Exercise, float64, register


def period_drift(C, beta2, period):
    """Reference: Adam's (β1 = 0) displacement per period, in units of η.

    In the steady state, v after the large gradient C is
    a_1 = (1-β2)(C² + β2 + … + β2^(k-1)) / (1-β2^k), and after each -1 it is
    a_j = β2 a_(j-1) + (1-β2).  One period moves θ by η(-C/√a_1 + Σ_{j≥2} 1/√a_j).
    """
    geometric = sum(beta2**j for j in range(1, period))
    v = (1 - beta2) * (C**2 + geometric) / (1 - beta2**period)
    drift = -C / math.sqrt(v)
    for _ in range(period - 1):
        v = beta2 * v + (1 - beta2)
        drift = drift + 1 / math.sqrt(v)
    return drift


register(Exercise(
    label="ex-adam_failure-drift",
    function_name="period_drift",
    reference=period_drift,
    cases=(
        Case("C = 3, β2 = 0.1, period = 3", (3.0, 0.1, 3)),
        Case("C = 3, β2 = 0.99, period = 3", (3.0, 0.99, 3)),
        Case("C = 10, β2 = 0.01, period = 3", (10.0, 0.01, 3)),
        Case("C = 8, β2 = 0.5, period = 5", (8.0, 0.5, 5)),
        Case("C = 4, β2 = 0.0, period = 2", (4.0, 0.0, 2)),
        Case("C = 30, β2 = 0.9, period = 20", (30.0, 0.9, 20)),
    ),
    hint="start from the steady-state v right after the large gradient, "
         "a = (1-β2)(C² + β2 + … + β2^(period-1)) / (1-β2^period); the large gradient "
         "moves θ by -C/√a (times η), then each of the period-1 gradients -1 first "
         "updates v ← β2·v + (1-β2) and then moves θ by +1/√v.",
))


def amsgrad_corrected_max(grads, lr, beta1, beta2, eps):
    """Reference: AMSGrad with the maximum of the bias-corrected v̂_t, on given grads."""
    theta = torch.zeros_like(grads[0])
    m, v, v_hat_max = (torch.zeros_like(theta) for _ in range(3))
    thetas = [theta]
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        v_hat_max = torch.maximum(v_hat_max, v / (1 - beta2**t))
        theta = theta - lr * m / (1 - beta1**t) / (v_hat_max.sqrt() + eps)
        thetas.append(theta)
    return torch.stack(thetas)


register(Exercise(
    label="ex-adam_failure-amsgrad",
    function_name="amsgrad_corrected_max",
    reference=amsgrad_corrected_max,
    cases=(
        Case("gradients 3, -1, -1, 3, -1, -1 (one coordinate), lr = 0.1, β1 = 0, "
             "β2 = 0.1, eps = 1e-8",
             (float64([[3.0], [-1.0], [-1.0], [3.0], [-1.0], [-1.0]]), 0.1, 0.0, 0.1, 1e-8)),
        Case("gradients 10, 1, 1, 1, 1 (one coordinate), lr = 0.1, β1 = 0.9, β2 = 0.999, "
             "eps = 1e-8",
             (float64([[10.0], [1.0], [1.0], [1.0], [1.0]]), 0.1, 0.9, 0.999, 1e-8)),
        Case("gradients (1, -2), (0.5, 4), (-3, 0.1), (2, 2), lr = 0.05, β1 = 0.5, "
             "β2 = 0.9, eps = 0.01",
             (float64([[1.0, -2.0], [0.5, 4.0], [-3.0, 0.1], [2.0, 2.0]]),
              0.05, 0.5, 0.9, 0.01)),
        Case("gradients 0.1, 0.2, 5, 0.1, 0.1, 0.1 (one coordinate), lr = 1, β1 = 0.8, "
             "β2 = 0.5, eps = 0.1",
             (float64([[0.1], [0.2], [5.0], [0.1], [0.1], [0.1]]), 1.0, 0.8, 0.5, 0.1)),
    ),
    hint="per step: m and v as in Adam, then v̂_max ← max(v̂_max, v / (1 - β2^t)) (the "
         "maximum of the bias-corrected v, not of v itself), and "
         "θ ← θ - lr·m̂/(√v̂_max + eps) "
         "with m̂ = m / (1 - β1^t). Return θ_0 = 0, …, θ_T stacked.",
))


def adam_momentum_drift(C, beta1, beta2):
    """Reference: Adam's steady-state displacement per period of (af-cyclic), in units
    of η, with momentum β1 (no bias correction, no ε).

    Both moments settle into a period of three values: a_1, m_1 just after the large
    gradient C, then a_j = β2 a_(j-1) + (1-β2) and m_j = β1 m_(j-1) - (1-β1).  Going
    once around the period gives a_1 = (1-β2)(C² + β2 + β2²)/(1-β2³) and
    m_1 = (1-β1)(C - β1 - β1²)/(1-β1³).  One period moves θ by -η Σ_j m_j/√a_j.
    """
    a = (1 - beta2) * (C**2 + beta2 + beta2**2) / (1 - beta2**3)
    m = (1 - beta1) * (C - beta1 - beta1**2) / (1 - beta1**3)
    drift = -m / math.sqrt(a)
    for _ in range(2):
        a = beta2 * a + (1 - beta2)
        m = beta1 * m - (1 - beta1)
        drift = drift - m / math.sqrt(a)
    return drift


def _momentum(C, beta1, beta2, note=""):
    return Case(f"C = {C:g}, β1 = {beta1}, β2 = {beta2}{note}", (C, beta1, beta2))


register(Exercise(
    label="ex-adam_failure-momentum",
    function_name="adam_momentum_drift",
    reference=adam_momentum_drift,
    cases=(
        _momentum(3.0, 0.0, 0.1, " (β1 = 0: the chapter's (af-drift))"),
        _momentum(3.0, 0.9, 0.1),
        _momentum(3.0, 0.3, 0.1),
        _momentum(3.0, 0.5, 0.3),
        _momentum(10.0, 0.9, 0.05),
        _momentum(5.0, 0.99, 0.5),
        _momentum(100.0, 0.7, 0.001),
    ),
    hint="m settles like v: going once around the period from m_1 (just after C) gives "
         "m_1 = β1³·m_1 + (1-β1)(C − β1 − β1²), so m_1 = (1-β1)(C − β1 − β1²)/(1-β1³); "
         "then m_j = β1·m_(j-1) − (1-β1), and a_j as in (af-drift). The displacement "
         "is −(m_1/√a_1 + m_2/√a_2 + m_3/√a_3).",
))
