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


def _power(M, p):
    lam, Q = torch.linalg.eigh(M)
    return Q @ torch.diag(lam**p) @ Q.T


def _factors(grads, eps):
    m, n = grads.shape[1:]
    L = eps * torch.eye(m, dtype=grads.dtype) + sum(G @ G.T for G in grads)
    R = eps * torch.eye(n, dtype=grads.dtype) + sum(G.T @ G for G in grads)
    return L, R


def shampoo_square_roots(grads, eps):
    # full-matrix AdaGrad's exponent −1/2 on each factor
    L, R = _factors(grads, eps)
    return _power(L, -0.5) @ grads[-1] @ _power(R, -0.5)


def shampoo_entrywise_power(grads, eps):
    L, R = _factors(grads, eps)
    return L ** -0.25 @ grads[-1] @ R ** -0.25


def shampoo_last_gradient_only(grads, eps):
    L, R = _factors(grads[-1:], eps)
    return _power(L, -0.25) @ grads[-1] @ _power(R, -0.25)


def shampoo_first_gradient(grads, eps):
    L, R = _factors(grads, eps)
    return _power(L, -0.25) @ grads[0] @ _power(R, -0.25)


def shampoo_eps_outside(grads, eps):
    # ε added after the root, as in AdaGrad's √s + ε, instead of to L_0 and R_0
    L, R = _factors(grads, 0.0)

    def root_plus_eps(M):                            # M^(1/4) + εI
        lam, Q = torch.linalg.eigh(M)
        return Q @ torch.diag(lam.clamp(min=0) ** 0.25 + eps) @ Q.T

    inverse = torch.linalg.inv
    return inverse(root_plus_eps(L)) @ grads[-1] @ inverse(root_plus_eps(R))


WRONG = {
    "ex-adagrad-loop": [(adagrad_eps_inside_root, "eps = 0.1"),
                        (adagrad_no_memory, "lr = 0.1, 3 steps"),
                        (adagrad_stale_sum, "differs at index"),
                        (adagrad_forgets_theta0, "expected shape")],
    "ex-adagrad-shampoo": [(shampoo_square_roots, "Γ_1 = [(2, 0), (0, 0.5)]"),
                           (shampoo_entrywise_power, "Γ_1 = [(2, 0), (0, 0.5)]"),
                           (shampoo_last_gradient_only, "eps = 0.01"),
                           (shampoo_first_gradient, "eps = 0.01"),
                           (shampoo_eps_outside, "eps = 0.001")],
}
