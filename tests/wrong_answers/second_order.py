"""Wrong answers to the second-order chapter's exercises."""

import torch


def two_loop(g, S, Y, gamma=None, second_reversed=False, sign=-1.0):
    """The two-loop recursion, with switches for the usual mistakes."""
    m = len(S)
    rho = [1 / (Y[i] @ S[i]) for i in range(m)]
    alpha = [0.0] * m
    q = g.clone()
    for i in reversed(range(m)):
        alpha[i] = rho[i] * (S[i] @ q)
        q = q - alpha[i] * Y[i]
    r = (gamma(S, Y) if gamma else (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1])) * q
    for i in (reversed(range(m)) if second_reversed else range(m)):
        beta = rho[i] * (Y[i] @ r)
        r = r + (alpha[i] - beta) * S[i]
    return sign * r


def two_loop_without_scaling(g, S, Y):
    # H_0 = I instead of γI
    return two_loop(g, S, Y, gamma=lambda S, Y: 1.0)


def two_loop_inverted_scaling(g, S, Y):
    # γ = yᵀy / sᵀy: a curvature, where an inverse curvature belongs
    return two_loop(g, S, Y, gamma=lambda S, Y: (Y[-1] @ Y[-1]) / (S[-1] @ Y[-1]))


def two_loop_oldest_pair_scaling(g, S, Y):
    # γ from the oldest pair instead of the newest
    return two_loop(g, S, Y, gamma=lambda S, Y: (S[0] @ Y[0]) / (Y[0] @ Y[0]))


def two_loop_second_loop_reversed(g, S, Y):
    # both loops from the newest pair to the oldest
    return two_loop(g, S, Y, second_reversed=True)


def two_loop_returns_hg(g, S, Y):
    # H g instead of the descent direction −H g
    return two_loop(g, S, Y, sign=1.0)


def saddle_free_plain_newton(grad, hess, theta0, num_steps):
    thetas = [theta0]
    for _ in range(num_steps):
        thetas.append(thetas[-1] - torch.linalg.solve(hess(thetas[-1]), grad(thetas[-1])))
    return torch.stack(thetas)


def saddle_free_entrywise_abs(grad, hess, theta0, num_steps):
    # |H| taken entry by entry: right only when H is diagonal
    thetas = [theta0]
    for _ in range(num_steps):
        H = hess(thetas[-1]).abs()
        thetas.append(thetas[-1] - torch.linalg.solve(H, grad(thetas[-1])))
    return torch.stack(thetas)


def saddle_free_clamped(grad, hess, theta0, num_steps):
    # negative curvature clamped to a small positive number instead of flipped
    thetas = [theta0]
    for _ in range(num_steps):
        lam, Q = torch.linalg.eigh(hess(thetas[-1]))
        step = Q @ ((Q.T @ grad(thetas[-1])) / lam.clamp(min=0.1))
        thetas.append(thetas[-1] - step)
    return torch.stack(thetas)


def saddle_free_not_rotated_back(grad, hess, theta0, num_steps):
    # the step left in the eigenbasis
    thetas = [theta0]
    for _ in range(num_steps):
        lam, Q = torch.linalg.eigh(hess(thetas[-1]))
        thetas.append(thetas[-1] - (Q.T @ grad(thetas[-1])) / lam.abs())
    return torch.stack(thetas)


WRONG = {
    "ex-so-two-loop": [(two_loop_without_scaling, "one pair"),
                       (two_loop_inverted_scaling, "one pair"),
                       (two_loop_oldest_pair_scaling, "m = 2 pairs"),
                       (two_loop_second_loop_reversed, "m = 2 pairs"),
                       (two_loop_returns_hg, "one pair")],
    "ex-so-saddle-free": [(saddle_free_plain_newton, "the Saddle"),
                          (saddle_free_entrywise_abs, "eigenvalues (3, -1)"),
                          (saddle_free_clamped, "the Saddle"),
                          (saddle_free_not_rotated_back, "the Saddle")],
}
