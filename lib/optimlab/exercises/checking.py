"""Automatic checks for the book's coding exercises.

A coding exercise in a chapter has three parts:

1. a *stub* cell the student fills in (it starts as ``raise NotImplementedError``),
2. a *check* cell, ``check("label", function)``, that runs the student's function
   on a few inputs and compares it with the reference implementation,
3. the solution, folded in a ``{solution}`` block.

:func:`check` never raises for anything the student's function returns, raises or
does (SystemExit included); only a KeyboardInterrupt, the user's own Ctrl-C or
kernel interrupt, goes through.  It prints one line of success, or a short hint
that names the input, what was expected and what came back, wrapped at 85
characters and bounded in size (a tensor is summarised: shape, dtype, the first
differing index with both values, how many entries differ and by how much).
So a notebook whose stubs are still empty runs cleanly from top to bottom.

An answer is compared by value: a numpy array or scalar, a tensor of another real
dtype or on another device, or a Python number for a one-element result passes
when its values agree with the reference within the exercise's tolerance; a
wrong shape, a NaN where a number is expected or a non-number fails.

Each call of the student's function runs under a time limit (see
:mod:`.time_limit`): ``time_limit`` seconds, by default the exercise's
(:data:`DEFAULT_TIME_LIMIT`) or 100 times the reference's time on that input
if that is longer; a function that runs past it is stopped and reported.
"""

from __future__ import annotations

import copy
import math
import textwrap
import time
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from .time_limit import Outcome, call_with_time_limit

#: The marks that open a passed and a failed check's message.
PASS, FAIL = "✔", "✘"
#: Seconds that one call of a student's function may take (the references take
#: milliseconds).
DEFAULT_TIME_LIMIT = 10.0
#: The width at which :func:`check` wraps its message: the book's pages cut wider
#: lines.
HINT_WIDTH = 85
#: Characters of an error message or a ``repr`` that a hint shows (:func:`clip`).
MAX_TEXT = 200


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
    time_limit: float = DEFAULT_TIME_LIMIT  # seconds for one call of the student's function


@dataclass(frozen=True)
class CheckResult:
    """The verdict of :func:`evaluate`: ``passed``, and the ``message`` that
    :func:`check` prints, wrapped at ``width`` characters."""

    passed: bool
    message: str
    width: int = HINT_WIDTH  # :func:`check` wraps the message at this width


#: Every exercise of the book by its label, filled by :func:`register` when the
#: chapters' modules are imported.
REGISTRY: dict[str, Exercise] = {}


def _checked_time_limit(seconds: Any, name: str = "time_limit") -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
            or not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {seconds!r}")
    return float(seconds)


def register(exercise: Exercise) -> Exercise:
    """Add ``exercise`` to :data:`REGISTRY` and return it; a ValueError if its
    label is taken, it has no case, or its time limit is not a number of seconds
    > 0."""
    if exercise.label in REGISTRY:
        raise ValueError(f"exercise label {exercise.label!r} is registered twice")
    if not exercise.cases:
        raise ValueError(f"exercise {exercise.label!r} needs at least one test case")
    _checked_time_limit(exercise.time_limit, f"time_limit of exercise {exercise.label!r}")
    REGISTRY[exercise.label] = exercise
    return exercise


def get_exercise(label: str) -> Exercise:
    """The registered exercise ``label``; a KeyError listing the known labels if
    there is none."""
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


# ---------------------------------------------------------------- comparing and describing

def clip(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _shape(value) -> tuple:
    return tuple(int(size) for size in value.shape)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def describe(value: Any) -> str:
    """What came back, in a few words and never the whole value (for hints)."""
    if value is None:
        return "None (does the function end with `return …`?)"
    if isinstance(value, (bool, np.bool_)):
        return f"the bool {value}"
    if isinstance(value, (int, float, np.number)):
        kind = f"numpy {type(value).__name__} " if isinstance(value, np.generic) else ""
        return clip(f"the {kind}number {value}", 60)
    if isinstance(value, torch.Tensor):
        where = "" if value.device.type == "cpu" else f" on {value.device}"
        return f"a tensor of shape {_shape(value)}, dtype {value.dtype}{where}"
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape}, dtype {value.dtype}"
    if isinstance(value, (list, tuple)):
        tensors = value and all(isinstance(item, torch.Tensor) for item in value)
        return (f"a {type(value).__name__} of {_count(len(value), 'item')}"
                + (" (torch.stack makes one tensor of them)" if tensors else ""))
    if isinstance(value, types.GeneratorType):
        return "a generator (the function uses `yield`; use `return`)"
    if isinstance(value, dict):
        return f"a dict with {_count(len(value), 'key')}"
    if isinstance(value, str):
        return f"the string {clip(repr(value), 40)}"
    return f"a {clip(type(value).__name__, 40)} object"


def _expected_text(expected: Any) -> str:
    if isinstance(expected, torch.Tensor):
        return f"a torch.Tensor of shape {_shape(expected)}"
    return "a number" if isinstance(expected, (int, float)) else type(expected).__name__


def distinct(expected: int | float, got: int | float) -> tuple[str, str]:
    """Both numbers with the fewest significant digits (6 at least) that tell them apart;
    an int in full (up to 40 characters)."""
    def shown(number, digits=None):  # no digits: the shortest text that round-trips
        if isinstance(number, int):
            return clip(str(number), 40)
        return repr(float(number)) if digits is None else f"{number:.{digits}g}"

    for digits in range(6, 17):
        pair = shown(expected, digits), shown(got, digits)
        if pair[0] != pair[1]:
            return pair
    return shown(expected), shown(got)


_INTEGER_DTYPES = {getattr(torch, name) for name in ("uint8", "uint16", "uint32", "uint64",
                                                     "int8", "int16", "int32", "int64")
                   if hasattr(torch, name)}


def _number(value: Any) -> int | float | None:
    """``value`` as a Python number when it is a Python or numpy int or float (not a bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _values(value: Any) -> torch.Tensor | None:
    """The real numbers of a tensor, numpy array or number as a CPU tensor (of their
    dtype), or None when ``value`` holds none (a bool, a list, a complex or meta tensor)."""
    if _number(value) is not None:
        return torch.tensor(float(_number(value)), dtype=torch.float64)
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
        return torch.from_numpy(value.copy())  # a copy: contiguous, writable, 0-d kept
    if not isinstance(value, torch.Tensor) or value.device.type == "meta" or not (
            value.is_floating_point() or value.dtype in _INTEGER_DTYPES):
        return None
    value = value.detach()
    return (value.to_dense() if value.layout != torch.strided else value).cpu()


def _tensor_difference(expected: torch.Tensor, got: Any, exercise: Exercise,
                       lead: str) -> str | None:
    values = _values(got)
    if values is None and isinstance(got, torch.Tensor):
        why = ("a meta tensor holds no values" if got.device.type == "meta"
               else "not real numbers")
        return (f"{lead}expected a tensor of real numbers like {expected.dtype}, got "
                f"{describe(got)} ({why})")
    if values is None or (_number(got) is not None and expected.ndim > 0):
        return f"{lead}expected {_expected_text(expected)}, got {describe(got)}"
    if _shape(values) != _shape(expected):
        return f"{lead}expected shape {_shape(expected)}, got shape {_shape(values)}"
    got_d, exp_d = values.double(), expected.detach().cpu().double()
    close = torch.isclose(got_d, exp_d, rtol=exercise.rtol, atol=exercise.atol,
                          equal_nan=True)
    if bool(close.all()):
        return None
    wrong = ~close
    index = tuple(torch.nonzero(wrong)[0].tolist())
    shown_e, shown_g = distinct(exp_d[index].item(), got_d[index].item())
    count, largest = int(wrong.sum()), (got_d - exp_d).abs()[wrong].max().item()
    text = (f"{lead.rstrip(': ') or 'the result'} differs at index {index}: expected "
            f"{shown_e}, got {shown_g} ({count} of {exp_d.numel()} "
            f"{'entry differs' if count == 1 else 'entries differ'}, by up to {largest:.3g})")
    if isinstance(got, torch.Tensor) and (got.dtype, got.device) != (expected.dtype,
                                                                     expected.device):
        device = "" if got.device.type == "cpu" else f" on {got.device}"
        text += f"; the result is {got.dtype}{device}, the reference {expected.dtype}"
    return text


def _as_float(number: int | float) -> float:
    """``number`` as a float; an int too large for one becomes ±inf."""
    try:
        return float(number)
    except OverflowError:
        return math.inf if number > 0 else -math.inf


def _close(got: float, expected: float, exercise: Exercise) -> bool:
    return math.isclose(got, expected, rel_tol=exercise.rtol, abs_tol=exercise.atol) \
        or math.isnan(got) and math.isnan(expected)


def _number_difference(expected: int | float, got: Any, exercise: Exercise,
                       lead: str) -> str | None:
    number = _number(got)
    if number is None:
        values = _values(got)
        if values is None or values.numel() != 1:
            return f"{lead}expected a number, got {describe(got)}"
        number = values.item()
    close = number == expected if isinstance(expected, int) \
        else _close(_as_float(number), float(expected), exercise)
    if close:
        return None
    shown_e, shown_g = distinct(expected, number)
    gap = abs(_as_float(number) - float(expected))
    off = f" (off by {gap:.3g})" if math.isfinite(gap) else ""
    return f"{lead}expected {shown_e}, got {shown_g}{off}"


def difference(expected: Any, got: Any, exercise: Exercise, where: str = "") -> str | None:
    """Why ``got`` does not match ``expected`` (a short text that starts with ``where``,
    such as "item 1", when given), or None when it does."""
    lead = f"{where}: " if where else ""
    if isinstance(expected, torch.Tensor):
        return _tensor_difference(expected, got, exercise, lead)
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"{lead}expected {len(expected)} values, got {describe(got)}"
        for position, (e, g) in enumerate(zip(expected, got)):
            problem = difference(e, g, exercise, where=f"{where} item {position}".strip())
            if problem:
                return problem
        return None
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return _number_difference(expected, got, exercise, lead)
    if type(got) is type(expected) and got == expected:
        return None
    return f"{lead}expected {clip(repr(expected), 60)}, got {describe(got)}"


# ---------------------------------------------------------------- the check

def fresh(value: Any) -> Any:
    """A copy of a case's input, so a function that edits its input cannot spoil others."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (tuple, list, dict)):
        return copy.deepcopy(value)
    return value


def _error_text(error: BaseException) -> str:
    """``Type: message`` of the student's exception, bounded; its ``__str__`` is the
    student's code too, so it runs under a short time limit."""
    shown = call_with_time_limit(str, 1.0, (error,), name="str")
    message = shown.value if isinstance(shown.value, str) else "(its message cannot be shown)"
    return clip(f"{type(error).__name__}: {message}" if message else type(error).__name__)


def _failure(exercise: Exercise, case: Case, outcome: Outcome, expected: Any):
    """The CheckResult for a case the student's call did not pass, or None."""
    name, on = exercise.function_name, f"on {case.description}"
    if outcome.timed_out:
        return CheckResult(False, f"{FAIL} `{name}` did not return within "
                                  f"{outcome.seconds:.3g} s {on} (probably an endless loop)."
                           + (" It could not be stopped and keeps running in the "
                              "background: restart the kernel." if outcome.still_running
                              else ""))
    if isinstance(outcome.error, NotImplementedError):
        return CheckResult(False, f"{FAIL} Not done yet: `{name}` still raises "
                                  f"NotImplementedError. Replace that line with your "
                                  f"code and run both cells again.")
    if isinstance(outcome.error, SystemExit):
        return CheckResult(False, f"{FAIL} `{name}` called exit() or sys.exit() {on}; "
                                  f"return the result instead.")
    if outcome.error is not None:
        return CheckResult(False, f"{FAIL} `{name}` raised {_error_text(outcome.error)} "
                                  f"({on}).")
    compared = call_with_time_limit(difference, outcome.seconds,
                                    (expected, outcome.value, exercise), name="the comparison")
    problem = compared.value
    if compared.timed_out or compared.error is not None:
        problem = (f"the result (of type {clip(type(outcome.value).__name__, 40)}) could "
                   f"not be compared with the reference's")
    if not problem:
        return None
    hint = f" Hint: {exercise.hint}" if exercise.hint else ""
    return CheckResult(False, f"{FAIL} Not yet right {on}: {clip(problem, 600)}.{hint}")


def evaluate(label: str, function: Any, time_limit: float | None = None) -> CheckResult:
    """Run ``function`` on every case of exercise ``label``; never raises for anything
    ``function`` does (KeyboardInterrupt aside).  ``time_limit``: seconds per call
    (default: the exercise's, or 100 times the reference's time if that is longer)."""
    exercise = get_exercise(label)
    if time_limit is not None:
        time_limit = _checked_time_limit(time_limit)
    name = exercise.function_name
    if not callable(function):
        return CheckResult(False, f"{FAIL} `{name}` is not a function: run the cell that "
                                  f"defines it first.")
    for case in exercise.cases:
        started = time.perf_counter()
        expected = exercise.reference(*(fresh(a) for a in case.args),
                                      **{k: fresh(v) for k, v in case.kwargs.items()})
        seconds = time_limit or max(exercise.time_limit, 100 * (time.perf_counter() - started))
        outcome = call_with_time_limit(function, seconds, tuple(fresh(a) for a in case.args),
                                       {k: fresh(v) for k, v in case.kwargs.items()}, name)
        failure = _failure(exercise, case, outcome, expected)
        if failure:
            return failure
    return CheckResult(True, f"{PASS} Correct: `{name}` matches the reference on all "
                             f"{len(exercise.cases)} test cases.")


def check(label: str, function: Any, time_limit: float | None = None) -> None:
    """Print whether ``function`` solves exercise ``label`` (for the chapter's check cell);
    ``time_limit`` as in :func:`evaluate`."""
    result = evaluate(label, function, time_limit)
    print(textwrap.fill(result.message, width=result.width, subsequent_indent="  "))
