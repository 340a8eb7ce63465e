r"""Lion: the sign of an interpolated momentum, one moment, a step of fixed size."""

from __future__ import annotations

import torch

from . import validation as check
from .base import Optimizer
from .transforms import decay_weights_


class Lion(Optimizer):
    r"""Lion, "EvoLved Sign Momentum" (Chen et al., NeurIPS 2023, "Symbolic Discovery
    of Optimization Algorithms"), as in ``lion-pytorch`` 0.2.5.

    For :math:`t = 1, 2, \dots`, with :math:`m_0 = 0`:

    .. math::
        c_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \\
        \theta_t &= \theta_{t-1} - \eta\,\big(\operatorname{sign}(c_t)
            + \lambda\,\theta_{t-1}\big) \\
        m_t &= \beta_2 m_{t-1} + (1 - \beta_2)\, g_t

    Every entry moves by exactly :math:`\eta` (plus the decay) unless
    :math:`c_t` is 0 there: the gradient's scale is lost in the sign, so Lion
    needs a learning rate 3-10 times smaller than AdamW's and, for the same
    decay :math:`\eta\lambda` per step, a :math:`\lambda` 3-10 times larger
    (the paper's advice).  The step takes its direction from :math:`c_t`,
    which weighs the new gradient more (:math:`\beta_1 = 0.9`) than the
    momentum :math:`m_t` carried to the next step does
    (:math:`\beta_2 = 0.99`).  One state tensor, :math:`m`: half of Adam's
    memory.

    ``weight_decay`` :math:`\lambda` is decoupled and multiplied by the learning
    rate, as in the paper and AdamW.  ``compiled`` as in
    :class:`~optimlab.optim.Adam`.  Defaults are ``lion-pytorch``'s:
    :math:`\eta = 10^{-4}`, :math:`\beta = (0.9, 0.99)`, :math:`\lambda = 0`;
    the numbers equal its ``Lion``'s.

    Where implementations differ (pinned in ``tests/optim/test_lion.py``):

    * ``lion-pytorch``'s ``decoupled_weight_decay=True`` divides :math:`\lambda`
      by the learning rate given to the constructor, :math:`\eta_0`, for every
      group: the decay is :math:`\lambda\eta_t/\eta_0` per step, the same
      numbers as ``weight_decay`` :math:`= \lambda/\eta_0` here.  With its
      default :math:`\eta_0 = 10^{-4}`, one value of :math:`\lambda` decays
      :math:`10^4` times more there than here;
    * ``torch.sign`` of a NaN is 0, and ``lion-pytorch`` and this class both
      use it: a NaN entry of the gradient takes no step and leaves NaN in
      :math:`m`, which freezes that entry from then on while the others train,
      and the parameters stay finite (with JAX's ``jnp.sign``, as in optax,
      NaN stays NaN and reaches the parameter).  An infinite gradient entry
      makes :math:`m` infinite: that entry steps by :math:`\eta` in the same
      direction at every step from then on.  :math:`m_t` is computed as
      ``lion-pytorch`` does, not with :func:`~optimlab.optim.transforms.ema_`,
      whose lerp would turn an infinite :math:`m` into NaN at the next step;
    * ``lion-pytorch`` refuses :math:`\eta = 0` and accepts :math:`\beta_i = 1`;
      here :math:`\eta = 0` is allowed (a frozen group) and
      :math:`0 \le \beta_i < 1`, as for the other optimizers.
    """

    def __init__(self, params, lr: float = 1e-4, betas=(0.9, 0.99),
                 weight_decay: float = 0.0, *, foreach: bool | None = None,
                 compiled: bool | None = None):
        defaults = dict(lr=lr, betas=betas, weight_decay=weight_decay)
        super().__init__(params, defaults, foreach, compiled)

    def check(self, group):
        check.common(group)

    def init_state(self, p, group):
        return {"step": 0, "m": torch.zeros_like(p)}

    def update(self, p, g, state, group):
        lr, (beta1, beta2), m = group["lr"], group["betas"], state["m"]
        decay_weights_(p, lr, group["weight_decay"])   # θ ← (1 - ηλ) θ
        c = m.mul(beta1).add_(g, alpha=1 - beta1)      # c_t = β1 m + (1-β1) g_t
        p.add_(c.sign_(), alpha=-lr)                   # θ_t = θ - η sign(c_t)
        m.mul_(beta2).add_(g, alpha=1 - beta2)         # m_t = β2 m + (1-β2) g_t

    def kernel_call(self, p, g, state, group):
        beta1, beta2 = group["betas"]
        decay = float(group["weight_decay"])
        return lion_kernel, dict(m=state["m"], lr=float(group["lr"]),
                                 beta1=float(beta1), beta2=float(beta2),
                                 weight_decay=decay, decay=decay != 0)


def lion_kernel(p, g, m, lr: float, beta1: float, beta2: float, weight_decay: float,
                decay: bool):
    r"""A :class:`Lion` update in one pass (see :mod:`optimlab.optim.compiled`)."""
    if decay:
        p.mul_(1 - lr * weight_decay)                 # θ ← (1 - ηλ) θ
    c = beta1 * m + (1 - beta1) * g                   # c_t = β1 m_{t-1} + (1-β1) g_t
    p.add_(-lr * torch.sign(c))                       # θ_t = θ - η sign(c_t)
    m.mul_(beta2).add_((1 - beta2) * g)               # m_t = β2 m_{t-1} + (1-β2) g_t
