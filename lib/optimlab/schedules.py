r"""Learning-rate schedules: how the step size changes during training.

A schedule here is a small, immutable object that maps the scheduler step
(0, 1, 2, ...) to a factor that multiplies the optimizer's base learning
rate, so the update at step ``s`` uses ``base_lr * schedule(s)``.  To train
with one, build a PyTorch scheduler from it, for example
``sched = Cosine(100).scheduler(opt)``, and call ``sched.step()`` once after
every ``opt.step()``: the first update then uses ``schedule(0)``, the second
``schedule(1)``, and so on.  ``schedule.factors(n)`` gives the first ``n``
factors as an array for plots, and ``schedule.label`` a name for legends.

Formulas are written with the update number :math:`t = s + 1`, counted from
1 as in the book, where that is the natural way to write them.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import math
import numbers
import operator
import reprlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

__all__ = [
    "Schedule",
    "Constant",
    "StepDecay",
    "Exponential",
    "Cosine",
    "WarmupCosine",
    "InverseSqrt",
    "InverseSqrtDecay",
]


# --- argument checks, one helper per kind of check -------------------------
# Each raises a ValueError naming the argument, showing the value and saying
# what is expected, and returns the value as stored: an int or a float
# (other integer and real types are converted, ints and floats kept as given).

def _shown(value) -> str:
    """``repr(value)``, shortened when long (a huge int, a long list)."""
    return reprlib.repr(value)


def _check_int(name: str, value, minimum: int = 1) -> int:
    """``value`` must be an integer (not a bool) and at least ``minimum``.

    Integers are what ``operator.index`` accepts: ints, numpy integers, 0-d
    integer tensors; floats are refused even when whole (``10.0``).
    """
    try:
        if isinstance(value, bool):
            raise TypeError
        value = value if isinstance(value, int) else operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an int >= {minimum}, "
                         f"got {_shown(value)} ({type(value).__name__})") from None
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {_shown(value)}")
    return value


def _check_in_interval(name: str, value, low: float, high: float,
                       closed_low: bool, closed_high: bool) -> float:
    """``value`` must be a finite real number in the given interval."""
    interval = (("[" if closed_low else "(") + f"{low:g}, {high:g}"
                + ("]" if closed_high else ")"))
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"{name} must be a number in {interval}, got {_shown(value)} "
            f"({type(value).__name__})")
    value = value if isinstance(value, (int, float)) else float(value)
    try:
        finite = math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        finite = False
    above_low = value >= low if closed_low else value > low
    below_high = value <= high if closed_high else value < high
    if not (finite and above_low and below_high):  # also rejects nan
        raise ValueError(f"{name} must be a finite number in {interval}, got {_shown(value)}")
    return value


def _check_sequence(name: str, values) -> tuple:
    """``values`` must be a list, tuple, range or numpy array (not a string)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise ValueError(
            f"{name} must be a list or tuple of ints, got {_shown(values)} "
            f"({type(values).__name__})")
    return tuple(values)


def _check_increasing(name: str, values) -> tuple[int, ...]:
    """``values`` must be a sequence of positive ints in strictly increasing order."""
    values = tuple(_check_int(f"{name}[{index}]", value, minimum=1)
                   for index, value in enumerate(_check_sequence(name, values)))
    if any(a >= b for a, b in zip(values, values[1:])):
        raise ValueError(f"{name} must be strictly increasing, got {_shown(values)}")
    return values


def _check_less(name: str, value: int, other_name: str, other: int) -> None:
    """``value`` must be smaller than ``other``."""
    if value >= other:
        raise ValueError(
            f"{name} must be smaller than {other_name}, "
            f"got {name}={value!r}, {other_name}={other!r}")


def _half_cosine(progress: float, final: float) -> float:
    """Cosine from 1 (progress 0) down to ``final`` (progress 1)."""
    return final + (1.0 - final) * (1.0 + math.cos(math.pi * progress)) / 2.0


# --- schedules --------------------------------------------------------------

class Schedule:
    """Base class: a map from scheduler step to learning-rate factor.

    Subclasses implement :meth:`factor` and :attr:`label`; calling a schedule
    checks the step and returns ``float(factor(step))``, which is checked to be
    a finite number >= 0.  Every argument of a constructor or method is
    checked: a bad one raises a ValueError that names it and says why (an
    unknown keyword or too many arguments: a TypeError listing the arguments).
    """

    def __new__(cls, *args, **kwargs):
        if dataclasses.is_dataclass(cls):
            names = [field.name for field in dataclasses.fields(cls)]
            listed = ", ".join(names) or "none"
            for key in kwargs:
                if key not in names:
                    raise TypeError(f"{cls.__name__} has no argument {key!r}; "
                                    f"its arguments are: {listed}")
            if len(args) > len(names):
                raise TypeError(f"{cls.__name__} takes at most {len(names)} argument(s) "
                                f"({listed}), got {len(args)}")
        return super().__new__(cls)

    def _store(self, name: str, value) -> None:
        """Set a checked field of the frozen dataclass (used by ``__post_init__``)."""
        object.__setattr__(self, name, value)

    def factor(self, step: int) -> float:
        r"""The factor :math:`\lambda_t` of the base rate at scheduler step ``step``
        (0, 1, ...); what a subclass implements, unchecked (calling the schedule
        checks it)."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        """A short name of the schedule with its arguments, for legends."""
        raise NotImplementedError

    def __call__(self, step: int) -> float:
        step = _check_int("step", step, minimum=0)
        value = self.factor(step)
        try:
            real = isinstance(value, numbers.Real) and not isinstance(value, bool)
            result = float(value) if real else math.nan
        except OverflowError:  # an int too large for a float
            result = math.inf
        if not (math.isfinite(result) and result >= 0):
            raise ValueError(f"{type(self).__name__}.factor({step}) returned {_shown(value)}; "
                             f"a learning-rate factor must be a finite number >= 0")
        return result

    def factors(self, steps: int) -> np.ndarray:
        """The factors at steps 0, 1, ..., ``steps - 1`` as a float64 array."""
        steps = _check_int("steps", steps, minimum=0)
        return np.array([self(step) for step in range(steps)], dtype=np.float64)

    def scheduler(self, optimizer: Optimizer, last_epoch: int = -1) -> LambdaLR:
        """A :class:`~torch.optim.lr_scheduler.LambdaLR` that follows this schedule.

        Call its ``step()`` after every ``optimizer.step()``.  To resume from
        a checkpoint, build the optimizer and this scheduler first, then load
        both state dicts: building a scheduler resets the learning rate.
        Loading a state dict checks the saved schedule arguments as the
        constructor does.
        """
        if not isinstance(optimizer, Optimizer):
            raise ValueError(f"optimizer must be a torch.optim.Optimizer, got "
                             f"{_shown(optimizer)} ({type(optimizer).__name__})")
        last_epoch = _check_int("last_epoch", last_epoch, minimum=-1)
        if last_epoch >= 0 and not all("initial_lr" in group
                                       for group in optimizer.param_groups):
            raise ValueError(
                f"last_epoch={last_epoch} resumes a schedule, which needs 'initial_lr' in "
                f"every param group (set by an earlier scheduler); build the scheduler "
                f"with last_epoch=-1 and load its state dict instead")
        # LambdaLR.state_dict() saves the schedule's ``__dict__`` and
        # load_state_dict() writes it back with ``__dict__.update``, which
        # bypasses the frozen dataclass's __setattr__, so saving and resuming
        # work.  That write would, however, silently change *this* object if
        # the loaded state came from a schedule with other arguments, so the
        # scheduler gets its own copy and ``self`` stays truly immutable.
        return _ScheduleLR(optimizer, copy.copy(self), last_epoch)


class _ScheduleLR(LambdaLR):
    """A LambdaLR whose ``load_state_dict`` checks the saved schedule arguments."""

    def load_state_dict(self, state_dict: dict) -> None:
        saved = state_dict.get("lr_lambdas") if isinstance(state_dict, dict) else None
        if not isinstance(saved, list) or len(saved) != len(self.lr_lambdas):
            raise ValueError(
                f"state_dict must be a scheduler state dict with 'lr_lambdas', a list of "
                f"{len(self.lr_lambdas)} entries (one per param group), "
                f"got {_shown(state_dict)}")
        for index, (schedule, arguments) in enumerate(zip(self.lr_lambdas, saved)):
            if isinstance(schedule, Schedule) and dataclasses.is_dataclass(schedule):
                name = type(schedule).__name__
                if not isinstance(arguments, dict):
                    raise ValueError(f"state_dict['lr_lambdas'][{index}] must be a dict of "
                                     f"{name}'s arguments, got {_shown(arguments)}")
                try:
                    type(schedule)(**arguments)
                except (TypeError, ValueError) as error:
                    raise ValueError(f"state_dict['lr_lambdas'][{index}] holds no valid "
                                     f"{name} arguments: {error}") from None
        super().load_state_dict(state_dict)


@dataclass(frozen=True)
class Constant(Schedule):
    r"""The base learning rate at every step: :math:`\lambda_t = 1`."""

    def factor(self, step: int) -> float:
        return 1.0

    @property
    def label(self) -> str:
        return "constant"


@dataclass(frozen=True)
class StepDecay(Schedule):
    r"""Multiply by ``gamma`` at each milestone.

    .. math:: \lambda(s) = \gamma^{\,|\{m \in M : m \le s\}|}

    The classic image-classification recipe (He et al., *Deep Residual
    Learning for Image Recognition*, CVPR 2016): ×0.1 at epochs 30, 60, 90,
    with the scheduler stepped once per epoch.

    Args:
        milestones: the steps at which the factor drops; positive ints in
            strictly increasing order.
        gamma: the factor applied at each milestone, in (0, 1].
    """

    milestones: tuple[int, ...] = (30, 60, 90)
    gamma: float = 0.1

    def __post_init__(self):
        # accept any ordered sequence, store a tuple so the object stays hashable
        self._store("milestones", _check_increasing("milestones", self.milestones))
        self._store("gamma", _check_in_interval("gamma", self.gamma, 0.0, 1.0,
                                                closed_low=False, closed_high=True))

    def factor(self, step: int) -> float:
        return self.gamma ** bisect.bisect_right(self.milestones, step)

    @property
    def label(self) -> str:
        steps = ", ".join(str(m) for m in self.milestones)
        return f"step decay (×{self.gamma:g} at {steps})"


@dataclass(frozen=True)
class Exponential(Schedule):
    r"""Multiply by ``gamma`` at every step.

    .. math:: \lambda(s) = \gamma^{s} = \gamma^{\,t-1}

    Args:
        gamma: the per-step decay, in (0, 1]; 1 gives a constant rate.
    """

    gamma: float

    def __post_init__(self):
        self._store("gamma", _check_in_interval("gamma", self.gamma, 0.0, 1.0,
                                                closed_low=False, closed_high=True))

    def factor(self, step: int) -> float:
        return self.gamma ** step

    @property
    def label(self) -> str:
        return f"exponential (γ={self.gamma:g})"


@dataclass(frozen=True)
class Cosine(Schedule):
    r"""Cosine annealing from 1 to ``final`` over ``total`` steps.

    .. math:: \lambda(s) = \lambda_{\mathrm{final}}
              + \frac{1 - \lambda_{\mathrm{final}}}{2}
                \left(1 + \cos\frac{\pi \min(s, T)}{T}\right)

    Loshchilov & Hutter, *SGDR: Stochastic Gradient Descent with Warm
    Restarts*, ICLR 2017, without the restarts; the factor stays at
    ``final`` after step ``total``.

    Args:
        total: T, the step at which the factor reaches ``final``; a positive
            int.
        final: the last factor, in [0, 1).
    """

    total: int
    final: float = 0.0

    def __post_init__(self):
        self._store("total", _check_int("total", self.total, minimum=1))
        self._store("final", _check_in_interval("final", self.final, 0.0, 1.0,
                                                closed_low=True, closed_high=False))

    def factor(self, step: int) -> float:
        return _half_cosine(min(step, self.total) / self.total, self.final)

    @property
    def label(self) -> str:
        suffix = f", final={self.final:g}" if self.final else ""
        return f"cosine (T={self.total}{suffix})"


@dataclass(frozen=True)
class WarmupCosine(Schedule):
    r"""Linear warm-up to 1, then cosine annealing down to ``final``.

    With :math:`W` = ``warmup`` and :math:`T` = ``total``:

    .. math:: \lambda(s) = \begin{cases}
              \dfrac{s + 1}{W} & s < W, \\[1ex]
              \lambda_{\mathrm{final}} + \dfrac{1 - \lambda_{\mathrm{final}}}{2}
              \left(1 + \cos \pi u_s\right) & s \ge W,
              \end{cases}

    where :math:`u_s = \min(s - W + 1,\, T - W + 1) / (T - W + 1)` is the progress
    of the cosine.

    The first update already moves (factor 1/W), the factor reaches its peak
    1 at step W − 1, where the cosine starts, and the cosine reaches
    ``final`` at step T and stays there.  Both pieces give 1 at step W − 1,
    so the schedule is continuous, and ``warmup=1`` is exactly
    ``Cosine(total, final)``.  Warm-up is the remedy of Goyal et al.,
    *Accurate, Large Minibatch SGD*, 2017; the cosine part is SGDR's
    (Loshchilov & Hutter, ICLR 2017).

    Args:
        warmup: W, the number of warm-up steps; an int with 1 <= W < T.
        total: T, the step at which the factor reaches ``final``.
        final: the last factor, in [0, 1).
    """

    warmup: int
    total: int
    final: float = 0.0

    def __post_init__(self):
        self._store("warmup", _check_int("warmup", self.warmup, minimum=1))
        self._store("total", _check_int("total", self.total, minimum=2))
        _check_less("warmup", self.warmup, "total", self.total)
        self._store("final", _check_in_interval("final", self.final, 0.0, 1.0,
                                                closed_low=True, closed_high=False))

    def factor(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        decay_steps = self.total - self.warmup + 1
        since_peak = min(step - self.warmup + 1, decay_steps)
        return _half_cosine(since_peak / decay_steps, self.final)

    @property
    def label(self) -> str:
        suffix = f", final={self.final:g}" if self.final else ""
        return f"warm-up + cosine (W={self.warmup}, T={self.total}{suffix})"


@dataclass(frozen=True)
class InverseSqrt(Schedule):
    r"""The Transformer schedule: linear warm-up, then :math:`1/\sqrt{t}` decay.

    .. math:: \lambda(t) = \min\left(\frac{t}{W}, \sqrt{\frac{W}{t}}\right),
              \qquad t = s + 1

    Vaswani et al., *Attention Is All You Need*, NeurIPS 2017, use
    :math:`d^{-1/2} \min(t^{-1/2}, t\,W^{-3/2})`; dividing by its peak value
    :math:`(d W)^{-1/2}` gives the formula above, whose peak is 1 at
    :math:`t = W`, so the base learning rate is the peak rate.

    Args:
        warmup: W, the number of warm-up steps; a positive int.
    """

    warmup: int

    def __post_init__(self):
        self._store("warmup", _check_int("warmup", self.warmup, minimum=1))

    def factor(self, step: int) -> float:
        t = step + 1
        return min(t / self.warmup, math.sqrt(self.warmup / t))

    @property
    def label(self) -> str:
        return f"inverse sqrt (W={self.warmup})"


@dataclass(frozen=True)
class InverseSqrtDecay(Schedule):
    r"""Decay like one over the square root of the step, without warm-up.

    .. math:: \lambda(s) = \frac{1}{\sqrt{1 + r\, s}}
              = \frac{1}{\sqrt{1 + r\,(t - 1)}}

    With ``rate=1`` this is :math:`1/\sqrt{t}`, so the learning rate is
    :math:`\alpha/\sqrt{t}`, the schedule of the MNIST experiment of
    Taniguchi et al., *ADOPT: Modified Adam Can Converge with Any β2 with the
    Optimal Rate*, NeurIPS 2024, and of the convergence analyses of AMSGrad
    and ADOPT.  With ``rate=0.01`` and base rate 0.01 it is the
    :math:`0.01/\sqrt{1 + 0.01\,s}` of that paper's toy problem, counting
    the steps from 0 so that the first update uses exactly the base rate.

    Args:
        rate: r, how fast the decay sets in; a number > 0.
    """

    rate: float = 1.0

    def __post_init__(self):
        self._store("rate", _check_in_interval("rate", self.rate, 0.0, math.inf,
                                               closed_low=False, closed_high=False))

    def factor(self, step: int) -> float:
        return 1.0 / math.sqrt(1.0 + self.rate * step)

    @property
    def label(self) -> str:
        return f"inverse sqrt decay (rate={self.rate:g})"
