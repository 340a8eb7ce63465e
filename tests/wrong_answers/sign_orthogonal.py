"""Wrong answers to the Lion and Muon chapter's exercises."""

import torch


def cubic_spectral_normalisation(sigma, steps):
    s = sigma / sigma.max()                          # spectral norm, not Frobenius
    for _ in range(steps):
        s = 1.5 * s - 0.5 * s**3
    return s


def cubic_no_normalisation(sigma, steps):
    s = sigma                                        # forgets X_0 = G / ‖G‖_F
    for _ in range(steps):
        s = 1.5 * s - 0.5 * s**3
    return s


def cubic_nuclear_normalisation(sigma, steps):
    s = sigma / sigma.sum()                          # Σσ_i is the nuclear norm
    for _ in range(steps):
        s = 1.5 * s - 0.5 * s**3
    return s


def quintic_coefficients(sigma, steps):
    s = sigma / sigma.pow(2).sum().sqrt()
    for _ in range(steps):                           # Jordan's quintic, not the cubic
        s = 3.4445 * s - 4.7750 * s**3 + 2.0315 * s**5
    return s


def cubic_one_step_too_many(sigma, steps):
    s = sigma / sigma.pow(2).sum().sqrt()
    for _ in range(steps + 1):
        s = 1.5 * s - 0.5 * s**3
    return s


WRONG = {
    "ex-muon-cubic": [(cubic_spectral_normalisation, "sigma = (3, 4), steps = 0"),
                      (cubic_no_normalisation, "sigma = (2), steps = 0"),
                      (cubic_nuclear_normalisation, "sigma = (3, 4), steps = 0"),
                      (quintic_coefficients, "steps = 1"),
                      (cubic_one_step_too_many, "sigma = (3, 4), steps = 0")],
}
