"""Exercises of the chapter "AdamW: decoupled weight decay"."""

from __future__ import annotations

import torch

from .checking import Case, Exercise, register, vector


def adamw(grad, theta0, lr, weight_decay, num_steps, betas=(0.9, 0.999), eps=1e-8):
    """Reference: θ_T of AdamW in PyTorch's convention (decay multiplied by lr)."""
    beta1, beta2 = betas
    theta = theta0
    m, v = torch.zeros_like(theta0), torch.zeros_like(theta0)
    for t in range(1, num_steps + 1):
        g = grad(theta)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        theta = theta - lr * (m_hat / (v_hat.sqrt() + eps) + weight_decay * theta)
    return theta


class DiagonalQuadratic:
    """Gradient of f(θ) = ½ Σ a_i (θ_i − c_i)², printable for hints."""

    def __init__(self, a, c):
        self.a = torch.tensor(a, dtype=torch.float64)
        self.c = torch.tensor(c, dtype=torch.float64)
        self.text = (f"f(θ) = ½ Σ a_i (θ_i − c_i)² with a = {vector(a)}, "
                     f"c = {vector(c)}")

    def __call__(self, theta):
        return self.a * (theta - self.c)


def _case(a, c, theta0, lr, weight_decay, steps, **options):
    problem = DiagonalQuadratic(a, c)
    extra = "".join(f", {k} = {v}" for k, v in options.items())
    return Case(f"{problem.text}, θ0 = {vector(theta0)}, lr = {lr}, "
                f"weight_decay = {weight_decay}, {steps} steps{extra}",
                (problem, torch.tensor(theta0, dtype=torch.float64), lr, weight_decay,
                 steps),
                options)


register(Exercise(
    label="ex-adamw-loop",
    function_name="adamw",
    reference=adamw,
    cases=(
        _case((1.0,), (0.0,), (1.0,), 0.1, 0.0, 1),
        _case((1.0, 100.0), (1.0, -1.0), (0.5, 0.5), 0.05, 0.1, 5),
        _case((0.01, 1.0, 10.0), (2.0, 0.0, 1.0), (1.0, -1.0, 3.0), 0.1, 0.5, 20),
        _case((1.0, 4.0), (0.0, 0.0), (1e-3, -2e-3), 0.01, 1.0, 10, eps=0.01),
        _case((2.0, 0.5), (1.0, 1.0), (0.0, 3.0), 0.2, 0.3, 15, betas=(0.5, 0.9)),
    ),
    hint="compute m and v from the plain gradient (no λθ in them), correct both for "
         "bias with 1 − β^t (t counted from 1), and subtract "
         "lr·(m̂/(√v̂ + ε) + λ·θ_{t-1}).",
))


def convert_recipe(lam_paper, alpha, new_lr):
    """Reference: the weight_decay for PyTorch's AdamW(lr=α) that repeats a recipe
    (α, λ_paper) in the paper's convention, and the one for AdamW(lr=new_lr) that
    keeps the decay per step, λ_paper (times the schedule), unchanged."""
    return lam_paper / alpha, lam_paper / new_lr      # (decay-conversion)


def _convert_case(lam_paper, alpha, new_lr, note=""):
    text = f"lam_paper = {lam_paper:g}, alpha = {alpha:g}, new_lr = {new_lr:g}"
    return Case(text + note, (lam_paper, alpha, new_lr))


register(Exercise(
    label="ex-adamw-convert",
    function_name="convert_recipe",
    reference=convert_recipe,
    cases=(
        _convert_case(2.5e-5, 5e-4, 1e-3, " (the recipe of the exercise)"),
        _convert_case(1e-4, 1e-3, 1e-4, " (a smaller new_lr)"),
        _convert_case(0.01, 0.1, 0.1, " (the same learning rate)"),
        _convert_case(3e-6, 2e-4, 6e-3),
        _convert_case(1e-3, 0.01, 0.003),
    ),
    hint="by (decay-conversion) weight_decay = λ_paper/α when lr = α. PyTorch's "
         "decay per step is lr·weight_decay, so for new_lr choose the weight_decay "
         "that makes new_lr·weight_decay equal to λ_paper again.",
))
