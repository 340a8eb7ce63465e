"""Checks of a state dict before an optimizer loads it.

``torch.optim.Optimizer.load_state_dict`` takes any dict with ``state`` and
``param_groups``: a state dict of another optimizer, one whose hyperparameters are
invalid, one whose state lacks a moment (a bare ``KeyError`` at the next step) or
holds one of another shape.  The optimizers of :mod:`optimlab.optim` save the
name of their class (:data:`CLASS_KEY`) and check, before anything is loaded,

* that the state dict was saved by the same class;
* each parameter group: its size, every hyperparameter present and valid (the
  checks of ``__init__``);
* each parameter's state: the entries ``init_state`` creates for that group,
  each a floating-point tensor of the shape ``init_state`` gives it or a number of
  the same type (``optional_state`` entries may be present or absent).

A refused state dict leaves the optimizer as it was.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping
from typing import Any

import torch

#: The entry of a state dict that names the class that saved it; a str, so that
#: a checkpoint can keep it in JSON.
CLASS_KEY = "optimizer"


def check_class(state_dict, expected: str) -> None:
    """That ``state_dict`` is a dict saved by the optimizer class named ``expected``."""
    if not isinstance(state_dict, Mapping):
        hint = (" (a file name? read the file with torch.load first)"
                if isinstance(state_dict, (str, os.PathLike)) else "")
        raise TypeError(f"state_dict must be the dict that state_dict() returns, got "
                        f"{type(state_dict).__name__}{hint}")
    saved = state_dict.get(CLASS_KEY)
    if saved is None:
        raise ValueError(
            f"the state_dict does not say which optimizer saved it: it has no "
            f"{CLASS_KEY!r} entry (its entries: {sorted(map(str, state_dict))}), so it "
            f"was not made by optimlab.optim.{expected}.state_dict() (torch.optim's "
            f"state dicts lack this entry); loading it could silently run another rule")
    if not isinstance(saved, str):
        raise ValueError(
            f"the state_dict's {CLASS_KEY!r} entry is a {type(saved).__name__}, not the "
            f"name of the optimizer class that saved it (is this a whole checkpoint? "
            f"then pass the optimizer's own state dict)")
    if saved != expected:
        raise ValueError(f"the state_dict was saved by {saved}, not by {expected}: its "
                         f"state and hyperparameters belong to another update rule")


def check_loadable(optimizer, state_dict: Mapping) -> None:
    """That ``optimizer`` (an :class:`~optimlab.optim.Optimizer`) can load
    ``state_dict``: a ValueError or TypeError that says what is wrong, if not."""
    check_class(state_dict, type(optimizer).__name__)
    for key in ("state", "param_groups"):
        if key not in state_dict:
            raise ValueError(f"the state_dict has no {key!r} entry")
    owners = _check_groups(optimizer, state_dict["param_groups"])
    saved_state = state_dict["state"]
    if not isinstance(saved_state, Mapping):
        raise TypeError(f"the state_dict's 'state' must be a dict, got "
                        f"{type(saved_state).__name__}")
    for index, entry in saved_state.items():
        if index not in owners:
            raise ValueError(f"the state_dict holds state for parameter {index!r}, which "
                             f"none of its parameter groups lists")
        p, group = owners[index]
        try:
            _check_entry(optimizer, entry, p, group)
        except (ValueError, TypeError) as error:
            raise type(error)(f"state of parameter {index}: {error}") from None


def _check_groups(optimizer, saved_groups) -> dict[Any, tuple[torch.Tensor, dict]]:
    """Check the saved groups against the optimizer's; map each saved parameter id
    to its parameter and its group as it will be after loading."""
    groups = optimizer.param_groups
    if not isinstance(saved_groups, (list, tuple)):
        raise TypeError(f"the state_dict's 'param_groups' must be a list, got "
                        f"{type(saved_groups).__name__}")
    if len(saved_groups) != len(groups):
        raise ValueError(f"the state_dict has {len(saved_groups)} parameter group(s), "
                         f"the optimizer {len(groups)}")
    owners = {}
    for index, (saved, group) in enumerate(zip(saved_groups, groups)):
        if not isinstance(saved, Mapping) or not isinstance(saved.get("params"), list):
            raise ValueError(f"parameter group {index} of the state_dict must be a dict "
                             f"with a list 'params'")
        ids = saved["params"]
        if len(ids) != len(group["params"]):
            raise ValueError(f"parameter group {index} of the state_dict has {len(ids)} "
                             f"parameter(s), the optimizer's has {len(group['params'])}")
        missing = [name for name in optimizer.defaults if name not in saved]
        if missing:
            raise ValueError(f"parameter group {index} of the state_dict lacks the "
                             f"hyperparameter(s) {missing}")
        loaded = {**saved, "params": group["params"]}
        try:
            optimizer.check_keys(loaded)
            optimizer.check_hyperparameters(loaded)
        except (ValueError, TypeError) as error:
            raise type(error)(f"parameter group {index} of the state_dict: "
                              f"{error}") from None
        for saved_id, p in zip(ids, group["params"]):
            if isinstance(saved_id, bool) or not isinstance(saved_id, int):
                raise TypeError(f"parameter group {index} of the state_dict lists "
                                f"{saved_id!r} as a parameter; the ids are ints")
            if saved_id in owners:
                raise ValueError(f"the state_dict lists parameter {saved_id} twice")
            owners[saved_id] = (p, loaded)
    return owners


def _check_entry(optimizer, entry, p: torch.Tensor, group: dict) -> None:
    """One parameter's saved state against what ``init_state`` creates for it."""
    if not isinstance(entry, Mapping):
        raise TypeError(f"must be a dict, got {type(entry).__name__}")
    expected = optimizer.init_state(torch.empty_like(p, device="meta"), group)
    optional = set(optimizer.optional_state)
    missing = [key for key in expected if key not in entry and key not in optional]
    if missing:
        raise ValueError(f"lacks {missing} (it has {sorted(map(str, entry))})")
    for key, value in entry.items():
        if key in expected:
            _check_value(key, value, expected[key])
        elif key in optional:
            _check_value(key, value, torch.empty_like(p, device="meta")
                         if isinstance(value, torch.Tensor) else 1)
        else:
            raise ValueError(f"has the entry {key!r}, which {type(optimizer).__name__} "
                             f"never creates (it creates {sorted(expected)})")


def _check_value(key, value, expected) -> None:
    if isinstance(expected, torch.Tensor):
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            kind = value.dtype if isinstance(value, torch.Tensor) else type(value).__name__
            raise TypeError(f"{key!r} must be a floating-point tensor, got {kind}")
        if value.shape != expected.shape:
            raise ValueError(f"{key!r} has shape {tuple(value.shape)}, the parameter "
                             f"needs {tuple(expected.shape)}")
    elif isinstance(expected, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{key!r} must be an int >= 0, got {value!r}")
        if value < 0:
            raise ValueError(f"{key!r} must be an int >= 0, got {value}")
    elif (isinstance(value, bool) or not isinstance(value, numbers.Real)
          or not math.isfinite(value)):
        raise TypeError(f"{key!r} must be a finite number, got {value!r}")
