"""Exercises of the chapter "The race: six optimizers train a small GPT"."""

from __future__ import annotations

import math

from ..experiments.summary import T975
from .checking import Case, Exercise, register


def choose_rate(rates, losses):
    """Reference: ``(rate, widen)`` for a learning-rate search: the rate whose run
    has the lowest final validation loss (``None``, a diverged run, counts as an
    infinite loss; a tie goes to the smaller rate), and whether that rate is the
    smallest or the largest searched, so that the grid must be widened."""
    def score(i):
        return (math.inf if losses[i] is None else losses[i]), rates[i]

    best = rates[min(range(len(rates)), key=score)]
    return best, best in (min(rates), max(rates))


def paired_difference(a, b):
    """Reference: the mean of the differences a_s − b_s over the seeds s (paired:
    run s of both used the same initial weights and batches) and the half-width of
    its 95% Student-t interval, t_{0.975, n−1} · sd / √n with the sample standard
    deviation (n − 1 in its denominator)."""
    d = [x - y for x, y in zip(a, b)]
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    return mean, T975[n - 1] * sd / math.sqrt(n)


register(Exercise(
    label="ex-race-choose",
    function_name="choose_rate",
    reference=choose_rate,
    cases=(
        Case("the best rate inside the grid", ([1e-3, 3e-3, 1e-2], [2.2, 1.9, 2.1])),
        Case("the best rate at the top edge", ([1e-3, 3e-3, 1e-2], [2.4, 2.1, 2.0])),
        Case("the best rate at the bottom edge", ([1e-3, 3e-3, 1e-2], [1.8, 2.1, 2.5])),
        Case("a tie: the smaller rate", ([0.01, 0.02, 0.05], [1.9, 1.7, 1.7])),
        Case("rates not sorted", ([0.1, 0.001, 0.01, 0.03], [2.3, 2.9, 2.2, 2.0])),
        Case("the largest rate diverged", ([1e-4, 3e-4, 1e-3], [2.5, 2.2, None])),
        Case("the lowest loss is at a diverged neighbour's edge",
             ([3e-3, 1e-3, 1e-2], [2.0, 2.3, None])),
    ),
    hint="score each run by (loss, rate) with a diverged run's loss = math.inf and "
         "take the smallest score; the grid must be widened when the chosen rate is "
         "min(rates) or max(rates), whatever order the rates come in.",
))

register(Exercise(
    label="ex-race-paired",
    function_name="paired_difference",
    reference=paired_difference,
    cases=(
        Case("three seeds", ([1.71, 1.69, 1.74], [1.80, 1.82, 1.79])),
        Case("two seeds", ([2.0, 2.2], [2.1, 2.1])),
        Case("five seeds, b better", ([1.5, 1.4, 1.6, 1.5, 1.45],
                                      [1.45, 1.42, 1.5, 1.44, 1.4])),
        Case("a shared offset: a constant difference has no spread",
             ([1.9, 2.3, 2.1], [1.8, 2.2, 2.0])),
        Case("eleven seeds", ([1.0 + 0.01 * s for s in range(11)],
                              [1.0 + 0.013 * s for s in range(11)])),
    ),
    hint="take the differences seed by seed first; the interval is that of their "
         "mean: t_{0.975, n−1} (T975[n − 1]) times their sample standard deviation "
         "(divide by n − 1) over √n. Not the interval of each optimizer separately.",
))
