"""Wrong answers to the exercises of the chapter "Beyond Adam"."""

import math


def perturbation_per_layer(grads, rho, p):
    q = 1.0 if p == math.inf else p / (p - 1)
    return [rho * g.sign() * g.abs() ** (q - 1) / (g.abs() ** q).sum() ** (1 / p)
            for g in grads]                       # each layer normalised on its own


def perturbation_always_l2(grads, rho, p):
    norm = math.sqrt(sum((g**2).sum() for g in grads))
    return [rho * g / norm for g in grads]        # the p = 2 answer for every p


def perturbation_p_for_q(grads, rho, p):
    q = 1.0 if p == math.inf else p / (p - 1)
    total = sum((g.abs() ** p).sum() for g in grads)    # p and q swapped
    return [rho * g.sign() * g.abs() ** (p - 1) / total ** (1 / q) for g in grads]


def perturbation_without_infinity(grads, rho, p):
    q = p / (p - 1)                               # nan for p = ∞
    total = sum((g.abs() ** q).sum() for g in grads)
    return [rho * g.sign() * g.abs() ** (q - 1) / total ** (1 / p) for g in grads]


def floor_of_plain_sgd(lr, a, sigma, k, alpha):
    return lr * sigma**2 / (2 * (2 - lr * a))    # Lookahead ignored


def floor_alpha_not_squared(lr, a, sigma, k, alpha):
    c = 1 - lr * a
    fast = lr**2 * sigma**2 * (1 - c ** (2 * k)) / (1 - c**2)
    b = 1 - alpha + alpha * c**k
    return 0.5 * a * alpha * fast / (1 - b**2)


def floor_noise_of_one_fast_step(lr, a, sigma, k, alpha):
    c = 1 - lr * a
    b = 1 - alpha + alpha * c**k
    return 0.5 * a * alpha**2 * lr**2 * sigma**2 / (1 - b**2)


def floor_variance_not_loss(lr, a, sigma, k, alpha):
    c = 1 - lr * a
    fast = lr**2 * sigma**2 * (1 - c ** (2 * k)) / (1 - c**2)
    b = 1 - alpha + alpha * c**k
    return alpha**2 * fast / (1 - b**2)           # Var[θ̄], not E[½ a θ̄²]


WRONG = {
    "ex-beyond-sam-lp": [(perturbation_per_layer, "2 layers"),
                         (perturbation_always_l2, "p = 3"),
                         (perturbation_p_for_q, "p = 3"),
                         (perturbation_without_infinity, "p = inf")],
    "ex-beyond-lookahead-floor": [(floor_of_plain_sgd, "lr = 0.1, a = 4"),
                                  (floor_alpha_not_squared, "lr = 0.1, a = 4"),
                                  (floor_noise_of_one_fast_step, "lr = 0.1, a = 4"),
                                  (floor_variance_not_loss, "lr = 0.1, a = 4")],
}
