r"""AdaGrad: a learning rate per coordinate, from the sum of its squared gradients."""

from __future__ import annotations

import torch

from . import validation as check
from .base import Optimizer
from .transforms import l2_gradient


class Adagrad(Optimizer):
    r"""AdaGrad (Duchi, Hazan & Singer, JMLR 2011), diagonal version.

    With :math:`s_0` = ``initial_accumulator_value`` (default 0):

    .. math::
        s_t &= s_{t-1} + g_t^2 \\
        \eta_t &= \eta / (1 + (t - 1)\,\delta) \\
        \theta_t &= \theta_{t-1} - \eta_t\, g_t / (\sqrt{s_t} + \epsilon)

    where :math:`\delta` is ``lr_decay`` (0: no decay). Because :math:`s_t` only
    grows, every coordinate's step shrinks for ever: fine for sparse features
    (rare coordinates keep large steps), fatal for long non-convex training.
    Defaults and numbers as ``torch.optim.Adagrad``
    (:math:`\eta = 10^{-2}`, :math:`\epsilon = 10^{-10}`).
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, foreach: bool | None = None):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, defaults, foreach)

    def check(self, group):
        check.common(group)
        check.non_negative("lr_decay", group["lr_decay"])
        check.non_negative("initial_accumulator_value", group["initial_accumulator_value"])

    def init_state(self, p, group):
        s = torch.full_like(p, group["initial_accumulator_value"])
        return {"step": 0, "s": s}

    def update(self, p, g, state, group):
        t, s = state["step"], state["s"]
        lr = group["lr"] / (1 + (t - 1) * group["lr_decay"])  # η_t
        g = l2_gradient(g, p, group["weight_decay"])
        s.addcmul_(g, g)                                        # s_t = s_{t-1} + g_t²
        denominator = s.sqrt().add_(group["eps"])               # sqrt(s_t) + ε
        p.addcdiv_(g, denominator, value=-lr)                   # θ_t = θ_{t-1} - η_t g_t / (sqrt(s_t) + ε)
