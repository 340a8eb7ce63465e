"""Wrong answers to the exercises of "Choosing an optimizer, measured"."""

import math

from optimlab.experiments.summary import T975


def raw_loss(losses, target, window):
    for t, value in enumerate(losses, 1):
        if value is not None and value <= target:
            return t
    return None


def index_not_update(losses, target, window):
    values = [math.inf if v is None else v for v in losses]
    for t in range(window, len(values) + 1):
        if sum(values[t - window:t]) / window <= target:
            return t - 1
    return None


def diverged_as_zero(losses, target, window):
    values = [0.0 if v is None else v for v in losses]
    for t in range(window, len(values) + 1):
        if sum(values[t - window:t]) / window <= target:
            return t
    return None


def _values(finals, name):
    return [math.inf if v is None else v for v in finals[name]]


def _best(finals):
    means = {n: sum(_values(finals, n)) / len(finals[n]) for n in finals}
    return min(sorted(means), key=means.get)


def unpaired(finals):
    best = _best(finals)
    found = []
    for name in sorted(finals):
        a, b = _values(finals, name), _values(finals, best)
        if name == best or not all(map(math.isfinite, a + b)):
            continue
        n = len(a)

        def var(x):
            m = sum(x) / n
            return sum((v - m) ** 2 for v in x) / (n - 1)
        half = T975[n - 1] * math.sqrt(var(a) / n + var(b) / n)
        if sum(a) / n - sum(b) / n - half <= 0:
            found.append(name)
    return [best, *found]


def normal_quantile(finals):
    best = _best(finals)
    found = []
    for name in sorted(finals):
        d = [a - b for a, b in zip(_values(finals, name), _values(finals, best))]
        if name == best or not all(map(math.isfinite, d)):
            continue
        n, mean = len(d), sum(d) / len(d)
        sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
        if mean - 1.96 * sd / math.sqrt(n) <= 0:
            found.append(name)
    return [best, *found]


def diverged_ignored(finals):
    kept = {n: [v for v in vs if v is not None] for n, vs in finals.items()}
    best = min(sorted(kept), key=lambda n: sum(kept[n]) / len(kept[n]))
    found = []
    for name in sorted(kept):
        d = [a - b for a, b in zip(kept[name], kept[best])]
        if name == best or len(d) < 2:
            continue
        n, mean = len(d), sum(d) / len(d)
        sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
        if mean - T975[n - 1] * sd / math.sqrt(n) <= 0:
            found.append(name)
    return [best, *found]


WRONG = {
    "ex-choosing-target": [(raw_loss, "inside the run"),
                           (index_not_update, "inside the run"),
                           (diverged_as_zero, "diverged")],
    "ex-choosing-near": [(unpaired, "constant offset"),
                         (normal_quantile, "Student"),
                         (diverged_ignored, "diverged")],
}
