"""Exercises of the chapter "Choosing an optimizer, measured"."""

from __future__ import annotations

import math

from ..experiments.summary import T975
from .checking import Case, Exercise, register


def updates_to_target(losses, target, window):
    """Reference: the first update t (counted from 1) at which the mean of the
    training losses of updates t − window + 1 … t is at or below ``target``;
    None if that never happens.  A loss of None (not finite) counts as +inf."""
    values = [math.inf if v is None else v for v in losses]
    for t in range(window, len(values) + 1):
        if sum(values[t - window:t]) / window <= target:
            return t
    return None


def near_best(finals):
    """Reference: the optimizers near the best.  ``finals[name]`` holds one final
    loss per seed (None: diverged), seed s of every optimizer run with the same
    data.  The best has the lowest mean (a diverged seed makes it +inf; a tie
    goes to the name first in alphabetical order); another optimizer is near it
    when the 95% Student-t interval of its paired difference to the best,
    mean ± T975[n − 1]·sd/√n over the n seeds, reaches 0.  Returns the best's
    name, then the others near it, in alphabetical order."""
    def values(name):
        return [math.inf if v is None else v for v in finals[name]]

    means = {name: sum(values(name)) / len(values(name)) for name in finals}
    best = min(sorted(means), key=means.get)
    found = []
    for name in sorted(finals):
        if name == best:
            continue
        d = [a - b for a, b in zip(values(name), values(best))]
        if not all(math.isfinite(x) for x in d):
            continue
        n = len(d)
        mean = sum(d) / n
        sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
        if mean - T975[n - 1] * sd / math.sqrt(n) <= 0:
            found.append(name)
    return [best, *found]


register(Exercise(
    label="ex-choosing-target",
    function_name="updates_to_target",
    reference=updates_to_target,
    cases=(
        Case("reached inside the run", ([2.0, 1.8, 1.5, 1.4, 1.2, 1.1], 1.4, 2)),
        Case("never reached", ([2.0, 1.9, 1.8, 1.7], 1.0, 2)),
        Case("one low loss is not enough", ([2.0, 2.0, 0.5, 2.0, 1.0, 1.0], 1.2, 3)),
        Case("reached at the first full window", ([1.0, 1.0, 1.0], 1.0, 3)),
        Case("a diverged update", ([2.0, None, 1.0, 1.0, 1.0], 1.1, 2)),
        Case("window 1", ([3.0, 2.0, 1.0], 2.0, 1)),
    ),
    hint="update t is losses[t - 1]; the first full window ends at update `window`; "
         "average the window before comparing, and let None count as math.inf.",
))

register(Exercise(
    label="ex-choosing-near",
    function_name="near_best",
    reference=near_best,
    cases=(
        Case("a clear winner", ({"A": [1.0, 1.1, 0.9], "B": [1.5, 1.6, 1.4]},)),
        Case("a noisy tie", ({"A": [1.0, 1.2, 0.9], "B": [1.1, 1.0, 1.05],
                              "C": [2.0, 2.1, 1.9]},)),
        Case("three seeds need Student's t", ({"A": [1.0, 1.0, 1.0],
                                               "B": [1.05, 1.1, 1.15]},)),
        Case("paired: a constant offset is clear", (
            {"A": [1.0, 2.0, 3.0], "B": [1.01, 2.01, 3.01]},)),
        Case("a diverged seed", ({"A": [1.0, None, 1.0], "B": [1.2, 1.1, 1.3]},)),
        Case("five seeds", ({"Adam": [0.30, 0.31, 0.29, 0.30, 0.32],
                             "SGD": [0.31, 0.30, 0.30, 0.31, 0.33],
                             "Lion": [0.36, 0.35, 0.37, 0.36, 0.38]},)),
    ),
    hint="difference seed by seed against the best, then the interval of the mean "
         "difference with T975[n - 1] and the sample standard deviation; an "
         "optimizer with a diverged seed cannot be near the best.",
))
