"""Wrong answers to the Adam chapter's exercise."""

import torch


def adam_without_bias_correction(grad, theta0, lr, beta1, beta2, eps, num_steps):
    theta, m, v = theta0, torch.zeros_like(theta0), torch.zeros_like(theta0)
    thetas = [theta0]
    for _ in range(num_steps):
        g = grad(theta)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        theta = theta - lr * m / (v.sqrt() + eps)
        thetas.append(theta)
    return torch.stack(thetas)


def adam_counts_t_from_zero(grad, theta0, lr, beta1, beta2, eps, num_steps):
    theta, m, v = theta0, torch.zeros_like(theta0), torch.zeros_like(theta0)
    thetas = [theta0]
    for t in range(num_steps):
        g = grad(theta)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1 ** (t + 2))
        v_hat = v / (1 - beta2 ** (t + 2))
        theta = theta - lr * m_hat / (v_hat.sqrt() + eps)
        thetas.append(theta)
    return torch.stack(thetas)


def adam_eps_inside_the_root(grad, theta0, lr, beta1, beta2, eps, num_steps):
    theta, m, v = theta0, torch.zeros_like(theta0), torch.zeros_like(theta0)
    thetas = [theta0]
    for t in range(1, num_steps + 1):
        g = grad(theta)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        theta = theta - lr * m_hat / (v_hat + eps).sqrt()
        thetas.append(theta)
    return torch.stack(thetas)


WRONG = {
    "ex-adam-loop": [(adam_without_bias_correction, "1 steps"),
                     (adam_counts_t_from_zero, "1 steps"),
                     (adam_eps_inside_the_root, "eps = 0.5")],
}
