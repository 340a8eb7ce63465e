"""Calling a student's function under a time limit, on every platform.

:func:`call_with_time_limit` runs a function for at most a given number of
seconds and never raises for what the function does: it returns an
:class:`Outcome` (the value, the exception raised, or that time ran out).
Only a KeyboardInterrupt, the user's Ctrl-C or kernel interrupt, goes through.

How the function is stopped:

- In the main thread of a platform with ``SIGALRM`` (Linux, macOS, Colab: where a
  notebook kernel runs its cells), an interval timer raises
  :class:`TimeLimitExceeded` inside the function, which stops it.  The previous
  SIGALRM handler and timer are restored afterwards; an outer timer due sooner
  than the limit shortens it, and one that came due meanwhile fires right after.
  (When the current handler was installed from C, so that it could not be
  restored, the thread way below is used instead.)
- The exception derives from BaseException, so ``except Exception:`` in the
  function does not catch it.  A bare ``except:`` can: so it is raised again
  every 5 ms until the function returns (a loop that swallows it ends when one
  lands outside its ``try``), and if the function still runs 2 s later a warning
  on stderr says that it catches the exception and that the kernel must be
  interrupted or restarted.  The call returns as soon as the function does, and
  reports the time as run out even if the function then returned a value.
- Elsewhere (Windows, or a thread other than the main one) the function runs in a
  daemon thread.  When time runs out the call stops waiting, raises the same
  exception in that thread (CPython's ``PyThreadState_SetAsyncExc``) every 5 ms
  for up to 2 s, and returns; if the thread still runs (a bare ``except:``, a
  blocking call), ``Outcome.still_running`` says so: only a kernel restart stops
  it then.  This way returns after at most the limit plus 2 s.  (Where no thread
  can be started either, as in Pyodide, the function runs with no time limit.)

Code stuck inside one long C call (a huge tensor operation, ``time.sleep`` in a
thread) is stopped when that call returns.
"""

from __future__ import annotations

import ctypes
import signal
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

#: Seconds between the repeats of a TimeLimitExceeded that the function swallowed.
RETRY_SECONDS = 0.005
#: Seconds of such repeats after the limit; then the main thread warns that the
#: function catches the exception, and another thread is given up.
GRACE_SECONDS = 2.0


class TimeLimitExceeded(BaseException):
    """Raised inside a student's function that ran past its check's time limit.

    A BaseException, like KeyboardInterrupt, so ``except Exception:`` in the
    student's code lets it through."""


@dataclass
class Outcome:
    """What one guarded call did: returned ``value``, raised ``error``, or ran out of time
    (``timed_out``; ``still_running`` when its thread could not be stopped)."""

    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False
    still_running: bool = False
    seconds: float = 0.0  # the limit it ran under


def call_with_time_limit(function: Callable, seconds: float, args: tuple = (),
                         kwargs: dict | None = None, name: str = "") -> Outcome:
    """Call ``function(*args, **kwargs)``, stopped after ``seconds`` (see the module's
    docstring for how, per platform).  Every exception but KeyboardInterrupt is caught
    and returned in the Outcome."""
    kwargs = kwargs or {}
    name = name or getattr(function, "__name__", "the function")
    usable = hasattr(signal, "setitimer") and threading.current_thread() is \
        threading.main_thread() and signal.getsignal(signal.SIGALRM) is not None
    runner = _call_with_alarm if usable else _call_in_thread
    return runner(function, args, kwargs, seconds, name)


def _call_with_alarm(function, args, kwargs, seconds, name) -> Outcome:
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, 0)
    outcome = Outcome(seconds=min(seconds, outer_delay) if outer_delay > 0 else seconds)
    own_frame, started, state = sys._getframe(), time.monotonic(), {"armed": True}

    def on_alarm(signum, frame):
        if not state["armed"] or frame is own_frame:  # the function has returned already
            return
        if not outcome.timed_out:
            outcome.timed_out = True
            signal.setitimer(signal.ITIMER_REAL, RETRY_SECONDS, RETRY_SECONDS)
        elif time.monotonic() - started > outcome.seconds + GRACE_SECONDS \
                and not state.get("warned"):
            state["warned"] = True
            print(textwrap.fill(f"✘ `{name}` ran out of time but catches the exception "
                                f"that stops it (a bare `except:`?): interrupt or restart "
                                f"the kernel.", width=85, subsequent_indent="  "),
                  file=sys.stderr)
        raise TimeLimitExceeded(f"`{name}` did not return within {outcome.seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, outcome.seconds)
    try:
        outcome.value = function(*args, **kwargs)
    except TimeLimitExceeded:
        pass
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # the student's code: SystemExit too
        outcome.error = error
    finally:
        state["armed"] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)  # runs a pending alarm first: ours, disarmed
        if outer_delay > 0:
            left = outer_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), outer_interval)
    return outcome


def _call_in_thread(function, args, kwargs, seconds, name) -> Outcome:
    outcome, done = Outcome(seconds=seconds), threading.Event()

    def run():
        try:
            try:
                outcome.value = function(*args, **kwargs)
            except BaseException as error:  # reported, or our own TimeLimitExceeded
                outcome.error = error
        except TimeLimitExceeded:  # sent just as the function returned
            pass
        finally:
            done.set()

    worker = threading.Thread(target=run, name=f"check of {name}", daemon=True)
    try:
        worker.start()
    except RuntimeError:  # no threads at all (Pyodide): no time limit either
        run()
    # Event.wait, not Thread.join: a join that Ctrl-C interrupts makes is_alive() false
    try:
        done.wait(seconds)
    except KeyboardInterrupt:
        _stop_thread(worker, done)
        raise
    if not done.is_set():
        outcome.timed_out = True
        outcome.still_running = not _stop_thread(worker, done)
    if isinstance(outcome.error, KeyboardInterrupt) and not outcome.timed_out:
        raise outcome.error
    return outcome


def _stop_thread(worker: threading.Thread, done: threading.Event) -> bool:
    """Raise TimeLimitExceeded in ``worker`` until it is ``done``, for GRACE_SECONDS at
    most; True when it ended."""
    deadline = time.monotonic() + GRACE_SECONDS
    while not done.is_set() and time.monotonic() < deadline:
        try:
            found = ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(worker.ident), ctypes.py_object(TimeLimitExceeded))
        except (AttributeError, OSError):  # not CPython: nothing can stop a thread
            return False
        if found == 0:  # the thread has ended (just before setting done)
            return True
        done.wait(RETRY_SECONDS)
    return done.is_set()
