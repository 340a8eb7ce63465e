r"""Stochastic gradient descent, with heavy-ball or Nesterov momentum."""

from __future__ import annotations

import torch

from . import validation as check
from .base import Optimizer
from .compiled import sgd_momentum_kernel
from .transforms import ema_, heavy_ball_, l2_gradient

#: The momentum conventions of ``convention`` (see :class:`SGD`).
CONVENTIONS = ("pytorch", "ema")


class SGD(Optimizer):
    r"""Gradient descent on minibatch gradients (Robbins & Monro 1951), with momentum.

    Without momentum: :math:`\theta_t = \theta_{t-1} - \eta\, g_t`.

    With momentum :math:`\mu` (Polyak 1964), two conventions that are the same
    method up to the learning rate:

    * ``convention="pytorch"`` (as ``torch.optim.SGD``):
      :math:`b_t = \mu\, b_{t-1} + (1 - \tau)\, g_t` with dampening :math:`\tau`
      (default 0), except :math:`b_1 = g_1`;
    * ``convention="ema"`` (the lecture notes' form, :math:`\beta = \mu`):
      :math:`b_t = \beta\, b_{t-1} + (1 - \beta)\, g_t`, :math:`b_0 = 0`, an
      exponential moving average. It equals the PyTorch buffer times
      :math:`1 - \beta`, so ``lr`` :math:`= \eta` here is ``lr`` :math:`= (1-\beta)\eta` there.

    then :math:`\theta_t = \theta_{t-1} - \eta\, b_t`, or with ``nesterov=True``
    (Nesterov 1983, in the form of Sutskever et al. 2013)
    :math:`\theta_t = \theta_{t-1} - \eta\,(g_t + \mu\, b_t)`
    (EMA form: :math:`(1-\beta)\, g_t + \beta\, b_t`).

    ``weight_decay`` :math:`\lambda` adds :math:`\lambda\theta_{t-1}` to
    :math:`g_t` (for SGD, L2 regularisation and weight decay are the same thing).
    ``compiled`` as in :class:`~optimlab.optim.Adam` (with momentum only).
    Defaults as ``torch.optim.SGD`` (``lr=1e-3``), whose numbers this equals.
    Momentum raised from 0 after the first step starts its buffer then, as
    ``torch.optim.SGD`` does: :math:`b = g` at that step in PyTorch's convention
    (the state records the step as ``b_start``), :math:`b = 0` before it in the EMA one.
    """

    optional_state = ("b", "b_start")

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, convention: str = "pytorch", *,
                 foreach: bool | None = None, compiled: bool | None = None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov,
                        convention=convention)
        super().__init__(params, defaults, foreach, compiled)

    def check(self, group):
        check.common(group)
        check.one_of("convention", group["convention"], CONVENTIONS)
        if group["convention"] == "ema":
            check.decay_rate("momentum", group["momentum"])
            if group["dampening"] != 0:
                raise ValueError("dampening must be 0 with convention='ema' (the EMA "
                                 f"already weights g by 1 - momentum), got {group['dampening']}")
        else:
            check.decay_rate("momentum", group["momentum"])
            check.decay_rate("dampening", group["dampening"])
        check.flag("nesterov", group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def init_state(self, p, group):
        state = {"step": 0}
        if group["momentum"] != 0:
            state["b"] = torch.zeros_like(p)
        return state

    def complete_state(self, p, state, group):
        if group["momentum"] != 0 and "b" not in state:      # momentum switched on
            state["b"] = torch.zeros_like(p)
            state["b_start"] = state["step"] + 1              # b = g at the coming step

    def update(self, p, g, state, group):
        lr, mu = group["lr"], group["momentum"]
        g = l2_gradient(g, p, group["weight_decay"])          # g_t + λθ_{t-1}
        if mu == 0:
            p.add_(g, alpha=-lr)                              # θ_t = θ_{t-1} - η g_t
            return
        b = state["b"]
        if group["convention"] == "ema":
            ema_(b, g, mu)                                    # b_t = β b_{t-1} + (1-β) g_t
        elif state["step"] == state.get("b_start", 1):
            b.copy_(g)                                        # b_1 = g_1
        elif group["dampening"] == 0:
            heavy_ball_(b, g, mu)                             # b_t = μ b_{t-1} + g_t
        else:
            b.mul_(mu).add_(g, alpha=1 - group["dampening"])  # b_t = μ b_{t-1} + (1-τ) g_t
        if not group["nesterov"]:
            p.add_(b, alpha=-lr)                              # θ_t = θ_{t-1} - η b_t
            return
        # Nesterov looks ahead along b_t; two passes over θ, no temporary
        c = 1 - mu if group["convention"] == "ema" else 1.0  # (1-β) or 1
        p.add_(g, alpha=-lr * c).add_(b, alpha=-lr * mu)      # θ_t = θ_{t-1} - η (c g_t + μ b_t)

    def kernel_call(self, p, g, state, group):
        mu, decay = group["momentum"], group["weight_decay"]
        if mu == 0:                                           # plain SGD: one pass already
            return None
        if group["convention"] == "ema":
            keep, gain = mu, 1 - mu                           # b_t = β b_{t-1} + (1-β) g_t
        elif state["step"] == state.get("b_start", 1):
            keep, gain = 0.0, 1.0                             # b_1 = g_1
        else:
            keep, gain = mu, 1 - group["dampening"]           # b_t = μ b_{t-1} + (1-τ) g_t
        return sgd_momentum_kernel, dict(
            b=state["b"], lr=group["lr"], momentum=mu, keep=keep, gain=gain,
            weight_decay=decay, l2=decay != 0, nesterov=group["nesterov"])
