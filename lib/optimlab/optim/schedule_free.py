r"""Schedule-Free SGD and AdamW: averaging instead of a learning-rate schedule.

Both keep three sequences per parameter (Defazio et al., NeurIPS 2024, "The Road
Less Scheduled"): the base sequence :math:`z`, which takes the (SGD or Adam)
steps, its weighted average :math:`x`, which is the model to evaluate, and the
point :math:`y` between them where the gradients are taken.  For
:math:`t = 1, 2, \dots`, with :math:`z_1 = x_1 = \theta_0`:

.. math::
    y_t &= (1 - \beta)\, z_t + \beta\, x_t \\
    z_{t+1} &= z_t - \eta_t\, u_t, \qquad u_t = u(g_t) + \lambda y_t,
        \quad g_t = \nabla f(y_t) \\
    x_{t+1} &= (1 - c_{t+1})\, x_t + c_{t+1}\, z_{t+1},
    \qquad c_{t+1} = \frac{w_t}{\sum_{i \le t} w_i},
    \quad w_t = t^r\, \eta_{\max,t}^{\,p}

with the warmup :math:`\eta_t = \eta\min(1, t/T_{\rm warmup})` and
:math:`\eta_{\max,t} = \max_{i \le t} \eta_i`.  With :math:`r = 0` and a
constant :math:`\eta`, :math:`c_{t+1} = 1/t` and :math:`x` is the plain average
of the :math:`z`'s: the averaging does what the decay of a schedule would, and
no stopping time must be chosen in advance.

Only :math:`z` is stored; the parameters hold :math:`y` while training and
:math:`x` while evaluating.  Eliminating :math:`x` gives the update of
:math:`y` in place (the reference's, checked in the tests):

.. math::
    y_{t+1} = (1 - c_{t+1})\, y_t + c_{t+1}\, z_t
        + \eta_t\,(\beta(1 - c_{t+1}) - 1)\, u_t

and :meth:`ScheduleFree.eval` / :meth:`ScheduleFree.train` move the parameters
between the two points, :math:`x = (y - (1 - \beta) z)/\beta` and back.
"""

from __future__ import annotations

import math

import torch

from . import validation as check
from .base import Optimizer
from .tensorlist import TensorList
from .transforms import bias_correction, ema_of_squares_, l2_gradient


class ScheduleFree(Optimizer):
    r"""What Schedule-Free SGD and AdamW share: the averaging weights, the warmup,
    the switch between :math:`y` (``train()``) and :math:`x` (``eval()``).

    A subclass gives :meth:`interpolation` (:math:`\beta`) and
    :meth:`direction` (:math:`u_t`).  The state of a parameter: ``z``, its step
    count, :math:`\sum_i w_i` (``weight_sum``) and :math:`\eta_{\max}`
    (``lr_max``).  Each parameter group records in ``train_mode`` whether its
    parameters hold :math:`y` (True) or :math:`x`; a new optimizer is in train
    mode, and a step with a group in eval mode is refused.
    """

    def __init__(self, params, defaults, foreach, compiled):
        super().__init__(params, {**defaults, "train_mode": True}, foreach, compiled)

    # What a subclass provides ----------------------------------------------------
    def interpolation(self, group) -> float:
        r""":math:`\beta`, the weight of :math:`x` in :math:`y`."""
        raise NotImplementedError

    def direction(self, p, g, state, group):
        r""":math:`u_t`, computed at :math:`y_t` (= ``p``); may update the state."""
        raise NotImplementedError

    # The rule --------------------------------------------------------------------
    def check(self, group):
        check.common(group)
        check.non_negative_int("warmup_steps", group["warmup_steps"])
        check.non_negative("r", group["r"])
        check.non_negative("weight_lr_power", group["weight_lr_power"])
        if not isinstance(group["train_mode"], bool):
            raise TypeError(f"train_mode must be True or False (optimizer.train() "
                            f"and optimizer.eval() set it), got "
                            f"{group['train_mode']!r}")

    def init_state(self, p, group):
        return {"step": 0, "weight_sum": 0.0, "lr_max": 0.0,
                "z": p.detach().clone(memory_format=torch.preserve_format)}

    def advance(self, state, group):
        state["step"] += 1                                          # t
        lr = self.scheduled_lr(state, group)
        state["lr_max"] = max(state["lr_max"], lr)                  # η_max,t
        state["weight_sum"] += self.average_weight(state, group)    # Σ_{i≤t} w_i

    def scheduled_lr(self, state, group) -> float:
        r""":math:`\eta_t = \eta \min(1, t/T_{\rm warmup})`."""
        t, warmup = state["step"], group["warmup_steps"]
        return group["lr"] * (t / warmup) if t < warmup else group["lr"]

    def average_weight(self, state, group) -> float:
        r""":math:`w_t = t^r\, \eta_{\max,t}^{\,p}`."""
        t, lr_max = state["step"], state["lr_max"]
        return t ** group["r"] * lr_max ** group["weight_lr_power"]

    def step_numbers(self, state, group) -> tuple[float, float, float]:
        r"""``(η_t, c_{t+1}, η_t (β(1 - c_{t+1}) - 1))``; :math:`c = 0` while
        every weight is 0 (:math:`\eta = 0` so far)."""
        lr, weight_sum = self.scheduled_lr(state, group), state["weight_sum"]
        weight = self.average_weight(state, group)
        average = weight / weight_sum if weight_sum else 0.0
        y_step = lr * (self.interpolation(group) * (1 - average) - 1)
        return lr, average, y_step

    def update(self, p, g, state, group):
        z = state["z"]
        lr, average, y_step = self.step_numbers(state, group)
        u = self.direction(p, g, state, group)    # u_t at y_t
        p.lerp_(z, average)                       # y_{t+1} = (1-c) y_t + c z_t
        p.add_(u, alpha=y_step)                   #     + η_t (β(1-c) - 1) u_t
        z.add_(u, alpha=-lr)                      # z_{t+1} = z_t - η_t u_t

    def kernel_arguments(self, state, group) -> dict:
        """The arguments of :func:`schedule_free_kernel` that both optimizers set."""
        lr, average, y_step = self.step_numbers(state, group)
        decay = float(group["weight_decay"])
        return dict(z=state["z"], lr=lr, average=average, y_step=y_step,
                    weight_decay=decay, decay=decay != 0)

    # train() and eval() ----------------------------------------------------------
    @torch.no_grad()
    def train(self) -> None:
        r"""Put the parameters at :math:`y = (1 - \beta) z + \beta x`, where
        gradients are taken; call before training steps."""
        for group in self._groups_to_switch(train=True):
            self._move_towards_z(group, 1 - self.interpolation(group))
            group["train_mode"] = True

    @torch.no_grad()
    def eval(self) -> None:
        r"""Put the parameters at the average :math:`x = (y - (1 - \beta) z)/\beta`;
        call before evaluating the model or saving it."""
        for group in self._groups_to_switch(train=False):
            self._move_towards_z(group, 1 - 1 / self.interpolation(group))
            group["train_mode"] = False

    def _groups_to_switch(self, train: bool) -> list[dict]:
        """The groups not yet in the mode, after checking every group."""
        switch = "train" if train else "eval"
        for index, group in enumerate(self.param_groups):
            with self._named(f".{switch}: parameter group {index}: "):
                self.check_hyperparameters(group)
        return [group for group in self.param_groups if group["train_mode"] != train]

    def _move_towards_z(self, group, weight: float) -> None:
        """``p ← p + weight (z - p)`` for the group's parameters that have a z."""
        stepped = [p for p in group["params"] if "z" in self.state.get(p, {})]
        for kind in {(p.device, p.dtype) for p in stepped}:
            params = [p for p in stepped if (p.device, p.dtype) == kind]
            z = TensorList([self.state[p]["z"] for p in params])
            TensorList(params).lerp_(z, weight)

    @torch.no_grad()
    def step(self, closure=None):
        """One update (see :class:`Optimizer`); refused while a group is in eval
        mode."""
        for index, group in enumerate(self.param_groups):
            if group["train_mode"] is False:
                raise RuntimeError(
                    f"{type(self).__name__}.step: parameter group {index} is in "
                    f"eval mode: its parameters hold the average x, not the point y "
                    f"where gradients are taken; call optimizer.train() before "
                    f"training (and optimizer.eval() before evaluating or saving "
                    f"the model)")
        return super().step(closure)


class SGDScheduleFree(ScheduleFree):
    r"""Schedule-Free SGD (Defazio et al., NeurIPS 2024), as ``schedulefree`` 1.4.1's
    ``SGDScheduleFree``: the rule of :mod:`optimlab.optim.schedule_free` with

    .. math::
        u_t = g_t + \lambda y_t, \qquad \beta = \text{momentum}.

    :math:`\beta` interpolates between Polyak-Ruppert averaging
    (:math:`\beta = 0`: gradients at :math:`z`, :math:`x` their average) and
    primal averaging (:math:`\beta = 1`: gradients at :math:`x`); as in the
    reference, :math:`0 < \beta < 1` (``eval()`` divides by :math:`\beta`).

    Defaults are the reference's: :math:`\eta = 1`, :math:`\beta = 0.9`,
    :math:`\lambda = 0`, no warmup, :math:`r = 0`, :math:`p = 2`
    (``weight_lr_power``).  Call ``train()`` before training steps and
    ``eval()`` before evaluating or saving (see :class:`ScheduleFree`).
    Where this differs from the reference, see :class:`AdamWScheduleFree`.
    """

    def __init__(self, params, lr: float = 1.0, momentum: float = 0.9,
                 weight_decay: float = 0.0, warmup_steps: int = 0, r: float = 0.0,
                 weight_lr_power: float = 2.0, *, foreach: bool | None = None,
                 compiled: bool | None = None):
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                        warmup_steps=warmup_steps, r=r,
                        weight_lr_power=weight_lr_power)
        super().__init__(params, defaults, foreach, compiled)

    def check(self, group):
        super().check(group)
        check.decay_rate("momentum", group["momentum"])
        check.positive("momentum", group["momentum"])

    def interpolation(self, group):
        return group["momentum"]

    def direction(self, p, g, state, group):
        return l2_gradient(g, p, group["weight_decay"])  # u_t = g_t + λ y_t

    def kernel_call(self, p, g, state, group):
        return schedule_free_kernel, dict(
            **self.kernel_arguments(state, group), v=None, beta2=0.0, eps=0.0,
            scale=1.0, adaptive=False)


class AdamWScheduleFree(ScheduleFree):
    r"""Schedule-Free AdamW (Defazio et al., NeurIPS 2024, Algorithm 1), as
    ``schedulefree`` 1.4.1's ``AdamWScheduleFree``: the rule of
    :mod:`optimlab.optim.schedule_free` with :math:`v_0 = 0`,

    .. math::
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2, \qquad
        \hat v_t = v_t / (1 - \beta_2^t) \\
        u_t &= g_t / (\sqrt{\hat v_t} + \epsilon) + \lambda y_t,
        \qquad \beta = \beta_1.

    The decay :math:`\lambda y_t` is added after the normalisation, so it is
    decoupled as in AdamW (:math:`\eta_t\lambda y_t` per step).  There is no
    first moment: :math:`\beta_1` is the interpolation :math:`\beta`, which
    plays its part.  Defaults are the reference's: :math:`\eta = 0.0025`,
    :math:`\beta = (0.9, 0.999)`, :math:`\epsilon = 10^{-8}`, :math:`\lambda = 0`,
    no warmup, :math:`r = 0`, :math:`p = 2`.

    Where implementations differ (pinned in ``tests/optim/test_schedule_free.py``):

    * bias correction: the paper (and the package's ``AdamWScheduleFreePaper``)
      puts :math:`\sqrt{1 - \beta_2^t}` into :math:`\eta_t`, hence into the
      weights :math:`w_t`, and adds :math:`\epsilon` to :math:`\sqrt{v_t}`.
      The package's default, followed here, corrects :math:`v` instead, so
      its first :math:`1/(1 - \beta_2)` steps weigh as much in :math:`x` as
      the later ones.  On the tests' noisy quadratic (:math:`\eta = 0.03`,
      loss 1200 at the start) the loss at :math:`x` is 204 here against 115
      with the paper's weights after 100 steps, 7.6 against 9.6 after 1000;
    * :math:`w_t` uses the largest :math:`\eta_i` so far where the paper uses
      :math:`\eta_t`: the same with a constant :math:`\eta` and a linear
      warmup, not after an ``lr`` lowered by hand or a scheduler;
    * the reference counts steps and sums weights per parameter group, also
      for a parameter without a gradient in that step; here, as in
      ``torch.optim``, each parameter counts its own steps, so a parameter
      that missed a step resumes as if the step had not happened;
    * the reference starts in eval mode and refuses every step until
      ``train()`` is called, and checks only the first group's mode; here a
      new optimizer is in train mode (:math:`x = y` before the first step)
      and every group is checked;
    * the reference overwrites ``p.grad`` with :math:`u_t`; here the
      gradients are left as they are.

    ``train()`` after ``eval()`` returns to :math:`y` up to rounding (an ulp,
    not bit for bit), as in the reference; both use the group's current
    :math:`\beta`, so change :math:`\beta` only in eval mode.
    """

    def __init__(self, params, lr: float = 0.0025, betas=(0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, warmup_steps: int = 0,
                 r: float = 0.0, weight_lr_power: float = 2.0, *,
                 foreach: bool | None = None, compiled: bool | None = None):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        warmup_steps=warmup_steps, r=r,
                        weight_lr_power=weight_lr_power)
        super().__init__(params, defaults, foreach, compiled)

    def check(self, group):
        super().check(group)
        check.positive("betas[0] (beta1)", group["betas"][0])

    def init_state(self, p, group):
        return {**super().init_state(p, group), "v": torch.zeros_like(p)}

    def interpolation(self, group):
        return group["betas"][0]

    def normalisation(self, state, group) -> tuple[float, float]:
        r"""``(ε s, s)`` with :math:`s = \sqrt{1 - \beta_2^t}`:
        :math:`\sqrt{\hat v_t} + \epsilon = (\sqrt{v_t} + \epsilon s)/s`."""
        s = math.sqrt(bias_correction(group["betas"][1], state["step"]))
        return group["eps"] * s, s

    def direction(self, p, g, state, group):
        v, eps_s, s = state["v"], *self.normalisation(state, group)
        ema_of_squares_(v, g, group["betas"][1])       # v_t = β2 v + (1-β2) g_t²
        denominator = v.sqrt().add_(eps_s)             # s (sqrt(v̂_t) + ε)
        normalised = g.mul(s).div_(denominator)        # g_t / (sqrt(v̂_t) + ε)
        return l2_gradient(normalised, p, group["weight_decay"])  # u_t = … + λ y_t

    def kernel_call(self, p, g, state, group):
        eps_s, s = self.normalisation(state, group)
        return schedule_free_kernel, dict(
            **self.kernel_arguments(state, group), v=state["v"],
            beta2=float(group["betas"][1]), eps=eps_s, scale=s, adaptive=True)


def schedule_free_kernel(p, g, z, v, lr: float, average: float, y_step: float,
                         beta2: float, eps: float, scale: float, weight_decay: float,
                         adaptive: bool, decay: bool):
    r"""A Schedule-Free SGD (or, ``adaptive``, AdamW) update of :math:`y` (= ``p``)
    and :math:`z` in one pass (see :mod:`optimlab.optim.compiled`)."""
    if adaptive:
        v.mul_(beta2).add_((1 - beta2) * g * g)       # v_t = β2 v + (1-β2) g_t²
        g = g * scale / (v.sqrt() + eps)              # g_t / (sqrt(v̂_t) + ε)
    if decay:
        g = g + weight_decay * p                      # u_t = ... + λ y_t
    p.add_(average * (z - p) + y_step * g)            # y_{t+1}
    z.add_(-lr * g)                                   # z_{t+1} = z_t - η_t u_t
