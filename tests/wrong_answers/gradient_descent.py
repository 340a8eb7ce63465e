"""Wrong answers to the gradient-descent chapter's exercises."""

import math

import torch


def gd_wrong_sign(grad, theta0, lr, num_steps):
    thetas = [theta0]
    for _ in range(num_steps):
        thetas.append(thetas[-1] + lr * grad(thetas[-1]))
    return torch.stack(thetas)


def gd_forgets_theta0(grad, theta0, lr, num_steps):
    thetas, theta = [], theta0
    for _ in range(num_steps):
        theta = theta - lr * grad(theta)
        thetas.append(theta)
    return torch.stack(thetas) if thetas else theta0[None]


def gd_returns_a_list(grad, theta0, lr, num_steps):
    thetas = [theta0]
    for _ in range(num_steps):
        thetas.append(thetas[-1] - lr * grad(thetas[-1]))
    return thetas


def armijo_returns_no_lr(f, grad, theta, lr=1.0, shrink=0.5, c=1e-4):
    g = grad(theta)
    while f(theta - lr * g) > f(theta) - c * lr * torch.dot(g, g):
        lr = lr * shrink
    return theta - lr * g


def armijo_ignores_c(f, grad, theta, lr=1.0, shrink=0.5, c=1e-4):
    g = grad(theta)
    while f(theta - lr * g) > f(theta):
        lr = lr * shrink
    return theta - lr * g, lr


def armijo_halves_always(f, grad, theta, lr=1.0, shrink=0.5, c=1e-4):
    g = grad(theta)
    while f(theta - lr * g) > f(theta) - c * lr * torch.dot(g, g):
        lr = lr * 0.5
    return theta - lr * g, lr


def steps_forgets_the_square(L, gap, eps):
    return math.ceil(2 * L * gap / eps)         # bounds ‖∇f‖², not ‖∇f‖, by eps


def steps_forgets_the_factor_2(L, gap, eps):
    return math.ceil(L * gap / eps**2)          # the descent lemma's 1/(2L) lost


def steps_floor(L, gap, eps):
    return math.floor(2 * L * gap / eps**2)     # one step short of the guarantee


def steps_round(L, gap, eps):
    return round(2 * L * gap / eps**2)


def steps_off_by_one(L, gap, eps):
    return math.ceil(2 * L * gap / eps**2) + 1  # counts θ_T as well


WRONG = {
    "ex-gd-loop": [(gd_wrong_sign, "differs at index"), (gd_forgets_theta0, "expected shape"),
                   (gd_returns_a_list, "expected a torch.Tensor")],
    "ex-armijo": [(armijo_returns_no_lr, "expected 2 values"),
                  (armijo_ignores_c, "c = "), (armijo_halves_always, "shrink = 0.3")],
    "ex-gd-steps-needed": [(steps_forgets_the_square, "expected 13, got 9"),
                           (steps_forgets_the_factor_2, "expected 13, got 7"),
                           (steps_floor, "expected 13, got 12"),
                           (steps_round, "expected 13, got 12"),
                           (steps_off_by_one, "expected 13, got 14")],
}
