"""Wrong answers to the RMSProp chapter's exercise."""

import torch


def rmsprop_eps_inside(grad, theta0, lr, beta2, eps, num_steps):
    theta, v = theta0, torch.zeros_like(theta0)
    thetas = [theta0]
    for _ in range(num_steps):
        g = grad(theta)
        v = beta2 * v + (1 - beta2) * g**2
        theta = theta - lr * g / (v + eps).sqrt()
        thetas.append(theta)
    return torch.stack(thetas)


def rmsprop_adagrad_sum(grad, theta0, lr, beta2, eps, num_steps):
    theta, v = theta0, torch.zeros_like(theta0)
    thetas = [theta0]
    for _ in range(num_steps):
        g = grad(theta)
        v = v + g**2
        theta = theta - lr * g / (v.sqrt() + eps)
        thetas.append(theta)
    return torch.stack(thetas)


def rmsprop_stale_v(grad, theta0, lr, beta2, eps, num_steps):
    theta, v = theta0, torch.zeros_like(theta0)
    thetas = [theta0]
    for _ in range(num_steps):
        g = grad(theta)
        theta = theta - lr * g / (v.sqrt() + eps)   # divides by v_{t-1}
        v = beta2 * v + (1 - beta2) * g**2
        thetas.append(theta)
    return torch.stack(thetas)


WRONG = {
    "ex-rmsprop-loop": [(rmsprop_eps_inside, "eps = 0.5"),
                        (rmsprop_adagrad_sum, "1 steps"),
                        (rmsprop_stale_v, "1 steps")],
}
