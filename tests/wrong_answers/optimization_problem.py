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


WRONG = {
    "ex-optimization_problem-softmax-grad": [
        (grad_sums_instead_of_mean, "N = 5 examples"),
        (grad_forgets_regulariser, "λ = 0.1"),
        (grad_regulariser_twice, "λ = 0.1"),
        (grad_wrong_sign, "N = 1 examples"),
    ],
}
