"""Wrong answers to the exercises of the chapter "The optimization problem"."""

import torch


def _parts(W, X, y):
    P = torch.softmax(X @ W, dim=1)
    Y = torch.nn.functional.one_hot(y, W.shape[1]).to(W.dtype)
    return P, Y


def grad_sums_instead_of_mean(W, X, y, lam):
    P, Y = _parts(W, X, y)
    return X.T @ (P - Y) + lam * W


def grad_forgets_regulariser(W, X, y, lam):
    P, Y = _parts(W, X, y)
    return X.T @ (P - Y) / X.shape[0]


def grad_regulariser_twice(W, X, y, lam):
    P, Y = _parts(W, X, y)
    return X.T @ (P - Y) / X.shape[0] + 2 * lam * W


def grad_wrong_sign(W, X, y, lam):
    P, Y = _parts(W, X, y)
    return X.T @ (Y - P) / X.shape[0] + lam * W


def gap_sign_of_zero(theta, g, lam):
    return (g + lam * torch.sign(theta)).abs()     # sign(0) = 0, not [−1, 1]


def gap_not_clamped(theta, g, lam):
    at_zero = g.abs() - lam                        # negative inside the interval
    return torch.where(theta == 0, at_zero, (g + lam * torch.sign(theta)).abs())


def gap_wrong_sign(theta, g, lam):
    at_zero = (g.abs() - lam).clamp(min=0)
    return torch.where(theta == 0, at_zero, (g - lam * torch.sign(theta)).abs())


def gap_half_lambda(theta, g, lam):                # as if the penalty were (λ/2)‖θ‖₁
    at_zero = (g.abs() - lam / 2).clamp(min=0)
    away = (g + lam / 2 * torch.sign(theta)).abs()
    return torch.where(theta == 0, at_zero, away)


def gap_kink_always_optimal(theta, g, lam):        # a zero weight taken as optimal
    away = (g + lam * torch.sign(theta)).abs()
    return torch.where(theta == 0, torch.zeros_like(g), away)


WRONG = {
    "ex-optimization_problem-softmax-grad": [
        (grad_sums_instead_of_mean, "N = 5 examples"),
        (grad_forgets_regulariser, "λ = 0.1"),
        (grad_regulariser_twice, "λ = 0.1"),
        (grad_wrong_sign, "N = 1 examples"),
    ],
    "ex-optimization_problem-l1-optimality": [
        (gap_sign_of_zero, "θ = (1.5, 0, 0, 0)"),
        (gap_not_clamped, "θ = (1.5, 0, 0, 0)"),
        (gap_wrong_sign, "θ = (2, -1, 0.5)"),
        (gap_half_lambda, "θ = (2, -1, 0.5)"),
        (gap_kink_always_optimal, "θ = (1.5, 0, 0, 0)"),
    ],
}
