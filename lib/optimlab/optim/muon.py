r"""Muon: momentum, then the nearest semi-orthogonal matrix, for hidden weights.

:func:`newton_schulz` orthogonalises a matrix with a few matrix products;
:class:`Muon` applies it to the momentum of each 2-D weight; :func:`muon_with_adamw`
builds the usual split of a model (Muon for the hidden matrices, AdamW for the
embeddings, the output layer and every vector) as one optimizer,
:class:`MuonWithAdamW`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import torch

from . import saved_state
from . import validation as check
from .adam import AdamW
from .base import Optimizer
from .transforms import decay_weights_, ema_

#: (a, b, c) of Jordan's quintic iteration, tuned for speed, not convergence: 5 steps
#: map every singular value in [0.0016, 1] (of X_0) into [0.68, 1.21].
JORDAN_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
#: (a, b, c) of the classic cubic iteration X ← (3X - X Xᵀ X)/2, whose singular
#: values converge to exactly 1 (slowly near 0); c = 0 saves one product per step.
CUBIC_COEFFICIENTS = (1.5, -0.5, 0.0)
#: ``adjust_lr_fn``: how the step of an m x n matrix is scaled (:func:`lr_scale`).
LR_ADJUSTMENTS = ("original", "match_rms_adamw", "spectral_unclamped")
#: ``ns_dtype``: the dtype of the iteration; None computes in the parameter's dtype.
NS_DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32,
             "float64": torch.float64, None: None}


def newton_schulz(matrix: torch.Tensor, steps: int = 5,
                  coefficients=JORDAN_COEFFICIENTS, eps: float = 1e-7,
                  dtype: torch.dtype | None = torch.bfloat16) -> torch.Tensor:
    r"""The Newton–Schulz iteration: an approximation of :math:`UV^\top` for
    :math:`G = U\Sigma V^\top`, a matrix of the shape of ``matrix``.

    .. math::
        X_0 &= G / \max(\lVert G\rVert_F, \epsilon) \\
        X_{k+1} &= a X_k + (b\, X_k X_k^\top + c\, (X_k X_k^\top)^2)\, X_k

    Each step maps every singular value :math:`\sigma` of :math:`X_k` to
    :math:`p(\sigma) = a\sigma + b\sigma^3 + c\sigma^5` and keeps the singular
    vectors; dividing by the Frobenius norm puts every :math:`\sigma` in
    :math:`(0, 1]` first.  A tall matrix is iterated transposed, so that
    :math:`X X^\top` is the smaller Gram matrix: one step costs three products
    (:math:`X X^\top`, its square, the product with :math:`X`): for
    :math:`m \le n`, :math:`2m^2 n + m^3` multiply-adds; two products and
    :math:`2m^2 n` when :math:`c = 0`.  ``steps=0`` returns :math:`X_0`.

    The iteration runs in ``dtype`` (``None``: the matrix's own dtype) and
    returns a new tensor of that dtype; ``matrix`` is not changed.  The
    defaults are those of Jordan's Muon and ``torch.optim.Muon``: 5 steps of
    :data:`JORDAN_COEFFICIENTS` in bfloat16.
    """
    _check_iteration(matrix, steps, coefficients, eps, dtype)
    a, b, c = coefficients
    x = matrix.to(dtype) if dtype is not None else matrix
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T
    x = x / x.norm().clamp(min=eps)                    # X_0 = G / max(‖G‖_F, ε)
    for _ in range(steps):
        gram = x @ x.T                                 # A = X Xᵀ
        if c == 0:
            x = torch.addmm(x, gram, x, beta=a, alpha=b)  # X ← a X + b A X
        else:
            poly = torch.addmm(gram, gram, gram, beta=b, alpha=c)  # B = bA + cA²
            x = torch.addmm(x, poly, x, beta=a)        # X ← a X + B X
    return x.T if tall else x


def lr_scale(adjust_lr_fn: str, shape) -> float:
    r"""The factor :math:`s` of Muon's step :math:`\eta\, s\, O_t` for a matrix of
    ``shape`` :math:`(m, n)` (for a linear layer: fan-out, fan-in).

    * ``"original"`` (Jordan): :math:`\sqrt{\max(1, m/n)}`;
    * ``"match_rms_adamw"`` (Liu et al. 2025, Moonlight):
      :math:`0.2\sqrt{\max(m, n)}`.
      An :math:`m\times n` matrix with all singular values 1 has RMS
      :math:`1/\sqrt{\max(m, n)}`, so the step's RMS becomes :math:`0.2\,\eta`,
      about AdamW's, and AdamW's learning rate and weight decay carry over;
    * ``"spectral_unclamped"`` (Bernstein): :math:`\sqrt{m/n}`.
    """
    rows, cols = shape
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    if adjust_lr_fn == "spectral_unclamped":
        return math.sqrt(rows / cols)
    return math.sqrt(max(1, rows / cols))


class Muon(Optimizer):
    r"""Muon (Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural
    networks"), for 2-D weight matrices only.

    For :math:`t = 1, 2, \dots`, with :math:`B_0 = 0`, for each matrix
    :math:`\theta`:

    .. math::
        B_t &= \mu B_{t-1} + (1 - \mu)\, g_t \\
        \tilde B_t &= (1 - \mu)\, g_t + \mu B_t \quad
            (\text{or } \tilde B_t = B_t \text{ with } \texttt{nesterov=False}) \\
        O_t &= \mathrm{NS}_k(\tilde B_t) \approx U V^\top
            \quad\text{for } \tilde B_t = U \Sigma V^\top \\
        \theta_t &= (1 - \eta\lambda)\,\theta_{t-1} - \eta\, s\, O_t

    :math:`\mathrm{NS}_k` is :func:`newton_schulz` (``ns_steps`` :math:`= k`,
    ``ns_coefficients``, ``eps``, run in ``ns_dtype``); :math:`O_t` keeps the
    directions of the momentum and sets all its singular values to about 1, so
    that rare directions get steps as large as the dominant one.  The scale
    :math:`s` depends on the shape (``adjust_lr_fn``, see :func:`lr_scale`):
    ``"match_rms_adamw"`` is Liu et al. (2025, "Muon is Scalable for LLM
    Training"), whose step has AdamW's RMS.  Weight decay is decoupled and
    multiplied by :math:`\eta` (not :math:`\eta s`), as in Moonlight.

    Muon is for the hidden layers' matrices; embeddings, the output layer and
    vectors (biases, norms) need another rule: a parameter that is not 2-D is
    refused (:func:`muon_with_adamw` splits a model).  Conv filters would have to
    be reshaped to (out, in·k·k), which this class does not do.  The rule needs
    whole matrices, so there is one execution path (no multi-tensor or compiled
    one): a step's time is that of the products of :math:`\mathrm{NS}_k`.

    Defaults are Jordan's: :math:`\eta = 0.02`, :math:`\mu = 0.95`, Nesterov,
    :math:`\lambda = 0`, 5 steps of :data:`JORDAN_COEFFICIENTS` in bfloat16,
    :math:`\epsilon = 10^{-7}`, ``"original"`` scale.  With the same
    hyperparameters the numbers equal ``torch.optim.Muon``'s (also bfloat16).

    **Where implementations differ** (measured in tests/optim/test_muon.py):

    * ``torch.optim.Muon``'s defaults are :math:`\eta = 10^{-3}`,
      :math:`\lambda = 0.1`; its docstring writes :math:`B_t = \mu B_{t-1} + g_t`,
      but its code (and Jordan's current code) keeps the average above.  The
      blog's first version kept PyTorch's SGD buffer
      (:math:`B_t = \mu B_{t-1} + g_t`, Nesterov :math:`g_t + \mu B_t`), the
      momentum above divided by :math:`1 - \mu`; NS divides by the norm
      first, so the updates agree up to rounding and :math:`\epsilon`.
    * With bfloat16 matrices and ``nesterov=False``, ``torch.optim.Muon``
      orthogonalises its momentum buffer in place (``grad.bfloat16()`` is the
      buffer itself), so the buffer is renormalised at every step.
    * Jordan's code divides by :math:`\lVert G\rVert_F + \epsilon`, torch and this
      class by :math:`\max(\lVert G\rVert_F, \epsilon)`: only a momentum of norm
      near :math:`\epsilon` tells them apart.
    * ``ns_dtype``: bfloat16 (the default, as everywhere) changes :math:`O_t` by
      1-2% (relative Frobenius norm) against float32 or float64.
    """

    elementwise = False

    def __init__(self, params, lr: float = 0.02, momentum: float = 0.95,
                 nesterov: bool = True, weight_decay: float = 0.0, *,
                 ns_steps: int = 5, ns_coefficients=JORDAN_COEFFICIENTS,
                 eps: float = 1e-7, adjust_lr_fn: str = "original",
                 ns_dtype: str | None = "bfloat16"):
        defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov,
                        weight_decay=weight_decay, ns_steps=ns_steps,
                        ns_coefficients=ns_coefficients, eps=eps,
                        adjust_lr_fn=adjust_lr_fn, ns_dtype=ns_dtype)
        super().__init__(params, defaults, foreach=None)

    def check(self, group):
        check.common(group)
        check.decay_rate("momentum", group["momentum"])
        check.flag("nesterov", group["nesterov"])
        check.positive_int("ns_steps", group["ns_steps"])
        _check_coefficients(group["ns_coefficients"])
        check.one_of("adjust_lr_fn", group["adjust_lr_fn"], LR_ADJUSTMENTS)
        if group["ns_dtype"] not in NS_DTYPES:
            raise ValueError(f"ns_dtype must be one of {list(NS_DTYPES)}, got "
                             f"{group['ns_dtype']!r}")
        index = [i for i, g in enumerate(self.param_groups) if g is group]
        for i, p in enumerate(group["params"]):
            if p.dim() != 2:
                where = "".join(f" of group {k}" for k in index)  # known once added
                raise ValueError(
                    f"parameter {i}{where} has shape {tuple(p.shape)}: Muon updates "
                    f"2-D weight matrices only; give vectors, embeddings and the "
                    f"output layer to AdamW (optimlab.optim.muon_with_adamw(model) "
                    f"splits a model)")

    def init_state(self, p, group):
        return {"step": 0, "b": torch.zeros_like(p)}

    def update(self, p, g, state, group):
        mu, lr = group["momentum"], group["lr"]
        b = ema_(state["b"], g, mu)                    # B_t = μ B_{t-1} + (1-μ) g_t
        direction = g.lerp(b, mu) if group["nesterov"] else b  # B̃_t (or B_t)
        o = newton_schulz(direction, group["ns_steps"],  # O_t = NS_k(B̃_t)
                          group["ns_coefficients"], group["eps"],
                          NS_DTYPES[group["ns_dtype"]])
        decay_weights_(p, lr, group["weight_decay"])   # θ ← (1 - ηλ) θ
        scale = lr_scale(group["adjust_lr_fn"], p.shape)  # s
        p.add_(o, alpha=-lr * scale)                   # θ_t = θ - η s O_t


class MuonWithAdamW(torch.optim.Optimizer):
    """A :class:`Muon` and an :class:`~optimlab.optim.AdamW`, stepped as one.

    ``param_groups`` lists Muon's groups, then AdamW's (the same dicts, so a
    learning-rate scheduler built on this object changes both optimizers);
    ``step`` checks both optimizers' groups, gradients and state before either
    moves a parameter, then steps Muon and AdamW; ``state_dict`` holds both
    state dicts (under ``"muon"`` and ``"adamw"``), and ``load_state_dict`` checks
    both before loading either.  Groups are added to ``.muon`` or ``.adamw``.
    Usually made by :func:`muon_with_adamw`.
    """

    def __init__(self, muon: Muon, adamw: Optimizer):
        if not isinstance(muon, Muon) or not isinstance(adamw, Optimizer):
            raise TypeError(f"MuonWithAdamW takes an optimlab Muon and an optimlab "
                            f"optimizer, got {type(muon).__name__} and "
                            f"{type(adamw).__name__}")
        self.muon, self.adamw = muon, adamw
        super().__setstate__({"defaults": {}})  # torch's hooks; no groups of its own

    @property
    def optimizers(self) -> tuple[Optimizer, Optimizer]:
        """``(muon, adamw)``, in the order they step."""
        return self.muon, self.adamw

    @property
    def param_groups(self) -> list[dict]:
        """Muon's parameter groups, then AdamW's (the optimizers' own dicts)."""
        return self.muon.param_groups + self.adamw.param_groups

    @property
    def state(self) -> dict:
        """Both optimizers' state, by parameter (a new dict at each call)."""
        return {**self.muon.state, **self.adamw.state}

    def __getstate__(self):
        return dict(self.__dict__)

    def add_param_group(self, param_group) -> None:
        """Refused with a TypeError: a group goes to ``.muon`` or ``.adamw``."""
        raise TypeError("MuonWithAdamW: add a parameter group to one of its "
                        "optimizers: .muon.add_param_group(...) or "
                        ".adamw.add_param_group(...)")

    @torch.no_grad()
    def step(self, closure=None):
        """``closure()`` once, then a step of Muon and of AdamW; returns the loss."""
        loss = check.closure_loss("MuonWithAdamW", closure)
        for optimizer in self.optimizers:  # refuse a bad step before anything moves
            for index, group in enumerate(optimizer.param_groups):
                optimizer._prepare(group, index)
        for optimizer in self.optimizers:
            optimizer.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """``zero_grad`` of both optimizers."""
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        """Both optimizers' state dicts, under ``"muon"`` and ``"adamw"``."""
        return {saved_state.CLASS_KEY: "MuonWithAdamW",
                "muon": self.muon.state_dict(), "adamw": self.adamw.state_dict()}

    def load_state_dict(self, state_dict) -> None:
        """Load both optimizers' parts of ``state_dict`` once both are checked;
        a refused state dict changes neither optimizer."""
        try:
            saved_state.check_class(state_dict, "MuonWithAdamW")
            for key, optimizer in zip(("muon", "adamw"), self.optimizers):
                inner = state_dict.get(key)
                if not isinstance(inner, Mapping):
                    raise ValueError(f"the state_dict has no dict {key!r} (the "
                                     f"state dict of its "
                                     f"{type(optimizer).__name__})")
                with optimizer._named(f".load_state_dict ({key}): "):
                    saved_state.check_loadable(optimizer, inner)
        except (ValueError, TypeError) as error:
            raise type(error)(f"MuonWithAdamW.load_state_dict: {error}") from None
        self.muon.load_state_dict(state_dict["muon"])
        self.adamw.load_state_dict(state_dict["adamw"])


def muon_with_adamw(model: torch.nn.Module, muon: dict | None = None,
                    adamw: dict | None = None, head=None) -> MuonWithAdamW:
    """Muon for the hidden weight matrices of ``model``, AdamW for the rest.

    Muon gets every 2-D parameter except the weights of ``nn.Embedding`` and
    ``nn.EmbeddingBag`` modules and of ``head`` (a module or a list of modules;
    default: the last ``nn.Linear`` of ``model.modules()``, which is the
    output layer of most models; pass it when it is not).  AdamW gets the
    rest: embeddings, the output layer, biases, norms and conv filters (which
    are 4-D).  A tied output layer is its embedding, and goes to AdamW once.
    ``muon`` and ``adamw`` are keyword arguments of :class:`Muon` and
    :class:`~optimlab.optim.AdamW` (their defaults otherwise).
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"muon_with_adamw: model must be a torch.nn.Module (it "
                        f"splits the model's parameters), got "
                        f"{type(model).__name__}")
    if head is None:
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        head = linears[-1:]
    heads = [head] if isinstance(head, torch.nn.Module) else list(head)
    embeddings = [m for m in model.modules()
                  if isinstance(m, (torch.nn.Embedding, torch.nn.EmbeddingBag))]
    kept_out = {id(p) for m in heads + embeddings for p in m.parameters()}
    params = list(dict.fromkeys(model.parameters()))
    hidden = [p for p in params if p.dim() == 2 and id(p) not in kept_out]
    rest = [p for p in params if p.dim() != 2 or id(p) in kept_out]
    for name, chosen in (("Muon", hidden), ("AdamW", rest)):
        if not chosen:
            raise ValueError(f"muon_with_adamw: the model has no parameter for "
                             f"{name} (hidden matrices: {len(hidden)}, others: "
                             f"{len(rest)})")
    return MuonWithAdamW(Muon(hidden, **(muon or {})), AdamW(rest, **(adamw or {})))


def _check_coefficients(coefficients, name: str = "ns_coefficients") -> None:
    if not isinstance(coefficients, (tuple, list)) or len(coefficients) != 3:
        raise ValueError(f"{name} must be three numbers (a, b, c), got "
                         f"{coefficients!r}")
    for letter, value in zip("abc", coefficients):
        check.finite(f"{name} ({letter})", value)


def _check_iteration(matrix, steps, coefficients, eps, dtype) -> None:
    """The arguments of :func:`newton_schulz`, with errors that name them."""
    try:
        if not isinstance(matrix, torch.Tensor) or matrix.dim() != 2:
            got = (f"shape {tuple(matrix.shape)}" if isinstance(matrix, torch.Tensor)
                   else type(matrix).__name__)
            raise ValueError(f"matrix must be a 2-D tensor, got {got}")
        if (isinstance(steps, bool) or not isinstance(steps, numbers.Integral)
                or steps < 0):
            raise ValueError(f"steps must be an int >= 0, got {steps!r}")
        _check_coefficients(coefficients, "coefficients")
        check.positive("eps", eps)
        if dtype is not None and not (isinstance(dtype, torch.dtype)
                                      and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating-point torch.dtype or None, "
                            f"got {dtype!r}")
    except (ValueError, TypeError) as error:
        raise type(error)(f"newton_schulz: {error}") from None
