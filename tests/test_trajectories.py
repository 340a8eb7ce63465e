import pytest
import torch

from optimlab.landscapes import Quadratic
from optimlab.trajectories import run_optimizer


def test_sgd_path_equals_the_closed_form_of_gradient_descent():
    f = Quadratic.with_eigenvalues([1.0, 4.0], angle=0.3)
    lr, steps = 0.3, 12
    run = run_optimizer(f, lambda p: torch.optim.SGD(p, lr=lr), [1.0, -2.0], steps)
    theta0 = torch.tensor([1.0, -2.0], dtype=torch.float64)
    matrix = torch.eye(2, dtype=torch.float64) - lr * f.A
    for t in (0, 1, 5, steps):
        assert torch.allclose(run.points[t], torch.linalg.matrix_power(matrix, t) @ theta0)
    assert torch.allclose(run.losses, f(run.points))
    assert len(run) == steps + 1 and not run.diverged


def test_a_learning_rate_above_two_over_l_is_reported_as_diverged():
    f = Quadratic([[4.0]])
    stable = run_optimizer(f, lambda p: torch.optim.SGD(p, lr=0.49), [1.0], 200)
    unstable = run_optimizer(f, lambda p: torch.optim.SGD(p, lr=0.51), [1.0], 200)
    assert not stable.diverged and unstable.diverged


def test_negative_step_count_is_refused():
    with pytest.raises(ValueError, match="steps"):
        run_optimizer(Quadratic([[1.0]]), lambda p: torch.optim.SGD(p, lr=0.1), [1.0], -1)
