"""Wrong answers to the language-model race chapter's exercises."""

import math

from optimlab.experiments.summary import T975


def ties_to_larger(rates, losses):
    scored = [(math.inf if loss is None else loss, -rate) for rate, loss
              in zip(rates, losses)]
    best = -min(scored)[1]
    return best, best in (min(rates), max(rates))


def edge_by_position(rates, losses):
    scored = [(math.inf if loss is None else loss, rate) for rate, loss
              in zip(rates, losses)]
    i = scored.index(min(scored))
    return rates[i], i in (0, len(rates) - 1)        # assumes sorted rates


def diverged_as_zero(rates, losses):
    scored = [(0.0 if loss is None else loss, rate) for rate, loss
              in zip(rates, losses)]
    best = min(scored)[1]
    return best, best in (min(rates), max(rates))


def _sd(x, ddof):
    mean = sum(x) / len(x)
    return math.sqrt(sum((v - mean) ** 2 for v in x) / (len(x) - ddof))


def unpaired(a, b):
    n = len(a)
    half = T975[n - 1] * math.sqrt(_sd(a, 1) ** 2 / n + _sd(b, 1) ** 2 / n)
    return sum(a) / n - sum(b) / n, half


def normal_quantile(a, b):
    d = [x - y for x, y in zip(a, b)]
    return sum(d) / len(d), 1.96 * _sd(d, 1) / math.sqrt(len(d))


def population_sd(a, b):
    d = [x - y for x, y in zip(a, b)]
    return sum(d) / len(d), T975[len(d) - 1] * _sd(d, 0) / math.sqrt(len(d))


WRONG = {
    "ex-race-choose": [(ties_to_larger, "a tie"),
                       (edge_by_position, "not sorted"),
                       (diverged_as_zero, "diverged")],
    "ex-race-paired": [(unpaired, "three seeds"),
                       (normal_quantile, "three seeds"),
                       (population_sd, "three seeds")],
}
