"""Wrong answers to the momentum chapter's exercises."""

import math

import torch


def hb_ema_buffer(grad, theta0, lr, beta, num_steps):
    thetas, b = [theta0], torch.zeros_like(theta0)
    for _ in range(num_steps):
        b = beta * b + (1 - beta) * grad(thetas[-1])
        thetas.append(thetas[-1] - lr * b)
    return torch.stack(thetas)


def hb_stale_buffer(grad, theta0, lr, beta, num_steps):
    thetas, b = [theta0], torch.zeros_like(theta0)
    for _ in range(num_steps):
        thetas.append(thetas[-1] - lr * b)
        b = beta * b + grad(thetas[-2])
    return torch.stack(thetas)


def hb_forgets_theta0(grad, theta0, lr, beta, num_steps):
    thetas, theta, b = [], theta0, torch.zeros_like(theta0)
    for _ in range(num_steps):
        b = beta * b + grad(theta)
        theta = theta - lr * b
        thetas.append(theta)
    return torch.stack(thetas) if thetas else theta0[None]


def window_floor(beta, fraction):
    return math.floor(math.log(1 - fraction) / math.log(beta))


def window_round(beta, fraction):
    return round(math.log(1 - fraction) / math.log(beta))


def window_round_at_least_one(beta, fraction):
    return max(1, round(math.log(1 - fraction) / math.log(beta)))


def window_counts_one_short(beta, fraction):
    # the largest K with 1 − β^K < fraction: the floor, found by counting
    K = 0
    while 1 - beta ** (K + 1) < fraction:
        K += 1
    return K


def window_rule_of_thumb(beta, fraction):
    return round(1 / (1 - beta))


def window_wrong_log(beta, fraction):
    return math.ceil(math.log(fraction) / math.log(beta))


def stable_gd_limit(eta, beta, lam):
    # gradient descent's condition, as if momentum did not change the limit
    return abs(beta) < 1 and 0 < eta * lam < 2


def stable_closed_edge(eta, beta, lam):
    return abs(beta) < 1 and 0 < eta * lam <= 2 * (1 + beta)


def stable_forgets_beta_below_one(eta, beta, lam):
    return 0 < eta * lam < 2 * (1 + beta)


def stable_forgets_positive_curvature(eta, beta, lam):
    return abs(beta) < 1 and eta * lam < 2 * (1 + beta)


def stable_complex_window(eta, beta, lam):
    # the window of spiralling, (1 − √β)² < ηλ < (1 + √β)², taken for convergence
    return (1 - math.sqrt(beta)) ** 2 < eta * lam < (1 + math.sqrt(beta)) ** 2


WRONG = {
    "ex-momentum-heavy-ball": [(hb_ema_buffer, "beta = 0.5"),
                               (hb_stale_buffer, "differs at index"),
                               (hb_forgets_theta0, "expected shape")],
    "ex-momentum-window": [(window_floor, "β = 0.9, fraction = 0.9"),
                           (window_round, "β = 0.5, fraction = 0.2"),
                           (window_round_at_least_one, "β = 0.5, fraction = 0.9"),
                           (window_counts_one_short, "expected 22, got 21"),
                           (window_rule_of_thumb, "expected 22, got 10"),
                           (window_wrong_log, "β = 0.9, fraction = 0.9")],
    "ex-momentum-stable": [(stable_gd_limit, "η = 0.25, β = 0.5, λ = 10"),
                           (stable_closed_edge, "η = 0.5, β = 0.5, λ = 6"),
                           (stable_forgets_beta_below_one, "η = 0.02, β = 1, λ = 50"),
                           (stable_forgets_positive_curvature, "λ = -1"),
                           (stable_complex_window, "η = 0.02, β = 1, λ = 50")],
}
