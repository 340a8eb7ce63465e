r"""The small named pieces that every update rule in the course is built from.

Each works in place on a tensor or on a :class:`~optimlab.optim.tensorlist.TensorList`,
so the optimizers read as compositions of them; Adam, for instance, is
``ema_`` (momentum) + ``ema_of_squares_`` (RMS scaling) + ``bias_correction`` + a
learning rate.
"""

from __future__ import annotations

import torch


def ema_(average, x, beta: float):
    r"""Exponential moving average: :math:`a \leftarrow \beta a + (1 - \beta) x`."""
    return average.lerp_(x, 1 - beta)


def ema_of_squares_(average, x, beta: float):
    r"""Moving average of squares: :math:`a \leftarrow \beta a + (1 - \beta) x^2`."""
    return average.mul_(beta).addcmul_(x, x, value=1 - beta)


def heavy_ball_(buffer, g, mu: float):
    r"""Momentum buffer in PyTorch's form: :math:`b \leftarrow \mu b + g`.

    On a single tensor this is one pass, ``torch.add(g, b, alpha=mu, out=b)``.
    """
    if isinstance(buffer, torch.Tensor):
        return torch.add(g, buffer, alpha=mu, out=buffer)
    return buffer.mul_(mu).add_(g)


def bias_correction(beta: float, t: int) -> float:
    r""":math:`1 - \beta^t`, the total weight an EMA started at zero has after t steps.

    Dividing the average by it turns the average into an unbiased one when the
    averaged quantity is stationary.
    """
    return 1 - beta**t


def l2_gradient(g, p, weight_decay: float):
    r""":math:`g + \lambda\theta`: the gradient of the loss plus :math:`\tfrac{\lambda}{2}\lVert\theta\rVert^2`."""
    return g.add(p, alpha=weight_decay) if weight_decay != 0 else g


def decay_weights_(p, lr: float, weight_decay: float):
    r"""Decoupled weight decay :math:`\theta \leftarrow (1 - \eta\lambda)\,\theta`.

    As in PyTorch's AdamW, the decay is multiplied by the learning rate
    :math:`\eta`; Loshchilov & Hutter (2019) write it with a separate
    schedule multiplier instead.
    """
    if weight_decay != 0:
        p.mul_(1 - lr * weight_decay)
    return p


def weight_decay_(p, g, lr: float, weight_decay: float, decoupled: bool):
    """Apply weight decay either way; return the gradient the rule should use."""
    if decoupled:
        decay_weights_(p, lr, weight_decay)
        return g
    return l2_gradient(g, p, weight_decay)
