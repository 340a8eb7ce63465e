r"""Lookahead and SAM: optimizers that drive another optimizer.

Each wraps any ``torch.optim.Optimizer`` (those of :mod:`optimlab.optim` included)
and *shares* its parameter groups: ``wrapper.param_groups`` is the inner
optimizer's list, so a learning-rate scheduler built on the wrapper changes the
inner optimizer's learning rate.

A wrapper's ``state_dict()`` names its class and the inner optimizer's
(``"optimizer"``, ``"inner_optimizer"``) and holds the inner optimizer's state dict
under ``"inner"``; ``load_state_dict`` checks all three before anything is loaded.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import reduce
from typing import Any, Callable

import torch

from . import validation as check
from .saved_state import CLASS_KEY, check_class


@contextmanager
def _named(owner: str):
    """Prefix the message of a ValueError/TypeError with the optimizer's name."""
    try:
        yield
    except (ValueError, TypeError) as error:
        raise type(error)(f"{owner}: {error}") from None


def global_norm(tensors: list[torch.Tensor]) -> torch.Tensor:
    r""":math:`\lVert(x_1, \dots, x_n)\rVert_2` over every entry of every tensor.

    Computed in the widest of their dtypes (at least float32), on the first's device.
    """
    if not tensors:
        return torch.tensor(0.0)
    dtype = reduce(torch.promote_types, (t.dtype for t in tensors), torch.float32)
    device = tensors[0].device
    norms = [torch.linalg.vector_norm(t, dtype=dtype).to(device) for t in tensors]
    return torch.linalg.vector_norm(torch.stack(norms))


class _Wrapper(torch.optim.Optimizer):
    """An optimizer that steps another one and shares its parameter groups."""

    def __init__(self, optimizer: torch.optim.Optimizer, defaults: dict[str, Any]):
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"{type(self).__name__}: optimizer must be a "
                            f"torch.optim.Optimizer, got {optimizer!r}")
        self.optimizer = optimizer
        # torch.optim.Optimizer.__init__ sets self.param_groups = [] (through the
        # setter below: the inner optimizer's list) and adds each group back with
        # add_param_group, which prepares this wrapper's state for the group; if
        # that fails, the inner optimizer gets its groups back.
        groups = list(optimizer.param_groups)
        try:
            super().__init__(groups, defaults)
        except BaseException:
            optimizer.param_groups = groups
            raise

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    @param_groups.setter
    def param_groups(self, groups: list[dict[str, Any]]) -> None:
        self.optimizer.param_groups = groups

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        self.optimizer.add_param_group(param_group)
        self.init_group(self.param_groups[-1])

    def init_group(self, group: dict[str, Any]) -> None:
        """Prepare the wrapper's state for a newly added group."""

    def params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        """The wrapper's class, the inner optimizer's class and the inner
        optimizer's state dict (``"inner"``)."""
        return {CLASS_KEY: type(self).__name__,
                "inner_optimizer": type(self.optimizer).__name__,
                "inner": self.optimizer.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Check ``state_dict`` (:meth:`check_saved`), load the inner optimizer's
        part (which that optimizer checks) and then the wrapper's (:meth:`restore`);
        a refused state dict changes nothing."""
        with _named(f"{type(self).__name__}.load_state_dict"):
            self.check_saved(state_dict)
        self.optimizer.load_state_dict(state_dict["inner"])
        self.restore(state_dict)

    def check_saved(self, state_dict) -> None:
        """That ``state_dict`` was saved by this class around the same inner class."""
        check_class(state_dict, type(self).__name__)
        inner = type(self.optimizer).__name__
        if state_dict.get("inner_optimizer") != inner:
            raise ValueError(f"the state_dict wraps {state_dict.get('inner_optimizer')}, "
                             f"this {type(self).__name__} wraps {inner}")
        if not isinstance(state_dict.get("inner"), dict):
            raise ValueError("the state_dict has no dict 'inner' (the inner optimizer's "
                             "state dict)")

    def restore(self, state_dict) -> None:
        """Load the wrapper's own part of a checked ``state_dict``."""


class Lookahead(_Wrapper):
    r"""Lookahead (Zhang, Lucas, Hinton & Ba, NeurIPS 2019, Algorithm 1).

    The inner optimizer moves the *fast* weights :math:`\theta`; every :math:`k`
    of its steps the *slow* weights :math:`\phi` move part of the way towards
    them and the fast weights restart from there:

    .. math::
        \theta_{t,i} &= \theta_{t,i-1} + A(L, \theta_{t,i-1}), \quad i = 1, \dots, k \\
        \phi_t &= \phi_{t-1} + \alpha\,(\theta_{t,k} - \phi_{t-1}) \\
        \theta_{t+1,0} &= \phi_t

    with :math:`\phi_0 = \theta_{1,0}`, the parameters when the wrapper is created
    (the paper's initial parameters).  Defaults: :math:`k = 5`, :math:`\alpha = 0.5`.
    The count of fast steps is kept per parameter group, under the key
    ``"lookahead_step"`` of the group (so it is saved with the inner optimizer's
    state); ``state_dict()`` also holds the slow weights, so a resumed run equals
    an uninterrupted one.

    **Differences from** ``pytorch_optimizer.Lookahead`` (pinned in the tests): at a
    synchronisation it moves only the parameters that have a gradient in that
    step; here every parameter is synchronised, as in the paper.  Its
    ``pullback_momentum`` option is not in the paper and not here.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, k: int = 5, alpha: float = 0.5):
        with _named("Lookahead"):
            check.positive_int("k", k)
            check.in_unit_interval("alpha", alpha)
        self.k, self.alpha = k, alpha
        super().__init__(optimizer, dict(k=k, alpha=alpha))

    def init_group(self, group):
        group.setdefault("lookahead_step", 0)
        for p in group["params"]:
            if "slow_weights" not in self.state[p]:
                self.state[p]["slow_weights"] = p.detach().clone()  # φ_0 = θ_{1,0}

    def step(self, closure: Callable[[], Any] | None = None):
        """One fast step; every k-th one is followed by a synchronisation."""
        loss = self.optimizer.step(closure)         # θ_{t,i} = θ_{t,i-1} + A(L, θ_{t,i-1})
        for group in self.param_groups:
            group["lookahead_step"] = group.get("lookahead_step", 0) + 1
            if group["lookahead_step"] % self.k == 0:
                self._synchronize(group)
        return loss

    @torch.no_grad()
    def _synchronize(self, group) -> None:
        for p in group["params"]:
            slow = self.state[p]["slow_weights"]
            slow.lerp_(p, self.alpha)               # φ_t = φ_{t-1} + α(θ_{t,k} - φ_{t-1})
            p.copy_(slow)                           # θ_{t+1,0} = φ_t

    def state_dict(self) -> dict[str, Any]:
        """The wrapper's state dict, plus the slow weights of every parameter
        (``"slow_weights"``, by the parameter's index)."""
        slow = {i: self.state[p]["slow_weights"] for i, p in enumerate(self.params())}
        return {**super().state_dict(), "slow_weights": slow}

    def check_saved(self, state_dict) -> None:
        super().check_saved(state_dict)
        params, slow = self.params(), state_dict.get("slow_weights")
        if not isinstance(slow, dict):
            raise ValueError("the state_dict has no dict 'slow_weights'")
        shapes = [tuple(p.shape) for p in params]
        saved = [tuple(slow[i].shape) if isinstance(slow.get(i), torch.Tensor)
                 and slow[i].is_floating_point() else None for i in range(len(params))]
        if len(slow) != len(params) or saved != shapes:
            raise ValueError(f"the state_dict has slow weights of shapes {saved}, the "
                             f"parameters have shapes {shapes}")
        for index, group in enumerate(state_dict["inner"].get("param_groups", [])):
            count = group.get("lookahead_step", 0) if isinstance(group, dict) else 0
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"lookahead_step of parameter group {index} must be an "
                                 f"int >= 0, got {count!r}")

    def restore(self, state_dict) -> None:
        for i, p in enumerate(self.params()):
            slow = state_dict["slow_weights"][i]
            self.state[p]["slow_weights"] = slow.to(p.device, p.dtype, copy=True)


class SAM(_Wrapper):
    r"""Sharpness-aware minimisation (Foret et al., ICLR 2021), and ASAM.

    A step of the base optimizer at :math:`w` uses the gradient at the worst point
    of a ball of radius :math:`\rho` around :math:`w`, to first order:

    .. math::
        \epsilon(w) &= \rho\, T_w^2\, g \,/\, \lVert T_w\, g\rVert_2,
            \qquad g = \nabla L(w) \\
        w &\leftarrow w + \epsilon(w), \quad
            \text{compute } g_{\mathrm{SAM}} = \nabla L(w + \epsilon(w)),
            \quad w \leftarrow w - \epsilon(w) \\
        w &\leftarrow \text{base step of } w \text{ with } g_{\mathrm{SAM}}

    with :math:`T_w = 1` (SAM) or, with ``adaptive=True``, :math:`T_w = |w|`
    element-wise (ASAM, Kwon et al., ICML 2021, whose paper adds a small
    :math:`\eta` to :math:`|w|`; pytorch-optimizer and Foret's reference code do
    not, nor does this).  The norm is taken over all parameters together, and
    ``perturb_eps`` (:math:`10^{-12}`) is added to it, so a zero gradient gives
    no perturbation.  Defaults: :math:`\rho = 0.05` (ASAM needs a larger
    :math:`\rho`, e.g. 0.5 to 2).

    Usage, as in pytorch-optimizer: compute the gradient at :math:`w` first, then
    call ``step(closure)``, where ``closure`` zeroes the gradients, computes the
    loss, calls ``backward()`` and returns the loss; ``step`` returns the loss at
    :math:`w + \epsilon`.  Or call ``first_step()``, the second forward-backward
    pass, then ``second_step()``.  ``state_dict()`` holds the base optimizer's.

    **Differences from** ``pytorch_optimizer.SAM`` (pinned in the tests): it
    computes :math:`\lVert T_w g\rVert` in float32 whatever the parameters' dtype;
    here in their widest dtype.  Its ``rho`` and ``adaptive`` live in the
    parameter groups, where they collide with a base optimizer's own ``rho``
    (Adadelta's); here they are attributes of the wrapper.
    """

    def __init__(self, params, base_optimizer: type[torch.optim.Optimizer],
                 rho: float = 0.05, adaptive: bool = False, perturb_eps: float = 1e-12,
                 **base_kwargs):
        with _named("SAM"):
            check.positive("rho", rho)
            check.flag("adaptive", adaptive)
            check.non_negative("perturb_eps", perturb_eps)
            if not (isinstance(base_optimizer, type)
                    and issubclass(base_optimizer, torch.optim.Optimizer)):
                raise TypeError("base_optimizer must be a torch.optim.Optimizer "
                                f"class, got {base_optimizer!r}")
        self.rho, self.adaptive, self.perturb_eps = rho, bool(adaptive), perturb_eps
        defaults = dict(rho=rho, adaptive=self.adaptive, perturb_eps=perturb_eps)
        super().__init__(base_optimizer(params, **base_kwargs), defaults)

    @property
    def base_optimizer(self) -> torch.optim.Optimizer:
        """The optimizer that SAM steps, built from the ``base_optimizer`` class
        (the same object as ``optimizer``)."""
        return self.optimizer

    @torch.no_grad()
    def first_step(self, zero_grad: bool = False) -> None:
        """Move every parameter that has a gradient to w + ε(w)."""
        params = [p for p in self.params() if p.grad is not None]
        scaled = [p.grad * p.abs() if self.adaptive else p.grad
                  for p in params]                     # T_w g
        norm = global_norm(scaled) + self.perturb_eps  # ‖T_w g‖
        for p, t_g in zip(params, scaled):
            epsilon = t_g * (self.rho / norm).to(p.device)  # ρ T_w g / ‖T_w g‖
            if self.adaptive:
                epsilon.mul_(p.abs())                  # ε = ρ T_w² g / ‖T_w g‖
            self.state[p]["unperturbed"] = p.clone()
            p.add_(epsilon)                            # w ← w + ε(w)
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad: bool = False) -> None:
        """Return to w and take the base optimizer's step with the current gradient."""
        self._return()                                 # w ← w - ε(w)
        self.optimizer.step()                          # base step with ∇L(w + ε)
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def _return(self) -> None:
        """Move every perturbed parameter back to w."""
        for p in self.params():
            saved = self.state.pop(p, {})
            if "unperturbed" in saved:
                p.copy_(saved["unperturbed"])

    def step(self, closure: Callable[[], Any] | None = None):
        """first_step, closure() at w + ε, second_step; returns the closure's loss."""
        if not callable(closure):
            raise TypeError("SAM: step needs closure, a function that zeroes the "
                            "gradients, computes the loss, calls backward() and "
                            f"returns the loss, got closure={closure!r}")
        self.first_step(zero_grad=True)
        try:
            loss = check.closure_loss("SAM", closure)  # L(w + ε) and ∇L(w + ε)
        except BaseException:                          # an error, Ctrl-C: back to w
            self._return()
            raise
        self.second_step()
        return loss
