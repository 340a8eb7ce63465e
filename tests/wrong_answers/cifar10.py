"""Wrong answers to the CIFAR-10 chapter's exercises."""

import math


def cosine_counts_from_t(eta, t, total):
    return eta * (1 + math.cos(math.pi * t / total)) / 2


def cosine_without_half(eta, t, total):
    return eta * (1 + math.cos(math.pi * (t - 1) / total))


def cosine_full_period(eta, t, total):
    return eta * (1 + math.cos(2 * math.pi * (t - 1) / total)) / 2


WRONG = {
    "ex-cifar10-cosine": [(cosine_counts_from_t, "the first update"),
                          (cosine_without_half, "the first update"),
                          (cosine_full_period, "half-way")],
}
