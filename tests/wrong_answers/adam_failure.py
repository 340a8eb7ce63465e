"""Wrong answers to the exercises of the chapter "When Adam fails"."""

import math

import torch


def drift_without_one_minus_beta2(C, beta2, period):
    geometric = sum(beta2**j for j in range(1, period))
    v = (C**2 + geometric) / (1 - beta2**period)
    drift = -C / math.sqrt(v)
    for _ in range(period - 1):
        v = beta2 * v + 1
        drift = drift + 1 / math.sqrt(v)
    return drift


def drift_uses_the_average_v(C, beta2, period):
    v = (C**2 + period - 1) / period
    return (-C + period - 1) / math.sqrt(v)


def drift_divides_before_updating_v(C, beta2, period):
    geometric = sum(beta2**j for j in range(1, period))
    v = (1 - beta2) * (C**2 + geometric) / (1 - beta2**period)
    drift = -C / math.sqrt(v)
    for _ in range(period - 1):
        drift = drift + 1 / math.sqrt(v)
        v = beta2 * v + (1 - beta2)
    return drift


def amsgrad_pytorch_max(grads, lr, beta1, beta2, eps):
    theta = torch.zeros_like(grads[0])
    m, v, v_max = (torch.zeros_like(theta) for _ in range(3))
    thetas = [theta]
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        v_max = torch.maximum(v_max, v)
        theta = theta - lr * m / (1 - beta1**t) / ((v_max / (1 - beta2**t)).sqrt() + eps)
        thetas.append(theta)
    return torch.stack(thetas)


def amsgrad_without_maximum(grads, lr, beta1, beta2, eps):
    theta = torch.zeros_like(grads[0])
    m, v = torch.zeros_like(theta), torch.zeros_like(theta)
    thetas = [theta]
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        theta = theta - lr * m / (1 - beta1**t) / ((v / (1 - beta2**t)).sqrt() + eps)
        thetas.append(theta)
    return torch.stack(thetas)


def amsgrad_forgets_theta0(grads, lr, beta1, beta2, eps):
    return amsgrad_without_maximum(grads, lr, beta1, beta2, eps)[1:]


def _momentum_drift(C, beta1, beta2, m1, step):
    a = (1 - beta2) * (C**2 + beta2 + beta2**2) / (1 - beta2**3)
    m = m1
    drift = -m / math.sqrt(a)
    for _ in range(2):
        a = beta2 * a + (1 - beta2)
        m = step(m)
        drift = drift - m / math.sqrt(a)
    return drift


def momentum_drift_without_momentum(C, beta1, beta2):
    return _momentum_drift(C, beta1, beta2, C, lambda m: -1.0)     # m_t = g_t


def momentum_drift_without_one_minus_beta1(C, beta1, beta2):
    m1 = (C - beta1 - beta1**2) / (1 - beta1**3)
    return _momentum_drift(C, beta1, beta2, m1, lambda m: beta1 * m - 1)


def momentum_drift_m_like_v(C, beta1, beta2):
    m1 = (1 - beta1) * (C + beta1 + beta1**2) / (1 - beta1**3)   # signs copied from v
    return _momentum_drift(C, beta1, beta2, m1, lambda m: beta1 * m - (1 - beta1))


WRONG = {
    "ex-adam_failure-drift": [(drift_without_one_minus_beta2, "expected"),
                              (drift_uses_the_average_v, "β2 = 0.1"),
                              (drift_divides_before_updating_v, "C = 3")],
    "ex-adam_failure-amsgrad": [(amsgrad_pytorch_max, "gradients 3, -1, -1"),
                                (amsgrad_without_maximum, "differs at index"),
                                (amsgrad_forgets_theta0, "expected shape")],
    "ex-adam_failure-momentum": [(momentum_drift_without_momentum, "β1 = 0.9"),
                                 (momentum_drift_without_one_minus_beta1, "β1 = 0.9"),
                                 (momentum_drift_m_like_v, "β1 = 0.9")],
}
