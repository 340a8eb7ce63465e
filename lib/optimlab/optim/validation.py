"""Checks of hyperparameters: a bad value raises an error that names it and says why."""

from __future__ import annotations

import math
import numbers


def _number(name: str, value) -> float:
    """``value`` as a float, or a TypeError naming ``name`` when it is not a real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN, got {value}")
    return float(value)


def non_negative(name: str, value) -> None:
    """``value >= 0`` (learning rates, weight decay, momentum, ...)."""
    if _number(name, value) < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def positive(name: str, value) -> None:
    """``value > 0`` (eps, trust coefficients, ...)."""
    if not _number(name, value) > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def decay_rate(name: str, value) -> None:
    """A decay rate of a moving average: ``0 <= value < 1``."""
    if not 0 <= _number(name, value) < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value}")


def in_unit_interval(name: str, value) -> None:
    """An interpolation weight: ``0 < value <= 1``."""
    if not 0 < _number(name, value) <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {value}")


def betas(value, name: str = "betas") -> None:
    """A pair (beta1, beta2) of decay rates."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), got {value!r}")
    decay_rate(f"{name}[0] (beta1)", value[0])
    decay_rate(f"{name}[1] (beta2)", value[1])


def positive_int(name: str, value) -> None:
    """A count such as ``keep_num`` or ``k``: an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def one_of(name: str, value, allowed) -> None:
    """``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")


def flag(name: str, value) -> None:
    """A boolean switch (``None`` means: choose automatically)."""
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{name} must be True, False or None, got {value!r}")


def common(group) -> None:
    """The hyperparameters most optimizers share, where the group has them:
    ``lr >= 0``, ``betas`` in [0, 1), ``eps > 0``, ``weight_decay >= 0``."""
    non_negative("lr", group["lr"])
    if "betas" in group:
        betas(group["betas"])
    if "eps" in group:
        positive("eps", group["eps"])
    if "weight_decay" in group:
        non_negative("weight_decay", group["weight_decay"])
