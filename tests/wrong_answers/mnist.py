"""Wrong answers to the MNIST chapter's exercises."""

import math

from optimlab.experiments.summary import T975


def ci_with_normal_quantile(x):
    n = x.shape[0]
    return x.mean(0), 1.96 * x.std(0) / math.sqrt(n)


def ci_with_population_std(x):
    n = x.shape[0]
    return x.mean(0), T975[n - 1] * x.std(0, correction=0) / math.sqrt(n)


def ci_divides_by_n(x):
    n = x.shape[0]
    return x.mean(0), T975[n - 1] * x.std(0) / n


def ci_with_n_degrees_of_freedom(x):
    n = x.shape[0]
    return x.mean(0), T975[n] * x.std(0) / math.sqrt(n)


def _first_n(s, half_width, width_of):
    for n in range(2, 12):
        if width_of(n) <= half_width:
            return n
    return 12


def seeds_with_normal_quantile(s, half_width):
    return _first_n(s, half_width, lambda n: 1.96 * s / math.sqrt(n))


def seeds_with_n_degrees_of_freedom(s, half_width):
    return _first_n(s, half_width, lambda n: T975[min(n, 10)] * s / math.sqrt(n))


def seeds_divides_by_n(s, half_width):
    return _first_n(s, half_width, lambda n: T975[n - 1] * s / n)


def seeds_last_too_few(s, half_width):
    return _first_n(s, half_width, lambda n: T975[n - 1] * s / math.sqrt(n)) - 1


WRONG = {
    "ex-mnist-ci95": [(ci_with_normal_quantile, "three seeds of one accuracy"),
                      (ci_with_population_std, "three seeds of one accuracy"),
                      (ci_divides_by_n, "three seeds of one accuracy"),
                      (ci_with_n_degrees_of_freedom, "three seeds of one accuracy")],
    "ex-mnist-seeds": [(seeds_with_normal_quantile, "s = 0.4, half_width = 0.8"),
                       (seeds_with_n_degrees_of_freedom, "s = 0.4, half_width = 0.8"),
                       (seeds_divides_by_n, "s = 0.4, half_width = 0.8"),
                       (seeds_last_too_few, "s = 0.4, half_width = 0.8")],
}
