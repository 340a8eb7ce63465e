"""Exercises of the chapter "Matrix preconditioning: Shampoo and SOAP"."""

from __future__ import annotations

import math

from .checking import Case, Exercise, register

#: The largest side of a tensor that gets a preconditioner matrix: the default of
#: :class:`optimlab.optim.SOAP`.
MAX_PRECONDITION_DIM = 10000


def state_numbers(shape):
    """Reference: the numbers of state that optimlab.optim.Shampoo and
    optimlab.optim.SOAP keep for one tensor of this shape after a step, with
    their defaults (Shampoo: no momentum, a statistic and a root for every
    dimension; SOAP: m and v, a statistic and a basis for every dimension of at
    most 10000 entries of a tensor of order 2 or more, vectors not rotated)."""
    size = math.prod(shape)
    shampoo = sum(2 * n * n for n in shape)
    if len(shape) < 2:
        soap = 2 * size
    else:
        soap = 2 * size + sum(2 * n * n for n in shape if n <= MAX_PRECONDITION_DIM)
    return shampoo, soap


register(Exercise(
    label="ex-mp-memory",
    function_name="state_numbers",
    reference=state_numbers,
    cases=(
        Case("shape = (128, 512), a layer of the char-level GPT", ((128, 512),)),
        Case("shape = (64, 3, 3, 3), a convolution kernel", ((64, 3, 3, 3),)),
        Case("shape = (128,), a vector (bias or LayerNorm)", ((128,),)),
        Case("shape = (50257, 768), an embedding wider than 10000 rows",
             ((50257, 768),)),
        Case("shape = (), a scalar", ((),)),
    ),
    hint="Shampoo keeps a statistic and a root, n × n each, per dimension; SOAP keeps "
         "m and v (one number per entry each) and, for a tensor of order ≥ 2, a "
         "statistic and a basis per dimension of at most 10000 entries.",
))
