r"""NAdam and RAdam: Adam with Nesterov momentum, and Adam with a rectified warm-up."""

from __future__ import annotations

import math

from . import validation as check
from .adam import Adam
from .base import Optimizer
from .transforms import bias_correction


class NAdam(Adam):
    r"""NAdam (Dozat, ICLR workshop 2016): Adam with Nesterov momentum.

    With the momentum schedule
    :math:`\mu_t = \beta_1 (1 - \tfrac12\, 0.96^{t\psi})` (``momentum_decay``
    :math:`\psi = 0.004`) and :math:`\Pi_t = \prod_{i \le t} \mu_i`:

    .. math::
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \theta_t &= \theta_{t-1} - \eta \left(
            \frac{(1 - \mu_t)\, g_t}{1 - \Pi_t} + \frac{\mu_{t+1}\, m_t}{1 - \Pi_{t+1}}
        \right) \Big/ \left(\sqrt{v_t / (1 - \beta_2^t)} + \epsilon\right)

    The look-ahead term :math:`\mu_{t+1} m_t` is the Nesterov step.  Defaults
    and numbers as ``torch.optim.NAdam`` (:math:`\eta = 2\cdot10^{-3}`).
    """

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 compiled: bool | None = None):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=False, decoupled_weight_decay=decoupled_weight_decay,
                        momentum_decay=momentum_decay)
        Optimizer.__init__(self, params, defaults, foreach, compiled)

    def check(self, group):
        super().check(group)
        check.fixed("amsgrad", group["amsgrad"], False, "NAdam", "NAdam has no AMSGrad form")
        check.non_negative("momentum_decay", group["momentum_decay"])

    def _mu(self, group, t: int) -> float:
        return group["betas"][0] * (1 - 0.5 * 0.96 ** (t * group["momentum_decay"]))

    def init_state(self, p, group):
        state = super().init_state(p, group)
        state["mu_product"] = 1.0                               # Π_0
        return state

    def advance(self, state, group):
        state["step"] += 1
        state["mu_product"] *= self._mu(group, state["step"])  # Π_t = Π_{t-1} μ_t

    def nesterov_step_sizes(self, state, group) -> tuple[float, float, float]:
        """``(ε s, η s μ_{t+1} / (1 - Π_{t+1}), η s (1 - μ_t) / (1 - Π_t))``, with
        ``s = sqrt(1 - β2^t)`` as in :meth:`Adam.step_sizes`: the factors of
        ε, of m_t and of g_t."""
        lr, beta2, t = group["lr"], group["betas"][1], state["step"]
        mu, mu_next = self._mu(group, t), self._mu(group, t + 1)
        product, product_next = state["mu_product"], state["mu_product"] * mu_next
        s = math.sqrt(bias_correction(beta2, t))
        return (group["eps"] * s, lr * s * mu_next / (1 - product_next),
                lr * s * (1 - mu) / (1 - product))

    def update(self, p, g, state, group):
        m, v = state["m"], state["v"]
        g = self.moments(p, g, state, group)                    # m_t, v_t
        eps_s, step_size, gradient_step = self.nesterov_step_sizes(state, group)
        denominator = v.sqrt().add_(eps_s)                      # s (sqrt(v̂_t) + ε)
        p.addcdiv_(g, denominator, value=-gradient_step)        # the (1 - μ_t) g_t term
        p.addcdiv_(m, denominator, value=-step_size)            # the μ_{t+1} m_t term

    def kernel_call(self, p, g, state, group):
        return self.adam_kernel_call(state, group, *self.nesterov_step_sizes(state, group))


class RAdam(Adam):
    r"""RAdam (Liu et al., ICLR 2020): Adam whose adaptive step is switched on gradually.

    The variance of :math:`1/\sqrt{\hat v_t}` is infinite in the first steps.
    With :math:`\rho_\infty = 2/(1-\beta_2) - 1` and
    :math:`\rho_t = \rho_\infty - 2t\beta_2^t/(1-\beta_2^t)`:

    .. math::
        \theta_t = \begin{cases}
            \theta_{t-1} - \eta\, r_t\, \hat m_t / (\sqrt{\hat v_t} + \epsilon) & \rho_t > 5 \\
            \theta_{t-1} - \eta\, \hat m_t & \text{otherwise (SGD with momentum)}
        \end{cases}

    where

    .. math::
        r_t = \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\rho_\infty}{(\rho_\infty - 4)(\rho_\infty - 2)\rho_t}}

    and :math:`\hat m_t, \hat v_t` as in :class:`Adam`; in PyTorch's form, used
    here, :math:`\epsilon` is added to :math:`\sqrt{v_t}` before the bias
    correction of :math:`v`.  Numbers as ``torch.optim.RAdam``.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, compiled: bool | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad=False,
                         decoupled_weight_decay=decoupled_weight_decay, foreach=foreach,
                         compiled=compiled)

    def check(self, group):
        super().check(group)
        check.fixed("amsgrad", group["amsgrad"], False, "RAdam", "RAdam has no AMSGrad form")

    def momentum_step_size(self, state, group) -> float:
        """``η / (1 - β1^t)``: the learning rate times m's bias correction."""
        return group["lr"] / bias_correction(group["betas"][0], state["step"])

    def rectification(self, state, group) -> float | None:
        """``r_t sqrt(1 - β2^t)``, or None while ρ_t <= 5 (no adaptive step yet)."""
        beta2, t = group["betas"][1], state["step"]
        rho_inf = 2 / (1 - beta2) - 1                           # ρ_∞
        rho = rho_inf - 2 * t * beta2**t / bias_correction(beta2, t)  # ρ_t
        if rho <= 5:
            return None
        r = math.sqrt((rho - 4) * (rho - 2) * rho_inf
                      / ((rho_inf - 4) * (rho_inf - 2) * rho))  # r_t
        return r * math.sqrt(bias_correction(beta2, t))         # r_t sqrt(1 - β2^t)

    def update(self, p, g, state, group):
        m, v = state["m"], state["v"]
        self.moments(p, g, state, group)                        # m_t, v_t
        step_size = self.momentum_step_size(state, group)       # η / (1 - β1^t)
        scale = self.rectification(state, group)
        if scale is None:
            p.add_(m, alpha=-step_size)                         # θ_t = θ_{t-1} - η m̂_t
            return
        denominator = v.sqrt().add_(group["eps"])               # sqrt(v_t) + ε
        p.addcdiv_(m, denominator, value=-step_size * scale)    # θ_t = θ_{t-1} - η r_t m̂_t / (sqrt(v̂_t) + ε)

    def kernel_call(self, p, g, state, group):
        scale = self.rectification(state, group)
        if scale is None:                                       # the first steps: eager
            return None
        step_size = self.momentum_step_size(state, group)
        return self.adam_kernel_call(state, group, group["eps"], step_size * scale)
