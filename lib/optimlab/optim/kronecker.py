r"""Kronecker-factored preconditioners: the pieces Shampoo and SOAP share.

A tensor :math:`G` of shape :math:`n_1 \times \dots \times n_k` gets one
:math:`n_i \times n_i` matrix per dimension, built from the *mode-i Gram
matrix* :math:`G^{(i)} = \operatorname{mat}_i(G)\operatorname{mat}_i(G)^\top`
(:func:`mode_gram`), where :math:`\operatorname{mat}_i(G)` lays the tensor out
as an :math:`n_i \times \prod_{j\ne i} n_j` matrix: :math:`GG^\top` and
:math:`G^\top G` for a matrix.  The preconditioner of the whole tensor is the
Kronecker product of these small matrices, applied one dimension at a time
(:func:`mode_products`), so an :math:`m \times n` layer costs
:math:`m^2 + n^2` numbers instead of :math:`(mn)^2`.

Which dimensions get a matrix (:func:`layout`): those of at most
``max_precondition_dim`` entries; a larger one is left alone (the identity).
With ``merge_dims`` the dimensions of a tensor are first merged, left to right,
while their product stays within ``max_precondition_dim`` (a 3x3 kernel joins
its input channels), as pytorch-optimizer's ``merge_small_dims`` does
(:func:`merged_shape`).
"""

from __future__ import annotations

import torch

from . import validation as check


def layout(shape, group, precondition_1d: bool = True
           ) -> tuple[tuple[int, ...], list[int | None]]:
    """``(shape, sizes)``: the shape the factors see (merged with the group's
    ``merge_dims``) and, per dimension of it, the size of its matrix, or None
    for a dimension larger than the group's ``max_precondition_dim`` (None: no
    limit).  A vector gets a matrix only with ``precondition_1d`` and is never
    merged; a tensor whose dimensions all merge into one becomes a vector."""
    shape, max_dim = tuple(shape), group["max_precondition_dim"]
    if len(shape) == 1 and not precondition_1d:
        return shape, [None]
    if group["merge_dims"] and len(shape) > 1:
        shape = merged_shape(shape, max_dim)
    return shape, [n if max_dim is None or n <= max_dim else None for n in shape]


def merged_shape(shape, max_dim: int) -> tuple[int, ...]:
    """Neighbouring dimensions merged, left to right, while their product is at
    most ``max_dim``: ``(512, 512, 3, 3)`` becomes ``(512, 4608)`` for 10000.

    pytorch-optimizer's ``merge_small_dims`` gives the same, except ``[1]``
    where all merge into one (``(12,)`` here) and a leading 1 before a first
    dimension above ``max_dim`` (``[1, 1000, 90]`` for ``(1000, 30, 3)`` and
    100, ``(1000, 90)`` here)."""
    merged, product = [], 1
    for n in shape:
        if product * n > max_dim and product > 1:
            merged.append(product)
            product = 1
        product *= n
    return (*merged, product)


def factor_state(p: torch.Tensor, sizes, **initial) -> dict[str, torch.Tensor]:
    """The state entries ``{name}_{dim}``, an n x n matrix ``make(n, p)`` per
    dimension of size n that has one, for each ``name=make`` in ``initial``."""
    return {f"{name}_{dim}": make(n, p) for dim, n in enumerate(sizes)
            if n is not None for name, make in initial.items()}


def matrices(state, name: str, sizes) -> list[torch.Tensor | None]:
    """The state's matrices ``{name}_{dim}``, None for a dimension without one."""
    return [None if n is None else state[f"{name}_{dim}"]
            for dim, n in enumerate(sizes)]


def zeros(n: int, p: torch.Tensor) -> torch.Tensor:
    """An n x n matrix of zeros with ``p``'s dtype and device (a ``make`` of
    :func:`factor_state`)."""
    return p.new_zeros((n, n))


def check_layout(state, sizes, name: str) -> None:
    """That the state's matrices ``{name}_{dim}`` fit ``sizes``: the
    hyperparameters that shape them cannot change after a parameter's first step."""
    have = {key: state[key].shape[0] for key in state if key.startswith(name + "_")}
    need = {f"{name}_{dim}": n for dim, n in enumerate(sizes) if n is not None}
    if have != need:
        raise ValueError(f"has the preconditioner matrices {have}, but the "
                         f"group's max_precondition_dim, merge_dims or "
                         f"precondition_1d now ask for {need}; these cannot change "
                         f"after the first step (start a new optimizer)")


def check_hyperparameters(group) -> None:
    """``max_precondition_dim`` (an int >= 1 or None), ``merge_dims`` (which needs
    it) and ``precondition_frequency`` (an int >= 1)."""
    if group["max_precondition_dim"] is not None:
        check.positive_int("max_precondition_dim", group["max_precondition_dim"])
    check.flag("merge_dims", group["merge_dims"])
    if group["merge_dims"] and group["max_precondition_dim"] is None:
        raise ValueError("merge_dims=True needs max_precondition_dim, the size up "
                         "to which dimensions are merged (with None, every tensor "
                         "would become one vector with a matrix of numel² entries)")
    check.positive_int("precondition_frequency", group["precondition_frequency"])


# --- the rule's building blocks -------------------------------------------------

def mode_gram(g: torch.Tensor, dim: int) -> torch.Tensor:
    r""":math:`G^{(i)} = \operatorname{mat}_i(G)\operatorname{mat}_i(G)^\top`: the
    products of the slices of :math:`G` along ``dim``, summed over the other
    dimensions (:math:`GG^\top` for ``dim=0`` of a matrix, :math:`G^\top G`
    for 1)."""
    unfolded = g.movedim(dim, 0).reshape(g.shape[dim], -1)
    return unfolded @ unfolded.T


def mode_products(x: torch.Tensor, matrices, transposed: bool = True
                  ) -> torch.Tensor:
    r""":math:`x \times_1 M_1^\top \times_2 \dots \times_k M_k^\top`: every
    dimension :math:`i` of ``x`` multiplied by :math:`M_i^\top` (by :math:`M_i`
    with ``transposed=False``; None: left alone).

    Each product contracts the leading dimension and appends the new one
    last, so after all :math:`k` the dimensions are back in their order;
    each is one matrix product on a transposed view, without a copy.
    """
    for matrix in matrices:
        if matrix is None:
            x = x.movedim(0, -1)
            continue
        rest = x.shape[1:]
        flat = x.reshape(x.shape[0], -1).T                   # (rest, n_i)
        product = flat @ (matrix if transposed else matrix.T)  # (rest, n_i)
        x = product.view(*rest, matrix.shape[0])
    return x


def eigendecomposition(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.linalg.eigh`` (eigenvalues ascending), or NaNs where ``matrix``
    holds a NaN or an infinity, on which eigh may fail to converge and raise
    in the middle of a step."""
    if not torch.isfinite(matrix).all():
        nan = torch.full_like(matrix, float("nan"))
        return nan[0], nan
    return torch.linalg.eigh(matrix)


def inverse_root(matrix: torch.Tensor, root: int, floor: float) -> torch.Tensor:
    r""":math:`A^{-1/r}` of a symmetric positive definite :math:`A`, from its
    eigendecomposition :math:`A = Q\Lambda Q^\top`:
    :math:`Q \max(\Lambda, f)^{-1/r} Q^\top`.

    Eigenvalues below ``floor`` :math:`f` (Shampoo's :math:`\epsilon`, below
    which the exact ones never fall: only rounding puts them there) are raised
    to it, so the root stays finite.  A NaN in ``matrix`` gives a NaN root.
    """
    eigenvalues, eigenvectors = eigendecomposition(matrix)
    scale = eigenvalues.clamp(min=floor).pow(-1 / root)
    return (eigenvectors * scale) @ eigenvectors.T


def eigenbasis(matrix: torch.Tensor) -> torch.Tensor:
    """The eigenvectors of a symmetric matrix, as columns in order of decreasing
    eigenvalue (SOAP's first basis)."""
    return eigendecomposition(matrix)[1].flip(1)


def refresh_eigenbasis_(matrix: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    r"""One step of power iteration from the old basis :math:`Q`: :math:`S = AQ`,
    its columns sorted by the estimated eigenvalues :math:`q_j^\top A q_j`
    (decreasing), then :math:`Q \leftarrow` the Q factor of :math:`S`'s QR
    decomposition, in place; returns the order of the old columns."""
    product = matrix @ basis
    estimates = (basis * product).sum(dim=0)                      # q_jᵀ A q_j
    order = torch.argsort(estimates, descending=True)
    basis.copy_(torch.linalg.qr(product.index_select(1, order)).Q)
    return order
