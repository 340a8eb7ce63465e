"""Automatic checks for the book's coding exercises.

A coding exercise in a chapter has three parts:

1. a *stub* cell the student fills in (it starts as ``raise NotImplementedError``),
2. a *check* cell, ``check("label", function)``, that runs the student's function
   on a few inputs and compares it with the reference implementation,
3. the solution, folded in a ``{solution}`` block.

:func:`check` never raises: it prints one line of success, or a short hint that
names the input, what was expected and what came back.  So a notebook whose
stubs are still empty runs cleanly from top to bottom.
"""

from __future__ import annotations

import copy
import math
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

PASS, FAIL = "✔", "✘"


@dataclass(frozen=True)
class Case:
    """One input on which the student's function must agree with the reference."""

    description: str  # shown in hints: "A = diag(1, 10), θ0 = (1, 1), lr = 0.05, 5 steps"
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Exercise:
    """A coding exercise: its label in the book, the function asked for, the reference."""

    label: str
    function_name: str
    reference: Callable
    cases: tuple[Case, ...]
    hint: str = ""
    rtol: float = 1e-6
    atol: float = 1e-9


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    message: str


REGISTRY: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    if exercise.label in REGISTRY:
        raise ValueError(f"exercise label {exercise.label!r} is registered twice")
    if not exercise.cases:
        raise ValueError(f"exercise {exercise.label!r} needs at least one test case")
    REGISTRY[exercise.label] = exercise
    return exercise


def get_exercise(label: str) -> Exercise:
    try:
        return REGISTRY[label]
    except KeyError:
        known = ", ".join(sorted(REGISTRY)) or "none"
        raise KeyError(f"no exercise is labelled {label!r} (known: {known})") from None


def float64(values) -> torch.Tensor:
    """A case's input: a number, a vector or rows of numbers as a float64 tensor."""
    return torch.tensor(values, dtype=torch.float64)


def vector(values) -> str:
    """A short vector as a case's description prints it: ``(1, 2.5)``."""
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


def short(value: Any) -> str:
    """A compact, rounded rendering of a value for hints."""
    if isinstance(value, torch.Tensor):
        if value.numel() <= 8:
            return str([round(x, 4) for x in value.detach().double().flatten().tolist()]) + (
                "" if value.ndim <= 1 else f" (shape {tuple(value.shape)})")
        return f"tensor of shape {tuple(value.shape)}"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(short(item) for item in value) + ")"
    return repr(value)


def difference(expected: Any, got: Any, exercise: Exercise, where: str = "") -> str | None:
    """Why ``got`` does not match ``expected``, or None when it does."""
    place = f" {where}" if where else ""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"expected a torch.Tensor{place}, got {type(got).__name__}"
        if tuple(got.shape) != tuple(expected.shape):
            return (f"expected shape {tuple(expected.shape)}{place}, "
                    f"got shape {tuple(got.shape)}")
        got_d, exp_d = got.detach().double(), expected.detach().double()
        close = torch.isclose(got_d, exp_d, rtol=exercise.rtol, atol=exercise.atol,
                              equal_nan=True)
        if bool(close.all()):
            return None
        index = tuple(torch.nonzero(~close)[0].tolist())
        return (f"{place.strip() or 'the result'} differs at index {index}: expected "
                f"{exp_d[index].item():.6g}, got {got_d[index].item():.6g}")
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected {len(expected)} values{place}, got {short(got)}"
        for position, (e, g) in enumerate(zip(expected, got)):
            problem = difference(e, g, exercise, where=f"{where} item {position}".strip())
            if problem:
                return problem
        return None
    if isinstance(expected, float):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)):
            return f"expected a number{place}, got {type(got).__name__}"
        if math.isclose(got, expected, rel_tol=exercise.rtol, abs_tol=exercise.atol):
            return None
        return f"expected {expected:.6g}{place}, got {got:.6g}"
    return None if got == expected else f"expected {expected!r}{place}, got {got!r}"


def fresh(value: Any) -> Any:
    """A copy of a case's input, so a function that edits its input cannot spoil later cases."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (tuple, list, dict)):
        return copy.deepcopy(value)
    return value


def evaluate(label: str, function: Any) -> CheckResult:
    """Run ``function`` on every case of exercise ``label``; never raises."""
    exercise = get_exercise(label)
    name = exercise.function_name
    if not callable(function):
        return CheckResult(False, f"{FAIL} `{name}` is not a function: run the cell that "
                                  f"defines it first.")
    for case in exercise.cases:
        args = tuple(fresh(a) for a in case.args)
        kwargs = {k: fresh(v) for k, v in case.kwargs.items()}
        try:
            got = function(*args, **kwargs)
        except NotImplementedError:
            return CheckResult(False, f"{FAIL} Not done yet: `{name}` still raises "
                                      f"NotImplementedError. Replace that line with your "
                                      f"code and run both cells again.")
        except Exception as error:  # the student's code: report it, never re-raise
            return CheckResult(False, f"{FAIL} `{name}` raised {type(error).__name__}: "
                                      f"{error} (on {case.description}).")
        expected = exercise.reference(*(fresh(a) for a in case.args),
                                      **{k: fresh(v) for k, v in case.kwargs.items()})
        problem = difference(expected, got, exercise)
        if problem:
            hint = f" Hint: {exercise.hint}" if exercise.hint else ""
            return CheckResult(False, f"{FAIL} Not yet right on {case.description}: "
                                      f"{problem}.{hint}")
    return CheckResult(True, f"{PASS} Correct: `{name}` matches the reference on all "
                             f"{len(exercise.cases)} test cases.")


def check(label: str, function: Any) -> None:
    """Print whether ``function`` solves exercise ``label`` (for the chapter's check cell)."""
    print(textwrap.fill(evaluate(label, function).message, width=88,
                        subsequent_indent="  "))
