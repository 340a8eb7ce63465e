r"""Adam, AdamW and AMSGrad: momentum + RMS scaling + bias correction."""

from __future__ import annotations

import math

import torch

from . import validation as check
from .base import Optimizer
from .compiled import adam_kernel, weight_decay_arguments
from .tensorlist import maximum_
from .transforms import bias_correction, ema_, ema_of_squares_, weight_decay_


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, ICLR 2015), with optional AMSGrad and weight decay.

    For :math:`t = 1, 2, \dots`, with :math:`m_0 = v_0 = 0`:

    .. math::
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
        \hat m_t &= m_t / (1 - \beta_1^t), \qquad \hat v_t = v_t / (1 - \beta_2^t) \\
        \theta_t &= \theta_{t-1} - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)

    * ``amsgrad=True`` (Reddi, Kale & Kumar, ICLR 2018) divides by the running
      maximum :math:`v^{\max}_t = \max(v^{\max}_{t-1}, v_t)` instead of :math:`v_t`,
      taken *before* bias correction, as PyTorch does (the paper has no bias
      correction; other codes take the maximum of :math:`\hat v_t`).
    * ``weight_decay`` :math:`\lambda` adds :math:`\lambda\theta` to :math:`g_t`
      (an L2 penalty), or, with ``decoupled_weight_decay=True``, multiplies
      :math:`\theta` by :math:`1 - \eta\lambda` before the step (AdamW).
    * ``compiled``: run the update as one compiled one-pass loop over the CPU
      parameters (:mod:`optimlab.optim.compiled`); ``None`` decides by the
      model's size (:meth:`~optimlab.optim.base.Optimizer.uses_compiled`).

    Defaults are the paper's: :math:`\eta = 10^{-3}`, :math:`\beta = (0.9, 0.999)`,
    :math:`\epsilon = 10^{-8}`.  The numbers equal ``torch.optim.Adam``'s.
    ``amsgrad`` switched on after the first step starts :math:`v^{\max}` at 0 then
    (``torch.optim.Adam`` raises a ``KeyError``).
    """

    optional_state = ("v_max",)

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 compiled: bool | None = None):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults, foreach, compiled)

    def check(self, group):
        check.common(group)
        check.flag("amsgrad", group["amsgrad"])
        check.flag("decoupled_weight_decay", group["decoupled_weight_decay"])

    def init_state(self, p, group):
        state = {"step": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)}
        if group["amsgrad"]:
            state["v_max"] = torch.zeros_like(p)
        return state

    def complete_state(self, p, state, group):
        if group["amsgrad"] and "v_max" not in state:        # amsgrad switched on
            state["v_max"] = torch.zeros_like(p)

    def moments(self, p, g, state, group):
        """Weight decay, then the moments m_t and v_t; returns the gradient used."""
        (beta1, beta2), m, v = group["betas"], state["m"], state["v"]
        g = weight_decay_(p, g, group["lr"], group["weight_decay"],
                          group["decoupled_weight_decay"])
        ema_(m, g, beta1)                                  # m_t = β1 m_{t-1} + (1-β1) g_t
        ema_of_squares_(v, g, beta2)                       # v_t = β2 v_{t-1} + (1-β2) g_t²
        return g

    def step_sizes(self, state, group) -> tuple[float, float]:
        """``(ε s, η s / (1 - β1^t))`` with ``s = sqrt(1 - β2^t)``.

        ``sqrt(v̂_t) + ε = (sqrt(v_t) + ε s) / s``, so the bias correction of v
        moves into two numbers and costs no pass over the tensors.
        """
        lr, (beta1, beta2), t = group["lr"], group["betas"], state["step"]
        s = math.sqrt(bias_correction(beta2, t))
        return group["eps"] * s, lr * s / bias_correction(beta1, t)

    def update(self, p, g, state, group):
        m, v = state["m"], state["v"]
        self.moments(p, g, state, group)                   # m_t, v_t
        if group["amsgrad"]:
            v = maximum_(state["v_max"], v)                # v_max_t = max(v_max_{t-1}, v_t)
        eps_s, step_size = self.step_sizes(state, group)   # ε s, η s / (1 - β1^t)
        denominator = v.sqrt().add_(eps_s)                 # s (sqrt(v̂_t) + ε)
        p.addcdiv_(m, denominator, value=-step_size)       # θ_t = θ_{t-1} - η m̂_t / (sqrt(v̂_t) + ε)

    def kernel_call(self, p, g, state, group):
        return self.adam_kernel_call(state, group, *self.step_sizes(state, group))

    def adam_kernel_call(self, state, group, eps: float, step_size: float,
                         gradient_step: float = 0.0):
        """:func:`~optimlab.optim.compiled.adam_kernel` with this step's numbers
        (NAdam and RAdam pass their own ``eps``, ``step_size``, ``gradient_step``)."""
        beta1, beta2 = group["betas"]
        return adam_kernel, dict(
            m=state["m"], v=state["v"], v_max=state.get("v_max"),
            beta1=beta1, beta2=beta2, eps=eps, step_size=step_size,
            gradient_step=gradient_step, lr=group["lr"],
            amsgrad=group["amsgrad"], nesterov=gradient_step != 0,
            **weight_decay_arguments(group["weight_decay"], group["decoupled_weight_decay"]))


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, ICLR 2019): Adam with decoupled weight decay.

    .. math::
        \theta_t = (1 - \eta\lambda)\,\theta_{t-1} - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)

    with :math:`\hat m_t, \hat v_t` from :class:`Adam` computed on the plain
    gradient.  The decay is multiplied by the learning rate, as in
    ``torch.optim.AdamW`` (default :math:`\lambda = 10^{-2}`); the paper
    multiplies it by a schedule factor only.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 foreach: bool | None = None, compiled: bool | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad,
                         decoupled_weight_decay=True, foreach=foreach, compiled=compiled)

    def check(self, group):
        super().check(group)
        check.fixed("decoupled_weight_decay", group["decoupled_weight_decay"], True,
                    "AdamW", "Adam has the L2 form")


class AMSGrad(Adam):
    r"""AMSGrad (Reddi, Kale & Kumar, ICLR 2018): :class:`Adam` with ``amsgrad=True``.

    .. math::
        v^{\max}_t = \max(v^{\max}_{t-1}, v_t), \qquad
        \theta_t = \theta_{t-1} - \eta\, \hat m_t \big/ \Big(\sqrt{v^{\max}_t / (1 - \beta_2^t)} + \epsilon\Big)

    The denominator can never shrink, so a large, rare gradient is never
    forgotten: the fix of Adam's non-convergence example.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, compiled: bool | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad=True,
                         decoupled_weight_decay=decoupled_weight_decay, foreach=foreach,
                         compiled=compiled)

    def check(self, group):
        super().check(group)
        check.fixed("amsgrad", group["amsgrad"], True, "AMSGrad",
                    "Adam is AMSGrad without the maximum")
