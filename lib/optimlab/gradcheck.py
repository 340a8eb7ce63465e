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
:math:`f`.  In float64 with central differences, one rule of thumb (``VERDICTS``;
:func:`gradient_check` passes an entry exactly when it is "correct"):

* below 1e-7: correct;
* 1e-7 to 1e-4: suspicious, look closer (float32 somewhere, too large a step);
* 1e-4 and above: wrong.

The rule assumes that :math:`f` is differentiable within :math:`h` of θ.  Near a
*kink*, a point where :math:`f` has no derivative (ReLU at 0, \|θ_i\| at 0), the
finite difference straddles the kink and mixes the two slopes, so a large relative
error is expected there even for a correct gradient.  :func:`gradient_check` spots
such entries by their one-sided slopes
:math:`(f(\theta + h e_i) - f(\theta)) / h` and
:math:`(f(\theta) - f(\theta - h e_i)) / h`: for a smooth :math:`f` they differ by
about :math:`h\,\partial_i^2 f`, next to a kink by the jump in slope.  An entry
that misses the tolerance and whose slopes differ by more than ``KINK_JUMP`` times
the size of the gradient is reported as "at a kink" and left out of the verdict.
(A smooth :math:`f` is flagged only where
:math:`|\partial_i^2 f| > 10^4 |\partial_i f|` at :math:`h = 10^{-6}`, that is,
very close to a point where :math:`\partial_i f = 0`.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

#: The finite differences :func:`numerical_gradient` can take.
METHODS = ("central", "forward")
#: (upper bound of the relative error, verdict), checked in order.
VERDICTS = ((1e-7, "correct"), (1e-4, "suspicious"), (math.inf, "wrong"))
#: the default tolerance of :func:`gradient_check`: an entry passes when "correct"
TOLERANCE = VERDICTS[0][0]
#: an entry that misses the tolerance is at a kink when its one-sided slopes
#: differ by more than this fraction of ``max(|analytic|, |numerical|)``
KINK_JUMP = 1e-2
#: the verdict printed for entries at a kink
AT_KINK = "expected, no sign of a bug"


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


def _shifted_values(f: Callable, theta: torch.Tensor, step: float) -> torch.Tensor:
    """f(θ + step·e_i) for every coordinate i, in float64, shaped like θ."""
    flat = theta.reshape(-1)
    values = torch.empty(flat.numel(), dtype=torch.float64)
    for i in range(flat.numel()):
        shifted = flat.clone()
        shifted[i] += step
        values[i] = _value(f, shifted.view_as(theta))
    return values.view(theta.shape)


def _difference(plus, minus, base, h: float, method: str) -> torch.Tensor:
    if method == "forward":
        return (plus - base) / h
    return (plus - minus) / (2 * h)


def numerical_gradient(f: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor,
                       h: float = 1e-6, method: str = "central") -> torch.Tensor:
    """Finite-difference estimate of ∇f(θ), one coordinate at a time.

    ``f`` maps a tensor shaped like ``theta`` to a scalar; it is evaluated at
    copies of ``theta`` (which is never modified).  Costs 2·d evaluations
    (central) or d + 1 (forward) for d = ``theta.numel()``.
    """
    h, method, theta = _check_step(h), _check_method(method), _check_theta(theta)
    plus = _shifted_values(f, theta, h)
    if method == "forward":
        minus, base = None, _value(f, theta)
    else:
        minus, base = _shifted_values(f, theta, -h), None
    return _difference(plus, minus, base, h, method).to(theta.dtype)


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


def _short(x: float) -> str:
    """1e-07 → 1e-7: a power of ten as the text writes it."""
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _largest(errors: torch.Tensor, mask: torch.Tensor) -> tuple[float, tuple[int, ...]]:
    """The largest error where ``mask`` holds (NaN counts as largest), and its index."""
    masked = torch.where(mask, torch.nan_to_num(errors, nan=math.inf), -math.inf)
    flat = int(torch.argmax(masked))
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), errors.shape))
    return errors[index].item(), index


def _size(error: float, index: tuple[int, ...]) -> str:
    # below 1e-8 the error is rounding noise whose digits vary between machines
    return f"{error:.1e} at index {index}" if not error < 1e-8 else "below 1e-8"


@dataclass(frozen=True)
class GradientCheck:
    """The result of :func:`gradient_check`.

    Entries within h of a kink (``at_kink``) are not judged: ``max_error``,
    ``worst_index``, ``failing`` and ``passed`` describe the other entries.
    """

    analytic: torch.Tensor
    numerical: torch.Tensor
    errors: torch.Tensor  # element-wise relative errors
    tolerance: float
    at_kink: torch.Tensor | None = None  # element-wise: within h of a kink

    @property
    def _kink_mask(self) -> torch.Tensor:
        if self.at_kink is None:
            return torch.zeros(self.errors.shape, dtype=torch.bool)
        return self.at_kink

    @property
    def judged(self) -> int:
        """How many entries are judged (not at a kink)."""
        return int((~self._kink_mask).sum())

    @property
    def max_error(self) -> float:
        """The largest relative error away from kinks (NaN if every entry is at one)."""
        return _largest(self.errors, ~self._kink_mask)[0] if self.judged else math.nan

    @property
    def worst_index(self) -> tuple[int, ...]:
        """The index of the entry with :attr:`max_error`."""
        return _largest(self.errors, ~self._kink_mask)[1]

    @property
    def passed(self) -> bool:
        """Every judged entry is below the tolerance, and at least one is judged."""
        return self.judged > 0 and not self.failing

    @property
    def failing(self) -> list[tuple[int, ...]]:
        """Indices away from kinks whose relative error is not below the tolerance."""
        bad = ~(self.errors < self.tolerance) & ~self._kink_mask
        return [tuple(i) for i in torch.nonzero(bad).tolist()]

    @property
    def kinks(self) -> list[tuple[int, ...]]:
        """Indices within h of a kink, left out of the verdict."""
        return [tuple(i) for i in torch.nonzero(self._kink_mask).tolist()]

    def __str__(self) -> str:
        n, kinks = self.errors.numel(), len(self.kinks)
        status = ("FAILED" if self.failing else "passed" if self.passed
                  else "inconclusive")
        where = " away from kinks" if kinks else ""
        lines = [f"gradient check {status}: {len(self.failing)} of {self.judged} "
                 f"entries{where} at or above {_short(self.tolerance)}"]
        if self.judged:
            lines.append(f"largest relative error{where} "
                         f"{_size(self.max_error, self.worst_index)} "
                         f"({verdict(self.max_error)})")
        if kinks:
            error, index = _largest(self.errors, self._kink_mask)
            lines.append(f"{kinks} of {n} entries within h of a kink, not judged")
            lines.append(f"largest relative error at a kink {_size(error, index)} "
                         f"({AT_KINK})")
        return "\n".join(lines)


def gradient_check(f: Callable[[torch.Tensor], torch.Tensor],
                   grad: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor,
                   h: float = 1e-6, method: str = "central",
                   tolerance: float = TOLERANCE) -> GradientCheck:
    """Compare ``grad(theta)`` with the finite-difference gradient of ``f`` at ``theta``.

    An entry passes when its relative error is below ``tolerance`` (default 1e-7,
    the "correct" bound of the module docstring); entries within ``h`` of a kink
    are reported separately and not judged.  Costs 2·d + 1 evaluations of ``f``.
    Use float64: in float32 rounding alone gives relative errors near 1e-3.
    Returns a :class:`GradientCheck`; ``print`` it for a short summary.
    """
    h, method, theta = _check_step(h), _check_method(method), _check_theta(theta)
    if not (isinstance(tolerance, (int, float)) and tolerance > 0):
        raise ValueError(f"tolerance must be a positive number, got {tolerance!r}")
    plus, minus, base = (_shifted_values(f, theta, h), _shifted_values(f, theta, -h),
                         _value(f, theta))
    numerical = _difference(plus, minus, base, h, method).to(theta.dtype)
    analytic = torch.as_tensor(grad(theta.clone())).detach()
    if analytic.shape != theta.shape:
        raise ValueError(f"grad must return a tensor shaped like theta "
                         f"{tuple(theta.shape)}, got shape {tuple(analytic.shape)}")
    errors = relative_error(analytic.to(numerical.dtype), numerical)
    jump = ((plus - base) / h - (base - minus) / h).abs()     # one-sided slopes
    scale = torch.maximum(analytic.abs().to(torch.float64), numerical.abs())
    at_kink = (jump > KINK_JUMP * scale.clamp(min=1e-12)) & ~(errors < tolerance)
    return GradientCheck(analytic, numerical, errors, float(tolerance), at_kink)
