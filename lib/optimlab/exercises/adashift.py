"""Exercises of the chapter "AdaShift"."""

from __future__ import annotations

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
