"""A list of tensors that does arithmetic with ``torch._foreach_*`` kernels.

Each update rule in :mod:`optimlab.optim` is written once, with ordinary tensor
methods (``m.lerp_(g, 1 - beta1)``).  Called with tensors, it updates one
parameter.  Called with :class:`TensorList` objects, the same lines update many
parameters at once: every method below launches one multi-tensor kernel for the
whole list, which on a GPU saves a kernel launch per parameter.  The tests check
that both paths give the same numbers.
"""

from __future__ import annotations

from typing import Sequence

import torch


def _unwrap(value):
    return value.tensors if isinstance(value, TensorList) else value


class TensorList:
    """Tensors of one device and dtype, updated together (see the module docstring)."""

    __slots__ = ("tensors",)

    def __init__(self, tensors: Sequence[torch.Tensor]):
        self.tensors = list(tensors)

    # In place: self ← f(self, ...)
    def add_(self, other, alpha: float = 1.0) -> "TensorList":
        """Each tensor plus ``alpha`` times ``other`` (a TensorList, entry by
        entry, or a number), in place."""
        if isinstance(other, TensorList):
            torch._foreach_add_(self.tensors, other.tensors, alpha=alpha)
        else:
            torch._foreach_add_(self.tensors, other * alpha if alpha != 1 else other)
        return self

    def mul_(self, other) -> "TensorList":
        """Each tensor times ``other`` (a TensorList or a number), in place."""
        torch._foreach_mul_(self.tensors, _unwrap(other))
        return self

    def div_(self, other) -> "TensorList":
        """Each tensor divided by ``other`` (a TensorList or a number), in place."""
        torch._foreach_div_(self.tensors, _unwrap(other))
        return self

    def lerp_(self, end: "TensorList", weight: float) -> "TensorList":
        """Each tensor moved the fraction ``weight`` of the way to ``end``, in
        place."""
        torch._foreach_lerp_(self.tensors, end.tensors, weight)
        return self

    def addcmul_(self, a: "TensorList", b: "TensorList", value: float = 1.0) -> "TensorList":
        """Each tensor plus ``value · a · b``, in place."""
        torch._foreach_addcmul_(self.tensors, a.tensors, b.tensors, value=value)
        return self

    def addcdiv_(self, a: "TensorList", b: "TensorList", value: float = 1.0) -> "TensorList":
        """Each tensor plus ``value · a / b``, in place."""
        torch._foreach_addcdiv_(self.tensors, a.tensors, b.tensors, value=value)
        return self

    def sqrt_(self) -> "TensorList":
        """The square root of each entry, in place."""
        torch._foreach_sqrt_(self.tensors)
        return self

    def rsqrt_(self) -> "TensorList":
        """The reciprocal square root of each entry, in place."""
        if hasattr(torch, "_foreach_rsqrt_"):                   # torch >= 2.6
            torch._foreach_rsqrt_(self.tensors)
        else:                                                   # the per-tensor numbers
            for tensor in self.tensors:
                tensor.rsqrt_()
        return self

    def sign_(self) -> "TensorList":
        """The sign of each entry (-1, 0 or 1), in place."""
        torch._foreach_sign_(self.tensors)
        return self

    def clamp_(self, min: float | None = None, max: float | None = None) -> "TensorList":
        """Each entry clamped to ``[min, max]`` (None: no bound), in place."""
        if min is not None:
            torch._foreach_clamp_min_(self.tensors, min)
        if max is not None:
            torch._foreach_clamp_max_(self.tensors, max)
        return self

    def copy_(self, other: "TensorList") -> "TensorList":
        """``other``'s values copied into these tensors."""
        torch._foreach_copy_(self.tensors, other.tensors)
        return self

    # New lists: f(self, ...)
    def add(self, other, alpha: float = 1.0) -> "TensorList":
        """A new list: each tensor plus ``alpha`` times ``other`` (a TensorList or a
        number)."""
        if isinstance(other, TensorList):
            return TensorList(torch._foreach_add(self.tensors, other.tensors, alpha=alpha))
        return TensorList(torch._foreach_add(self.tensors, other * alpha))

    def mul(self, other) -> "TensorList":
        """A new list: each tensor times ``other`` (a TensorList or a number)."""
        return TensorList(torch._foreach_mul(self.tensors, _unwrap(other)))

    def addcmul(self, a: "TensorList", b: "TensorList", value: float = 1.0) -> "TensorList":
        """A new list: each tensor plus ``value · a · b``."""
        return TensorList(torch._foreach_addcmul(self.tensors, a.tensors, b.tensors,
                                                 value=value))

    def clamp(self, min: float) -> "TensorList":
        """A new list: each entry at least ``min``."""
        return TensorList(torch._foreach_clamp_min(self.tensors, min))

    def sqrt(self) -> "TensorList":
        """A new list: the square root of each entry."""
        return TensorList(torch._foreach_sqrt(self.tensors))


def maximum_(a, b):
    """``a ← max(a, b)`` elementwise, for tensors and tensor lists (NaN propagates)."""
    if isinstance(a, TensorList):
        torch._foreach_maximum_(a.tensors, b.tensors)
    else:
        torch.maximum(a, b, out=a)
    return a
