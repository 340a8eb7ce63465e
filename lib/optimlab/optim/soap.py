r"""SOAP: Adam run in the eigenbasis of Shampoo's preconditioner."""

from __future__ import annotations

import math

from . import kronecker
from . import validation as check
from .base import Optimizer
from .kronecker import (eigenbasis, matrices, mode_gram, mode_products,
                        refresh_eigenbasis_)
from .transforms import bias_correction, decay_weights_, ema_, ema_of_squares_


class SOAP(Optimizer):
    r"""SOAP (Vyas et al., ICLR 2025, "SOAP: Improving and Stabilizing Shampoo
    using Adam", Algorithms 3 and 4), as ``pytorch_optimizer.SOAP`` 4.1 and
    the authors' code compute it.

    A matrix :math:`W` keeps Shampoo's statistics :math:`L, R` as moving
    averages and their eigenvectors :math:`Q_L, Q_R`; Adam runs on the
    gradient rotated into that basis.  The first step of a parameter only
    sets :math:`L = (1-\beta_s)G_1G_1^\top`, :math:`R = (1-\beta_s)G_1^\top
    G_1` and :math:`Q_L, Q_R` to their eigenvectors (by decreasing
    eigenvalue): :math:`W` is unchanged, so a basis never holds the gradient
    it rotates.  Then, for :math:`s = t - 1 = 1, 2, \dots`, with :math:`M'_0
    = V_0 = 0`:

    .. math::
        G' &= Q_L^\top G\, Q_R \\
        M'_s &= \beta_1 M'_{s-1} + (1-\beta_1)\, G', \qquad
            V_s = \beta_2 V_{s-1} + (1-\beta_2)\, G' \odot G' \\
        W_s &= (1 - \eta\lambda)\Big(W_{s-1} - \eta\,
            \frac{\sqrt{1-\beta_2^s}}{1-\beta_1^s}\;
            Q_L \frac{M'_s}{\sqrt{V_s} + \epsilon} Q_R^\top\Big) \\
        L &\leftarrow \beta_s L + (1-\beta_s)\, GG^\top, \qquad
            R \leftarrow \beta_s R + (1-\beta_s)\, G^\top G

    :math:`M'_s = Q_L^\top M_s Q_R` is the first moment :math:`M_s` of
    :math:`G` seen in the eigenbasis.  Every ``precondition_frequency``
    :math:`f` updates (:math:`s \equiv 0 \pmod f`) one step of power
    iteration refreshes each basis, :math:`Q \leftarrow \operatorname{QR}(LQ)`
    (Algorithm 4), the columns of :math:`LQ` sorted by the estimated
    eigenvalues :math:`q_j^\top L q_j`; :math:`V` is not rotated into the new
    basis, only its entries permuted with the columns.  A tensor of order
    :math:`k` is rotated along every dimension (:math:`G \times_1 Q_1^\top
    \dots \times_k Q_k^\top`) except those larger than
    ``max_precondition_dim``; ``merge_dims=True`` first merges neighbouring
    dimensions up to that size (:mod:`~optimlab.optim.kronecker`); a vector
    is rotated only with ``precondition_1d=True``, else this is Adam.

    Conventions of the authors' code that Algorithm 3 omits, kept here: the
    bias correction (``correct_bias``), with :math:`\epsilon` added to
    :math:`\sqrt{V_s}` *before* it (``torch.optim.Adam`` adds it after);
    the decoupled weight decay :math:`\lambda`, applied *after* the step
    (AdamW: before; the two differ by :math:`\eta\lambda` times the step);
    :math:`\beta_s` (``shampoo_beta``) equal to :math:`\beta_2` by default.
    Where :math:`L` is singular (fewer gradients than rows, or a constant
    gradient), the rotation sends rounding noise (:math:`10^{-7}|G|` in
    float32) into the directions it has never seen, and Adam scales that
    noise up to full steps unless :math:`\epsilon` is larger, as in the
    reference.

    Defaults are pytorch-optimizer's: :math:`\eta = 3\cdot10^{-3}`,
    :math:`\beta = (0.95, 0.95)`, :math:`\epsilon = 10^{-8}`, :math:`\lambda
    = 0.01`, :math:`f = 10`, ``max_precondition_dim=10000``.  Memory:
    :math:`M', V` and two :math:`n_i \times n_i` matrices per rotated
    dimension: float32 bytes per parameter element 9.8 for a 512x512x3x3
    kernel, 28 for 1000x512, 8 for a vector (4104 for 512 with
    ``precondition_1d``).

    **Where implementations differ** (pinned in tests/optim/test_soap.py):

    * pytorch-optimizer keeps :math:`M_s` and rotates it at every step (three
      rotations per step); here :math:`M'_s` is kept (two rotations per
      step, and :math:`M'` is turned by :math:`Q_{new}^\top Q_{old}` at each
      refresh): equal up to rounding, a fourth fewer matrix products (a
      step on ResNet-18's shapes takes 0.72 of its time);
    * it computes the QR in float32, also for float64 parameters
      (:math:`10^{-5}` relative apart after 100 steps); here in the
      parameter's dtype (float32 at least);
    * it counts steps per parameter group: a parameter whose first gradient
      comes late steps at once (with a basis that holds that gradient, which
      its statistics count twice), and its bias correction and refreshes
      follow the group's count; here each parameter counts its own steps;
    * with ``merge_dims=True`` it fails on vectors and on tensors whose
      dimensions all merge into one (a reshape to ``[1]``); here a vector is
      not merged and a fully merged tensor is rotated as one vector;
    * a later version of the authors' code (github.com/nikhilvyas/SOAP) folds
      the bias correction into the averages, bounds :math:`\sqrt{V}` below
      by :math:`\epsilon` instead of adding it, and defaults to
      :math:`\beta = (0.9, 0.95)`, :math:`f = 2`;
    * not here: ``normalize_gradient``, ``data_format='channels_last'``.
    """

    elementwise = False

    def __init__(self, params, lr: float = 3e-3, betas=(0.95, 0.95),
                 shampoo_beta: float | None = None, eps: float = 1e-8,
                 weight_decay: float = 1e-2, precondition_frequency: int = 10,
                 max_precondition_dim: int | None = 10000, merge_dims: bool = False,
                 precondition_1d: bool = False, correct_bias: bool = True):
        defaults = dict(lr=lr, betas=betas, shampoo_beta=shampoo_beta, eps=eps,
                        weight_decay=weight_decay,
                        precondition_frequency=precondition_frequency,
                        max_precondition_dim=max_precondition_dim,
                        merge_dims=merge_dims, precondition_1d=precondition_1d,
                        correct_bias=correct_bias)
        super().__init__(params, defaults, foreach=None)

    def check(self, group):
        check.common(group)
        if group["shampoo_beta"] is not None:
            check.decay_rate("shampoo_beta", group["shampoo_beta"])
        check.flag("precondition_1d", group["precondition_1d"])
        check.flag("correct_bias", group["correct_bias"])
        kronecker.check_hyperparameters(group)

    def layout(self, p, group):
        """:func:`optimlab.optim.kronecker.layout` of ``p`` for ``group``: the shape
        the preconditioners see and the size of each one's matrix."""
        return kronecker.layout(p.shape, group, bool(group["precondition_1d"]))

    def init_state(self, p, group):
        _, sizes = self.layout(p, group)
        return {"step": 0, "m": p.new_zeros(p.shape), "v": p.new_zeros(p.shape),
                **kronecker.factor_state(p, sizes, statistic=kronecker.zeros,
                                         basis=kronecker.zeros)}

    def complete_state(self, p, state, group):
        kronecker.check_layout(state, self.layout(p, group)[1], "statistic")

    def update(self, p, g, state, group):
        t, (_, beta2) = state["step"], group["betas"]
        shape, sizes = self.layout(p, group)
        g = g.reshape(shape)
        statistics = matrices(state, "statistic", sizes)
        bases = matrices(state, "basis", sizes)
        if t > 1:
            self.rotated_adam_step(p, g, state, group, bases, t - 1)
        beta_s = beta2 if group["shampoo_beta"] is None else group["shampoo_beta"]
        for dim, statistic in enumerate(statistics):
            if statistic is not None:                  # L ← β_s L + (1-β_s) G^(i)
                ema_(statistic, mode_gram(g, dim), beta_s)
        if t == 1:
            for statistic, basis in zip(statistics, bases):
                if statistic is not None:
                    basis.copy_(eigenbasis(statistic))  # Q: eigenvectors of L_1
        elif (t - 1) % group["precondition_frequency"] == 0:
            self.refresh_bases(p, state, shape, statistics, bases)

    def rotated_adam_step(self, p, g, state, group, bases, s: int):
        """Adam's update ``s`` on the gradient ``g`` (in the layout's shape)
        rotated into the eigenbases, rotated back; then the weight decay."""
        (beta1, beta2), m, v = group["betas"], state["m"], state["v"]
        rotated = mode_products(g, bases).reshape(p.shape)     # G' = Q_Lᵀ G Q_R
        ema_(m, rotated, beta1)                   # M'_s = β1 M'_{s-1} + (1-β1) G'
        ema_of_squares_(v, rotated, beta2)        # V_s = β2 V_{s-1} + (1-β2) G'²
        normalised = m / v.sqrt().add_(group["eps"])  # M'_s / (sqrt(V_s) + ε)
        direction = mode_products(normalised.reshape(g.shape), bases,
                                  transposed=False)            # Q_L (...) Q_Rᵀ
        p.add_(direction.reshape(p.shape), alpha=-self.step_size(group, s))
        decay_weights_(p, group["lr"], group["weight_decay"])  # W ← (1 - ηλ) W

    def step_size(self, group, s: int) -> float:
        """η √(1 - β2^s) / (1 - β1^s), or η without ``correct_bias``."""
        (beta1, beta2), lr = group["betas"], group["lr"]
        if not group["correct_bias"]:
            return lr
        return lr * math.sqrt(bias_correction(beta2, s)) / bias_correction(beta1, s)

    def refresh_bases(self, p, state, shape, statistics, bases):
        """Each basis by one power iteration; V's entries follow the columns' new
        order, and M' turns into the new bases: Q_newᵀ Q_old M' Q_oldᵀ Q_new."""
        v, turns = state["v"].reshape(shape), []
        for dim, (statistic, basis) in enumerate(zip(statistics, bases)):
            if statistic is None:
                turns.append(None)
                continue
            old = basis.clone()
            v = v.index_select(dim, refresh_eigenbasis_(statistic, basis))  # QR(L Q)
            turns.append(old.T @ basis)                        # Q_oldᵀ Q_new
        state["v"].copy_(v.reshape(p.shape))
        m = state["m"]
        m.copy_(mode_products(m.reshape(shape), turns).reshape(p.shape))
