"""What a student sees from ``check``: the time limit, exact numbers, odd answers,
bounded hints, and correct answers of other (compatible) types.

Every answer here goes through :func:`check` or :func:`evaluate` as a student's
function would; each must get a clear verdict, never an exception, a hang or a
flood of text.  (Correct solutions and the book's hand-written wrong answers are
in test_exercises.py.)
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import nbformat
import numpy as np
import pytest
import torch

from notebooks import chapter_notebooks
from optimlab.exercises import REGISTRY, check, evaluate
from optimlab.exercises import time_limit as limits
from optimlab.exercises.checking import Case, Exercise, distinct, register
from optimlab.exercises.cifar10 import cosine_lr
from optimlab.exercises.gradient_descent import armijo_step, gradient_descent
from optimlab.exercises.mnist import mean_ci95
from optimlab.exercises.momentum import momentum_window

HINT_WIDTH = 85
LIMIT = 0.2  # seconds: the time limit of these tests
counter = [0]  # incremented by the endless loops below, to see that they stopped


def printed(label, function, capsys, **options) -> str:
    """What ``check`` prints, its line breaks undone; it must not raise or take long, and
    every line must fit the page."""
    started = time.monotonic()
    check(label, function, **options)
    assert time.monotonic() - started < 4.0, "the check ran the student's slow code"
    out = capsys.readouterr().out
    assert out.count("\n") >= 1 and len(out) < 2500, out[:3000]
    assert max(len(line) for line in out.splitlines()) <= HINT_WIDTH, out
    return " ".join(out.split())


def one_case_exercise(monkeypatch, expected, **options) -> str:
    """A throwaway exercise ``ex-test`` whose reference returns ``expected``."""
    exercise = Exercise("ex-test", "answer", lambda: expected, (Case("the test case"),),
                        hint="a test hint.", **options)
    monkeypatch.setitem(REGISTRY, "ex-test", exercise)
    return "ex-test"


# ---------------------------------------------------------------- 1. the time limit

def endless(*args, **kwargs):
    while True:
        counter[0] += 1


def endless_catching_exceptions(*args, **kwargs):
    while True:
        try:
            counter[0] += 1
        except Exception:
            pass


def endless_with_bare_except(*args, **kwargs):
    while True:
        try:
            sum(range(50))
            counter[0] += 1
        except:  # noqa: E722 - the student's mistake under test
            pass


def swallows_once_then_returns_the_right_answer(grad, theta0, lr, num_steps):
    try:
        endless()
    except BaseException:
        pass
    return gradient_descent(grad, theta0, lr, num_steps)


def sleeps(*args, **kwargs):
    time.sleep(60)


def slow_for_loop(*args, **kwargs):
    for i in range(10**12):
        counter[0] += i


ENDLESS = [endless, endless_catching_exceptions, endless_with_bare_except,
           swallows_once_then_returns_the_right_answer, sleeps, slow_for_loop]


def in_a_thread(function, *args, **kwargs):
    """``function(*args, **kwargs)`` run in a thread other than the main one."""
    result = {}
    worker = threading.Thread(target=lambda: result.update(value=function(*args, **kwargs)))
    worker.start()
    worker.join()
    return result["value"]


def no_alarm(monkeypatch):
    """A platform without setitimer (Windows)."""
    monkeypatch.delattr(signal, "setitimer")


@pytest.mark.parametrize("way", ["main thread", "other thread", "no SIGALRM"])
@pytest.mark.parametrize("function", ENDLESS, ids=lambda f: f.__name__)
def test_an_endless_function_is_stopped_and_reported(function, way, monkeypatch):
    if way != "main thread" and function is sleeps:
        pytest.skip("a thread in time.sleep cannot be stopped: tested below")
    if way == "no SIGALRM":
        no_alarm(monkeypatch)
    started = time.monotonic()
    if way == "other thread":
        result = in_a_thread(evaluate, "ex-gd-loop", function, time_limit=LIMIT)
    else:
        result = evaluate("ex-gd-loop", function, time_limit=LIMIT)
    assert time.monotonic() - started < LIMIT + 2.5
    assert not result.passed
    assert result.message.startswith("✘ `gradient_descent` did not return within 0.2 s on")
    assert "probably an endless loop" in result.message
    assert "still" not in result.message and "background" not in result.message
    before = counter[0]
    time.sleep(0.1)
    assert counter[0] == before, "the student's loop still runs"


def test_the_hint_of_a_timeout_names_the_limit_and_fits_the_page(capsys):
    out = printed("ex-adam-loop", endless, capsys, time_limit=0.25)
    assert "✘ `adam` did not return within 0.25 s on f(θ)" in out
    assert "probably an endless loop" in out


def test_the_exercises_own_time_limit_is_the_default(monkeypatch):
    label = one_case_exercise(monkeypatch, 1.0, time_limit=0.3)
    started = time.monotonic()
    result = evaluate(label, endless)
    assert 0.3 <= time.monotonic() - started < 2.0
    assert "did not return within 0.3 s" in result.message


def test_the_default_limit_is_far_above_every_references_time():
    for exercise in REGISTRY.values():
        started = time.perf_counter()
        for case in exercise.cases:
            exercise.reference(*case.args, **case.kwargs)
        assert time.perf_counter() - started < exercise.time_limit / 20, exercise.label


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan"), "5", True, [1]],
                         ids=repr)
def test_a_bad_time_limit_is_refused_with_its_name(bad):
    with pytest.raises(ValueError, match=r"time_limit must be a finite number of seconds"):
        evaluate("ex-gd-loop", gradient_descent, time_limit=bad)
    with pytest.raises(ValueError, match=r"time_limit of exercise 'ex-bad'"):
        register(Exercise("ex-bad", "f", lambda: 1.0, (Case("c"),), time_limit=bad))
    assert "ex-bad" not in REGISTRY


@pytest.mark.parametrize("function", [endless, gradient_descent], ids=lambda f: f.__name__)
def test_the_previous_alarm_handler_and_timer_are_restored(function):
    fired = []

    def handler(signum, frame):
        fired.append(signum)

    previous = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 100.0, 7.0)
        evaluate("ex-gd-loop", function, time_limit=LIMIT)
        assert signal.getsignal(signal.SIGALRM) is handler
        delay, interval = signal.getitimer(signal.ITIMER_REAL)
        assert 98.0 < delay <= 100.0 and interval == 7.0
        signal.setitimer(signal.ITIMER_REAL, 0)
        evaluate("ex-gd-loop", function, time_limit=LIMIT)
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        assert fired == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_an_outer_timer_due_sooner_still_fires():
    class OuterDeadline(Exception):
        pass

    def outer(signum, frame):
        raise OuterDeadline

    previous = signal.signal(signal.SIGALRM, outer)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        started = time.monotonic()
        with pytest.raises(OuterDeadline):
            evaluate("ex-gd-loop", endless, time_limit=30)
            time.sleep(1)
        assert time.monotonic() - started < 1.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_function_that_keeps_swallowing_the_stop_gets_a_warning(monkeypatch, capsys):
    monkeypatch.setattr(limits, "GRACE_SECONDS", 0.0)  # warn when the 2nd stop is swallowed

    def swallows_for_a_second(*args):
        deadline = time.monotonic() + 1.0
        while True:
            try:
                while time.monotonic() < deadline:
                    pass
                return None
            except:  # noqa: E722
                pass

    result = evaluate("ex-gd-loop", swallows_for_a_second, time_limit=LIMIT)
    assert "did not return within 0.2 s" in result.message
    err = capsys.readouterr().err
    assert max(len(line) for line in err.splitlines()) <= HINT_WIDTH, err
    err = " ".join(err.split())
    assert "catches the exception that stops it" in err and "restart the kernel" in err


def test_a_thread_that_cannot_be_stopped_is_reported_as_still_running(monkeypatch):
    monkeypatch.setattr(limits, "GRACE_SECONDS", 0.2)
    no_alarm(monkeypatch)

    def sleeps_a_while(*args):
        time.sleep(1.5)

    started = time.monotonic()
    result = evaluate("ex-gd-loop", sleeps_a_while, time_limit=LIMIT)
    assert time.monotonic() - started < 1.0
    assert "did not return within 0.2 s" in result.message
    assert "keeps running in the background: restart the kernel" in result.message


def no_threads(self):
    """Thread.start where no thread can be started (Pyodide)."""
    raise RuntimeError("can't start new thread")


def test_without_alarms_or_threads_the_check_still_works(monkeypatch):
    no_alarm(monkeypatch)
    monkeypatch.setattr(threading.Thread, "start", no_threads)
    assert evaluate("ex-gd-loop", gradient_descent, time_limit=LIMIT).passed
    result = evaluate("ex-gd-loop", raiser(SystemExit(1)), time_limit=LIMIT)
    assert "called exit() or sys.exit()" in result.message


@pytest.fixture
def python_sigint_handler():
    """Python's own SIGINT handler (KeyboardInterrupt), even where the test runner was
    started with SIGINT ignored (as a background job)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("way", ["main thread", "waiting for a thread", "raised in a thread",
                                 "no threads"])
def test_ctrl_c_still_interrupts_the_check(way, monkeypatch, python_sigint_handler):
    if way != "main thread":
        no_alarm(monkeypatch)
    if way == "no threads":
        monkeypatch.setattr(threading.Thread, "start", no_threads)
    function = endless if way in ("main thread", "waiting for a thread") \
        else raiser(KeyboardInterrupt())
    # the user presses the kernel's stop button (SIGINT) after 0.1 s
    ctrl_c = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT))
    previous, returned = signal.getsignal(signal.SIGALRM), []
    with pytest.raises(KeyboardInterrupt):
        try:
            if function is endless:
                ctrl_c.start()
            evaluate("ex-gd-loop", function, time_limit=5)
            returned.append(True)
            time.sleep(1)  # a Ctrl-C that comes late lands here, inside this test
        finally:
            ctrl_c.cancel()
    assert not returned, "the check returned instead of letting Ctrl-C through"
    assert signal.getsignal(signal.SIGALRM) is previous
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    before = counter[0]
    time.sleep(0.1)
    assert counter[0] == before, "the student's loop still runs"


# ---------------------------------------------------------------- 2. enough digits

def times(function, factor):
    def answer(*args, **kwargs):
        return function(*args, **kwargs) * factor
    return answer


def nudged_armijo(*args, **kwargs):
    point, lr = armijo_step(*args, **kwargs)
    return point, lr * (1 + 3e-6)


def nudged_one_entry(*args):
    thetas = gradient_descent(*args).clone()
    thetas[-1, -1] *= 1 + 2e-6
    return thetas


CLOSE_MISSES = [("ex-cifar10-cosine", times(cosine_lr, 1 + 2e-6)),
                ("ex-cifar10-cosine", times(cosine_lr, 1 - 5e-6)),
                ("ex-gd-loop", times(gradient_descent, 1 + 3e-6)),
                ("ex-gd-loop", nudged_one_entry),
                ("ex-armijo", nudged_armijo),
                ("ex-momentum-window", lambda beta, fraction:
                 momentum_window(beta, fraction) + 1e-9)]


@pytest.mark.parametrize("label, function", CLOSE_MISSES)
def test_a_result_off_in_the_sixth_digit_shows_two_different_numbers(label, function):
    result = evaluate(label, function)
    assert not result.passed
    shown = re.search(r"expected ([-\d.e+]+), got ([-\d.e+]+)", result.message)
    assert shown, result.message
    assert shown[1].rstrip(".") != shown[2].rstrip("."), result.message


@pytest.mark.parametrize("expected, got, shown", [
    (1.0, 1.000001, ("1", "1.000001")),
    (0.1, 0.1 + 2**-56, ("0.1", "0.10000000000000002")),
    (22, 10, ("22", "10")),
    (123456.0, 123457.0, ("123456", "123457")),
    (0.5, float("nan"), ("0.5", "nan")),
])
def test_distinct_uses_the_fewest_digits_that_tell_the_numbers_apart(expected, got, shown):
    assert distinct(expected, got) == shown


# ---------------------------------------------------------------- 3. odd answers and errors

class EqualityRaises:
    def __eq__(self, other):
        raise RuntimeError("boom")

    __hash__ = object.__hash__


class EqualityIsATensor:
    def __eq__(self, other):
        return torch.ones(3) == other

    __hash__ = object.__hash__


def busy(seconds: float) -> str:
    """Loop for ``seconds`` (a student's near-endless loop that a failing test's report
    can still get through), then return a text."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass
    return "done"


class SlowRepr:
    def __repr__(self):
        return busy(5)


ODD_ANSWERS = [  # (what the function returns, a phrase the hint must contain)
    (None, "got None (does the function end with `return"),
    ((x for x in range(3)), "got a generator"),
    ({"theta": 1}, "got a dict with 1 key"),
    ("theta", "got the string 'theta'"),
    (b"theta", "got a bytes object"),
    (3 + 4j, "got a complex object"),
    (EqualityRaises(), "got a EqualityRaises object"),
    (EqualityIsATensor(), "got a EqualityIsATensor object"),
    (SlowRepr(), "got a SlowRepr object"),
    (print, "got a builtin_function_or_method object"),
    (ValueError("x"), "got a ValueError object"),
    (Ellipsis, "got a ellipsis object"),
    (True, "got the bool True"),
    (np.bool_(False), "got the bool False"),
    (np.array(["a", "b"]), "got a numpy array of shape (2,), dtype <U1"),
    (np.array([None, 1], dtype=object), "got a numpy array of shape (2,), dtype object"),
    (torch.ones(3, dtype=torch.complex64), "dtype torch.complex64"),
    (torch.ones(3, dtype=torch.bool), "dtype torch.bool"),
    (torch.ones(3, device="meta"), "on meta"),
    (list(range(10**6)), "got a list of 1000000 items"),
    (np.arange(10.0**6), "(1000000,)"),
    (torch.zeros(1000, 1000), "(1000, 1000)"),
]
ODD_LABELS = ["ex-gd-loop", "ex-cifar10-cosine", "ex-momentum-window", "ex-armijo",
              "ex-mnist-ci95"]


@pytest.mark.parametrize("label", ODD_LABELS)
@pytest.mark.parametrize("value, phrase", ODD_ANSWERS,
                         ids=[f"{type(value).__name__}{i}"
                              for i, (value, _) in enumerate(ODD_ANSWERS)])
def test_an_odd_answer_gets_a_hint_naming_it_and_never_an_exception(label, value, phrase,
                                                                    capsys):
    out = printed(label, lambda *args, **kwargs: value, capsys)
    assert out.startswith("✘ Not yet right on"), out
    assert "expected" in out and "Traceback" not in out
    assert phrase in out, out


@pytest.mark.parametrize("value, phrase", [
    (torch.ones(4, 1, device="meta"), "a meta tensor holds no values"),
    (torch.ones(4, 1, dtype=torch.complex128), "(not real numbers)"),
    (torch.ones(4, 1, dtype=torch.bool), "(not real numbers)"),
    (torch.ones(4, 1, dtype=torch.float32), "the result is torch.float32"),
    ([torch.ones(1)] * 4, "torch.stack makes one tensor of them"),
    (torch.ones(4, 1).to_sparse(), "differs at index (1, 0)"),
], ids=["meta", "complex", "bool", "float32", "list", "sparse"])
def test_a_tensor_of_another_kind_gets_a_hint_saying_which(value, phrase):
    result = evaluate("ex-gd-loop", lambda *args: value)
    assert not result.passed and phrase in result.message, result.message


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_tensor_is_compared_by_value():
    assert evaluate("ex-gd-loop", lambda *a: gradient_descent(*a).cuda()).passed
    wrong = evaluate("ex-gd-loop", lambda *a: gradient_descent(*a).cuda() + 1)
    assert not wrong.passed and "on cuda:0" in wrong.message


class BadMessage(Exception):
    def __str__(self):
        raise RuntimeError("no message")


class SlowMessage(Exception):
    def __str__(self):
        return busy(5)


class NotAnException(BaseException):
    pass


def raiser(error):
    def answer(*args, **kwargs):
        raise error
    return answer


def recurses(*args):
    return recurses(*args)


RAISED = [(raiser(SystemExit(3)), "called exit() or sys.exit()"),
          (raiser(GeneratorExit()), "raised GeneratorExit"),
          (raiser(NotAnException("odd")), "raised NotAnException: odd"),
          (raiser(BadMessage()), "raised BadMessage: (its message cannot be shown)"),
          (raiser(SlowMessage()), "raised SlowMessage: (its message cannot be shown)"),
          (raiser(ValueError("x" * 10**7)), "raised ValueError: xxx"),
          (raiser(MemoryError()), "raised MemoryError"),
          (recurses, "raised RecursionError"),
          (raiser(RuntimeError("line 1\nline 2")), "raised RuntimeError: line 1 line 2")]


@pytest.mark.parametrize("function, phrase", RAISED, ids=[p for _, p in RAISED])
def test_whatever_the_function_raises_is_reported_in_a_short_hint(function, phrase, capsys):
    out = printed("ex-gd-loop", function, capsys)
    assert out.startswith("✘ `gradient_descent`") and phrase in out, out


# ---------------------------------------------------------------- 4. bounded hints

def test_a_million_element_wrong_answer_is_summarised(monkeypatch, capsys):
    label = one_case_exercise(monkeypatch, torch.zeros(1000, 1000, dtype=torch.float64))

    def answer():
        got = torch.zeros(1000, 1000)
        got[3, 7], got[999, 999] = 0.5, -2.0
        return got

    out = printed(label, answer, capsys)
    assert ("differs at index (3, 7): expected 0, got 0.5 (2 of 1000000 entries differ, "
            "by up to 2); the result is torch.float32, the reference torch.float64") in out


@pytest.mark.parametrize("label, value", [
    ("ex-armijo", list(range(10**6))),
    ("ex-momentum-window", list(range(10**6))),
    ("ex-momentum-window", "x" * 10**7),
    ("ex-mnist-ci95", (torch.zeros(10**6), list(range(10**6)))),
], ids=["list for a pair", "list for an int", "string", "pair with a list"])
def test_a_huge_answer_of_any_type_gives_a_short_hint(label, value, capsys):
    printed(label, lambda *args: value, capsys)  # printed() checks the size


# ---------------------------------------------------------------- 5. compatible types

def converted(function, convert):
    def answer(*args, **kwargs):
        return convert(function(*args, **kwargs))
    return answer


COMPATIBLE = [
    ("ex-cifar10-cosine", converted(cosine_lr, np.float64)),
    ("ex-cifar10-cosine", converted(cosine_lr, np.float32)),
    ("ex-cifar10-cosine", converted(cosine_lr, np.array)),
    ("ex-cifar10-cosine", converted(cosine_lr, torch.tensor)),
    ("ex-momentum-window", converted(momentum_window, np.int64)),
    ("ex-momentum-window", converted(momentum_window, float)),
    ("ex-momentum-window", converted(momentum_window, torch.tensor)),
    ("ex-gd-loop", converted(gradient_descent, lambda t: t.numpy())),
    ("ex-gd-loop", converted(gradient_descent, lambda t: t.requires_grad_())),
    ("ex-gd-loop", converted(gradient_descent, lambda t: t.to_sparse())),
    ("ex-mnist-ci95", converted(mean_ci95, lambda pair: [p.numpy() for p in pair])),
    ("ex-armijo", converted(armijo_step, lambda pair: (pair[0], np.float64(pair[1])))),
]


@pytest.mark.parametrize("label, function", COMPATIBLE)
def test_a_correct_answer_of_a_compatible_type_passes(label, function, capsys):
    assert printed(label, function, capsys).startswith("✔ Correct")


@pytest.mark.parametrize("expected, got", [
    (torch.tensor(0.5, dtype=torch.float64), 0.5),
    (torch.tensor(0.5, dtype=torch.float64), np.float64(0.5)),
    (torch.tensor(0.5, dtype=torch.float64), np.array(0.5)),
    (torch.tensor(2.0, dtype=torch.float64), 2),
    (torch.tensor([1.0, 2.0], dtype=torch.float64), torch.tensor([1, 2])),
    (2.0, 2),
    (2.0, np.int64(2)),
    (2.0, torch.tensor([2.0])),
    ((1.0, torch.ones(2, dtype=torch.float64)), [np.float32(1.0), np.ones(2)]),
], ids=repr)
def test_numerically_equal_answers_pass(monkeypatch, expected, got):
    assert evaluate(one_case_exercise(monkeypatch, expected), lambda: got).passed


@pytest.mark.parametrize("expected, got, phrase", [
    (torch.tensor(0.5, dtype=torch.float64), 0.25, "expected 0.5, got 0.25"),
    (torch.tensor(0.5, dtype=torch.float64), torch.tensor([0.5]), "expected shape ()"),
    (torch.ones(2, dtype=torch.float64), 1.0, "expected a torch.Tensor of shape (2,)"),
    (torch.ones(2, dtype=torch.float64), np.ones(3), "expected shape (2,), got shape (3,)"),
    (torch.ones(2, dtype=torch.float64), np.ones((2, 1)), "got shape (2, 1)"),
    (torch.ones(2, dtype=torch.float64), torch.tensor([1.0, float("nan")]), "got nan"),
    (torch.ones(2, dtype=torch.float64), [1.0, 1.0], "got a list of 2 items"),
    (2.0, float("nan"), "expected 2, got nan"),
    (2.0, np.array([2.0, 2.0]), "expected a number, got a numpy array of shape (2,)"),
    (2.0, True, "expected a number, got the bool True"),
    (2, 2.5, "expected 2, got 2.5"),
    (2, 10**400, "expected 2, got 1000000000"),
    (2.0, -10**400, "expected 2, got -1000000000"),
    (2, torch.tensor([2, 2]), "expected a number, got a tensor of shape (2,)"),
    ((1.0, 2.0), [1.0, 2.0, 3.0], "expected 2 values, got a list of 3 items"),
    ((1.0, 2.0), (1.0, np.float64(2.5)), "item 1: expected 2, got 2.5 (off by 0.5)"),
], ids=lambda value: repr(value)[:40])
def test_genuinely_wrong_answers_of_any_type_still_fail(monkeypatch, expected, got, phrase):
    result = evaluate(one_case_exercise(monkeypatch, expected), lambda: got)
    assert not result.passed and phrase in result.message, result.message


# ---------------------------------------------------------------- unchanged outputs

def stored_stub_outputs():
    """{function name: the text its check cell stores for a stub} from the chapters."""
    stored = {}
    for path in chapter_notebooks():
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                text = output.get("text", "")
                match = re.match(r"✘ Not done yet: `(\w+)`", text)
                if match:
                    stored[match[1]] = text
    return stored


def test_a_stub_prints_exactly_what_the_chapters_store(capsys):
    stored = stored_stub_outputs()
    assert len(stored) == len(REGISTRY)
    for label, exercise in REGISTRY.items():
        def stub(*args, **kwargs):
            raise NotImplementedError

        check(label, stub)
        assert capsys.readouterr().out == stored[exercise.function_name]
