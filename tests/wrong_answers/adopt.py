"""Wrong answers to the ADOPT chapter's exercises."""

import math

import torch


def adopt_without_shift(grads, lr, beta1, beta2, eps=1e-6, clip=True):
    """Divides by v_t, which already contains g_t (as some ports do)."""
    v, m, steps = grads[0] * grads[0], torch.zeros_like(grads[0]), []
    for t in range(1, len(grads)):
        g = grads[t]
        v = beta2 * v + (1 - beta2) * g * g
        normalised = g / torch.clamp(v.sqrt(), min=eps)
        if clip:
            normalised = normalised.clamp(-t ** 0.25, t ** 0.25)
        m = beta1 * m + (1 - beta1) * normalised
        steps.append(lr * m)
    return torch.stack(steps)


def adopt_momentum_first(grads, lr, beta1, beta2, eps=1e-6, clip=True):
    """Takes the momentum of the raw gradients, then normalises."""
    v, m, steps = grads[0] * grads[0], torch.zeros_like(grads[0]), []
    for t in range(1, len(grads)):
        g = grads[t]
        m = beta1 * m + (1 - beta1) * g
        step = m / torch.clamp(v.sqrt(), min=eps)
        if clip:
            step = step.clamp(-t ** 0.25, t ** 0.25)
        steps.append(lr * step)
        v = beta2 * v + (1 - beta2) * g * g
    return torch.stack(steps)


def adopt_clips_one_step_late(grads, lr, beta1, beta2, eps=1e-6, clip=True):
    """Clips at (t + 1)^(1/4), as pytorch-optimizer's ADOPT does."""
    v, m, steps = grads[0] * grads[0], torch.zeros_like(grads[0]), []
    for t in range(1, len(grads)):
        g = grads[t]
        normalised = g / torch.clamp(v.sqrt(), min=eps)
        if clip:
            normalised = normalised.clamp(-(t + 1) ** 0.25, (t + 1) ** 0.25)
        m = beta1 * m + (1 - beta1) * normalised
        steps.append(lr * m)
        v = beta2 * v + (1 - beta2) * g * g
    return torch.stack(steps)


def first_step_of_rough_model(k, p=0.25):
    """Uses the chapter's rough threshold k − 1 (v ≈ k²) instead of the exact one."""
    return math.floor((k - 1) ** (1 / p)) + 1


def last_wrong_step(k, p=0.25):
    """Returns the last step with E[ĝ_t] < 0, one before the first right one."""
    return math.floor((k - 1 - 1 / (k * (k - 1))) ** (1 / p))


def fourth_power_always(k, p=0.25):
    """Raises the threshold to the 4th power whatever the exponent p of the clip."""
    return math.floor((k - 1 - 1 / (k * (k - 1))) ** 4) + 1


def forgets_the_rare_pair(k, p=0.25):
    """Leaves out ĝ_t = 1 (two rare gradients in a row, probability 1/k²)."""
    return math.floor((k - 1 + 1 / k) ** (1 / p)) + 1


WRONG = {
    "ex-adopt-updates": [(adopt_without_shift, "toy draws"),
                         (adopt_momentum_first, "toy draws"),
                         (adopt_clips_one_step_late, "clip=True, β = (0.5, 0.9)")],
    "ex-adopt-clip-exit": [(first_step_of_rough_model, "k = 10, c_t = t^(1/4)"),
                           (last_wrong_step, "k = 10, c_t = t^(1/4)"),
                           (fourth_power_always, "k = 4, c_t = t^(1/2)"),
                           (forgets_the_rare_pair, "k = 10, c_t = t^(1/4)")],
}
