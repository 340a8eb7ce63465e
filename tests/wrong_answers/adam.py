"""Wrong answers to the Adam chapter's exercises."""

import math

import torch


def adam_without_bias_correction(grad, theta0, lr, beta1, beta2, eps, num_steps):
    theta, m, v = theta0, torch.zeros_like(theta0), torch.zeros_like(theta0)
    thetas = [theta0]
    for _ in range(num_steps):
        g = grad(theta)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        theta = theta - lr * m / (v.sqrt() + eps)
        thetas.append(theta)
    return torch.stack(thetas)


def adam_counts_t_from_zero(grad, theta0, lr, beta1, beta2, eps, num_steps):
    theta, m, v = theta0, torch.zeros_like(theta0), torch.zeros_like(theta0)
    thetas = [theta0]
    for t in range(num_steps):
        g = grad(theta)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1 ** (t + 2))
        v_hat = v / (1 - beta2 ** (t + 2))
        theta = theta - lr * m_hat / (v_hat.sqrt() + eps)
        thetas.append(theta)
    return torch.stack(thetas)


def adam_eps_inside_the_root(grad, theta0, lr, beta1, beta2, eps, num_steps):
    theta, m, v = theta0, torch.zeros_like(theta0), torch.zeros_like(theta0)
    thetas = [theta0]
    for t in range(1, num_steps + 1):
        g = grad(theta)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        theta = theta - lr * m_hat / (v_hat + eps).sqrt()
        thetas.append(theta)
    return torch.stack(thetas)


def forgetting_both_geometric(v0, g, beta2, target):
    adam = math.ceil(math.log((target - g**2) / (v0 - g**2)) / math.log(beta2))
    return adam, adam                                     # Yogi's v taken for Adam's


def forgetting_towards_zero(v0, g, beta2, target):
    adam = math.ceil(math.log(target / v0) / math.log(beta2))   # as if v → 0
    yogi = math.ceil((v0 - target) / ((1 - beta2) * g**2))
    return adam, yogi


def forgetting_floor(v0, g, beta2, target):
    adam = math.floor(math.log((target - g**2) / (v0 - g**2)) / math.log(beta2))
    yogi = math.floor((v0 - target) / ((1 - beta2) * g**2))
    return adam, yogi


def forgetting_round(v0, g, beta2, target):
    adam = round(math.log((target - g**2) / (v0 - g**2)) / math.log(beta2))
    yogi = round((v0 - target) / ((1 - beta2) * g**2))
    return adam, yogi


def forgetting_counts_one_short(v0, g, beta2, target):
    counts = []
    for step in (lambda v: beta2 * v + (1 - beta2) * g**2,        # Adam
                 lambda v: v - (1 - beta2) * g**2):                # Yogi, above g²
        v, k = v0, 0
        while step(v) > target:             # stops one step before v ≤ target
            v, k = step(v), k + 1
        counts.append(k)
    return tuple(counts)


WRONG = {
    "ex-adam-loop": [(adam_without_bias_correction, "1 steps"),
                     (adam_counts_t_from_zero, "1 steps"),
                     (adam_eps_inside_the_root, "eps = 0.5")],
    "ex-adam-forget": [(forgetting_both_geometric, "item 1"),
                       (forgetting_towards_zero, "expected 1738, got 1386"),
                       (forgetting_floor, "the defaults"),
                       (forgetting_round, "expected 1738, got 1737"),
                       (forgetting_counts_one_short, "expected 1738, got 1737")],
}
