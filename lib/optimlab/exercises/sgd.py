"""Exercises of the chapter "Stochastic gradient descent"."""

from __future__ import annotations

import torch

from .checking import Case, Exercise, register


def sgd_epoch(per_example_grads, theta, order, batch_size, lr):
    """Reference: one epoch of minibatch SGD over the examples in ``order``.

    The examples are taken in consecutive slices of ``order`` of length
    ``batch_size`` (the last one may be shorter); each step uses the mean of the
    per-example gradients of its slice at the current θ.
    """
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        g = per_example_grads(theta, batch).mean(dim=0)      # minibatch gradient
        theta = theta - lr * g                               # θ_t = θ_{t-1} − η g_t
    return theta


class LeastSquares:
    """Per-example gradients of f_i(θ) = ½ (x_iᵀθ − y_i)², printable for hints."""

    def __init__(self, n, d, seed):
        generator = torch.Generator().manual_seed(seed)
        self.X = torch.randn(n, d, generator=generator, dtype=torch.float64)
        self.y = torch.randn(n, generator=generator, dtype=torch.float64)
        self.text = f"least squares with N = {n} examples in d = {d} (seed {seed})"

    def __call__(self, theta, idx):
        X = self.X[idx]
        return X * (X @ theta - self.y[idx])[:, None]        # row i: x_i (x_iᵀθ − y_i)


def _case(n, d, seed, batch_size, lr, shuffle_seed):
    problem = LeastSquares(n, d, seed)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(shuffle_seed))
    theta = torch.linspace(-1, 1, d, dtype=torch.float64)
    return Case(f"{problem.text}, batch_size = {batch_size}, lr = {lr}, "
                f"order = a random permutation (seed {shuffle_seed})",
                (problem, theta, order, batch_size, lr))


register(Exercise(
    label="ex-sgd-epoch",
    function_name="sgd_epoch",
    reference=sgd_epoch,
    cases=(
        _case(4, 2, 0, 1, 0.1, 1),
        _case(8, 3, 1, 4, 0.2, 2),
        _case(10, 3, 2, 4, 0.3, 3),      # the last batch has 2 examples
        _case(12, 2, 3, 12, 0.5, 4),     # one batch: a full gradient step
        _case(9, 4, 4, 2, 0.05, 5),
    ),
    hint="walk through order in slices order[k:k + batch_size] (the last slice may be "
         "shorter), average the per-example gradients of each slice at the current θ, "
         "and take one step θ ← θ − lr·g per slice.",
))
