"""Wrong answers to the AdaGrad chapter's exercises."""

import torch


def adagrad_eps_inside_root(grad, theta0, lr, num_steps, eps=1e-10):
    thetas, s = [theta0], torch.zeros_like(theta0)
    for _ in range(num_steps):
        g = grad(thetas[-1])
        s = s + g * g
        thetas.append(thetas[-1] - lr * g / (s + eps).sqrt())
    return torch.stack(thetas)


def adagrad_no_memory(grad, theta0, lr, num_steps, eps=1e-10):
    thetas = [theta0]
    for _ in range(num_steps):
        g = grad(thetas[-1])
        thetas.append(thetas[-1] - lr * g / (g.abs() + eps))
    return torch.stack(thetas)


def adagrad_stale_sum(grad, theta0, lr, num_steps, eps=1e-10):
    thetas, s = [theta0], torch.full_like(theta0, 1.0)
    for _ in range(num_steps):
        g = grad(thetas[-1])
        thetas.append(thetas[-1] - lr * g / (s.sqrt() + eps))
        s = s + g * g
    return torch.stack(thetas)


def adagrad_forgets_theta0(grad, theta0, lr, num_steps, eps=1e-10):
    thetas, theta, s = [], theta0, torch.zeros_like(theta0)
    for _ in range(num_steps):
        g = grad(theta)
        s = s + g * g
        theta = theta - lr * g / (s.sqrt() + eps)
        thetas.append(theta)
    return torch.stack(thetas) if thetas else theta0[None]


WRONG = {
    "ex-adagrad-loop": [(adagrad_eps_inside_root, "eps = 0.1"),
                        (adagrad_no_memory, "lr = 0.1, 3 steps"),
                        (adagrad_stale_sum, "differs at index"),
                        (adagrad_forgets_theta0, "expected shape")],
}
