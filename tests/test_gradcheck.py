"""Finite-difference gradients and the gradient check."""

import math

import pytest
import torch

from optimlab.gradcheck import (GradientCheck, gradient_check, numerical_gradient,
                                relative_error, verdict)


def cubic(theta):
    return (theta**3).sum() + theta[0] * theta[1]


def cubic_grad(theta):
    return 3 * theta**2 + torch.stack([theta[1], theta[0]])


THETA = torch.tensor([0.7, -1.3], dtype=torch.float64)


def test_central_difference_matches_the_analytic_gradient():
    got = numerical_gradient(cubic, THETA, h=1e-5)
    assert torch.allclose(got, cubic_grad(THETA), rtol=1e-9, atol=0)


def test_forward_difference_has_first_order_error():
    # f(θ + h e_0) − f(θ) = h ∂f + h²/2 ∂²f + …: the error is h/2 · f''(θ_0) = 3 h θ_0
    h = 1e-4
    got = numerical_gradient(cubic, THETA, h=h, method="forward")
    error = got[0] - cubic_grad(THETA)[0]
    assert error.item() == pytest.approx(3 * h * THETA[0].item(), rel=1e-3)


def test_central_error_is_second_order():
    # the central difference of θ³ is exact up to h² (the third derivative, 6, over 6)
    h = 1e-3
    got = numerical_gradient(lambda t: (t**3).sum(), THETA, h=h)
    assert torch.allclose(got - 3 * THETA**2, torch.full((2,), h * h, dtype=torch.float64),
                          rtol=1e-6)


def test_numerical_gradient_keeps_shape_and_leaves_theta_alone():
    theta = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    before = theta.clone()
    got = numerical_gradient(lambda t: (t**2).sum(), theta)
    assert got.shape == (2, 3)
    assert torch.allclose(got, 2 * before, atol=1e-8)
    assert torch.equal(theta, before)


def test_relative_error_is_scale_free_and_finite_at_zero():
    a = torch.tensor([1.0, 1e6, 0.0], dtype=torch.float64)
    b = torch.tensor([1.1, 1.1e6, 0.0], dtype=torch.float64)
    errors = relative_error(a, b)
    assert errors[0].item() == pytest.approx(errors[1].item())
    assert errors[0].item() == pytest.approx(0.1 / 1.1)
    assert errors[2].item() == 0.0


def test_a_correct_gradient_passes():
    report = gradient_check(cubic, cubic_grad, THETA)
    assert isinstance(report, GradientCheck)
    assert report.passed and report.max_error < 1e-8 and report.failing == []
    assert "passed" in str(report) and "correct" in str(report)


def test_a_planted_bug_is_caught_where_it_is():
    def buggy(theta):  # the regulariser's gradient written as λ|θ| instead of λθ
        return cubic_grad(theta) + 0.1 * theta.abs() - 0.1 * theta

    report = gradient_check(lambda t: cubic(t), buggy, THETA)
    assert not report.passed
    assert report.failing == [(1,)] and report.worst_index == (1,)  # only θ_1 < 0
    assert "FAILED" in str(report) and "wrong" in str(report)


def test_missing_factor_of_two_is_caught():
    report = gradient_check(lambda t: (t**2).sum(), lambda t: t, THETA)
    assert not report.passed and report.max_error == pytest.approx(0.5, rel=1e-6)


def test_verdicts():
    assert verdict(1e-9) == "correct"
    assert verdict(1e-5).startswith("suspicious")
    assert verdict(0.3) == "wrong" and verdict(math.nan) == "wrong"


@pytest.mark.parametrize("h", [0, -1e-6, math.inf, math.nan, "1e-6", True])
def test_bad_step_is_rejected(h):
    with pytest.raises(ValueError, match="h must be a positive"):
        numerical_gradient(cubic, THETA, h=h)


def test_bad_method_is_rejected():
    with pytest.raises(ValueError, match="method must be one of"):
        numerical_gradient(cubic, THETA, method="backward")


def test_bad_theta_and_f_are_rejected():
    with pytest.raises(ValueError, match="theta must be a floating-point"):
        numerical_gradient(cubic, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="theta must be a torch.Tensor"):
        numerical_gradient(cubic, [1.0, 2.0])
    with pytest.raises(ValueError, match="f must return a scalar"):
        numerical_gradient(lambda t: t * 2, THETA)


def test_bad_gradient_shape_and_tolerance_are_rejected():
    with pytest.raises(ValueError, match="grad must return a tensor shaped like theta"):
        gradient_check(cubic, lambda t: t.sum(), THETA)
    with pytest.raises(ValueError, match="tolerance must be a positive"):
        gradient_check(cubic, cubic_grad, THETA, tolerance=0)
    with pytest.raises(ValueError, match="a and b must have the same shape"):
        relative_error(torch.ones(2), torch.ones(3))


# --- kinks: a correct gradient is not failed there, a wrong one elsewhere still is -------

def absolute(theta):
    return theta.abs().sum()


def test_an_entry_at_a_kink_is_reported_and_not_judged():
    # |θ| at θ_2 = 1e-7 < h: the central difference mixes the slopes -1 and +1
    theta = torch.tensor([0.5, -2.0, 1e-7], dtype=torch.float64)
    check = gradient_check(absolute, torch.sign, theta)
    assert check.kinks == [(2,)] and check.judged == 2 and check.passed
    assert check.errors[2] > 0.5                                # it would have failed
    assert "1 of 3 entries within h of a kink, not judged" in str(check)


def test_a_wrong_gradient_away_from_kinks_still_fails_beside_a_kink():
    theta = torch.tensor([0.5, -2.0, 1e-7], dtype=torch.float64)
    check = gradient_check(absolute, lambda t: 2 * torch.sign(t), theta)
    assert not check.passed and check.failing == [(0,), (1,)]
    assert str(check).startswith("gradient check FAILED: 2 of 2 entries away from kinks")


def test_a_smooth_function_is_not_mistaken_for_a_kink():
    theta = torch.tensor([0.0, 1e-3, 1.0], dtype=torch.float64)
    check = gradient_check(lambda t: (t**2).sum(), lambda t: 2 * t, theta)
    assert check.kinks == [] and check.passed
    wrong = gradient_check(lambda t: (t**2).sum(), lambda t: 3 * t, theta)
    assert wrong.kinks == [] and wrong.failing == [(1,), (2,)]


def test_every_entry_at_a_kink_is_inconclusive():
    check = gradient_check(absolute, torch.sign, torch.tensor([1e-8], dtype=torch.float64))
    assert not check.passed and not check.failing and math.isnan(check.max_error)
    assert str(check).startswith("gradient check inconclusive")
