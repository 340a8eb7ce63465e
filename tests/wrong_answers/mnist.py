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


WRONG = {
    "ex-mnist-ci95": [(ci_with_normal_quantile, "three seeds of one accuracy"),
                      (ci_with_population_std, "three seeds of one accuracy"),
                      (ci_divides_by_n, "three seeds of one accuracy"),
                      (ci_with_n_degrees_of_freedom, "three seeds of one accuracy")],
}
