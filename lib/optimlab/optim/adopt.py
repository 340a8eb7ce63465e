r"""ADOPT: normalise by the *previous* second moment, then take momentum, then clip."""

from __future__ import annotations

import math
import numbers
from typing import Callable

import torch

from . import validation as check
from .base import REDUCED_PRECISION, Optimizer
from .compiled import adopt_kernel, weight_decay_arguments
from .tensorlist import TensorList
from .transforms import ema_, ema_of_squares_, l2_gradient


#: ``initial_momentum``: m_0 = 0 with the EMA from the first update, or m_1 = g̃_1.
INITIAL_MOMENTA = ("zero", "first")


def clip_quarter_power(step: int) -> float:
    r"""The clipping bound :math:`c_t = t^{1/4}` of ADOPT's Algorithm 2."""
    return step**0.25


class ADOPT(Optimizer):
    r"""ADOPT (Taniguchi et al., NeurIPS 2024), as in the authors' ``torch-adopt`` 0.1.0.

    The first call only initialises :math:`v_0 = g_0^2` and leaves
    :math:`\theta` unchanged.  Then, for :math:`t = 1, 2, \dots`, with
    :math:`m_0 = 0`:

    .. math::
        \tilde g_t &= \operatorname{clip}\!\left(\frac{g_t}{\max(\sqrt{v_{t-1}}, \epsilon)},\; c_t\right) \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, \tilde g_t \\
        \theta_t &= \theta_{t-1} - \eta\, m_t \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2

    Two changes to Adam, each fixing a failure: dividing by :math:`v_{t-1}`,
    which does not contain :math:`g_t`, removes the correlation that makes
    Adam diverge for small :math:`\beta_2` (Algorithm 1); normalising
    *before* the momentum lets the clip :math:`c_t = t^{1/4}`
    (``clip_lambda``) tame the first steps, when :math:`v_{t-1}` can be tiny
    (Algorithm 2).  ``clip_lambda(t)`` receives :math:`t`, the number of
    updates including this one, so the first update clips at :math:`1`;
    ``clip_lambda=None`` gives the unclipped Algorithm 1.  There is no bias
    correction, and :math:`\epsilon` bounds :math:`\sqrt{v}` from below
    instead of being added to it.

    ``initial_momentum``: ``"zero"`` (default) starts from :math:`m_0 = 0` as
    above, as ``torch-adopt`` and the paper's clipped Algorithm 2 do;
    ``"first"`` sets :math:`m_1 = \tilde g_1`, the first normalised (and
    clipped) gradient, as the paper's Algorithm 1 does (and the authors' first
    release, at its second call), so that :math:`m` is not pulled towards 0
    in its first :math:`1/(1-\beta_1)` updates.

    ``weight_decay`` :math:`\lambda` is added to the gradient (also to
    :math:`g_0`), or with ``decouple=True`` applied as
    :math:`\theta \leftarrow (1 - \eta\lambda)\theta` before each update.
    ``compiled`` as in :class:`~optimlab.optim.Adam`.  Where :math:`\epsilon^2`
    underflows in the dtype the update is computed in (:math:`\epsilon < 10^{-19}`
    in float32), :math:`\sqrt{v}` is bounded by :math:`\epsilon` instead, as in
    ``torch-adopt``, so that a zero gradient stays a zero step.
    Defaults are the authors': :math:`\eta = 10^{-3}`,
    :math:`\beta = (0.9, 0.9999)`, :math:`\epsilon = 10^{-6}`.

    Other implementations differ: ``pytorch-optimizer`` 4.1 passes the call
    count to ``clip_lambda``, so its first update clips at :math:`2^{1/4}`,
    and it applies weight decay on the initialising call too; the
    multi-tensor path of ``torch-adopt`` 0.1.0 clips every tensor of a group
    with the *first* tensor's step count, which is wrong once a parameter has
    missed a gradient (its per-tensor path, which this class matches, is
    right); some ports
    divide by :math:`v_t` instead of :math:`v_{t-1}`, which is Adam without
    bias correction again.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.9999), eps: float = 1e-6,
                 clip_lambda: Callable[[int], float] | None = clip_quarter_power,
                 weight_decay: float = 0.0, decouple: bool = False, *,
                 initial_momentum: str = "zero", foreach: bool | None = None,
                 compiled: bool | None = None):
        if clip_lambda is not None and not callable(clip_lambda):
            raise TypeError(f"ADOPT: clip_lambda must be callable or None, got {clip_lambda!r}")
        self.clip_lambda = clip_lambda
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        decouple=decouple, initial_momentum=initial_momentum)
        super().__init__(params, defaults, foreach, compiled)

    def check(self, group):
        check.common(group)
        check.flag("decouple", group["decouple"])
        check.one_of("initial_momentum", _initial_momentum(group), INITIAL_MOMENTA)

    def init_state(self, p, group):
        return {"step": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)}

    def complete_state(self, p, state, group):
        t = state["step"]                                       # t of the coming update
        if t >= 1 and self.clip_lambda is not None:
            bound = self.clip_lambda(t)
            if not _positive_number(bound):
                raise ValueError(f"got clip_lambda({t}) = {bound!r}; clip_lambda must "
                                 f"return a number > 0 (inf: no clipping)")

    def update(self, p, g, state, group):
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        m, v = state["m"], state["v"]
        t = state["step"] - 1                                   # updates so far, this one included
        if t == 0:
            if not group["decouple"]:
                g = l2_gradient(g, p, group["weight_decay"])    # g_0 + λθ_0
            v.addcmul_(g, g)                                    # v_0 = g_0²
            return
        if group["decouple"]:
            p.add_(p, alpha=-lr * group["weight_decay"])        # θ ← θ - ηλθ (as torch-adopt)
        else:
            g = l2_gradient(g, p, group["weight_decay"])        # g_t + λθ_{t-1}
        # g_t / max(sqrt(v_{t-1}), ε) = g_t · max(v_{t-1}, ε²)^(-1/2): rsqrt is faster
        normalised = v.clamp(min=eps * eps).rsqrt_().mul_(g)
        if _squares_underflow(eps, p):  # ε² became 0: g_t / max(sqrt(v_{t-1}), ε) instead
            normalised = g.mul(1.0).div_(v.sqrt().clamp_(min=eps))  # (as torch-adopt)
        if self.clip_lambda is not None:
            c = self.clip_lambda(t)                             # c_t = t^(1/4)
            normalised.clamp_(-c, c)                            # clip(·, c_t)
        if t == 1 and _initial_momentum(group) == "first":
            m.copy_(normalised)                                 # m_1 = g̃_1 (Algorithm 1)
        else:
            ema_(m, normalised, beta1)                          # m_t = β1 m_{t-1} + (1-β1) g̃_t
        p.add_(m, alpha=-lr)                                    # θ_t = θ_{t-1} - η m_t
        ema_of_squares_(v, g, beta2)                            # v_t = β2 v_{t-1} + (1-β2) g_t²

    def kernel_call(self, p, g, state, group):
        t = state["step"] - 1
        first = t == 1 and _initial_momentum(group) == "first"
        if t == 0 or first or _squares_underflow(group["eps"], p):  # eager: see update
            return None
        clipped = self.clip_lambda is not None
        return adopt_kernel, dict(
            m=state["m"], v=state["v"], lr=group["lr"], beta1=group["betas"][0],
            beta2=group["betas"][1], eps=group["eps"],
            clip=float(self.clip_lambda(t)) if clipped else 0.0, clipped=clipped,
            **weight_decay_arguments(group["weight_decay"], group["decouple"]))


def _initial_momentum(group) -> str:
    """The group's ``initial_momentum`` ("zero" in state dicts saved before it)."""
    return group.get("initial_momentum", "zero")


def _squares_underflow(eps: float, p) -> bool:
    """Whether ε² is below the smallest normal number of the dtype that p's update
    is computed in (float32 for float16 and bfloat16, see optimlab.optim.base)."""
    dtype = (p.tensors[0] if isinstance(p, TensorList) else p).dtype
    if dtype in REDUCED_PRECISION:
        dtype = torch.float32
    return eps * eps < torch.finfo(dtype).tiny


def _positive_number(value) -> bool:
    """A real number or one-element tensor > 0 (inf included, NaN not)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return not math.isnan(value) and value > 0
