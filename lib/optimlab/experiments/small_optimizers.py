"""The optimizer table of the small-task benchmark: every optimizer of
:mod:`optimlab.optim`, how it is built, and what it costs to keep.

Each entry uses the library's defaults except where the table says otherwise:

* ``SGD+momentum``: SGD with momentum 0.9, a separate entry beside plain SGD;
* ``Lookahead`` wraps Adam (its defaults, k = 5, α = 0.5); the tuned rate is Adam's;
* ``SAM`` wraps SGD with momentum 0.9 (ρ = 0.05); it takes two gradients per
  update (at w and at w + ε), and the benchmark compares it at equal *updates*;
* ``Adafactor`` runs with ``relative_step=False``, as in Part IV's race, so that
  the tuned rate is its step size (the default caps it by 1/√t);
* ``SGDScheduleFree`` and ``AdamWScheduleFree`` are evaluated at their average
  x (what ``optimizer.eval()`` puts into the parameters); on a task projected
  onto [-1, 1] both their sequences z and x are projected;
* ``Muon`` orthogonalises 2-D parameters only: on a task without one it is
  recorded as not applicable, with the reason.

:func:`hyperparameter_count` counts the numeric hyperparameters of a
constructor (see there); :func:`state_bytes` the bytes of every tensor in an
optimizer's ``state_dict()``.
"""

from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import optim

__all__ = ["Entry", "ENTRIES", "entry", "missing_from_table", "hyperparameter_count",
           "state_bytes", "describe_hyperparameters", "HYPERPARAMETER_RULE"]


@dataclass(frozen=True)
class Entry:
    """One optimizer of the benchmark."""

    name: str
    optimizer: str                       #: class of :mod:`optimlab.optim`
    options: dict = field(default_factory=dict)   #: beyond the library's defaults
    wraps: str | None = None             #: the inner optimizer of a wrapper
    inner_options: dict = field(default_factory=dict)
    note: str = ""

    @property
    def cls(self) -> type:
        """The optimizer class of :mod:`optimlab.optim` this entry builds."""
        return getattr(optim, self.optimizer)

    @property
    def rate_class(self) -> type:
        """The class whose ``lr`` is tuned (the inner one of a wrapper)."""
        return getattr(optim, self.wraps) if self.wraps else self.cls

    @property
    def default_lr(self) -> float:
        """The library's default rate of the tuned class: the grid's centre."""
        return inspect.signature(self.rate_class.__init__).parameters["lr"].default

    @property
    def gradients_per_update(self) -> int:
        """Gradients one update takes: 2 for SAM, 1 for every other entry."""
        return 2 if self.optimizer == "SAM" else 1

    @property
    def schedule_free(self) -> bool:
        """Whether it is evaluated at the averaged point (``optimizer.eval()``)."""
        return issubclass(self.cls, optim.schedule_free.ScheduleFree)

    def applicable(self, shape) -> str | None:
        """None, or why the entry cannot run on a parameter of ``shape``."""
        if self.optimizer == "Muon" and len(shape) != 2:
            return (f"Muon orthogonalises the update of a 2-D parameter; this "
                    f"task's parameter has shape {tuple(shape)}")
        return None

    def build(self, params, lr: float) -> torch.optim.Optimizer:
        """The optimizer of ``params`` at rate ``lr`` (a wrapper around its inner
        optimizer at that rate), with this entry's options."""
        if self.optimizer == "SAM":
            return self.cls(params, getattr(optim, self.wraps), **self.options,
                            lr=lr, **self.inner_options)
        if self.wraps:
            inner = getattr(optim, self.wraps)(params, lr=lr, **self.inner_options)
            return self.cls(inner, **self.options)
        return self.cls(params, lr=lr, **self.options)

    @torch.no_grad()
    def point(self, optimizer, theta: torch.Tensor) -> torch.Tensor:
        """The point to evaluate: the parameters, or Schedule-Free's average
        x = (y - (1 - β) z)/β, computed without touching the parameters."""
        if not self.schedule_free or theta not in optimizer.state:
            return theta.detach().clone()
        beta = optimizer.interpolation(optimizer.param_groups[0])
        return (theta - (1 - beta) * optimizer.state[theta]["z"]) / beta

    @torch.no_grad()
    def project(self, optimizer, theta: torch.Tensor) -> None:
        """Project onto [-1, 1] after an update (Schedule-Free: z and x, then y)."""
        if not self.schedule_free or theta not in optimizer.state:
            theta.clamp_(-1.0, 1.0)
            return
        beta = optimizer.interpolation(optimizer.param_groups[0])
        x = self.point(optimizer, theta).clamp_(-1.0, 1.0)
        z = optimizer.state[theta]["z"].clamp_(-1.0, 1.0)
        theta.copy_((1 - beta) * z + beta * x)       # y = (1 - β) z + β x


_PLAIN = ("Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "AMSGrad", "NAdam",
          "RAdam", "AdaShift", "ADOPT", "LAMB", "LARS")

#: The table, in the order of the course.
ENTRIES = (
    Entry("SGD", "SGD"),
    Entry("SGD+momentum", "SGD", {"momentum": 0.9}, note="momentum 0.9"),
    *(Entry(name, name) for name in _PLAIN),
    Entry("Lookahead", "Lookahead", wraps="Adam",
          note="wraps Adam (k = 5, α = 0.5)"),
    Entry("SAM", "SAM", wraps="SGD", inner_options={"momentum": 0.9},
          note="wraps SGD with momentum 0.9 (ρ = 0.05); two gradients per update, "
               "compared at equal updates"),
    Entry("Lion", "Lion"),
    Entry("SGDScheduleFree", "SGDScheduleFree", note="evaluated at x"),
    Entry("AdamWScheduleFree", "AdamWScheduleFree", note="evaluated at x"),
    Entry("Shampoo", "Shampoo"),
    Entry("SOAP", "SOAP"),
    Entry("Muon", "Muon", note="2-D parameters only"),
    Entry("Adafactor", "Adafactor", {"relative_step": False},
          note="relative_step=False: the tuned rate is the step size"),
)


def entry(name: str) -> Entry:
    """The entry called ``name``; :class:`ValueError` naming the known ones otherwise."""
    for candidate in ENTRIES:
        if candidate.name == name:
            return candidate
    raise ValueError(f"no optimizer {name!r} in the table; it has "
                     f"{[e.name for e in ENTRIES]}")


def missing_from_table() -> list[str]:
    """The optimizers of ``optimlab.optim.__all__`` (but the base class) that no
    entry uses."""
    used = {e.optimizer for e in ENTRIES}
    return [name for name in optim.__all__
            if name != "Optimizer" and name not in used]


#: How :func:`hyperparameter_count` counts, in words (stored in the records).
HYPERPARAMETER_RULE = (
    "the constructor's arguments whose default is a number (an int or float, "
    "not a bool), a tuple of numbers counting one per entry (betas = 2); the "
    "learning rate included; flags, strings, functions and options that default "
    "to None not counted; a wrapper adds its inner optimizer's")
_NOT_HYPERPARAMETERS = {"self", "params", "optimizer", "base_optimizer", "foreach",
                        "compiled"}


def _numbers_in(value) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, numbers.Real):
        return 1
    if isinstance(value, (tuple, list)):
        return sum(_numbers_in(item) for item in value)
    return 0


def hyperparameter_count(item: Entry) -> int:
    """The numeric hyperparameters of the entry's constructor(s)
    (:data:`HYPERPARAMETER_RULE`)."""
    classes = [item.cls] + ([getattr(optim, item.wraps)] if item.wraps else [])
    count = 0
    for cls in classes:
        for name, parameter in inspect.signature(cls.__init__).parameters.items():
            if name not in _NOT_HYPERPARAMETERS:
                count += _numbers_in(parameter.default)
    return count


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """The bytes of every tensor anywhere in ``optimizer.state_dict()`` (plain
    numbers such as step counts are not counted)."""
    def walk(value) -> int:
        if isinstance(value, torch.Tensor):
            return value.numel() * value.element_size()
        if isinstance(value, dict):
            return sum(walk(item) for item in value.values())
        if isinstance(value, (list, tuple)):
            return sum(walk(item) for item in value)
        return 0
    return walk(optimizer.state_dict())


def _plain(value) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return getattr(value, "__qualname__", repr(value))   # a function: its name


def describe_hyperparameters(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Every hyperparameter of the (first) parameter group, as JSON values;
    ``lr`` and the execution-path switches left out."""
    skip = {"params", "lr", "foreach", "compiled", "train_mode", "lookahead_step"}
    group = optimizer.param_groups[0]
    described = {key: _plain(value) for key, value in sorted(group.items())
                 if key not in skip}
    for name in ("k", "alpha", "rho", "adaptive", "perturb_eps"):   # wrappers' own
        if hasattr(optimizer, "optimizer") and hasattr(optimizer, name):
            described[f"wrapper_{name}"] = _plain(getattr(optimizer, name))
    return described
