"""Checks of an optimizer's inputs: a bad one raises an error that names it and says why.

Hyperparameters, parameters and parameter groups (when an optimizer is made or a
group added), and at each step the closure, the gradients and the state.

A number must be a real number (a ``bool`` is not one: ``lr=True`` is a slip) and
finite: ``inf`` or ``NaN`` as a learning rate, a momentum or an ``eps`` never
trains, it only fills the parameters with NaN.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Mapping
from typing import Any, Callable

import torch


def _number(name: str, value) -> float:
    """``value`` as a float, or a TypeError naming ``name`` when it is not a real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _require(name: str, value, holds: Callable[[float], bool], requirement: str) -> None:
    """A ValueError ``"<name> must be a finite number <requirement>, got <value>"``
    unless ``value`` is finite and ``holds``."""
    number = _number(name, value)
    if not (math.isfinite(number) and holds(number)):
        raise ValueError(f"{name} must be a finite number {requirement}, got {value}")


def non_negative(name: str, value) -> None:
    """``value >= 0`` (learning rates, weight decay, ...)."""
    _require(name, value, lambda x: x >= 0, ">= 0")


def positive(name: str, value) -> None:
    """``value > 0`` (eps, trust coefficients, ...)."""
    _require(name, value, lambda x: x > 0, "> 0")


def non_positive(name: str, value) -> None:
    """``value <= 0`` (an exponent of a decaying schedule, such as Adafactor's)."""
    _require(name, value, lambda x: x <= 0, "<= 0")


def finite(name: str, value) -> None:
    """Any finite real number (a coefficient of a polynomial, ...)."""
    if not math.isfinite(_number(name, value)):
        raise ValueError(f"{name} must be a finite number, got {value}")


def decay_rate(name: str, value) -> None:
    """A decay rate of a moving average or a momentum: ``0 <= value < 1``
    (at 1 the average never forgets and a momentum buffer grows without bound)."""
    _require(name, value, lambda x: 0 <= x < 1, "in [0, 1)")


def in_unit_interval(name: str, value) -> None:
    """An interpolation weight: ``0 < value <= 1``."""
    _require(name, value, lambda x: 0 < x <= 1, "in (0, 1]")


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


def non_negative_int(name: str, value) -> None:
    """A count that may be 0, such as ``warmup_steps``: an int >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def one_of(name: str, value, allowed) -> None:
    """``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")


def flag(name: str, value) -> None:
    """A boolean switch (``None`` means: choose automatically)."""
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{name} must be True, False or None, got {value!r}")


def fixed(name: str, value, required, owner: str, instead: str) -> None:
    """A hyperparameter that a class fixes (AMSGrad's ``amsgrad=True``): a group
    that sets it otherwise would silently run another optimizer."""
    if value is not required:
        raise ValueError(f"{name} must be {required} in {owner}, got {value!r}; "
                         f"{instead}")


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


# --- parameters and parameter groups ---------------------------------------------

_USED_UP = ("; it was an iterator that yielded nothing: a generator such as "
            "model.parameters() is used up by the first optimizer it is given, so call "
            "model.parameters() again for each optimizer")
_ITERABLE = "an iterable of tensors or of parameter groups (dicts)"


def parameter_list(params) -> list:
    """An optimizer's ``params`` argument as a non-empty list."""
    if isinstance(params, torch.Tensor):
        raise TypeError(f"params must be {_ITERABLE}, got a single tensor; pass [tensor]")
    if isinstance(params, Mapping):
        hint = ("for a single parameter group pass [group]" if "params" in params else
                "named parameters go in as pairs: dict.items(), model.named_parameters()")
        raise TypeError(f"params must be {_ITERABLE}, got one dict; {hint}")
    try:
        items = list(params)
    except TypeError:
        raise TypeError(f"params must be {_ITERABLE}, got "
                        f"{type(params).__name__}") from None
    if not items:
        raise ValueError("params is empty: there is nothing to optimize"
                         + (_USED_UP if iter(params) is params else ""))
    return items


def parameter_group(group, index: int, others) -> None:
    """That ``group`` can become parameter group ``index`` beside the groups
    ``others``: a dict whose ``"params"`` (read once into a list, in place) are
    distinct floating-point leaf tensors of no other group."""
    if not isinstance(group, dict):
        raise TypeError(f"parameter group {index} must be a dict with the key "
                        f"'params', got {type(group).__name__}")
    if "params" not in group:
        raise ValueError(f"parameter group {index} has no 'params' (its keys: "
                         f"{sorted(map(str, group))})")
    params = group["params"]
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"the params of parameter group {index} are a set, whose order "
                        f"changes from run to run; pass a list")
    if not isinstance(params, torch.Tensor):
        try:
            group["params"] = list(params)
        except TypeError:
            raise TypeError(f"the params of parameter group {index} must be a tensor or "
                            f"an iterable of tensors, got {type(params).__name__}") from None
        if not group["params"] and iter(params) is params:
            raise ValueError(f"the params of parameter group {index} are empty"
                             + _USED_UP)
    items = [params] if isinstance(params, torch.Tensor) else group["params"]
    taken = {id(p): i for i, other in enumerate(others) for p in other["params"]}
    seen: dict[int, int] = {}
    for i, item in enumerate(items):
        named = isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
        _parameter(item[1] if named else item, f"parameter {i} of group {index}")
        key = id(item[1] if named else item)
        if key in seen:
            raise ValueError(f"parameter {i} of group {index} is the same tensor as "
                             f"parameter {seen[key]}: it would be updated twice per step")
        if key in taken:
            raise ValueError(f"parameter {i} of group {index} is already in parameter "
                             f"group {taken[key]}")
        seen[key] = i


#: Options of torch.optim's optimizers that these do not implement: a group that
#: switches one on asks for something it would not get.
TORCH_OPTIONS = ("maximize", "capturable", "differentiable", "fused")


def own_hyperparameters(group, own) -> None:
    """No key of ``group`` that this optimizer would ignore although it asks for
    something: a near miss of one of its hyperparameters ``own`` (``weight_decy``),
    or one of :data:`TORCH_OPTIONS` switched on (``maximize=True``).  Other keys (a
    scheduler's ``initial_lr``, a wrapper's ``rho``, a user's ``name``) are kept, as
    in torch.optim."""
    for key, value in group.items():
        if not isinstance(key, str) or key in own or key in ("params", "param_names"):
            continue
        if key in TORCH_OPTIONS and value not in (False, None):
            raise ValueError(f"{key}={value!r} is an option of torch.optim that this "
                             f"optimizer does not implement")
        close = difflib.get_close_matches(key, own, n=1, cutoff=0.85)
        if close:
            raise ValueError(f"{key!r} is not a hyperparameter of this optimizer; did you "
                             f"mean {close[0]!r}? (its parameter groups take "
                             f"{sorted(own)})")


def _parameter(p, where: str) -> None:
    if not isinstance(p, torch.Tensor):
        raise TypeError(f"{where} is a {type(p).__name__}, not a tensor")
    if not p.is_floating_point():
        raise TypeError(f"{where} has dtype {p.dtype}; only floating-point "
                        f"parameters can be optimized")
    if not (p.is_leaf or p.retains_grad):
        raise ValueError(f"{where} is not a leaf tensor: it was computed from other "
                         f"tensors, and the gradient goes to those; optimize the "
                         f"tensor it was computed from")


# --- steps -------------------------------------------------------------------------

def closure_loss(owner: str, closure: Callable[[], Any] | None):
    """``closure()`` with gradients enabled (None without a closure): the loss,
    a tensor, a number or None; a TypeError naming ``owner`` otherwise."""
    if closure is None:
        return None
    if not callable(closure):
        raise TypeError(f"{owner}.step: closure must be a function that recomputes the "
                        f"loss and its gradients and returns the loss, got "
                        f"{type(closure).__name__}; without one, call loss.backward() "
                        f"and then step()")
    with torch.enable_grad():
        loss = closure()
    if loss is not None and (isinstance(loss, bool) or not isinstance(
            loss, (torch.Tensor, numbers.Real))):
        raise TypeError(f"{owner}.step: closure must return the loss (a tensor or a "
                        f"number) or None, got {type(loss).__name__}")
    return loss


def _describe(t: torch.Tensor) -> str:
    return f"{t.dtype} of shape {tuple(t.shape)} on {t.device}"


def gradient(p: torch.Tensor, g: torch.Tensor, owner: str) -> None:
    """A dense gradient of the parameter's dtype, shape and device."""
    if not (g.is_sparse or g.dtype != p.dtype or g.shape != p.shape
            or g.device != p.device):
        return
    if g.is_sparse:
        raise TypeError(f"has a sparse gradient; {owner} needs dense gradients")
    error = TypeError if g.dtype != p.dtype else ValueError
    raise error(f"is {_describe(p)} but its gradient is {_describe(g)} (was the "
                f"parameter's .data replaced?); the gradient must match it")


def state_tensors(p: torch.Tensor, state: dict) -> None:
    """State tensors of the parameter's dtype and device."""
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and (value.dtype != p.dtype
                                                or value.device != p.device):
            error = TypeError if value.dtype != p.dtype else ValueError
            raise error(
                f"is {p.dtype} on {p.device}, but its state {key!r} is {value.dtype} "
                f"on {value.device}: the parameter was converted or moved after the "
                f"optimizer's first step; optimizer.load_state_dict("
                f"optimizer.state_dict()) converts the state to it")
