r"""Gradient checking: compare a hand-written gradient with finite differences.

A finite difference estimates each partial derivative from two values of
:math:`f` a small step :math:`h` apart, with :math:`e_i` the i-th unit vector:

* forward:  :math:`\partial_i f(\theta) \approx (f(\theta + h e_i) - f(\theta)) / h`,
  error :math:`O(h)`;
* central:
  :math:`\partial_i f(\theta) \approx (f(\theta + h e_i) - f(\theta - h e_i)) / (2h)`,
  error :math:`O(h^2)`.

Both lose accuracy to rounding when :math:`h` is too small (the error grows like
:math:`\varepsilon_{\text{mach}} / h`), so a check works in float64 with
:math:`h \approx 10^{-6}` (central) or :math:`10^{-8}` (forward).

The two gradients are compared by the element-wise relative error
:math:`|a_i - b_i| / \max(|a_i|, |b_i|)`, which does not depend on the scale of
:math:`f`.  In float64 with central differences, rough rules of thumb:

* below 1e-7: the gradient is right;
* 1e-7 to 1e-4: suspicious, acceptable only near a kink (ReLU, \|θ\|);
* above 1e-4: the gradient is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

METHODS = ("central", "forward")
#: (upper bound of the relative error, verdict), checked in order.
VERDICTS = ((1e-7, "correct"), (1e-4, "suspicious (fine only near a kink)"),
            (math.inf, "wrong"))


def _check_step(h) -> float:
    if isinstance(h, bool) or not isinstance(h, (int, float)) or not math.isfinite(h) \
            or h <= 0:
        raise ValueError(f"h must be a positive finite number (the finite-difference "
                         f"step), got {h!r}")
    return float(h)


def _check_method(method) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _check_theta(theta) -> torch.Tensor:
    if not isinstance(theta, torch.Tensor):
        raise ValueError(f"theta must be a torch.Tensor, got {type(theta).__name__}")
    if not theta.is_floating_point():
        raise ValueError(f"theta must be a floating-point tensor, got dtype {theta.dtype}")
    if theta.numel() == 0:
        raise ValueError("theta must have at least one element, got an empty tensor")
    return theta.detach()


def _value(f: Callable, theta: torch.Tensor) -> float:
    value = f(theta)
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"f must return a scalar, got a tensor of shape "
                             f"{tuple(value.shape)}")
        value = value.item()
    return float(value)


def numerical_gradient(f: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor,
                       h: float = 1e-6, method: str = "central") -> torch.Tensor:
    """Finite-difference estimate of ∇f(θ), one coordinate at a time.

    ``f`` maps a tensor shaped like ``theta`` to a scalar; it is evaluated at
    copies of ``theta`` (which is never modified).  Costs 2·d evaluations
    (central) or d + 1 (forward) for d = ``theta.numel()``.
    """
    h, method, theta = _check_step(h), _check_method(method), _check_theta(theta)
    base = _value(f, theta) if method == "forward" else None
    flat = theta.reshape(-1)
    gradient = torch.empty_like(flat)
    for i in range(flat.numel()):
        plus = flat.clone()
        plus[i] += h
        if method == "forward":
            gradient[i] = (_value(f, plus.view_as(theta)) - base) / h
        else:
            minus = flat.clone()
            minus[i] -= h
            gradient[i] = (_value(f, plus.view_as(theta)) -
                           _value(f, minus.view_as(theta))) / (2 * h)
    return gradient.view_as(theta)


def relative_error(a: torch.Tensor, b: torch.Tensor, floor: float = 1e-12) -> torch.Tensor:
    """Element-wise ``|a − b| / max(|a|, |b|, floor)``.

    ``floor`` keeps the ratio finite where both entries are (nearly) zero; there
    it measures the absolute difference in units of ``floor``.
    """
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if not (isinstance(floor, (int, float)) and floor > 0):
        raise ValueError(f"floor must be a positive number, got {floor!r}")
    scale = torch.maximum(a.abs(), b.abs()).clamp(min=floor)
    return (a - b).abs() / scale


def verdict(error: float) -> str:
    """The rule-of-thumb reading of a largest relative error (module docstring)."""
    for bound, text in VERDICTS:
        if error < bound:
            return text
    return VERDICTS[-1][1]  # a NaN error


@dataclass(frozen=True)
class GradientCheck:
    """The result of :func:`gradient_check`."""

    analytic: torch.Tensor
    numerical: torch.Tensor
    errors: torch.Tensor  # element-wise relative errors
    tolerance: float

    @property
    def max_error(self) -> float:
        return self.errors.max().item()

    @property
    def worst_index(self) -> tuple[int, ...]:
        flat = int(torch.argmax(torch.nan_to_num(self.errors, nan=math.inf)))
        return tuple(int(i) for i in torch.unravel_index(torch.tensor(flat),
                                                         self.errors.shape))

    @property
    def passed(self) -> bool:
        return bool(self.max_error < self.tolerance)

    @property
    def failing(self) -> list[tuple[int, ...]]:
        """Indices whose relative error is not below the tolerance."""
        return [tuple(i) for i in torch.nonzero(~(self.errors < self.tolerance)).tolist()]

    def __str__(self) -> str:
        status = "passed" if self.passed else "FAILED"
        # below 1e-8 the error is rounding noise whose digits vary between machines
        size = (f"{self.max_error:.1e} at index {self.worst_index}"
                if self.max_error >= 1e-8 else "below 1e-8")
        return (f"gradient check {status}: largest relative error {size} "
                f"({verdict(self.max_error)}); "
                f"{len(self.failing)} of {self.errors.numel()} entries at or above "
                f"{self.tolerance:.0e}")


def gradient_check(f: Callable[[torch.Tensor], torch.Tensor],
                   grad: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor,
                   h: float = 1e-6, method: str = "central",
                   tolerance: float = 1e-6) -> GradientCheck:
    """Compare ``grad(theta)`` with the finite-difference gradient of ``f`` at ``theta``.

    Use float64: in float32 rounding alone gives relative errors near 1e-3.
    Returns a :class:`GradientCheck`; ``print`` it for a one-line summary.
    """
    theta = _check_theta(theta)
    if not (isinstance(tolerance, (int, float)) and tolerance > 0):
        raise ValueError(f"tolerance must be a positive number, got {tolerance!r}")
    numerical = numerical_gradient(f, theta, h=h, method=method)
    analytic = torch.as_tensor(grad(theta.clone())).detach()
    if analytic.shape != theta.shape:
        raise ValueError(f"grad must return a tensor shaped like theta "
                         f"{tuple(theta.shape)}, got shape {tuple(analytic.shape)}")
    errors = relative_error(analytic.to(numerical.dtype), numerical)
    return GradientCheck(analytic, numerical, errors, float(tolerance))
