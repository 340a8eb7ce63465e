"""Wrong answers to the gradient-descent chapter's exercises."""

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


WRONG = {
    "ex-gd-loop": [(gd_wrong_sign, "differs at index"), (gd_forgets_theta0, "expected shape"),
                   (gd_returns_a_list, "expected a torch.Tensor")],
    "ex-armijo": [(armijo_returns_no_lr, "expected 2 values"),
                  (armijo_ignores_c, "c = "), (armijo_halves_always, "shrink = 0.3")],
}
