r"""RMSProp and Adadelta: AdaGrad with a moving average instead of a sum."""

from __future__ import annotations

import torch

from . import validation as check
from .base import Optimizer
from .transforms import ema_, ema_of_squares_, l2_gradient


class RMSprop(Optimizer):
    r"""RMSProp (Tieleman & Hinton, Coursera lecture 6.5, 2012).

    .. math::
        v_t &= \alpha\, v_{t-1} + (1 - \alpha)\, g_t^2 \\
        \theta_t &= \theta_{t-1} - \eta\, g_t / (\sqrt{v_t} + \epsilon)

    ``alpha`` is the decay rate that the book writes :math:`\beta_2` (Hinton's
    slides suggest 0.9; PyTorch's default, kept here, is 0.99).  Options, as in
    ``torch.optim.RMSprop`` whose numbers this equals:

    * ``centered=True`` (the centring of Graves 2013) divides by an estimate of the
      standard deviation instead: :math:`\bar g_t = \alpha \bar g_{t-1} + (1-\alpha)
      g_t`, denominator :math:`\sqrt{v_t - \bar g_t^2} + \epsilon`, PyTorch's form;
      Graves (eq. 40) puts :math:`\epsilon` inside the root,
      :math:`\sqrt{v_t - \bar g_t^2 + \epsilon}`;
    * ``momentum`` :math:`\mu > 0` keeps a buffer of scaled steps:
      :math:`b_t = \mu b_{t-1} + g_t / (\sqrt{v_t} + \epsilon)`,
      :math:`\theta_t = \theta_{t-1} - \eta\, b_t`.

    :math:`\epsilon` is added *outside* the square root, as in PyTorch
    (TensorFlow adds it inside).  ``centered`` or ``momentum`` switched on after
    the first step starts :math:`\bar g` or :math:`b` at 0 then
    (``torch.optim.RMSprop`` raises a ``KeyError``).
    """

    optional_state = ("g_mean", "b")

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, *, foreach: bool | None = None):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered)
        super().__init__(params, defaults, foreach)

    def check(self, group):
        check.common(group)
        check.decay_rate("alpha", group["alpha"])
        check.decay_rate("momentum", group["momentum"])
        check.flag("centered", group["centered"])

    def init_state(self, p, group):
        state = {"step": 0, "v": torch.zeros_like(p)}
        if group["centered"]:
            state["g_mean"] = torch.zeros_like(p)
        if group["momentum"] > 0:
            state["b"] = torch.zeros_like(p)
        return state

    def complete_state(self, p, state, group):
        for key, needed in (("g_mean", group["centered"]), ("b", group["momentum"] > 0)):
            if needed and key not in state:                  # switched on
                state[key] = torch.zeros_like(p)

    def update(self, p, g, state, group):
        alpha, eps, lr = group["alpha"], group["eps"], group["lr"]
        v = state["v"]
        g = l2_gradient(g, p, group["weight_decay"])
        ema_of_squares_(v, g, alpha)                            # v_t = α v_{t-1} + (1-α) g_t²
        if group["centered"]:
            g_mean = ema_(state["g_mean"], g, alpha)            # ḡ_t = α ḡ_{t-1} + (1-α) g_t
            variance = v.addcmul(g_mean, g_mean, value=-1)      # v_t - ḡ_t²
            variance.clamp_(min=0.0)  # >= 0, but rounding (v_t underflowing first) can cut it
            denominator = variance.sqrt_().add_(eps)            # sqrt(v_t - ḡ_t²) + ε
        else:
            denominator = v.sqrt().add_(eps)                    # sqrt(v_t) + ε
        if group["momentum"] > 0:
            b = state["b"].mul_(group["momentum"]).addcdiv_(g, denominator)  # b_t
            p.add_(b, alpha=-lr)                                # θ_t = θ_{t-1} - η b_t
        else:
            p.addcdiv_(g, denominator, value=-lr)               # θ_t = θ_{t-1} - η g_t / (sqrt(v_t) + ε)


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler 2012): RMSProp whose numerator has the units of :math:`\theta`.

    .. math::
        v_t &= \rho\, v_{t-1} + (1 - \rho)\, g_t^2 \\
        \Delta_t &= \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t \\
        u_t &= \rho\, u_{t-1} + (1 - \rho)\, \Delta_t^2 \\
        \theta_t &= \theta_{t-1} - \eta\, \Delta_t

    :math:`u_t`, a moving average of squared *updates*, replaces the learning
    rate: the ratio of RMS(update) to RMS(gradient) has the units of
    :math:`\theta`, like a Newton step.  The paper has no :math:`\eta`
    (``lr=1.0``, the default, as in ``torch.optim.Adadelta``).  Here
    :math:`\epsilon` sits *inside* both square roots (default :math:`10^{-6}`).
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, foreach: bool | None = None):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults, foreach)

    def check(self, group):
        check.common(group)
        check.decay_rate("rho", group["rho"])

    def init_state(self, p, group):
        return {"step": 0, "v": torch.zeros_like(p), "u": torch.zeros_like(p)}

    def update(self, p, g, state, group):
        rho, eps = group["rho"], group["eps"]
        v, u = state["v"], state["u"]
        g = l2_gradient(g, p, group["weight_decay"])
        ema_of_squares_(v, g, rho)                              # v_t = ρ v_{t-1} + (1-ρ) g_t²
        rms_update = u.add(eps).sqrt_()                         # sqrt(u_{t-1} + ε)
        rms_gradient = v.add(eps).sqrt_()                       # sqrt(v_t + ε)
        delta = rms_update.div_(rms_gradient).mul_(g)           # Δ_t
        ema_of_squares_(u, delta, rho)                          # u_t = ρ u_{t-1} + (1-ρ) Δ_t²
        p.add_(delta, alpha=-group["lr"])                       # θ_t = θ_{t-1} - η Δ_t
