"""Test landscapes: small functions f(θ) whose geometry we understand.

Each landscape is a callable on tensors whose last dimension is the parameter
vector, so ``f(theta)`` works for one point ``[d]`` and for a whole grid
``[..., d]`` (for contour plots).  Gradients come from autograd
(:meth:`Landscape.grad`) so an optimizer sees exactly what it would see in a
network.  ``bounds`` is a sensible plotting window.
"""

from __future__ import annotations

import math

import torch

#: A plotting window ``((x_min, x_max), (y_min, y_max))``.
Bounds = tuple[tuple[float, float], tuple[float, float]]


class Landscape:
    """Base class: a scalar function of a parameter vector."""

    name = "landscape"
    bounds: Bounds = ((-2.0, 2.0), (-2.0, 2.0))
    minimizer: torch.Tensor | None = None

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def grad(self, theta: torch.Tensor) -> torch.Tensor:
        """∇f(θ), computed by autograd, detached from any graph."""
        theta = torch.as_tensor(theta).detach().clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(self(theta).sum(), theta)
        return gradient

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Quadratic(Landscape):
    r"""f(θ) = ½ θᵀAθ − bᵀθ with a symmetric positive (semi-)definite A.

    Its Hessian is A everywhere, so the smoothness constant is
    :math:`L = \lambda_{\max}(A)`, the strong-convexity constant is
    :math:`\mu = \lambda_{\min}(A)` and the condition number is κ = L/μ.
    """

    name = "quadratic"

    def __init__(self, A, b=None, bounds: Bounds | None = None):
        A = torch.as_tensor(A, dtype=torch.float64)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be a square matrix, got shape {tuple(A.shape)}")
        if not torch.allclose(A, A.T):
            raise ValueError("A must be symmetric (the Hessian of a quadratic is)")
        eigenvalues = torch.linalg.eigvalsh(A)
        if eigenvalues.min() < 0:
            raise ValueError(
                f"A must be positive semi-definite, its smallest eigenvalue is "
                f"{eigenvalues.min().item():.3g}")
        b = torch.zeros(A.shape[0], dtype=torch.float64) if b is None else \
            torch.as_tensor(b, dtype=torch.float64)
        if b.shape != (A.shape[0],):
            raise ValueError(f"b must have shape ({A.shape[0]},), got {tuple(b.shape)}")
        self.A, self.b, self.eigenvalues = A, b, eigenvalues
        if eigenvalues.min() > 0:
            self.minimizer = torch.linalg.solve(A, b)
        if bounds is not None:
            self.bounds = bounds

    @classmethod
    def with_eigenvalues(cls, eigenvalues, angle: float = 0.0, **kwargs) -> "Quadratic":
        """A 2-D quadratic whose Hessian has these eigenvalues, its axes rotated by ``angle``."""
        lam = torch.as_tensor(eigenvalues, dtype=torch.float64)
        if lam.shape != (2,):
            raise ValueError(f"with_eigenvalues builds 2-D quadratics: give 2 eigenvalues, got {lam.tolist()}")
        c, s = math.cos(angle), math.sin(angle)
        rotation = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
        return cls(rotation @ torch.diag(lam) @ rotation.T, **kwargs)

    @property
    def L(self) -> float:
        """Smoothness constant: the largest eigenvalue of the Hessian."""
        return self.eigenvalues.max().item()

    @property
    def mu(self) -> float:
        """Strong-convexity constant: the smallest eigenvalue of the Hessian."""
        return self.eigenvalues.min().item()

    @property
    def condition_number(self) -> float:
        """κ = L/μ, the ratio of the largest to the smallest Hessian eigenvalue."""
        return self.L / self.mu

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        A, b = self.A.to(theta.dtype), self.b.to(theta.dtype)
        return 0.5 * torch.einsum("...i,ij,...j->...", theta, A, theta) - theta @ b

    def __repr__(self) -> str:
        return f"Quadratic(eigenvalues={[round(x, 6) for x in self.eigenvalues.tolist()]})"


class Rosenbrock(Landscape):
    """f(x, y) = (a − x)² + b (y − x²)²: a curved, narrow valley with minimum at (a, a²)."""

    name = "Rosenbrock"
    bounds = ((-2.0, 2.0), (-1.0, 3.0))

    def __init__(self, a: float = 1.0, b: float = 100.0):
        if b <= 0:
            raise ValueError(f"b must be positive (it sets the valley's steepness), got {b}")
        self.a, self.b = a, b
        self.minimizer = torch.tensor([a, a * a], dtype=torch.float64)

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        x, y = theta[..., 0], theta[..., 1]
        return (self.a - x) ** 2 + self.b * (y - x**2) ** 2

    def __repr__(self) -> str:
        return f"Rosenbrock(a={self.a}, b={self.b})"


class Saddle(Landscape):
    """f(x, y) = x² − y²: a saddle point at the origin, unbounded below along y."""

    name = "saddle"
    bounds = ((-1.5, 1.5), (-1.5, 1.5))

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        return theta[..., 0] ** 2 - theta[..., 1] ** 2
