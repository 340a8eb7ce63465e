"""Exercises of the chapter "Second-order methods: Newton, Gauss–Newton and L-BFGS"."""

from __future__ import annotations

import torch

from .checking import Case, Exercise, float64, register, vector


# ---------------------------------------------------------------- ex-so-two-loop

def lbfgs_direction(g, S, Y):
    """Reference: −H_m g, where H_m comes from m BFGS updates of the inverse Hessian,
    H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ with ρ = 1/(yᵀs), applied to the pairs
    oldest first, starting from H_0 = γI with γ = sᵀy/yᵀy of the newest pair.  The
    matrix is formed explicitly, so the reference does not share the two loops'
    structure with the answer it checks."""
    d = g.numel()
    I = torch.eye(d, dtype=g.dtype)
    H = (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1]) * I
    for s, y in zip(S, Y):
        rho = 1 / (y @ s)
        V = I - rho * torch.outer(y, s)
        H = V.T @ H @ V + rho * torch.outer(s, s)
    return -(H @ g)


def _quadratic_pairs(d: int, m: int, seed: int):
    """g and m pairs (s, y = A s) of a random positive definite quadratic."""
    generator = torch.Generator().manual_seed(seed)
    B = torch.randn(d, d, generator=generator, dtype=torch.float64)
    A = B @ B.T + 0.5 * torch.eye(d, dtype=torch.float64)
    S = torch.randn(m, d, generator=generator, dtype=torch.float64)
    g = torch.randn(d, generator=generator, dtype=torch.float64)
    return g, S, S @ A                      # A symmetric: rows y_i = A s_i


def _rosenbrock_pairs():
    """Pairs of gradient differences along a path near the Rosenbrock function's
    minimum (all with sᵀy > 0) and the gradient at the path's end."""
    def grad(theta):
        x, y = theta
        return torch.stack([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])

    path = float64([[0.8, 0.6], [0.9, 0.8], [0.95, 0.9], [1.02, 1.03]])
    S = path[1:] - path[:-1]
    Y = torch.stack([grad(b) - grad(a) for a, b in zip(path[:-1], path[1:])])
    return grad(path[-1]), S, Y


def _two_loop_case(description, g, S, Y):
    return Case(description, (g, S, Y))


register(Exercise(
    label="ex-so-two-loop",
    function_name="lbfgs_direction",
    reference=lbfgs_direction,
    cases=(
        _two_loop_case("d = 2, one pair: s = (1, 0), y = (2, 1), g = (1, 1)",
                       float64([1.0, 1.0]), float64([[1.0, 0.0]]), float64([[2.0, 1.0]])),
        _two_loop_case("a quadratic in d = 3 with m = 2 pairs", *_quadratic_pairs(3, 2, 0)),
        _two_loop_case("a quadratic in d = 5 with m = 4 pairs", *_quadratic_pairs(5, 4, 1)),
        _two_loop_case("a quadratic in d = 4 with m = 3 pairs", *_quadratic_pairs(4, 3, 2)),
        _two_loop_case("3 pairs along a path on the Rosenbrock function",
                       *_rosenbrock_pairs()),
    ),
    hint="first loop from the newest pair to the oldest: α_i = ρ_i s_iᵀq, "
         "q ← q − α_i y_i; then r = γq with γ = sᵀy/yᵀy of the newest pair; second "
         "loop from the oldest to the newest: β = ρ_i y_iᵀr, r ← r + (α_i − β) s_i; "
         "return −r (a descent direction), with q = g at the start.",
))


# ---------------------------------------------------------------- ex-so-saddle-free

def saddle_free_newton(grad, hess, theta0, num_steps):
    """Reference: iterates of ``θ ← θ − |H|⁻¹ ∇f(θ)``, where ``|H| = Q|Λ|Qᵀ`` for
    ``H = QΛQᵀ``."""
    thetas = [theta0]
    for _ in range(num_steps):
        lam, Q = torch.linalg.eigh(hess(thetas[-1]))
        thetas.append(thetas[-1] - Q @ ((Q.T @ grad(thetas[-1])) / lam.abs()))
    return torch.stack(thetas)


def _saddle_grad(theta):              # f = x² − y²
    return float64([2.0, -2.0]) * theta


def _saddle_hess(theta):
    return torch.diag(float64([2.0, -2.0]))


def _well_grad(theta):                # f = x²/2 + (y² − 1)²/4
    x, y = theta
    return torch.stack([x, y**3 - y])


def _well_hess(theta):
    return torch.diag(torch.stack([torch.ones_like(theta[1]), 3 * theta[1] ** 2 - 1]))


class _IndefiniteQuadratic:
    """f(θ) = ½θᵀAθ − bᵀθ with A = R diag(eigenvalues) Rᵀ, R a fixed rotation."""

    def __init__(self, eigenvalues, b, seed):
        generator = torch.Generator().manual_seed(seed)
        d = len(eigenvalues)
        R, _ = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
        self.A = R @ torch.diag(float64(eigenvalues)) @ R.T
        self.A = (self.A + self.A.T) / 2
        self.b = float64(b)
        self.text = (f"f(θ) = ½θᵀAθ − bᵀθ, A rotated with eigenvalues "
                     f"{vector(eigenvalues)}, b = {vector(b)}")

    def grad(self, theta):
        return self.A @ theta - self.b

    def hess(self, theta):
        return self.A


def _rosenbrock_grad(theta):
    x, y = theta
    return torch.stack([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def _rosenbrock_hess(theta):
    x, y = theta
    return torch.stack([torch.stack([2 - 400 * (y - 3 * x * x), -400 * x]),
                        torch.stack([-400 * x, 200 + 0 * x])])


_ROTATED_2D = _IndefiniteQuadratic([3.0, -1.0], [1.0, -0.5], seed=3)
_ROTATED_3D = _IndefiniteQuadratic([2.0, -0.5, 1.0], [0.5, 1.0, -1.0], seed=4)

register(Exercise(
    label="ex-so-saddle-free",
    function_name="saddle_free_newton",
    reference=saddle_free_newton,
    cases=(
        Case("the Saddle f = x² − y², θ0 = (1, 0.5), 3 steps",
             (_saddle_grad, _saddle_hess, float64([1.0, 0.5]), 3)),
        Case("the double well f = x²/2 + (y² − 1)²/4, θ0 = (1, 0.3), 6 steps",
             (_well_grad, _well_hess, float64([1.0, 0.3]), 6)),
        Case(f"{_ROTATED_2D.text}, θ0 = (0.5, 1), 2 steps",
             (_ROTATED_2D.grad, _ROTATED_2D.hess, float64([0.5, 1.0]), 2)),
        Case(f"{_ROTATED_3D.text}, θ0 = (1, 0, -1), 2 steps",
             (_ROTATED_3D.grad, _ROTATED_3D.hess, float64([1.0, 0.0, -1.0]), 2)),
        Case("Rosenbrock, θ0 = (0.5, 1) (an indefinite Hessian there), 1 step",
             (_rosenbrock_grad, _rosenbrock_hess, float64([0.5, 1.0]), 1)),
        Case("the Saddle, θ0 = (1, 0.5), 0 steps",
             (_saddle_grad, _saddle_hess, float64([1.0, 0.5]), 0)),
    ),
    hint="diagonalise H = QΛQᵀ with torch.linalg.eigh, divide the gradient's "
         "coordinates in the eigenbasis, Qᵀg, by |λ_i| (not by λ_i, and not the "
         "entries of H), map back with Q and subtract; return torch.stack of θ0, …, θ_T.",
))

