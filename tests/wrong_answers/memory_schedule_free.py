"""Wrong answers to the Adafactor and Schedule-Free chapter's exercises."""

import torch


def _rms(x):
    return x.pow(2).mean().sqrt()


def _parts(G):
    squares = G**2
    return squares.mean(dim=1, keepdim=True), squares.mean(dim=0, keepdim=True)


def means_divided_by_sum(theta, G, lr, d, eps2):
    R, C = _parts(G)
    U = G / (R @ C / R.sum()).sqrt()                 # means, but the sums' normaliser
    U_hat = U / torch.clamp(_rms(U) / d, min=1.0)
    return theta - torch.clamp(_rms(theta), min=eps2) * min(lr, 1.0) * U_hat


def no_clipping(theta, G, lr, d, eps2):
    R, C = _parts(G)
    U = G / (R @ C / R.mean()).sqrt()
    return theta - torch.clamp(_rms(theta), min=eps2) * min(lr, 1.0) * U


def step_not_relative(theta, G, lr, d, eps2):
    R, C = _parts(G)
    U = G / (R @ C / R.mean()).sqrt()
    U_hat = U / torch.clamp(_rms(U) / d, min=1.0)
    return theta - min(lr, 1.0) * U_hat              # α = ρ, not RMS(θ)·ρ


def full_second_moment(theta, G, lr, d, eps2):
    U = G / G.abs()                                  # V̂ = G² itself: sign descent
    U_hat = U / torch.clamp(_rms(U) / d, min=1.0)
    return theta - torch.clamp(_rms(theta), min=eps2) * min(lr, 1.0) * U_hat


WRONG = {
    "ex-fac-first-step": [(means_divided_by_sum, "large d (no clipping)"),
                          (no_clipping, "θ0 and G 4 × 3"),
                          (step_not_relative, "θ0 and G 4 × 3"),
                          (full_second_moment, "θ0 and G 4 × 3")],
}
