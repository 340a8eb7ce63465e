"""Exercises of the chapter "Less memory, no schedule: Adafactor and Schedule-Free"."""

from __future__ import annotations

import torch

from .checking import Case, Exercise, register


def adafactor_first_step(theta, G, lr, d, eps2):
    """Reference: θ_1 of Adafactor from θ_0 = ``theta`` and the first gradient ``G``
    (an n × m matrix): β̂_2,1 = 0, relative step, update clipping at ``d``; ε1
    left out (no gradient entry is 0)."""
    squares = G**2
    R = squares.mean(dim=1, keepdim=True)            # row means, n × 1
    C = squares.mean(dim=0, keepdim=True)            # column means, 1 × m
    V_hat = R @ C / R.mean()                         # (fac-factored), with means
    U = G / V_hat.sqrt()
    rms = lambda x: x.pow(2).mean().sqrt()
    U_hat = U / torch.clamp(rms(U) / d, min=1.0)     # update clipping
    rho = min(lr, 1.0)                               # ρ_1 = min(η, 1/√1)
    alpha = torch.clamp(rms(theta), min=eps2) * rho  # α_1 = max(ε2, RMS(θ_0)) ρ_1
    return theta - alpha * U_hat


def _matrix(seed, n, m, scale=1.0, rank_one=False):
    generator = torch.Generator().manual_seed(seed)
    if rank_one:
        a = torch.rand(n, 1, generator=generator, dtype=torch.float64) + 0.5
        b = torch.rand(1, m, generator=generator, dtype=torch.float64) + 0.5
        signs = torch.randint(0, 2, (n, m), generator=generator).double() * 2 - 1
        return scale * signs * a * b
    return scale * torch.randn(n, m, generator=generator, dtype=torch.float64)


def _case(text, theta, G, lr, d, eps2):
    return Case(f"{text}, lr = {lr}, d = {d}, eps2 = {eps2}", (theta, G, lr, d, eps2))


register(Exercise(
    label="ex-fac-first-step",
    function_name="adafactor_first_step",
    reference=adafactor_first_step,
    cases=(
        _case("θ0 and G 4 × 3 standard normal (seeds 1, 2)", _matrix(1, 4, 3),
              _matrix(2, 4, 3), 0.01, 1.0, 1e-3),
        _case("θ0 5 × 2 normal, G 5 × 2 normal times 100", _matrix(3, 5, 2),
              _matrix(4, 5, 2, 100.0), 0.05, 1.0, 1e-3),
        _case("θ0 = 0 (4 × 4), G normal: the step is eps2-sized", torch.zeros(4, 4,
              dtype=torch.float64), _matrix(5, 4, 4), 0.01, 1.0, 1e-3),
        _case("θ0 3 × 6 normal times 0.01, G normal, large d (no clipping)",
              _matrix(6, 3, 6, 0.01), _matrix(7, 3, 6), 0.01, 10.0, 1e-3),
        _case("θ0 6 × 3 normal, G normal, d = 0.5", _matrix(8, 6, 3),
              _matrix(9, 6, 3), 0.02, 0.5, 1e-3),
        _case("θ0 3 × 5 normal, G = ±a bᵀ (G² of rank 1), lr = 2 (ρ1 = 1)",
              _matrix(10, 3, 5), _matrix(11, 3, 5, rank_one=True), 2.0, 1.0, 1e-3),
        _case("θ0 2 × 7 normal times 3, G normal times 0.001, eps2 = 0.5",
              _matrix(12, 2, 7, 3.0), _matrix(13, 2, 7, 1e-3), 0.1, 1.0, 0.5),
        _case("θ0 7 × 2 normal times 1e-5, G normal, eps2 = 1e-3",
              _matrix(14, 7, 2, 1e-5), _matrix(15, 7, 2), 0.3, 1.0, 1e-3),
    ),
    hint="with β̂_2,1 = 0 the row and column factors are the means of G² over each "
         "row and each column; V̂ = R C / mean(R) (with sums: divide by the sum of R); "
         "U = G/√V̂, then divide U by max(1, RMS(U)/d); ρ1 = min(lr, 1) and the step "
         "is max(eps2, RMS(θ0))·ρ1 times the clipped U.",
))
