"""Wrong answers to the exercises of the chapter "AdaShift"."""

import math

import torch


def _run(grads, lr, beta1, beta2, n, eps, *, shift_v=True, window_m=True,
         correct=True, wait=True):
    theta = torch.zeros_like(grads[0])
    v, m_ema = torch.zeros_like(theta), torch.zeros_like(theta)
    weights = [beta1**i for i in range(n)]
    queue, thetas, t = [], [theta], 0
    for g in grads:
        queue.append(g)
        if len(queue) > n or not wait:
            t += 1
            oldest = queue.pop(0) if len(queue) > n else queue[0]
            if window_m:
                m = sum(w * q for w, q in zip(weights, reversed(queue))) / sum(weights)
            else:                       # the simplified formula: m from g_{t-n} too
                m_ema = beta1 * m_ema + (1 - beta1) * oldest
                m = m_ema
            v = beta2 * v + (1 - beta2) * (oldest if shift_v else g) ** 2
            v_hat = v / (1 - beta2**t) if correct else v
            theta = theta - lr * m / (v_hat.sqrt() + eps)
        thetas.append(theta)
    return torch.stack(thetas)


def adashift_shifts_m_too(grads, lr, beta1, beta2, n, eps):
    return _run(grads, lr, beta1, beta2, n, eps, window_m=False)


def adashift_v_from_current_gradient(grads, lr, beta1, beta2, n, eps):
    return _run(grads, lr, beta1, beta2, n, eps, shift_v=False)


def adashift_without_bias_correction(grads, lr, beta1, beta2, n, eps):
    return _run(grads, lr, beta1, beta2, n, eps, correct=False)


def _drift(C, beta2, period, phase_of_v):
    geometric = sum(beta2**j for j in range(1, period))
    a = [(1 - beta2) * (C**2 + geometric) / (1 - beta2**period)]
    for _ in range(period - 1):
        a.append(beta2 * a[-1] + (1 - beta2))
    g = [C] + [-1.0] * (period - 1)
    return -sum(g[j] / math.sqrt(a[phase_of_v(j) % period]) for j in range(period))


def drift_of_adam(C, beta2, period, n):
    return _drift(C, beta2, period, lambda j: j)            # v_t still contains g_t


def drift_shifted_forwards(C, beta2, period, n):
    return _drift(C, beta2, period, lambda j: j + n)        # g_(t+n) instead of g_(t-n)


def drift_shifted_one_too_few(C, beta2, period, n):
    return _drift(C, beta2, period, lambda j: j - n + 1)


def drift_shifted_one_too_many(C, beta2, period, n):
    return _drift(C, beta2, period, lambda j: j - n - 1)


WRONG = {
    "ex-adashift-loop": [(adashift_shifts_m_too, "n = 1"),
                         (adashift_v_from_current_gradient, "differs at index"),
                         (adashift_without_bias_correction, "β2 = 0.1")],
    "ex-adashift-drift": [(drift_of_adam, "n = 1:"),
                          (drift_shifted_forwards, "n = 1:"),
                          (drift_shifted_one_too_few, "n = 1:"),
                          (drift_shifted_one_too_many, "n = 1:")],
}
