import math

import pytest
import torch

from optimlab.landscapes import Quadratic, Rosenbrock, Saddle


def test_quadratic_value_gradient_and_constants():
    A = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    b = torch.tensor([1.0, -1.0], dtype=torch.float64)
    f = Quadratic(A, b)
    theta = torch.tensor([0.3, -0.7], dtype=torch.float64)
    assert f(theta).item() == pytest.approx(0.5 * theta @ A @ theta - b @ theta)
    assert torch.allclose(f.grad(theta), A @ theta - b)
    eig = torch.linalg.eigvalsh(A)
    assert f.L == pytest.approx(eig.max().item()) and f.mu == pytest.approx(eig.min().item())
    assert torch.allclose(f.grad(f.minimizer), torch.zeros(2, dtype=torch.float64), atol=1e-12)


def test_quadratic_evaluates_a_grid_pointwise():
    f = Quadratic.with_eigenvalues([1.0, 9.0], angle=0.4)
    grid = torch.randn(5, 7, 2, dtype=torch.float64)
    values = f(grid)
    assert values.shape == (5, 7)
    assert values[3, 4].item() == pytest.approx(f(grid[3, 4]).item())


def test_with_eigenvalues_rotates_but_keeps_the_spectrum():
    f = Quadratic.with_eigenvalues([2.0, 50.0], angle=math.pi / 5)
    assert f.condition_number == pytest.approx(25.0)
    assert not torch.allclose(f.A, torch.diag(torch.diag(f.A)))  # really rotated


@pytest.mark.parametrize("A, message", [
    ([[1.0, 2.0], [0.0, 1.0]], "symmetric"),
    ([[1.0, 0.0], [0.0, -1.0]], "positive semi-definite"),
    ([1.0, 2.0], "square"),
])
def test_quadratic_rejects_bad_matrices(A, message):
    with pytest.raises(ValueError, match=message):
        Quadratic(A)


def test_rosenbrock_minimum_and_gradient():
    f = Rosenbrock()
    assert f(f.minimizer).item() == 0.0
    theta = torch.tensor([-1.2, 1.0], dtype=torch.float64)
    x, y = theta
    expected = torch.stack([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])
    assert torch.allclose(f.grad(theta), expected)
    with pytest.raises(ValueError, match="b must be positive"):
        Rosenbrock(b=0.0)


def test_saddle_is_flat_at_the_origin_and_curves_both_ways():
    f = Saddle()
    origin = torch.zeros(2, dtype=torch.float64)
    assert torch.equal(f.grad(origin), origin)
    hessian = torch.autograd.functional.hessian(f, origin)
    assert torch.equal(torch.linalg.eigvalsh(hessian), torch.tensor([-2.0, 2.0], dtype=torch.float64))
