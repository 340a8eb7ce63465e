"""Wrong answers to the AdamW chapter's exercises."""

import torch


def adamw_with_l2_penalty(grad, theta0, lr, weight_decay, num_steps, betas=(0.9, 0.999),
                          eps=1e-8):
    beta1, beta2 = betas
    theta, m, v = theta0, torch.zeros_like(theta0), torch.zeros_like(theta0)
    for t in range(1, num_steps + 1):
        g = grad(theta) + weight_decay * theta          # penalty enters the moments
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        theta = theta - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps)
    return theta


def adamw_decay_not_times_lr(grad, theta0, lr, weight_decay, num_steps, betas=(0.9, 0.999),
                             eps=1e-8):
    beta1, beta2 = betas
    theta, m, v = theta0, torch.zeros_like(theta0), torch.zeros_like(theta0)
    for t in range(1, num_steps + 1):
        g = grad(theta)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        step = (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps)
        theta = theta - lr * step - weight_decay * theta
    return theta


def adamw_no_bias_correction(grad, theta0, lr, weight_decay, num_steps, betas=(0.9, 0.999),
                             eps=1e-8):
    beta1, beta2 = betas
    theta, m, v = theta0, torch.zeros_like(theta0), torch.zeros_like(theta0)
    for _ in range(num_steps):
        g = grad(theta)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        theta = theta - lr * (m / (v.sqrt() + eps) + weight_decay * theta)
    return theta


def convert_multiplies(lam_paper, alpha, new_lr):
    return lam_paper * alpha, lam_paper * new_lr          # multiplies, not divides


def convert_keeps_weight_decay(lam_paper, alpha, new_lr):
    return lam_paper / alpha, lam_paper / alpha           # forgets to adapt to new_lr


def convert_scales_with_lr(lam_paper, alpha, new_lr):
    weight_decay = lam_paper / alpha
    return weight_decay, weight_decay * new_lr / alpha    # more decay at a larger lr


def convert_decay_per_step(lam_paper, alpha, new_lr):
    return lam_paper, lam_paper                           # the paper's λ unchanged


WRONG = {
    "ex-adamw-loop": [(adamw_with_l2_penalty, "weight_decay = 0.1"),
                      (adamw_decay_not_times_lr, "weight_decay = 0.1"),
                      (adamw_no_bias_correction, "1 steps")],
    "ex-adamw-convert": [(convert_multiplies, "the recipe of the exercise"),
                         (convert_keeps_weight_decay, "expected 0.025, got 0.05"),
                         (convert_scales_with_lr, "expected 0.025, got 0.1"),
                         (convert_decay_per_step, "item 0")],
}
