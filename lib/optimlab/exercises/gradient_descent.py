"""Exercises of the chapter "Gradient descent and the learning rate"."""

from __future__ import annotations

import math

import torch

from .checking import Case, Exercise, float64, register, vector


def gradient_descent(grad, theta0, lr, num_steps):
    """Reference: the iterates θ_0, …, θ_T of θ_{t+1} = θ_t − η ∇f(θ_t), stacked."""
    thetas = [theta0]
    for _ in range(num_steps):
        thetas.append(thetas[-1] - lr * grad(thetas[-1]))
    return torch.stack(thetas)


def armijo_step(f, grad, theta, lr=1.0, shrink=0.5, c=1e-4):
    """Reference: one gradient step with a backtracking (Armijo) line search."""
    g = grad(theta)
    while f(theta - lr * g) > f(theta) - c * lr * torch.dot(g, g):
        lr = lr * shrink
    return theta - lr * g, lr


def steps_needed(L, gap, eps):
    """Reference: the smallest T with 2L·gap/T ≤ eps², so that (gd-nonconvex-rate)
    guarantees min_{t<T} ‖∇f(θ_t)‖ ≤ eps."""
    return math.ceil(2 * L * gap / eps**2)


class QuadraticCase:
    """f(θ) = ½ θᵀAθ − bᵀθ and its gradient, picklable and printable for hints."""

    def __init__(self, diagonal, b=None):
        self.A = torch.diag(torch.tensor(diagonal, dtype=torch.float64))
        self.b = torch.zeros(len(diagonal), dtype=torch.float64) if b is None else \
            torch.tensor(b, dtype=torch.float64)
        self.text = f"A = diag{vector(diagonal)}" + ("" if b is None else f", b = {vector(b)}")

    def f(self, theta):
        """f(θ) = ½ θᵀAθ − bᵀθ."""
        return 0.5 * theta @ self.A @ theta - self.b @ theta

    def grad(self, theta):
        """∇f(θ) = Aθ − b."""
        return self.A @ theta - self.b


def rosenbrock(theta):
    """f(x, y) = (1 − x)² + 100 (y − x²)², Rosenbrock's valley, at θ = (x, y)."""
    return (1 - theta[0]) ** 2 + 100 * (theta[1] - theta[0] ** 2) ** 2


def rosenbrock_grad(theta):
    """The gradient of :func:`rosenbrock` at θ = (x, y)."""
    x, y = theta[0], theta[1]
    return torch.stack([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])


def _gd_case(diagonal, theta0, lr, steps, b=None):
    q = QuadraticCase(diagonal, b)
    return Case(f"f(θ) = ½θᵀAθ − bᵀθ with {q.text}, θ0 = {vector(theta0)}, lr = {lr}, "
                f"{steps} steps", (q.grad, float64(theta0), lr, steps))


register(Exercise(
    label="ex-gd-loop",
    function_name="gradient_descent",
    reference=gradient_descent,
    cases=(
        _gd_case((4.0,), (1.0,), 0.1, 3),
        _gd_case((1.0, 10.0), (1.0, 1.0), 0.05, 5),
        _gd_case((2.0, 3.0), (0.5, -1.0), 0.3, 8, b=(1.0, -2.0)),
        _gd_case((1.0, 10.0), (1.0, 1.0), 0.25, 6),  # lr > 2/L: must diverge
        _gd_case((1.0, 10.0), (1.0, 1.0), 0.05, 0),
    ),
    hint="start the list with θ0 itself, then append θ − lr·∇f(θ) once per step, "
         "and return torch.stack of the list (shape [num_steps + 1, d]).",
))


def _armijo_case(label, f, grad, theta, **options):
    text = ", ".join(f"{k} = {v}" for k, v in options.items())
    return Case(f"{label}, θ = {vector(theta)}" + (f", {text}" if text else ""),
                (f, grad, float64(theta)), options)


_steep = QuadraticCase((1.0, 10.0))
_shifted = QuadraticCase((2.0, 0.5), b=(1.0, 1.0))
register(Exercise(
    label="ex-armijo",
    function_name="armijo_step",
    reference=armijo_step,
    cases=(
        _armijo_case("f = ½θᵀdiag(1, 10)θ", _steep.f, _steep.grad, (1.0, 1.0)),
        _armijo_case("f = ½θᵀdiag(1, 10)θ", _steep.f, _steep.grad, (1.0, 1.0), c=0.5),
        _armijo_case("f = ½θᵀdiag(1, 10)θ", _steep.f, _steep.grad, (1.0, 0.0),
                     lr=4.0, shrink=0.3),
        _armijo_case(f"f(θ) = ½θᵀAθ − bᵀθ with {_shifted.text}", _shifted.f, _shifted.grad,
                     (3.0, -2.0), c=0.4),
        _armijo_case("Rosenbrock", rosenbrock, rosenbrock_grad, (-1.0, 1.5)),
        _armijo_case("Rosenbrock", rosenbrock, rosenbrock_grad, (0.5, 0.5), lr=0.01, c=0.3),
    ),
    hint="shrink lr while f(θ − lr·g) > f(θ) − c·lr·‖g‖², then return the new point "
         "and the lr that was accepted.",
))


# 2·L·gap/eps² is at least 0.04 from a whole number in every case, far more than a
# rounding error, so no case sits on a tie; in six cases its fractional part is below
# 0.5, where rounding to nearest instead of up gives a wrong T. No L, gap or eps
# equals 1, so forgetting the factor 2 or the square, or swapping a product for a
# quotient, is caught.
register(Exercise(
    label="ex-gd-steps-needed",
    function_name="steps_needed",
    reference=steps_needed,
    cases=tuple(
        Case(f"L = {L}, gap = {gap}, eps = {eps}", (L, gap, eps))
        for L, gap, eps in [(2.0, 1.5, 0.7), (4.0, 2.0, 0.3), (10.0, 0.25, 0.9),
                            (0.5, 3.0, 0.3), (50.0, 0.03, 0.07), (3.0, 5.0, 2.5),
                            (0.5, 0.1, 1.5), (2.0, 3.7, 0.003)]
    ),
    hint="the bound promises min_t ‖∇f(θ_t)‖² ≤ 2L·gap/T, and ‖∇f‖ ≤ eps means "
         "‖∇f‖² ≤ eps²; return the smallest integer T with 2L·gap/T ≤ eps² "
         "(a ceiling, not a floor or a round).",
))
