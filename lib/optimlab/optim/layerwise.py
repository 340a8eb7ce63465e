r"""LAMB and LARS: one learning rate per parameter tensor, set by a trust ratio.

Both rescale the step of each tensor ("layer") so that its size is a fixed
fraction of the tensor's norm, whatever the scale of its gradient: the ratio
:math:`\lVert\theta\rVert / \lVert\text{update}\rVert` is the *trust ratio*.
A rule that needs the norm of a whole tensor cannot be cut into chunks or
batched across tensors, so both set ``elementwise = False``.
"""

from __future__ import annotations

import math

import torch

from . import validation as check
from .base import Optimizer
from .transforms import bias_correction, ema_, ema_of_squares_, l2_gradient

#: The Euclidean norm of a whole tensor (``torch.linalg.vector_norm``).
norm = torch.linalg.vector_norm


def trust_ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    r""":math:`a / b` for two norms, or 1 where either is 0 (no scale to trust).

    A NaN in either makes the ratio NaN (``NaN != 0``), so a NaN gradient turns
    the whole tensor's step into NaN instead of hiding behind a ratio of 1.
    """
    usable = (numerator != 0) & (denominator != 0)
    return torch.where(usable, numerator / denominator, torch.ones_like(numerator))


class LAMB(Optimizer):
    r"""LAMB (You et al., ICLR 2020, "Large Batch Optimization for Deep Learning:
    Training BERT in 76 minutes", Algorithm 2): Adam with a trust ratio per tensor.

    For :math:`t = 1, 2, \dots`, with :math:`m_0 = v_0 = 0`, for each tensor :math:`\theta`:

    .. math::
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
        \hat m_t &= m_t / (1 - \beta_1^t), \qquad \hat v_t = v_t / (1 - \beta_2^t) \\
        r_t &= \hat m_t / (\sqrt{\hat v_t} + \epsilon), \qquad
        u_t = r_t + \lambda\theta_{t-1} \\
        \theta_t &= \theta_{t-1} - \eta\,
            \frac{\phi(\lVert\theta_{t-1}\rVert)}{\lVert u_t\rVert}\, u_t

    with the trust ratio :math:`\phi(\lVert\theta\rVert)/\lVert u_t\rVert` taken as 1
    when either norm is 0.  The step :math:`\eta\,\phi\, u_t/\lVert u_t\rVert` has
    the size :math:`\eta\,\phi(\lVert\theta\rVert)`: the scale of :math:`u_t` cancels,
    so the bias correction matters only through :math:`\epsilon` and :math:`\lambda`.

    The paper leaves the scaling function :math:`\phi` open (bounded, e.g.
    :math:`\min(\max(z, \gamma_l), \gamma_u)`); here :math:`\phi(z) = \min(z, \gamma_u)`
    with ``max_weight_norm`` :math:`\gamma_u = 10`, the clamp of pytorch-optimizer
    and of most implementations, or :math:`\phi(z) = z` with ``max_weight_norm=None``.
    Gradient pre-normalisation by the global norm (NVLAMB, pytorch-optimizer's
    ``pre_norm``/``max_grad_norm``) is not in the paper, nor here.

    Defaults: :math:`\eta = 10^{-3}`, :math:`\beta = (0.9, 0.999)`,
    :math:`\epsilon = 10^{-6}`, :math:`\lambda = 0`.

    **Differences from** ``pytorch_optimizer.Lamb`` (pinned in the tests):

    * it follows the paper's version 3, without bias correction in :math:`r_t`,
      which changes the weight of :math:`\epsilon` and of :math:`\lambda\theta`
      in :math:`u_t`;
    * yet it divides the step by :math:`1 - \beta_1^t`, so its early steps are up
      to 10 times larger (``adam_debias=True`` removes that);
    * it adds :math:`\epsilon` to :math:`\lVert u_t\rVert`;
    * by default it decays weights AdamW-style, outside the trust ratio
      (``weight_decouple=True``).

    With ``adam_debias=True, weight_decouple=False``, :math:`\lambda = 0` and a
    negligible :math:`\epsilon` the two agree.
    """

    elementwise = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.0, max_weight_norm: float | None = 10.0):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        max_weight_norm=max_weight_norm)
        super().__init__(params, defaults, foreach=None)

    def check(self, group):
        check.common(group)
        if group["max_weight_norm"] is not None:
            check.positive("max_weight_norm", group["max_weight_norm"])

    def init_state(self, p, group):
        return {"step": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)}

    def update(self, p, g, state, group):
        (beta1, beta2), eps = group["betas"], group["eps"]
        t, m, v = state["step"], state["m"], state["v"]
        ema_(m, g, beta1)                                   # m_t
        ema_of_squares_(v, g, beta2)                        # v_t
        scale = math.sqrt(bias_correction(beta2, t))
        denominator = v.sqrt().div_(scale).add_(eps)        # sqrt(v̂_t) + ε
        r = m.div(denominator)                              # m_t / (sqrt(v̂_t) + ε)
        r.div_(bias_correction(beta1, t))                   # r_t = m̂_t / (sqrt(v̂_t) + ε)
        u = l2_gradient(r, p, group["weight_decay"])        # u_t = r_t + λθ_{t-1}
        weight_norm = norm(p)                               # ‖θ_{t-1}‖
        if group["max_weight_norm"] is not None:
            weight_norm.clamp_(max=group["max_weight_norm"])  # φ(z) = min(z, γ_u)
        ratio = trust_ratio(weight_norm, norm(u))           # φ(‖θ_{t-1}‖) / ‖u_t‖
        p.add_(u.mul_(ratio), alpha=-group["lr"])           # θ_t = θ_{t-1} - η ratio u_t


class LARS(Optimizer):
    r"""LARS (You, Gitman & Ginsburg 2017, "Large Batch Training of Convolutional
    Networks", Algorithm 1): momentum SGD with a local learning rate per tensor.

    For each tensor :math:`w`, with :math:`v_0 = 0`:

    .. math::
        \lambda_l &= \eta\, \lVert w\rVert
            \,/\, (\lVert \nabla L(w)\rVert + \beta\lVert w\rVert) \\
        v &\leftarrow m\, v + \gamma\, \lambda_l\, (\nabla L(w) + \beta w) \\
        w &\leftarrow w - v

    with global learning rate ``lr`` :math:`\gamma`, ``momentum`` :math:`m`,
    ``weight_decay`` :math:`\beta` and ``trust_coefficient`` :math:`\eta`; the ratio
    is 1 when :math:`\lVert w\rVert` or its denominator is 0.  The step of a tensor
    is about :math:`\gamma\eta\lVert w\rVert` (times :math:`1/(1-m)` with momentum),
    whatever the gradient's scale, so :math:`\gamma` is of order 1 (SimCLR uses
    :math:`0.3 \cdot B/256`), not Adam's :math:`10^{-3}`.

    Defaults: :math:`\gamma = 1`, :math:`m = 0.9`, :math:`\beta = 0` and the
    paper's :math:`\eta = 10^{-3}`.

    **Differences from** ``pytorch_optimizer.LARS`` (pinned in the tests):

    * it leaves tensors with ``ndim <= 1`` (biases, norm layers) to plain momentum
      SGD, without trust ratio or weight decay; here every tensor is treated
      alike, as in the paper;
    * its buffer holds :math:`\lambda_l(\nabla L + \beta w)` and the step is
      :math:`\gamma v`, so changing :math:`\gamma` also rescales past gradients;
      here :math:`\gamma` enters when the gradient does, as in the paper.  With a
      constant :math:`\gamma` the two agree;
    * a NaN gradient makes its ratio 1 (the rest of the tensor takes an unscaled
      step and only the NaN entries become NaN); here the whole tensor becomes NaN;
    * its default :math:`\gamma` is :math:`10^{-3}`; its ``dampening`` and
      ``nesterov`` options are not in the paper and not here.
    """

    elementwise = False

    def __init__(self, params, lr: float = 1.0, momentum: float = 0.9,
                 weight_decay: float = 0.0, trust_coefficient: float = 1e-3):
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                        trust_coefficient=trust_coefficient)
        super().__init__(params, defaults, foreach=None)

    def check(self, group):
        check.common(group)
        check.decay_rate("momentum", group["momentum"])
        check.positive("trust_coefficient", group["trust_coefficient"])

    def init_state(self, p, group):
        return {"step": 0, "v": torch.zeros_like(p)}

    def update(self, p, g, state, group):
        beta, eta = group["weight_decay"], group["trust_coefficient"]
        weight_norm = norm(p)                               # ‖w‖
        denominator = norm(g) + beta * weight_norm          # ‖∇L(w)‖ + β‖w‖
        local_lr = trust_ratio(eta * weight_norm, denominator)  # λ_l = η‖w‖ / (‖∇L(w)‖ + β‖w‖)
        direction = l2_gradient(g, p, beta)                 # ∇L(w) + βw
        step = direction.mul(local_lr * group["lr"])        # γ λ_l (∇L(w) + βw)
        v = state["v"].mul_(group["momentum"]).add_(step)   # v ← m v + γ λ_l (∇L(w) + βw)
        p.sub_(v)                                           # w ← w - v
