"""Exercises of the chapter "Sign and orthogonal updates: Lion and Muon"."""

from __future__ import annotations

import torch

from .checking import Case, Exercise, register, vector


def cubic_singular_values(sigma, steps):
    """Reference: the singular values of X_k after ``steps`` steps of the cubic
    Newton–Schulz iteration X ← (3X − X Xᵀ X)/2 from X_0 = G/‖G‖_F, for a G with
    singular values ``sigma``."""
    s = sigma / sigma.pow(2).sum().sqrt()           # X_0 = G / ‖G‖_F
    for _ in range(steps):
        s = 1.5 * s - 0.5 * s.pow(3)                # p(σ) = (3σ − σ³)/2
    return s


def _case(sigma, steps, note=""):
    return Case(f"sigma = {vector(sigma)}, steps = {steps}{note}",
                (torch.tensor(sigma, dtype=torch.float64), steps))


register(Exercise(
    label="ex-muon-cubic",
    function_name="cubic_singular_values",
    reference=cubic_singular_values,
    cases=(
        _case((2.0,), 0, " (X_0 only)"),
        _case((3.0, 4.0), 0, " (X_0 only)"),
        _case((3.0, 4.0), 1),
        _case((1.0, 0.5, 0.1), 3),
        _case((0.001, 0.2, 5.0, 2.0), 8),
        _case((10.0, 1.0, 0.01), 25, " (close to convergence)"),
    ),
    hint="X_0 = G/‖G‖_F has singular values σ_i/√(Σ_j σ_j²) (the Frobenius norm, "
         "not the largest σ); then every step maps each value s to 1.5·s − 0.5·s³.",
))
