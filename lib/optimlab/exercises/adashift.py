"""Exercises of the chapter "AdaShift"."""

from __future__ import annotations

import math

import torch

from .checking import Case, Exercise, float64, register


def adashift(grads, lr, beta1, beta2, n, eps):
    """Reference: AdaShift (Algorithm 3, φ = identity, bias-corrected v) on given gradients.

    The first n calls only fill the queue; θ_0 = 0 and the θ after every call are
    returned, stacked into shape [T + 1, d].
    """
    theta = torch.zeros_like(grads[0])
    v = torch.zeros_like(theta)
    weights = [beta1**i for i in range(n)]                   # β1^0, …, β1^(n-1)
    queue, thetas, t = [], [theta], 0
    for g in grads:
        queue.append(g)
        if len(queue) > n:
            t += 1
            oldest = queue.pop(0)                            # g_{t-n}
            m = sum(w * q for w, q in zip(weights, reversed(queue))) / sum(weights)
            v = beta2 * v + (1 - beta2) * oldest**2
            v_hat = v / (1 - beta2**t)
            theta = theta - lr * m / (v_hat.sqrt() + eps)
        thetas.append(theta)
    return torch.stack(thetas)


_cyclic = float64([[3.0], [-1.0], [-1.0]] * 3)
_vector = float64([[1.0, -2.0], [0.5, 4.0], [-3.0, 0.1], [2.0, 2.0], [0.2, -1.0], [1.0, 1.0]])
register(Exercise(
    label="ex-adashift-loop",
    function_name="adashift",
    reference=adashift,
    cases=(
        Case("gradients 3, -1, -1, 3, -1, -1, 3, -1, -1 (one coordinate), lr = 0.1, "
             "β1 = 0, β2 = 0.1, n = 1, eps = 1e-10", (_cyclic, 0.1, 0.0, 0.1, 1, 1e-10)),
        Case("gradients 3, -1, -1, 3, -1, -1, 3, -1, -1 (one coordinate), lr = 0.1, "
             "β1 = 0.5, β2 = 0.9, n = 3, eps = 1e-10", (_cyclic, 0.1, 0.5, 0.9, 3, 1e-10)),
        Case("six gradients in two coordinates, (1, -2), (0.5, 4), …, lr = 0.05, "
             "β1 = 0.9, β2 = 0.99, n = 2, eps = 0.01", (_vector, 0.05, 0.9, 0.99, 2, 0.01)),
        Case("six gradients in two coordinates, (1, -2), (0.5, 4), …, lr = 1, "
             "β1 = 0.7, β2 = 0.5, n = 4, eps = 0.1", (_vector, 1.0, 0.7, 0.5, 4, 0.1)),
    ),
    hint="keep a queue of gradients; while it holds n or fewer, θ stays put. Then each "
         "call: pop the oldest, g_{t-n}, for v ← β2·v + (1-β2)·g_{t-n}²; average the n "
         "gradients left in the queue with weights β1^0 (newest) … β1^(n-1) (oldest) "
         "divided by their sum for m; then θ ← θ − lr·m/(√(v/(1-β2^t)) + eps), where t "
         "counts the updates (not the calls).",
))


def adashift_drift(C, beta2, period, n):
    """Reference: AdaShift's (β1 = 0, φ = identity) steady-state displacement per period
    on the cyclic problem (C once, then period − 1 times −1), in units of η.

    Adam's steady-state v after the gradient of phase j (phase 0: the large one) is
    a_0 = (1-β2)(C² + β2 + … + β2^(period-1)) / (1-β2^period) and
    a_j = β2 a_(j-1) + (1-β2).  AdaShift's v_t receives g_(t-n) instead of g_t, so in
    the steady state the gradient of phase j is divided by √a_((j-n) mod period).
    """
    geometric = sum(beta2**j for j in range(1, period))
    a0 = (1 - beta2) * (C**2 + geometric) / (1 - beta2**period)
    a = [beta2**j * a0 + 1 - beta2**j for j in range(period)]  # a_j, unrolled
    g = [C if j == 0 else -1.0 for j in range(period)]
    return -sum(g[j] / math.sqrt(a[(j - n) % period]) for j in range(period))


def _drift(C, beta2, period, n, note=""):
    return Case(f"C = {C:g}, β2 = {beta2}, period = {period}, n = {n}{note}",
                (C, beta2, period, n))


register(Exercise(
    label="ex-adashift-drift",
    function_name="adashift_drift",
    reference=adashift_drift,
    cases=(
        _drift(3.0, 0.1, 3, 1),
        _drift(3.0, 0.1, 3, 2),
        _drift(3.0, 0.1, 3, 3, " (the period divides n)"),
        _drift(3.0, 0.5, 3, 30),
        _drift(8.0, 0.5, 5, 7, " (n larger than the period)"),
        _drift(30.0, 0.9, 20, 1),
        _drift(10.0, 0.99, 4, 2),
    ),
    hint="AdaShift's v_t is Adam's v after g_(t-n), so in the steady state the "
         "gradient of phase j (phase 0 is C) is divided by √a_((j − n) mod period), "
         "where a_0 = (1-β2)(C² + β2 + … + β2^(period-1))/(1-β2^period) is v right "
         "after C and a_j = β2·a_(j-1) + (1-β2). The displacement is "
         "−Σ_j g_j/√a_((j − n) mod period).",
))
