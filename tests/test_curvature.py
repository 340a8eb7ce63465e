"""Hessian–vector products, Lanczos, conjugate gradients and Newton–CG (optimlab.curvature)
against explicit Hessians and exact answers."""

import pytest
import torch
from torch import nn

from optimlab.curvature import (conjugate_gradient, flat_function, hessian, hvp,
                                hvp_operator, lanczos, newton_cg, power_iteration)
from optimlab.landscapes import Quadratic, Rosenbrock

DTYPE = torch.float64


def tiny_network():
    """A 3 → 4 (tanh) → 3 network, cross-entropy on 12 random points."""
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).to(DTYPE)
    x = torch.randn(12, 3, generator=generator, dtype=DTYPE)
    y = torch.randint(0, 3, (12,), generator=generator)
    f, theta = flat_function(model, lambda z: nn.functional.cross_entropy(z, y), x)
    return model, x, y, f, theta


def random_symmetric(d, seed, eigenvalues=None):
    generator = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=DTYPE))
    lam = (torch.linspace(-1.0, 3.0, d, dtype=DTYPE) if eigenvalues is None
           else torch.as_tensor(eigenvalues, dtype=DTYPE))
    A = Q @ torch.diag(lam) @ Q.T
    return (A + A.T) / 2, lam


def test_flat_function_is_the_model_loss_and_leaves_the_model_alone():
    model, x, y, f, theta = tiny_network()
    before = [p.detach().clone() for p in model.parameters()]
    assert theta.numel() == sum(p.numel() for p in model.parameters()) == 31
    expected = nn.functional.cross_entropy(model(x), y)
    assert torch.allclose(f(theta), expected, rtol=0, atol=1e-14)
    f(theta + 1.0)
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))
    # the pieces of θ follow model.parameters(): moving the last bias moves the logits
    shifted = theta.clone()
    shifted[-3:] += 1.0                  # the same shift of every logit: same loss
    assert torch.allclose(f(shifted), expected, rtol=0, atol=1e-12)


def test_hvp_equals_the_explicit_hessian_times_v():
    _, _, _, f, theta = tiny_network()
    H = torch.autograd.functional.hessian(f, theta)
    for seed in range(3):
        v = torch.randn(theta.numel(), generator=torch.Generator().manual_seed(seed),
                        dtype=DTYPE)
        assert torch.allclose(hvp(f, theta, v), H @ v, rtol=0, atol=1e-13)


def test_hvp_on_rosenbrock_matches_the_hand_computed_hessian():
    f, theta = Rosenbrock(), torch.tensor([0.5, 1.0], dtype=DTYPE)
    x, y = theta
    H = torch.tensor([[2 - 400 * (y - 3 * x * x), -400 * x], [-400 * x, 200.0]], dtype=DTYPE)
    for v in torch.eye(2, dtype=DTYPE):
        assert torch.allclose(hvp(f, theta, v), H @ v, rtol=0, atol=1e-12)


def test_hvp_operator_reuses_one_linearisation():
    _, _, _, f, theta = tiny_network()
    H = torch.autograd.functional.hessian(f, theta)
    matvec, g, value = hvp_operator(f, theta)
    assert torch.allclose(value, f(theta), rtol=0, atol=1e-15)
    assert torch.allclose(g, torch.func.grad(f)(theta), rtol=0, atol=1e-15)
    for seed in range(4):           # many products from the same graph
        v = torch.randn(theta.numel(), generator=torch.Generator().manual_seed(seed),
                        dtype=DTYPE)
        assert torch.allclose(matvec(v), H @ v, rtol=0, atol=1e-13)


def test_explicit_hessian_is_symmetric_and_matches_autograd():
    _, _, _, f, theta = tiny_network()
    H = hessian(f, theta)
    assert torch.equal(H, H.T)
    assert torch.allclose(H, torch.autograd.functional.hessian(f, theta), rtol=0, atol=1e-13)
    quadratic = Quadratic(random_symmetric(4, 1, [1.0, 2.0, 3.0, 5.0])[0])
    point = torch.ones(4, dtype=DTYPE)
    assert torch.allclose(hessian(quadratic, point), quadratic.A, rtol=0, atol=1e-13)


def test_power_iteration_finds_the_eigenvalue_of_largest_magnitude():
    A, lam = random_symmetric(6, 2, [0.5, 1.0, 1.5, 2.0, -3.0, 6.0])
    estimates, v = power_iteration(lambda u: A @ u, torch.ones(6, dtype=DTYPE), 80)
    assert estimates.shape == (80,)
    assert abs(estimates[-1].item() - 6.0) < 1e-10
    assert torch.allclose((A @ v).abs(), 6.0 * v.abs(), atol=1e-6)
    # the Rayleigh quotient's error shrinks like (λ2/λ1)^(2k) = 0.25^k
    errors = (6.0 - estimates[:12]).abs()
    assert (errors[8] / errors[4]).item() < 0.25**4 * 10


def test_lanczos_after_d_steps_has_the_exact_spectrum_and_an_orthonormal_basis():
    A, lam = random_symmetric(8, 3)
    run = lanczos(lambda u: A @ u, torch.ones(8, dtype=DTYPE), 8)
    assert run.steps == 8
    assert torch.allclose(run.ritz_values(), torch.sort(lam).values, rtol=0, atol=1e-12)
    Q = run.basis
    assert torch.allclose(Q @ Q.T, torch.eye(8, dtype=DTYPE), rtol=0, atol=1e-12)
    assert torch.allclose(Q @ A @ Q.T, run.tridiagonal(), rtol=0, atol=1e-12)


def test_lanczos_ritz_values_lie_inside_the_spectrum_and_converge_at_the_edges():
    lam = torch.linspace(0.0, 1.0, 200, dtype=DTYPE)
    lam[-1], lam[0] = 10.0, -2.0                           # two isolated extremes
    A, lam = random_symmetric(200, 4, lam)
    start = torch.randn(200, generator=torch.Generator().manual_seed(5), dtype=DTYPE)
    run = lanczos(lambda u: A @ u, start, 25)
    for k in range(1, 26):
        ritz = run.ritz_values(k)
        assert ritz.min() >= -2.0 - 1e-10 and ritz.max() <= 10.0 + 1e-10
    assert abs(run.ritz_values()[-1].item() - 10.0) < 1e-10
    assert abs(run.ritz_values()[0].item() + 2.0) < 1e-10


def test_lanczos_stops_when_the_krylov_space_is_invariant():
    A = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=DTYPE))
    start = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=DTYPE)   # two eigenvectors
    run = lanczos(lambda u: A @ u, start, 4)
    assert run.steps == 2
    assert torch.allclose(run.ritz_values(), torch.tensor([1.0, 3.0], dtype=DTYPE))


def test_conjugate_gradient_solves_a_positive_definite_system():
    A, _ = random_symmetric(10, 6, torch.logspace(0, 2, 10, dtype=DTYPE))
    b = torch.randn(10, generator=torch.Generator().manual_seed(7), dtype=DTYPE)
    capped = conjugate_gradient(lambda u: A @ u, b, tol=0.0)     # d products at most
    assert capped.iterations == 10 and capped.residual < 1e-6 * b.norm()
    # in floating point a few more products than d reach the tolerance
    result = conjugate_gradient(lambda u: A @ u, b, tol=1e-10, max_iter=30)
    assert not result.negative_curvature and result.iterations <= 20
    assert torch.allclose(result.x, torch.linalg.solve(A, b), rtol=1e-8, atol=0)
    loose = conjugate_gradient(lambda u: A @ u, b, tol=0.5 * b.norm().item())
    assert loose.iterations < result.iterations
    assert (b - A @ loose.x).norm() <= 0.5 * b.norm() + 1e-12


def test_conjugate_gradient_stops_at_negative_curvature():
    A = torch.diag(torch.tensor([2.0, -1.0], dtype=DTYPE))
    at_once = conjugate_gradient(lambda u: A @ u, torch.tensor([0.0, 1.0], dtype=DTYPE), 1e-12)
    assert at_once.negative_curvature and at_once.iterations == 1
    assert torch.equal(at_once.x, torch.tensor([0.0, 1.0], dtype=DTYPE))     # b itself
    later = conjugate_gradient(lambda u: A @ u, torch.tensor([1.0, 0.1], dtype=DTYPE), 1e-12)
    assert later.negative_curvature and later.iterations == 2
    assert (later.x @ torch.tensor([1.0, 0.1], dtype=DTYPE)) > 0              # uphill for −b


def test_newton_cg_converges_superlinearly_on_a_strongly_convex_problem():
    generator = torch.Generator().manual_seed(8)
    X = torch.randn(200, 5, generator=generator, dtype=DTYPE)
    y = (X @ torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0], dtype=DTYPE) > 0).to(DTYPE)

    def f(w):   # logistic regression with an L2 term
        return nn.functional.binary_cross_entropy_with_logits(X @ w, y) + 1e-2 * w @ w

    run = newton_cg(f, torch.zeros(5, dtype=DTYPE), 30, gtol=1e-12)
    assert torch.func.grad(f)(run.points[-1]).norm() <= 1e-12
    assert len(run.points) <= 15
    assert torch.all(run.losses[1:] < run.losses[:-1])        # a descent method
    for counts in (run.gradients, run.products, run.evaluations, run.seconds):
        assert counts.shape == run.losses.shape and torch.all(counts[1:] >= counts[:-1])
    gaps = run.losses - run.losses[-1]
    assert gaps[-3] < 1e-3 * gaps[-4]                         # faster than linear


def test_newton_cg_on_a_quadratic_reaches_the_minimizer():
    A, _ = random_symmetric(6, 9, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    quadratic = Quadratic(A, b=torch.arange(6, dtype=DTYPE))
    run = newton_cg(quadratic, torch.zeros(6, dtype=DTYPE), 20, gtol=1e-10)
    assert torch.allclose(run.points[-1], quadratic.minimizer, rtol=0, atol=1e-9)


@pytest.mark.parametrize("call, message", [
    (lambda: hvp(lambda t: t @ t, torch.ones(3, dtype=DTYPE), torch.ones(2, dtype=DTYPE)),
     "theta's shape"),
    (lambda: hvp(lambda t: t.sum(), torch.ones(2, 2, dtype=DTYPE), torch.ones(2, 2)), "1-D"),
    (lambda: power_iteration(lambda u: u, torch.zeros(3, dtype=DTYPE), 5), "non-zero"),
    (lambda: lanczos(lambda u: u, torch.ones(3, dtype=DTYPE), 0), "steps"),
    (lambda: conjugate_gradient(lambda u: u, torch.ones(3, dtype=DTYPE), -1.0), "tol"),
    (lambda: newton_cg(lambda t: t @ t, torch.ones(3, dtype=DTYPE), 2.5), "steps"),
])
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
