r"""AdaShift: a second moment built from a gradient n steps old."""

from __future__ import annotations

import torch

from . import validation as check
from .base import Optimizer
from .transforms import bias_correction, ema_, l2_gradient

#: The values of ``phi``: the maximum over each tensor, or none (per coordinate).
SPATIAL_FUNCTIONS = ("max", None)


class AdaShift(Optimizer):
    r"""AdaShift (Zhou et al., ICLR 2019): shift, window and spatial function.

    The first ``keep_num`` :math:`= n` calls only fill a queue with the
    gradients :math:`g_{-n+1}, \dots, g_0` and leave :math:`\theta` unchanged.
    Then, for :math:`t = 1, 2, \dots`, with :math:`v_0 = 0`:

    .. math::
        m_t &= \sum_{i=0}^{n-1} \beta_1^i\, g_{t-i} \Big/ \sum_{i=0}^{n-1} \beta_1^i \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2)\, \phi(g_{t-n}^2) \\
        \theta_t &= \theta_{t-1} - \eta\, m_t / (\sqrt{\hat v_t} + \epsilon)

    :math:`m_t` is a weighted average over a window of the last :math:`n`
    gradients (kept as a running sum: add :math:`g_t`, drop :math:`g_{t-n}`),
    and :math:`v_t` only sees gradients that have left that window, so it is
    independent of :math:`g_t`.  ``phi="max"`` (the paper's choice) takes the
    maximum of :math:`g_{t-n}^2` over each parameter tensor, giving one
    adaptive scalar per tensor; ``phi=None`` keeps it per coordinate.

    Two additions to the paper's algorithm, which has neither: :math:`\epsilon` (default
    :math:`10^{-10}`) and, with ``bias_correction=True`` (default), Adam's
    :math:`\hat v_t = v_t / (1 - \beta_2^t)`; without it the first steps are
    :math:`1/\sqrt{1 - \beta_2}` times too large.  ``weight_decay`` adds
    :math:`\lambda\theta` to the gradient.  Memory: :math:`n` copies of the
    parameters for the queue.

    ``pytorch-optimizer`` 4.1 computes the same numbers (its queue is a deque,
    and it too counts each gradient once), except that it counts steps per
    parameter group: a parameter that missed a gradient gets another bias
    correction there.  Older ports of AdaShift updated :math:`m_t` with a
    gradient that was still in the window, counting it twice.
    """

    elementwise = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), keep_num: int = 10,
                 phi: str | None = "max", eps: float = 1e-10, weight_decay: float = 0.0,
                 bias_correction: bool = True, *, foreach: bool | None = None):
        defaults = dict(lr=lr, betas=betas, keep_num=keep_num, phi=phi, eps=eps,
                        weight_decay=weight_decay, bias_correction=bias_correction)
        super().__init__(params, defaults, foreach)

    def check(self, group):
        check.common(group)
        check.positive_int("keep_num", group["keep_num"])
        if group["phi"] not in SPATIAL_FUNCTIONS:
            raise ValueError(f"phi must be 'max' or None, got {group['phi']!r}")
        check.flag("bias_correction", group["bias_correction"])

    def init_state(self, p, group):
        v = p.new_zeros(()) if group["phi"] == "max" else torch.zeros_like(p)
        past = p.new_zeros((group["keep_num"], *p.shape))      # the queue of n gradients
        return {"step": 0, "m": torch.zeros_like(p), "v": v, "past": past}

    def complete_state(self, p, state, group):
        """``keep_num`` and ``phi`` shape the state: they cannot change after a
        parameter's first step."""
        kept, per_tensor = state["past"].shape[0], state["v"].dim() == 0
        if kept != group["keep_num"]:
            raise ValueError(f"has a queue of {kept} past gradients, but keep_num is now "
                             f"{group['keep_num']}; keep_num cannot change after the "
                             f"first step (start a new optimizer)")
        if p.dim() > 0 and per_tensor != (group["phi"] == "max"):
            raise ValueError(f"has a second moment made with phi="
                             f"{'max' if per_tensor else None!r}, but phi is now "
                             f"{group['phi']!r}; phi cannot change after the first step "
                             f"(start a new optimizer)")

    def update(self, p, g, state, group):
        (beta1, beta2), n = group["betas"], group["keep_num"]
        calls, m, v = state["step"], state["m"], state["v"]
        g = l2_gradient(g, p, group["weight_decay"])
        window = sum(beta1**i for i in range(n))                # Σ_{i<n} β1^i
        oldest = state["past"][(calls - 1) % n]                 # g_{t-n} once the queue is full
        full = calls > n
        if full:
            m.sub_(oldest, alpha=beta1 ** (n - 1) / window)     # drop g_{t-n} from the window
        m.mul_(beta1).add_(g, alpha=1 / window)                 # m_t = Σ β1^i g_{t-i} / Σ β1^i
        if full:
            squares = oldest.square()                           # g_{t-n}²
            ema_(v, squares.max() if group["phi"] == "max" else squares, beta2)  # v_t
            v_hat = v
            if group["bias_correction"]:
                v_hat = v.div(bias_correction(beta2, calls - n))  # v̂_t = v_t / (1 - β2^t)
            p.addcdiv_(m, v_hat.sqrt().add_(group["eps"]), value=-group["lr"])  # θ_t
        oldest.copy_(g)                                         # g_t joins the queue
