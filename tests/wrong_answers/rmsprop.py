"""Wrong answers to the RMSProp chapter's exercises."""

import math

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


def centred_eps_inside(t, eta, beta2, eps, g):
    decay = beta2**t
    return eta * abs(g) / math.sqrt(g**2 * decay * (1 - decay) + eps)


def centred_not_centred(t, eta, beta2, eps, g):
    decay = beta2**t
    return eta * abs(g) / (math.sqrt(g**2 * (1 - decay)) + eps)   # divides by √v_t


def centred_off_by_one(t, eta, beta2, eps, g):
    decay = beta2**(t - 1)                                         # β2^(t−1)
    return eta * abs(g) / (math.sqrt(g**2 * decay * (1 - decay)) + eps)


def centred_signed(t, eta, beta2, eps, g):
    decay = beta2**t
    return eta * g / (math.sqrt(g**2 * decay * (1 - decay)) + eps)


def centred_forgets_g(t, eta, beta2, eps, g):
    decay = beta2**t
    return eta * abs(g) / (math.sqrt(decay * (1 - decay)) + eps)   # as if g = 1


WRONG = {
    "ex-rmsprop-loop": [(rmsprop_eps_inside, "eps = 0.5"),
                        (rmsprop_adagrad_sum, "1 steps"),
                        (rmsprop_stale_v, "1 steps")],
    "ex-rmsprop-centred-step": [(centred_eps_inside, "step t = 200"),
                                (centred_not_centred, "step t = 1,"),
                                (centred_off_by_one, "step t = 1,"),
                                (centred_signed, "g = -3"),
                                (centred_forgets_g, "g = -3")],
}
