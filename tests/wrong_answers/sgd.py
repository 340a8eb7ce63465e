"""Wrong answers to the exercises of the chapter "Stochastic gradient descent"."""

import math


def sgd_sums(per_example_grads, theta, order, batch_size, lr):
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        theta = theta - lr * per_example_grads(theta, batch).sum(dim=0)
    return theta


def sgd_drops_last_batch(per_example_grads, theta, order, batch_size, lr):
    for start in range(0, len(order) - batch_size + 1, batch_size):
        batch = order[start:start + batch_size]
        theta = theta - lr * per_example_grads(theta, batch).mean(dim=0)
    return theta


def sgd_stale_theta(per_example_grads, theta, order, batch_size, lr):
    theta0 = theta
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        theta = theta - lr * per_example_grads(theta0, batch).mean(dim=0)
    return theta


def sgd_ignores_order(per_example_grads, theta, order, batch_size, lr):
    for start in range(0, len(order), batch_size):
        batch = list(range(start, min(start + batch_size, len(order))))
        theta = theta - lr * per_example_grads(theta, batch).mean(dim=0)
    return theta


def rate_without_cap(L, sigma2, gap, T):
    eta = math.sqrt(2 * gap / (L * sigma2 * T))
    return eta, 2 * gap / (eta * T) + L * eta * sigma2


def rate_missing_factor_2(L, sigma2, gap, T):
    eta = min(1 / L, math.sqrt(gap / (L * sigma2 * T)))
    return eta, 2 * gap / (eta * T) + L * eta * sigma2


def rate_sqrt_misplaced(L, sigma2, gap, T):
    eta = min(1 / L, math.sqrt(2 * gap / (L * sigma2)) / T)
    return eta, 2 * gap / (eta * T) + L * eta * sigma2


def rate_bound_of_uncapped_minimum(L, sigma2, gap, T):
    eta = min(1 / L, math.sqrt(2 * gap / (L * sigma2 * T)))
    return eta, math.sqrt(8 * gap * L * sigma2 / T)


WRONG = {
    "ex-sgd-epoch": [
        (sgd_sums, "batch_size = 4"),
        (sgd_drops_last_batch, "N = 10 examples"),
        (sgd_stale_theta, "batch_size = 1"),
        (sgd_ignores_order, "batch_size = 1"),
    ],
    "ex-sgd-rate-budget": [
        (rate_without_cap, "σ² = 0.5"),
        (rate_missing_factor_2, "item 0"),
        (rate_sqrt_misplaced, "item 0"),
        (rate_bound_of_uncapped_minimum, "item 1"),
    ],
}
