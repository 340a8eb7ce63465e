r"""Adafactor: the second moment as row and column averages; steps relative to θ."""

from __future__ import annotations

import math

import torch

from . import validation as check
from .base import Optimizer
from .transforms import decay_weights_

#: ``eps1_placement``: where ε1 keeps the division finite (see :class:`Adafactor`).
EPS1_PLACEMENTS = ("clamp", "squares")
#: ε1 of the paper, added to the squared gradients (``eps1_placement="squares"``).
PAPER_EPS1 = 1e-30


def rms(x: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathrm{RMS}(x) = \lVert x\rVert_2 / \sqrt{n}` over x's n entries."""
    return torch.linalg.vector_norm(x) / math.sqrt(x.numel())


def relative_step_size(group, t: int) -> float:
    r""":math:`\rho_t = \min(\eta, 1/\sqrt t)`, or :math:`\eta` without
    ``relative_step``."""
    if group["relative_step"]:
        return min(group["lr"], t**-0.5)
    return group["lr"]


def average_of_squares_(average, g, weight: float, added: float = 0.0):
    r""":math:`a \leftarrow \hat\beta_2 a + (1 - \hat\beta_2)(g^2 + \epsilon)` with
    ``weight`` :math:`= 1 - \hat\beta_2` and ``added`` :math:`= \epsilon`.

    Not ``lerp_``: where a float16 state overflowed to inf it stays inf (that
    entry's step is 0) instead of becoming NaN."""
    average.mul_(1 - weight).addcmul_(g, g, value=weight)
    return average.add_(weight * added) if added else average


def factored_second_moment(row, col, g, weight: float, added: float,
                           eps1: float | None):
    r"""Update the row and column averages of :math:`g^2 + \epsilon` (``added``)
    and return :math:`\hat V_t = R_t C_t / \operatorname{mean}(R_t)`, the rank-1
    matrix with these averages (per matrix of the last two dims).

    ``weight`` is :math:`1 - \hat\beta_{2,t}`; ``eps1``, if given, bounds
    :math:`\operatorname{mean}(R_t)` from below."""
    squares = g * g                   # (vector_norm(g, dim=-2) is 10 times slower)
    for factor, dim in ((row, -1), (col, -2)):    # R_t: mean over j, C_t: over i
        mean = squares.mean(dim, keepdim=True).add_(added)     # mean(G²) + ε
        factor.mul_(1 - weight).add_(mean, alpha=weight)
    row_mean = row.mean(-2, keepdim=True)             # mean(R_t)
    if eps1 is not None:
        row_mean.clamp_(min=eps1)                     # max(mean(R_t), ε1)
    return (row @ col).div_(row_mean)                 # V̂_t = R_t C_t / mean(R_t)


class Adafactor(Optimizer):
    r"""Adafactor (Shazeer & Stern, ICML 2018, "Adafactor: Adaptive Learning Rates
    with Sublinear Memory Cost"), in the conventions of ``torch.optim.Adafactor``.

    For :math:`t = 1, 2, \dots` with :math:`\hat\beta_{2,t} = 1 - t^{c}`
    (``beta2_decay`` :math:`c = -0.8`, so :math:`\hat\beta_{2,1} = 0`), for a
    matrix :math:`G_t` of :math:`n \times m` gradients (a tensor of 3 or more
    dims: for each matrix of its last two dims):

    .. math::
        R_t &= \hat\beta_{2,t} R_{t-1} + (1 - \hat\beta_{2,t})\,
            \operatorname{mean}_j G_t^2 \\
        C_t &= \hat\beta_{2,t} C_{t-1} + (1 - \hat\beta_{2,t})\,
            \operatorname{mean}_i G_t^2 \\
        \hat V_t &= R_t C_t / \max(\operatorname{mean}(R_t), \epsilon_1) \\
        U_t &= G_t / \max(\sqrt{\hat V_t}, \epsilon_1), \qquad
        \hat U_t = U_t / \max(1, \mathrm{RMS}(U_t)/d) \\
        \rho_t &= \min(\eta, 1/\sqrt t), \qquad
        \alpha_t = \max(\epsilon_2, \mathrm{RMS}(\theta_{t-1}))\, \rho_t \\
        \theta_t &= (1 - \eta\lambda)\, \theta_{t-1} - \alpha_t \hat U_t

    A vector (or ``factored=False``) keeps the full
    :math:`\hat V_t = \hat\beta_{2,t}\hat V_{t-1} + (1 - \hat\beta_{2,t}) G_t^2`.
    The factors hold :math:`n + m` numbers instead of :math:`nm` (a conv filter
    of shape (o, i, 3, 3), factored over its last two dims as in torch, keeps 6
    numbers per 3 x 3 kernel instead of 9); the step is a fraction
    :math:`\rho_t` of the parameter's own RMS, and the update clipping
    (threshold :math:`d`) caps its RMS when :math:`\hat V_t` lags behind a
    sudden large gradient.  RMS and clipping need whole tensors: one execution
    path, no multi-tensor or compiled one.

    Defaults as ``torch.optim.Adafactor``: :math:`\eta = 10^{-2}` (the paper's
    cap of :math:`\rho_t`), :math:`c = -0.8`, :math:`d = 1`,
    :math:`\epsilon_2 = 10^{-3}`, :math:`\epsilon_1` = the machine epsilon of
    the dtype the update is computed in, :math:`\lambda = 0`, no momentum;
    its numbers are equal.  The paper's options:

    * ``beta1``: momentum of the step,
      :math:`m_t = \beta_1 m_{t-1} + (1 - \beta_1)\alpha_t\hat U_t`,
      :math:`\theta_t = \theta_{t-1} - m_t` (as tensor2tensor; costs a full copy);
    * ``d=None``: no update clipping; ``factored=False``: Adam-like memory;
    * ``relative_step=False``: :math:`\rho_t = \eta` (a constant step);
      ``scale_parameter=False``: :math:`\alpha_t = \rho_t` (not relative to θ);
    * ``eps1_placement="squares"``: the paper's :math:`\epsilon_1`, added to
      :math:`G_t^2` before the averages (:math:`10^{-30}` when ``eps[0]`` is None),
      with no bound in :math:`\hat V_t` and :math:`U_t`.

    **Where implementations differ** (measured in tests/optim/test_adafactor.py):

    * :math:`\epsilon_1`: torch bounds :math:`\sqrt{\hat V_t}` by its
      :math:`\epsilon_1` (``"clamp"``), the paper and tensor2tensor add
      :math:`10^{-30}` to :math:`G_t^2`.  For gradients with RMS below
      :math:`\epsilon_1` (:math:`10^{-7}` in float32) torch's steps shrink in
      proportion, the paper's stay :math:`\alpha_t`-sized (its update is
      scale-free); torch's bound on :math:`\operatorname{mean}(R_t)` makes
      unclipped steps larger for gradients of RMS below :math:`\sqrt{\epsilon_1}`
      (3.6 times at :math:`10^{-4}`).  For float16/bfloat16 parameters torch
      takes *their* epsilon (:math:`10^{-3}`, :math:`8\cdot10^{-3}`), this
      class float32's, in which it computes.
    * the paper has no :math:`\eta`: :math:`\rho_t = \min(10^{-2}, 1/\sqrt t)`;
      torch (and this class) cap :math:`\rho_t` at :math:`\eta`, and decay
      weights by :math:`\eta\lambda`; ``pytorch_optimizer.AdaFactor`` (the
      BigVision variant) ignores ``lr`` with its relative step, decays by
      :math:`\alpha_t\lambda`, caps :math:`\hat\beta_{2,t}` at :math:`\beta_2`
      (0.999), keeps momentum in bfloat16 and counts steps per group.
    * sums or means in :math:`R_t, C_t`: the same :math:`\hat V_t`.
    * float16: a square above 65504 (:math:`|g| > 256`) overflows the state to
      inf in both; torch's ``lerp_`` then makes it NaN, here that entry's
      :math:`\hat V` stays inf and its steps 0.
    * a NaN gradient in a vector: torch's clip takes ``max(1.0, nan)``, which is
      1.0 in Python, and leaves the other entries finite; here the NaN RMS turns
      the whole tensor's step into NaN (in a matrix, the factors do so in both).
    """

    elementwise = False
    optional_state = ("m",)

    def __init__(self, params, lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps=(None, 1e-3), d: float | None = 1.0,
                 weight_decay: float = 0.0, *, beta1: float | None = None,
                 factored: bool = True,
                 relative_step: bool = True, scale_parameter: bool = True,
                 eps1_placement: str = "clamp"):
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d,
                        weight_decay=weight_decay, beta1=beta1, factored=factored,
                        relative_step=relative_step, scale_parameter=scale_parameter,
                        eps1_placement=eps1_placement)
        super().__init__(params, defaults, foreach=None)

    def check(self, group):
        check.non_negative("lr", group["lr"])
        check.non_negative("weight_decay", group["weight_decay"])
        check.non_positive("beta2_decay", group["beta2_decay"])
        eps = group["eps"]
        if not isinstance(eps, (tuple, list)) or len(eps) != 2:
            raise ValueError(f"eps must be a pair (eps1, eps2), eps1 None for the "
                             f"default, got {eps!r}")
        if eps[0] is not None:
            check.positive("eps[0] (eps1)", eps[0])
        check.non_negative("eps[1] (eps2)", eps[1])
        if group["d"] is not None:
            check.positive("d", group["d"])
        if group["beta1"] is not None:
            check.decay_rate("beta1", group["beta1"])
        for name in ("factored", "relative_step", "scale_parameter"):
            check.flag(name, group[name])
        check.one_of("eps1_placement", group["eps1_placement"], EPS1_PLACEMENTS)

    def init_state(self, p, group):
        state = {"step": 0}
        if group["factored"] and p.dim() >= 2:
            state["row"] = p.new_zeros((*p.shape[:-1], 1))         # R: per row
            state["col"] = p.new_zeros((*p.shape[:-2], 1, p.shape[-1]))  # C
        else:
            state["v"] = torch.zeros_like(p)
        if group["beta1"] is not None:
            state["m"] = torch.zeros_like(p)
        return state

    def complete_state(self, p, state, group):
        if group["beta1"] is not None and "m" not in state:   # momentum switched on
            state["m"] = torch.zeros_like(p)
        factored = "row" in state
        if p.dim() >= 2 and factored != bool(group["factored"]):
            raise ValueError(f"has a {'factored' if factored else 'full'} second "
                             f"moment, but factored is now {group['factored']}; "
                             f"factored cannot change after the first step (start a "
                             f"new optimizer)")

    @staticmethod
    def eps1(p, group) -> float:
        """ε1 of the group, or its default: the machine epsilon of p's dtype
        (``"clamp"``) or the paper's 1e-30 (``"squares"``)."""
        if group["eps"][0] is not None:
            return group["eps"][0]
        if group["eps1_placement"] == "squares":
            return PAPER_EPS1
        return torch.finfo(p.dtype).eps

    def update(self, p, g, state, group):
        t, lr, eps2 = state["step"], group["lr"], group["eps"][1]
        eps1, clamp = self.eps1(p, group), group["eps1_placement"] == "clamp"
        rho = relative_step_size(group, t)             # ρ_t = min(η, 1/sqrt(t))
        alpha = p.new_tensor(rho)                      # α_t = ρ_t, or by default
        if group["scale_parameter"]:                   # α_t = max(ε2, RMS(θ)) ρ_t
            alpha = rms(p).clamp_(min=eps2).mul_(rho)
        decay_weights_(p, lr, group["weight_decay"])   # θ ← (1 - ηλ) θ
        weight = t ** group["beta2_decay"]             # 1 - β̂2_t = t^c
        added = 0.0 if clamp else eps1                 # G² + ε1 (the paper)
        if "row" in state:                             # V̂_t = R_t C_t / mean(R_t)
            v_hat = factored_second_moment(state["row"], state["col"], g, weight,
                                           added, eps1 if clamp else None)
        else:                                          # V̂_t = β̂ V̂ + (1-β̂) G²
            v_hat = average_of_squares_(state["v"], g, weight, added)
        denominator = v_hat.sqrt()                     # sqrt(V̂_t)
        if clamp:
            denominator.clamp_(min=eps1)               # max(sqrt(V̂_t), ε1)
        u = torch.div(g, denominator, out=denominator)  # U_t = G_t / max(√V̂_t, ε1)
        scale = alpha                                  # α_t, for Û_t = U_t / clip:
        if group["d"] is not None:                     # clip = max(1, RMS(U_t)/d)
            scale = alpha / rms(u).div_(group["d"]).clamp_(min=1.0)
        if group["beta1"] is None:
            p.addcmul_(u, scale, value=-1)             # θ_t = θ_{t-1} - α_t Û_t
            return
        m = state["m"].mul_(group["beta1"])            # m_t = β1 m + (1-β1) α_t Û_t
        m.addcmul_(u, scale, value=1 - group["beta1"])
        p.sub_(m)                                      # θ_t = θ_{t-1} - m_t
