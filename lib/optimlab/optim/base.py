"""The base class of every optimizer in :mod:`optimlab.optim`.

A subclass says three things, in the style of ``torch.optim``:

* ``check(group)``: validate one parameter group's hyperparameters;
* ``init_state(p, group)``: the state of a parameter, created on its first step;
* ``update(p, g, state, group)``: the update rule, a few lines of tensor code
  that change ``p`` and the state tensors in place.

Per-step bookkeeping of plain numbers (the step counter ``t``, NAdam's product
of momentum coefficients) happens once per parameter in ``advance(state, group)``.

The base class runs ``update`` on one of three paths:

* **per tensor** (the default on a CPU): the rule is applied to each parameter,
  and a large parameter is cut into chunks of ``chunk_size`` elements.  Each chunk
  stays in the CPU cache while the rule's five or six operations run over it, so
  the step reads and writes memory about once, as a fused kernel would.  The
  small parameters (one chunk or less) are updated together, as below;
* **multi-tensor** (the default on CUDA, or with ``foreach=True``): the same
  ``update`` receives :class:`~optimlab.optim.tensorlist.TensorList` objects and
  each line becomes one ``torch._foreach_*`` kernel over all parameters;
* **compiled** (``compiled=True``, or by default for large CPU models, for the
  optimizers that have a kernel in :mod:`optimlab.optim.compiled`): the
  subclass's ``kernel_call`` names a one-pass kernel and its numbers for this
  step, and one call of a loop compiled by ``torch.compile`` runs it on every
  parameter.

Only element-wise rules can be cut into chunks or batched across parameters;
a subclass whose rule needs a whole tensor (a norm, a maximum) sets
``elementwise = False``.

float16 and bfloat16 parameters are updated in float32 on every path: the eager
paths widen p, g and the state, run ``update`` and round the results once, as the
compiled kernels and ``torch.optim``'s fused kernels do in registers.  So the
three paths agree, and no intermediate (``ε²``, ``ε`` added to ``sqrt(v)``)
underflows to 0 and turns a zero gradient into NaN.

Every input is checked before anything changes: the hyperparameters (in
``__init__``, ``add_param_group``, ``load_state_dict`` and at each step, where a
scheduler or a hand may have changed them), the parameters, their gradients and
state, and a state dict (see :mod:`optimlab.optim.saved_state`).  A refused
input leaves the optimizer as it was.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Callable, Iterable

import torch

from . import compiled as compiled_kernels
from . import saved_state, validation
from .tensorlist import TensorList

#: A parameter's state: its entry of ``optimizer.state``, tensors and numbers by
#: name.
State = dict[str, Any]

#: Parameter dtypes whose update is computed in float32 (see the module docstring).
REDUCED_PRECISION = (torch.float16, torch.bfloat16)


class Optimizer(torch.optim.Optimizer):
    """Lazy state, checked hyperparameters, and the three execution paths of
    :mod:`optimlab.optim.base`."""

    #: The update of each entry depends only on that entry of p, g and the state.
    elementwise: bool = True
    #: Elements per chunk on the per-tensor path (float32: 2 MiB per tensor, which
    #: stays in the L2/L3 caches; the fastest of 2^16 ... 2^20 on the CPU the
    #: benchmark in tools/benchmark_optim.py was tuned on).
    chunk_size: int = 1 << 19
    #: With ``compiled=None``, a step is compiled when the parameters hold
    #: ``compile_threshold`` elements in all (16 MiB of float32, a ResNet-18 has
    #: 11.7M): there a step takes milliseconds, and the compilation (seconds,
    #: once per model) pays for itself within a few thousand steps.
    compile_threshold: int = 1 << 22
    #: State entries that a parameter may have or lack, depending on the
    #: hyperparameters it was stepped with: created by ``complete_state`` when one
    #: is switched on after the first step, kept when it is switched off.  Each is
    #: a tensor shaped like the parameter or a step count.
    optional_state: tuple[str, ...] = ()

    def __init__(self, params: Iterable, defaults: dict[str, Any], foreach: bool | None,
                 compiled: bool | None = False):
        options = {"foreach": foreach}
        if compiled is not False:  # only the optimizers with a kernel pass it
            options["compiled"] = compiled
        with self._named():
            params = validation.parameter_list(params)
        super().__init__(params, {**defaults, **options})

    # What a subclass provides ----------------------------------------------------
    def check(self, group: dict[str, Any]) -> None:
        """Raise ValueError/TypeError naming a bad hyperparameter of ``group``."""

    def init_state(self, p: torch.Tensor, group: dict[str, Any]) -> State:
        """The state of parameter ``p`` for the hyperparameters of ``group``,
        created on its first step: a step count and tensors shaped like ``p``,
        as a rule."""
        raise NotImplementedError

    def complete_state(self, p: torch.Tensor, state: State, group: dict[str, Any]) -> None:
        """Add to a parameter's existing state what ``group`` needs now and the state
        lacks (a hyperparameter switched on after the first step), or raise a
        ValueError saying why that cannot be; called before each step."""

    def advance(self, state: State, group: dict[str, Any]) -> None:
        """Advance the plain-number state once per step: here ``t ← t + 1``."""
        state["step"] += 1

    def update(self, p, g, state: State, group: dict[str, Any]) -> None:
        """The update rule: change ``p`` and the tensors of ``state`` in place,
        from the gradient ``g`` and the hyperparameters of ``group``.  ``p``,
        ``g`` and the state tensors are a parameter, a chunk of one, or
        :class:`TensorList` objects of several (see the module docstring)."""
        raise NotImplementedError

    def kernel_call(self, p, g, state: State, group: dict[str, Any]):
        """``(kernel, arguments)``: a kernel of :mod:`optimlab.optim.compiled` and
        everything but ``p, g`` it needs for this step; ``None`` runs ``update``.

        Called with :class:`TensorList` objects for a batch of parameters whose
        plain-number state agrees, like ``update`` on the multi-tensor path."""
        return None

    # torch.optim.Optimizer -------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """torch's ``add_param_group``, after checking the group's parameters and
        hyperparameters; a refused group is not added."""
        with self._named():
            validation.parameter_group(param_group, len(self.param_groups),
                                       self.param_groups)
            self.check_keys(param_group)
        super().add_param_group(param_group)
        try:
            with self._named():
                self.check_hyperparameters(self.param_groups[-1])
        except (ValueError, TypeError):
            self.param_groups.pop()
            raise

    def check_keys(self, group: dict[str, Any]) -> None:
        """No hyperparameter in ``group`` that this class would ignore (see
        :func:`~optimlab.optim.validation.own_hyperparameters`)."""
        validation.own_hyperparameters(group, self.defaults)

    def check_hyperparameters(self, group: dict[str, Any]) -> None:
        """Every check of a group's hyperparameters (``check`` and the options of
        the base class)."""
        validation.flag("foreach", group["foreach"])
        self._check_compiled(group)
        self.check(group)

    @contextmanager
    def _named(self, context: str = ": "):
        """Prefix a ValueError/TypeError with the class's name and ``context``."""
        try:
            yield
        except (ValueError, TypeError) as error:
            raise type(error)(f"{type(self).__name__}{context}{error}") from None

    def state_dict(self) -> dict[str, Any]:
        """torch's state dict, plus the name of the class under the key
        ``"optimizer"`` (:data:`~optimlab.optim.saved_state.CLASS_KEY`)."""
        state_dict = super().state_dict()
        state_dict[saved_state.CLASS_KEY] = type(self).__name__
        return state_dict

    def __getstate__(self) -> dict[str, Any]:
        """torch's (defaults, state, groups) and the subclass's public attributes
        (ADOPT's ``clip_lambda``), so that a pickled or deep-copied optimizer steps."""
        public = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        return {**public, **super().__getstate__()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        # torch.optim adds this option, which only its own step functions read, to
        # the defaults; they stay this class's hyperparameters (see check_keys).
        self.defaults.pop("differentiable", None)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch's ``load_state_dict``, once :func:`~optimlab.optim.saved_state.
        check_loadable` has found that ``state_dict`` was saved by this class and
        fits these parameters; otherwise nothing changes."""
        with self._named(".load_state_dict: "):
            saved_state.check_loadable(self, state_dict)
        super().load_state_dict(state_dict)

    @staticmethod
    def _check_compiled(group) -> None:
        choice = group.get("compiled", False)
        validation.flag("compiled", choice)
        if choice is not True:
            return
        if group["foreach"] is True:
            raise ValueError("compiled=True and foreach=True exclude each other: choose "
                             "the compiled kernels or the multi-tensor path")
        for i, p in enumerate(group["params"]):
            if p.device.type != "cpu":
                raise ValueError(f"compiled=True is for CPU parameters, but parameter {i} "
                                 f"is on {p.device}; on a GPU the multi-tensor path "
                                 f"(foreach) is the fast one")

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns ``closure()``.

        Every group, gradient and state is checked before the first parameter
        changes, so a refused step changes no parameter."""
        loss = validation.closure_loss(type(self).__name__, closure)
        prepared = [(group, self._prepare(group, index))
                    for index, group in enumerate(self.param_groups)]
        for group, params in prepared:
            for p in params:
                self.advance(self.state[p], group)
            if self.uses_compiled(group, params):
                params = self._run_kernels(params, group)
            together, alone = self._split(group, params)
            if together:
                self._update_together(together, group)
            for p in alone:
                self._update_alone(p, group)
        return loss

    def _prepare(self, group, index: int) -> list[torch.Tensor]:
        """The group's parameters that have a gradient, checked, their state
        created or completed for the group's current hyperparameters."""
        name = type(self).__name__
        try:
            self.check_hyperparameters(group)
        except (ValueError, TypeError) as error:
            raise type(error)(f"{name}: parameter group {index}: {error}") from None
        params, i = [], 0
        try:
            for i, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                state = self.state[p]
                validation.gradient(p, p.grad, name)
                if not state:
                    state.update(self.init_state(p, group))
                else:
                    validation.state_tensors(p, state)
                    self.complete_state(p, state, group)
                params.append(p)
        except (ValueError, TypeError) as error:
            raise type(error)(f"{name}: parameter {i} of group {index} {error}") from None
        return params

    # The three paths -------------------------------------------------------------
    def _use_foreach(self, group, params) -> bool:
        if not self.elementwise or not params:
            return False
        if group["foreach"] is None:
            return all(p.is_cuda for p in params)
        return group["foreach"]

    def uses_compiled(self, group, params) -> bool:
        """Whether this step of ``group`` runs compiled kernels.

        ``compiled=True``: yes.  ``compiled=None`` (the default of the optimizers
        that have a kernel): yes on a CPU when the parameters hold
        ``compile_threshold`` elements in all and ``torch.compile`` is available;
        never inside a function compiled by ``torch.compile``, which compiles the
        eager update itself.
        """
        choice = group.get("compiled", False)
        if choice is False or not params or torch.compiler.is_compiling():
            return False
        if choice is None:
            size = sum(p.numel() for p in params)
            return (size >= self.compile_threshold and not self._use_foreach(group, params)
                    and all(p.device.type == "cpu" for p in params)
                    and compiled_kernels.available())
        return True

    def _split(self, group, params) -> tuple[list, list]:
        """Which parameters go through one multi-tensor call, which one by one.

        On a CPU with ``foreach=None``, the small parameters (up to one chunk)
        are updated together: the multi-tensor call loops over them in C++,
        which saves the Python overhead of one call per tensor and operation.
        """
        if self._use_foreach(group, params):
            return params, []
        if group["foreach"] is None and self.elementwise:
            small = [p for p in params if p.numel() <= self.chunk_size]
            if len(small) > 1:
                return small, [p for p in params if p.numel() > self.chunk_size]
        return [], params

    def _run_kernels(self, params, group) -> list[torch.Tensor]:
        """One compiled call per batch (see ``_batches``); returns the parameters
        left to the eager paths: those of a step without a kernel (``kernel_call``
        gives None) or whose compilation failed."""
        left = []
        for batch, state in self._batches(params):
            grads = [p.grad for p in batch]
            call = self.kernel_call(TensorList(batch), TensorList(grads), state, group)
            if call is None:
                left += batch
                continue
            kernel, arguments = call
            arguments = {name: value.tensors if isinstance(value, TensorList) else value
                         for name, value in arguments.items()}
            if not compiled_kernels.run(kernel, batch, grads, **arguments):
                left += batch
        return left

    def _update_alone(self, p: torch.Tensor, group) -> None:
        state, g = self.state[p], p.grad
        n = p.numel()
        if not self.elementwise or n <= self.chunk_size or not _dense(p, g, state):
            self._apply_update(p, g, state, group)
            return
        flat = {k: v.view(-1) if _same_size(v, n) else v for k, v in state.items()}
        p, g = p.view(-1), g.view(-1)
        length = -(-n // -(-n // self.chunk_size))           # equal chunks, none tiny
        for start in range(0, n, length):
            part = slice(start, start + length)
            chunk = {k: v[part] if _same_size(v, n) else v for k, v in flat.items()}
            self._apply_update(p[part], g[part], chunk, group)

    def _update_together(self, params, group) -> None:
        for batch, state in self._batches(params):
            grads = TensorList([p.grad for p in batch])
            self._apply_update(TensorList(batch), grads, state, group)

    def _apply_update(self, p, g, state: State, group) -> None:
        """``update``; for float16/bfloat16 on float32 copies of p, g and the
        state tensors, whose results are rounded back once."""
        dtype = (p.tensors[0] if isinstance(p, TensorList) else p).dtype
        if dtype not in REDUCED_PRECISION:
            self.update(p, g, state, group)
            return
        wide = {key: _float32(value) for key, value in state.items()}
        wide_p = _float32(p)
        self.update(wide_p, _float32(g), wide, group)
        p.copy_(wide_p)
        for key, value in state.items():
            if isinstance(value, (torch.Tensor, TensorList)):
                value.copy_(wide[key])

    def _batches(self, params):
        """``(parameters, state)`` for each set of parameters of one device and
        dtype whose plain-number state agrees (usually all: the same step t);
        the state's tensors are gathered into :class:`TensorList` objects."""
        batches = defaultdict(list)
        for p in params:
            numbers = tuple((k, v) for k, v in self.state[p].items()
                            if not isinstance(v, torch.Tensor))
            batches[(p.device, p.dtype, numbers)].append(p)
        for (_, _, numbers), batch in batches.items():
            states = [self.state[p] for p in batch]
            state = dict(numbers)
            for key, value in states[0].items():
                if isinstance(value, torch.Tensor):
                    state[key] = TensorList([s[key] for s in states])
            yield batch, state


def _float32(value):
    """A float32 copy of a tensor or a TensorList; other values as they are."""
    if isinstance(value, TensorList):
        return TensorList([t.float() for t in value.tensors])
    return value.float() if isinstance(value, torch.Tensor) else value


def _same_size(value, n: int) -> bool:
    return isinstance(value, torch.Tensor) and value.numel() == n


def _dense(p: torch.Tensor, g: torch.Tensor, state: State) -> bool:
    """Whether p, g and the state can be viewed as flat arrays (for chunking)."""
    tensors = [p, g] + [v for v in state.values() if _same_size(v, p.numel())]
    return all(t.is_contiguous() for t in tensors)
