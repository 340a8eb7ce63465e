r"""Curvature without the Hessian matrix: Hessian–vector products and what they buy.

A network with :math:`d` weights has a :math:`d \times d` Hessian, too large to
store, but the product :math:`\nabla^2 f(\theta)\, v` with one vector costs about as
much as a gradient or two (Pearlmutter, 1994): it is the derivative of
:math:`\nabla f(\theta)^\top v` with respect to θ, a gradient of a gradient.  The
helpers below work on a loss written as a function of one flat parameter vector,
``f(theta) -> scalar`` (see :func:`flat_function` for a ``torch.nn.Module``):

* :func:`hvp` -- :math:`\nabla^2 f(\theta)\, v`, reverse over reverse (``torch.func``);
  :func:`hvp_operator` linearises once and then costs one backward pass per product;
* :func:`hessian` -- the explicit matrix, for checks on small problems;
* :func:`power_iteration` and :func:`lanczos` -- extreme eigenvalues from products alone;
* :func:`conjugate_gradient` -- solve :math:`A x = b` from products, stopping at
  negative curvature;
* :func:`newton_cg` -- truncated Newton: conjugate gradients on Hessian–vector
  products, then a backtracking line search (Nocedal and Wright, *Numerical
  Optimization*, 2nd ed., Algorithm 7.1).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch.func import functional_call, grad, grad_and_value, vjp

Function = Callable[[torch.Tensor], torch.Tensor]
MatVec = Callable[[torch.Tensor], torch.Tensor]

__all__ = ["flat_function", "hvp", "hvp_operator", "hessian", "power_iteration",
           "lanczos", "Lanczos", "conjugate_gradient", "CGResult", "newton_cg",
           "NewtonCGRun"]


def _vector(name: str, value) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or value.ndim != 1 or not value.is_floating_point():
        raise ValueError(f"{name} must be a 1-D floating-point tensor, got "
                         f"{type(value).__name__} of shape {tuple(getattr(value, 'shape', ()))}")
    return value


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def flat_function(model: torch.nn.Module, loss: Callable, *inputs
                  ) -> tuple[Function, torch.Tensor]:
    """``(f, theta)``: the loss as a function of one flat vector of ``model``'s weights.

    ``f(theta) = loss(model(*inputs))`` with the parameters replaced by the pieces of
    ``theta`` (in the order of ``model.named_parameters()``, each piece reshaped), and
    ``theta`` holds the model's current parameters, detached.  The model itself is
    not changed.
    """
    names, shapes = [], []
    for name, parameter in model.named_parameters():
        names.append(name)
        shapes.append(parameter.shape)
    sizes = [math.prod(shape) for shape in shapes]
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def f(theta: torch.Tensor) -> torch.Tensor:
        pieces = torch.split(theta, sizes)
        params = {name: piece.view(shape) for name, piece, shape in zip(names, pieces, shapes)}
        return loss(functional_call(model, params, inputs))

    return f, theta


def hvp(f: Function, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r""":math:`\nabla^2 f(\theta)\, v`: the vector–Jacobian product of the gradient.

    Reverse over reverse: one gradient of f, kept differentiable, then one backward
    pass through it.  The Hessian is symmetric, so its vector–Jacobian product with
    v is also its Jacobian–vector product.
    """
    _vector("theta", theta), _vector("v", v)
    if v.shape != theta.shape:
        raise ValueError(f"v must have theta's shape {tuple(theta.shape)}, got {tuple(v.shape)}")
    _, backward = vjp(grad(f), theta)
    return backward(v)[0]


def hvp_operator(f: Function, theta: torch.Tensor) -> tuple[MatVec, torch.Tensor, torch.Tensor]:
    r"""``(matvec, gradient, value)`` at θ: one gradient now, one backward pass per product.

    ``matvec(v)`` returns :math:`\nabla^2 f(\theta)\, v` and can be called many times;
    the gradient's computation graph is kept between calls.
    """
    _vector("theta", theta)
    g, backward, value = vjp(grad_and_value(f), theta, has_aux=True)

    def matvec(v: torch.Tensor) -> torch.Tensor:
        return backward(v)[0]

    return matvec, g, value


def hessian(f: Function, theta: torch.Tensor) -> torch.Tensor:
    r"""The explicit :math:`d \times d` Hessian: d products, one per column.

    Symmetrised, :math:`(H + H^\top)/2`: the products agree with the rows up to rounding.
    """
    _vector("theta", theta)
    matvec, _, _ = hvp_operator(f, theta)
    H = torch.stack([matvec(e) for e in torch.eye(theta.numel(), dtype=theta.dtype)])
    return (H + H.T) / 2


def _unit(v0: torch.Tensor) -> torch.Tensor:
    _vector("v0", v0)
    norm = v0.norm()
    if not torch.isfinite(norm) or norm == 0:
        raise ValueError("v0 must be a finite, non-zero vector")
    return v0 / norm


def power_iteration(matvec: MatVec, v0: torch.Tensor, steps: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(estimates, v)``: the eigenvalue of largest magnitude, one product per step.

    :math:`v_k = A v_{k-1} / \lVert A v_{k-1} \rVert`; ``estimates[k-1]`` is the
    Rayleigh quotient :math:`v_{k-1}^\top A v_{k-1}` computed with the k-th product.
    Its error shrinks like :math:`(\lambda_2/\lambda_1)^{2k}` for a symmetric A.
    """
    _positive_int("steps", steps)
    v, estimates = _unit(v0), []
    for _ in range(steps):
        Av = matvec(v)
        estimates.append(v @ Av)
        norm = Av.norm()
        if norm == 0:
            break
        v = Av / norm
    return torch.stack(estimates), v


@dataclass(frozen=True)
class Lanczos:
    r"""The tridiagonal :math:`T_k = Q_k^\top A Q_k` of k Lanczos steps and its basis."""

    alphas: torch.Tensor  # [k]: diagonal of T_k
    betas: torch.Tensor   # [k - 1]: off-diagonal of T_k
    basis: torch.Tensor   # [k, d]: orthonormal rows q_1, …, q_k

    @property
    def steps(self) -> int:
        """k, the number of Lanczos steps taken."""
        return self.alphas.numel()

    def tridiagonal(self, k: int | None = None) -> torch.Tensor:
        """:math:`T_k` as a dense k × k matrix, after the first ``k`` steps (default:
        all of them)."""
        k = self.steps if k is None else k
        return (torch.diag(self.alphas[:k]) + torch.diag(self.betas[:k - 1], 1)
                + torch.diag(self.betas[:k - 1], -1))

    def ritz_values(self, k: int | None = None) -> torch.Tensor:
        """The eigenvalues of :math:`T_k` (after k products), in ascending order."""
        return torch.linalg.eigvalsh(self.tridiagonal(k))


def lanczos(matvec: MatVec, v0: torch.Tensor, steps: int) -> Lanczos:
    r"""k = ``steps`` Lanczos steps for a symmetric A, one product each.

    Builds an orthonormal basis :math:`q_1, \dots, q_k` of the Krylov space
    :math:`\{v_0, A v_0, \dots, A^{k-1} v_0\}` with
    :math:`\beta_j q_{j+1} = A q_j - \alpha_j q_j - \beta_{j-1} q_{j-1}`,
    re-orthogonalised against all previous vectors (twice) so that rounding
    cannot bring back converged directions.  The extreme eigenvalues of
    :math:`T_k` (:meth:`Lanczos.ritz_values`) approach those of A from inside,
    much faster than power iteration.  Stops early when the Krylov space is
    invariant (:math:`\beta_j` vanishes): then its Ritz values are exact.
    """
    _positive_int("steps", steps)
    q = _unit(v0)
    basis, alphas, betas = [q], [], []
    for j in range(steps):
        w = matvec(q)
        alphas.append(q @ w)
        Q = torch.stack(basis)
        for _ in range(2):                         # full re-orthogonalisation
            w = w - Q.T @ (Q @ w)
        beta = w.norm()
        if j == steps - 1 or beta <= 1e-12 * max(1.0, abs(alphas[-1].item())):
            break
        betas.append(beta)
        q = w / beta
        basis.append(q)
    empty = torch.zeros(0, dtype=v0.dtype)
    return Lanczos(torch.stack(alphas), torch.stack(betas) if betas else empty,
                   torch.stack(basis))


@dataclass(frozen=True)
class CGResult:
    """What :func:`conjugate_gradient` returns: the solution ``x``, the number of
    products with A, whether it stopped at a direction of non-positive curvature,
    and the residual norm ‖b − A x‖ as the recursion tracked it."""

    x: torch.Tensor
    iterations: int                 # products with A
    negative_curvature: bool        # stopped at a direction d with dᵀAd ≤ 0
    residual: float                 # ‖b − A x‖ as tracked by the recursion


def conjugate_gradient(matvec: MatVec, b: torch.Tensor, tol: float,
                       max_iter: int | None = None) -> CGResult:
    r"""Solve :math:`A x = b` by conjugate gradients from :math:`x_0 = 0`.

    With :math:`r_0 = d_0 = b`:
    :math:`\alpha_j = r_j^\top r_j / d_j^\top A d_j`,
    :math:`x_{j+1} = x_j + \alpha_j d_j`, :math:`r_{j+1} = r_j - \alpha_j A d_j`,
    :math:`d_{j+1} = r_{j+1} + (r_{j+1}^\top r_{j+1} / r_j^\top r_j)\, d_j`,
    until :math:`\lVert r \rVert \le` ``tol`` or ``max_iter`` products (default d).
    A direction with :math:`d_j^\top A d_j \le 0` ends the run, as in truncated
    Newton: the result is then :math:`x_j`, or b itself if that happens at once.
    """
    _vector("b", b)
    if not isinstance(tol, (int, float)) or isinstance(tol, bool) or not tol >= 0:
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")
    max_iter = b.numel() if max_iter is None else _positive_int("max_iter", max_iter)
    x, r = torch.zeros_like(b), b.clone()
    d, rr = r.clone(), r @ r
    for j in range(max_iter):
        if rr.sqrt() <= tol:
            return CGResult(x, j, False, rr.sqrt().item())
        Ad = matvec(d)
        curvature = d @ Ad
        if curvature <= 0:
            return CGResult(b.clone() if j == 0 else x, j + 1, True, rr.sqrt().item())
        alpha = rr / curvature
        x = x + alpha * d
        r = r - alpha * Ad
        rr_next = r @ r
        d = r + (rr_next / rr) * d
        rr = rr_next
    return CGResult(x, max_iter, False, rr.sqrt().item())


@dataclass(frozen=True)
class NewtonCGRun:
    """Iterates of :func:`newton_cg` and the work done up to each of them."""

    points: torch.Tensor       # [T + 1, d]
    losses: torch.Tensor       # [T + 1]
    gradients: torch.Tensor    # [T + 1] gradients computed before θ_t was reached
    products: torch.Tensor     # [T + 1] Hessian–vector products, likewise
    evaluations: torch.Tensor  # [T + 1] loss evaluations of the line search, likewise
    seconds: torch.Tensor      # [T + 1] wall-clock time since the start (for figures)


def newton_cg(f: Function, theta0: torch.Tensor, steps: int, gtol: float = 0.0,
              c1: float = 1e-4, max_cg: int | None = None) -> NewtonCGRun:
    r"""Truncated Newton with a line search (Nocedal and Wright, Algorithm 7.1).

    At each step: the gradient g (which also linearises f for the products), the
    forcing tolerance :math:`\varepsilon = \min(0.5, \sqrt{\lVert g\rVert})\,\lVert g\rVert`,
    conjugate gradients on :math:`\nabla^2 f\, p = -g` to that tolerance (or to the
    first direction of non-positive curvature), then backtracking from
    :math:`\alpha = 1`, halving until
    :math:`f(\theta + \alpha p) \le f(\theta) + c_1 \alpha\, g^\top p`.
    Stops after ``steps`` steps or when :math:`\lVert g\rVert \le` ``gtol``.
    """
    _vector("theta0", theta0)
    _positive_int("steps", steps)
    started = time.perf_counter()
    theta = theta0.detach().clone()
    loss = f(theta).detach()
    points, losses = [theta], [loss]
    counts = {"gradients": [0], "products": [0], "evaluations": [0], "seconds": [0.0]}
    gradients = products = evaluations = 0
    for _ in range(steps):
        matvec, g, loss = hvp_operator(f, theta)
        gradients += 1
        g_norm = g.norm().item()
        if g_norm <= gtol:
            break
        tolerance = min(0.5, math.sqrt(g_norm)) * g_norm
        solved = conjugate_gradient(matvec, -g, tolerance, max_cg)
        products += solved.iterations
        p, slope, alpha = solved.x, (g @ solved.x).item(), 1.0
        for _ in range(60):
            trial = f(theta + alpha * p).detach()
            evaluations += 1
            if trial <= loss + c1 * alpha * slope:
                break
            alpha /= 2
        else:
            break                                   # no decrease found: stop
        theta, loss = theta + alpha * p, trial
        points.append(theta)
        losses.append(loss)
        for key, value in (("gradients", gradients), ("products", products),
                           ("evaluations", evaluations),
                           ("seconds", time.perf_counter() - started)):
            counts[key].append(value)
    as_tensor = lambda values: torch.tensor(values, dtype=torch.long)
    return NewtonCGRun(torch.stack(points), torch.stack(losses),
                       as_tensor(counts["gradients"]), as_tensor(counts["products"]),
                       as_tensor(counts["evaluations"]),
                       torch.tensor(counts["seconds"], dtype=torch.float64))
