r"""Shampoo: full-matrix AdaGrad approximated by one matrix per tensor dimension."""

from __future__ import annotations

import torch

from . import kronecker
from . import validation as check
from .base import Optimizer
from .kronecker import inverse_root, matrices, mode_gram, mode_products
from .transforms import weight_decay_


def scaled_identity(eps: float):
    """``make(n, p)`` for :func:`~optimlab.optim.kronecker.factor_state`: εI."""
    return lambda n, p: torch.eye(n, dtype=p.dtype, device=p.device).mul_(eps)


class Shampoo(Optimizer):
    r"""Shampoo (Gupta, Koren & Singer, ICML 2018, "Shampoo: Preconditioned
    Stochastic Tensor Optimization", Algorithm 2).

    A tensor :math:`W` of order :math:`k` (:math:`n_1 \times \dots \times
    n_k`) keeps a matrix :math:`H^i` per dimension, :math:`H^i_0 = \epsilon I`.
    For :math:`t = 1, 2, \dots`, with :math:`G^{(i)}_t` the mode-:math:`i` Gram
    matrix of :math:`G_t` (:math:`G_tG_t^\top` and :math:`G_t^\top G_t` for a
    matrix, see :mod:`~optimlab.optim.kronecker`):

    .. math::
        H^i_t &= H^i_{t-1} + G^{(i)}_t \qquad (i = 1, \dots, k) \\
        \tilde G_t &= G_t \times_1 (H^1_t)^{-1/2k} \times_2 \dots
            \times_k (H^k_t)^{-1/2k} \\
        W_t &= W_{t-1} - \eta\, \tilde G_t

    For a matrix, :math:`W_t = W_{t-1} - \eta\, L_t^{-1/4} G_t R_t^{-1/4}`
    (Algorithm 1); for a vector, :math:`H_t^{-1/2} g_t`: full-matrix AdaGrad.
    The roots come from an eigendecomposition, :math:`H = Q\Lambda Q^\top
    \Rightarrow H^{-1/2k} = Q\Lambda^{-1/2k}Q^\top`; eigenvalues below
    :math:`\epsilon`, which only rounding produces (:math:`H \succeq
    \epsilon I`), are raised to :math:`\epsilon`.

    Options beyond Algorithm 2, each as in ``pytorch_optimizer.Shampoo``
    unless said otherwise:

    * ``precondition_frequency`` :math:`f`: the roots are recomputed at a
      parameter's first step and when :math:`t \equiv 0 \pmod f`, and reused
      in between (the statistics :math:`H^i_t` grow at every step);
    * ``momentum`` :math:`\mu`, pytorch-optimizer's form: the gradient is
      mixed with the *previous step* :math:`\tilde G_{t-1}` before anything
      else, :math:`G_t \leftarrow (1-\mu)G_t + \mu\tilde G_{t-1}` (at the
      first step :math:`\tilde G_0 = G_1`), so the statistics see the mixed
      gradient; switched on after the first step, it starts from
      :math:`\tilde G = 0`;
    * ``weight_decay`` :math:`\lambda`: :math:`\lambda W` added to the (mixed)
      gradient, or with ``decoupled_weight_decay=True`` :math:`W \leftarrow
      (1-\eta\lambda)W` before the step;
    * ``max_precondition_dim``: a dimension larger than this gets no matrix
      (the identity), and :math:`k` counts the dimensions that have one (as
      pytorch-optimizer's ``ScalableShampoo`` does); a tensor left with none
      takes the plain step :math:`\eta G_t`.  ``merge_dims=True`` first merges
      neighbouring dimensions up to that size (:mod:`~optimlab.optim.kronecker`).
      Neither is in pytorch-optimizer's ``Shampoo``, which preconditions
      every dimension, as do the defaults here.

    Defaults: :math:`\eta = 10^{-3}`, :math:`\epsilon = 10^{-6}`, :math:`f =
    1`, no momentum, no weight decay, every dimension preconditioned: the
    paper's algorithm, and pytorch-optimizer's defaults (its ``matrix_eps``,
    ``preconditioning_compute_steps``).  Memory: :math:`2\sum_i n_i^2` numbers
    per tensor (statistics and roots), plus :math:`\tilde G` with momentum:
    float32 bytes per parameter element 1.8 for a 512x512x3x3 kernel, 20 for
    1000x512, 4096 for a vector of 512.  A scalar (order 0) takes plain
    gradient steps, as :math:`k = 0` makes it.  With :math:`f > 1` the roots
    of the first step apply :math:`\epsilon^{-1/2k}` (1000 for a vector)
    along the directions :math:`G_1` does not span for :math:`f - 1` steps:
    raise :math:`\epsilon` or start with :math:`f = 1`.  float16 parameters
    keep :math:`H` in float16 (all state has the parameter's dtype), whose
    sums overflow at 65504; bfloat16 and float32 do not.

    **Where implementations differ** (pinned in tests/optim/test_shampoo.py):

    * pytorch-optimizer 4.1 takes the roots from an SVD, 2.5-3.6 times slower
      than ``eigh`` on this course's CPU for 1000 and 512 rows (a step on
      ResNet-18's shapes takes 0.66 of its time); in float64 the two agree
      to :math:`10^{-13}` relative after 100 steps;
    * with :math:`f > 1` its roots start at 0 and are first computed at step
      :math:`f`, so its first :math:`f-1` steps leave :math:`W` unchanged;
      here the roots are computed at the first step;
    * it counts steps per parameter group (only :math:`f` reads them);
    * it overwrites ``p.grad`` with the mixed, weight-decayed gradient when
      momentum or L2 weight decay is on, and keeps :math:`\tilde G` without
      momentum too (4 more bytes per element); here ``p.grad`` is left as
      it was;
    * a NaN gradient makes its SVD raise an error in the middle of a step;
      here the parameter becomes NaN;
    * no grafting (Anil et al. 2020 graft the step size of AdaGrad or SGD on
      Shampoo's direction, as pytorch-optimizer's ``ScalableShampoo`` does;
      that class, with blocks and Schur-Newton roots, is another algorithm);
      no ``fixed_decay``.
    """

    elementwise = False
    optional_state = ("previous_step",)

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False,
                 eps: float = 1e-6, precondition_frequency: int = 1,
                 max_precondition_dim: int | None = None, merge_dims: bool = False):
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, eps=eps,
                        precondition_frequency=precondition_frequency,
                        max_precondition_dim=max_precondition_dim,
                        merge_dims=merge_dims)
        super().__init__(params, defaults, foreach=None)

    def check(self, group):
        check.common(group)
        check.decay_rate("momentum", group["momentum"])
        check.flag("decoupled_weight_decay", group["decoupled_weight_decay"])
        kronecker.check_hyperparameters(group)

    def init_state(self, p, group):
        _, sizes = kronecker.layout(p.shape, group)
        state = {"step": 0, **kronecker.factor_state(
            p, sizes, statistic=scaled_identity(group["eps"]), root=kronecker.zeros)}
        if group["momentum"] > 0:
            state["previous_step"] = torch.zeros_like(p)
        return state

    def complete_state(self, p, state, group):
        _, sizes = kronecker.layout(p.shape, group)
        kronecker.check_layout(state, sizes, "statistic")
        if group["momentum"] > 0 and "previous_step" not in state:  # switched on
            state["previous_step"] = torch.zeros_like(p)

    def update(self, p, g, state, group):
        lr, momentum, t = group["lr"], group["momentum"], state["step"]
        if momentum > 0 and t > 1:
            g = g.lerp(state["previous_step"], momentum)  # (1-μ) G_t + μ G̃_{t-1}
        g = weight_decay_(p, g, lr, group["weight_decay"],
                          group["decoupled_weight_decay"])
        shape, sizes = kronecker.layout(p.shape, group)
        g = g.reshape(shape)
        statistics = matrices(state, "statistic", sizes)
        roots = matrices(state, "root", sizes)
        for dim, statistic in enumerate(statistics):
            if statistic is not None:
                statistic.add_(mode_gram(g, dim))      # H^i_t = H^i_{t-1} + G^(i)_t
        if t == 1 or t % group["precondition_frequency"] == 0:
            order = sum(n is not None for n in sizes)    # k
            for statistic, root in zip(statistics, roots):
                if statistic is not None:                # (H^i_t)^(-1/2k)
                    root.copy_(inverse_root(statistic, 2 * order, group["eps"]))
        step = mode_products(g, roots).reshape(p.shape)  # G̃_t = G_t ×_i (H^i)^-1/2k
        if "previous_step" in state:
            state["previous_step"].copy_(step)
        p.add_(step, alpha=-lr)                          # W_t = W_{t-1} - η G̃_t
