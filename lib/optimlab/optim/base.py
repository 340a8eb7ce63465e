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
  step, and one call of a ``torch.compile``d loop runs it on every parameter.

Only element-wise rules can be cut into chunks or batched across parameters;
a subclass whose rule needs a whole tensor (a norm, a maximum) sets
``elementwise = False``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Iterable

import torch

from . import compiled as compiled_kernels
from . import validation
from .tensorlist import TensorList

State = dict[str, Any]


class Optimizer(torch.optim.Optimizer):
    """Lazy state, checked hyperparameters, and the three execution paths above."""

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

    def __init__(self, params: Iterable, defaults: dict[str, Any], foreach: bool | None,
                 compiled: bool | None = False):
        options = {"foreach": foreach}
        if compiled is not False:  # only the optimizers with a kernel pass it
            options["compiled"] = compiled
        super().__init__(params, {**defaults, **options})

    # What a subclass provides ----------------------------------------------------
    def check(self, group: dict[str, Any]) -> None:
        """Raise ValueError/TypeError naming a bad hyperparameter of ``group``."""

    def init_state(self, p: torch.Tensor, group: dict[str, Any]) -> State:
        raise NotImplementedError

    def advance(self, state: State, group: dict[str, Any]) -> None:
        """Advance the plain-number state once per step: here ``t ← t + 1``."""
        state["step"] += 1

    def update(self, p, g, state: State, group: dict[str, Any]) -> None:
        raise NotImplementedError

    def kernel_call(self, p, g, state: State, group: dict[str, Any]):
        """``(kernel, arguments)``: a kernel of :mod:`optimlab.optim.compiled` and
        everything but ``p, g`` it needs for this step; ``None`` runs ``update``.

        Called with :class:`TensorList` objects for a batch of parameters whose
        plain-number state agrees, like ``update`` on the multi-tensor path."""
        return None

    # torch.optim.Optimizer -------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        name, index = type(self).__name__, len(self.param_groups) - 1
        for i, p in enumerate(group["params"]):
            if not p.is_floating_point():
                raise TypeError(f"{name}: parameter {i} of group {index} has dtype "
                                f"{p.dtype}; only floating-point parameters can be "
                                f"optimized")
        try:
            validation.flag("foreach", group["foreach"])
            self._check_compiled(group)
            self.check(group)
        except (ValueError, TypeError) as error:
            raise type(error)(f"{name}: {error}") from None

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
        """One update of every parameter that has a gradient; returns ``closure()``."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for index, group in enumerate(self.param_groups):
            params = self._params_with_grad(group, index)
            for p in params:
                state = self.state[p]
                if not state:
                    state.update(self.init_state(p, group))
                self.advance(state, group)
            if self.uses_compiled(group, params):
                params = self._run_kernels(params, group)
            together, alone = self._split(group, params)
            if together:
                self._update_together(together, group)
            for p in alone:
                self._update_alone(p, group)
        return loss

    # The three paths -------------------------------------------------------------
    def _params_with_grad(self, group, index: int) -> list[torch.Tensor]:
        params = []
        for i, p in enumerate(group["params"]):
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                name = type(self).__name__
                raise TypeError(f"{name}: parameter {i} of group {index} has a sparse "
                                f"gradient; {name} needs dense gradients")
            params.append(p)
        return params

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
        never inside a ``torch.compile``d function, which compiles the eager
        update itself.
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
            self.update(p, g, state, group)
            return
        flat = {k: v.view(-1) if _same_size(v, n) else v for k, v in state.items()}
        p, g = p.view(-1), g.view(-1)
        length = -(-n // -(-n // self.chunk_size))           # equal chunks, none tiny
        for start in range(0, n, length):
            part = slice(start, start + length)
            chunk = {k: v[part] if _same_size(v, n) else v for k, v in flat.items()}
            self.update(p[part], g[part], chunk, group)

    def _update_together(self, params, group) -> None:
        for batch, state in self._batches(params):
            grads = TensorList([p.grad for p in batch])
            self.update(TensorList(batch), grads, state, group)

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


def _same_size(value, n: int) -> bool:
    return isinstance(value, torch.Tensor) and value.numel() == n


def _dense(p: torch.Tensor, g: torch.Tensor, state: State) -> bool:
    """Whether p, g and the state can be viewed as flat arrays (for chunking)."""
    tensors = [p, g] + [v for v in state.values() if _same_size(v, p.numel())]
    return all(t.is_contiguous() for t in tensors)
