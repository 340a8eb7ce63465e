"""Exercises of the chapter "ResNet-18 on CIFAR-10"."""

from __future__ import annotations

import math

from .checking import Case, Exercise, register


def cosine_lr(eta, t, total):
    """Reference: the learning rate of update t = 1..total under cosine decay to 0,
    η_t = η · (1 + cos(π (t − 1) / T)) / 2."""
    return eta * (1 + math.cos(math.pi * (t - 1) / total)) / 2


register(Exercise(
    label="ex-cifar10-cosine",
    function_name="cosine_lr",
    reference=cosine_lr,
    cases=(
        Case("the first update, η = 0.1, t = 1, T = 100", (0.1, 1, 100)),
        Case("half-way, η = 0.1, t = 51, T = 100", (0.1, 51, 100)),
        Case("a quarter of the way, η = 0.001, t = 26, T = 100", (0.001, 26, 100)),
        Case("the last update, η = 0.1, t = 100, T = 100", (0.1, 100, 100)),
        Case("η = 2.0, t = 4, T = 7", (2.0, 4, 7)),
    ),
    hint="the first update (t = 1) must use η itself, so the cosine's argument is "
         "π·(t − 1)/T, and the factor (1 + cos(·))/2 runs from 1 down towards 0.",
))
