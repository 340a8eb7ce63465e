r"""One-pass update rules for large CPU models, compiled with ``torch.compile``.

Eager PyTorch runs an update rule one operation at a time: Adam's six lines are
six passes over the parameter.  :class:`~optimlab.optim.base.Optimizer` cuts a
large tensor into chunks that stay in the cache, so memory is read about once,
but every operation still pays its own loop, and ``torch.sqrt`` on a CPU goes
through MKL's vector library, which on this course's AMD CPU is three times
slower than the division next to it.  ``torch.compile`` turns the few lines of a
kernel below into one C++ loop: each element of :math:`\theta, g, m, v` is read
once, updated in registers and written once, as in ``torch.optim``'s fused
kernels, whose speed it reaches.

The kernels are the update rules of the optimizers, written so that one
compiled kernel serves every step: every number that changes from step to step
(the learning rate, the bias corrections, the clip bound) is an argument and
enters through tensor arithmetic, never as an operator's scalar option such as
``value=``, which ``torch.compile`` would freeze and recompile for each new
value.  Flags (``amsgrad``, ...) select a kernel variant and are compiled once
each.  The tests prove every kernel equal to its optimizer's eager ``update``.

One compiled call updates all the parameters of a group (:func:`run` compiles
the loop :func:`each_parameter` around a kernel), so a step costs one call,
not one per parameter.  Shapes are static: the call is compiled once per model
(the parameters' shapes) and set of flags.  On this course's 2-core CPU that
takes about 20 s for a ResNet-18 the first time, 1-3 s in a later process,
which reuses the on-disk cache of ``torch.compile``.  An optimizer therefore
compiles only when asked (``compiled=True``) or, with ``compiled=None``, when
the model is large enough for the compilation to pay: see
:meth:`Optimizer.uses_compiled <optimlab.optim.base.Optimizer.uses_compiled>`.
When compiling fails (no C++ compiler, an unsupported Python), the optimizer
warns once and runs its eager update.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import warnings
from typing import Callable

import torch
import torch._dynamo

#: Variants the compiled loop may have: every kernel x set of flags x model
#: (the parameters' shapes and dtypes).  A test session compiles a hundred.
RECOMPILE_LIMIT = 256

_compiled: dict[Callable, Callable] = {}
_broken: set[Callable] = set()


class _NoCudaRuntimeNotice(logging.Filter):
    """Drops torch's "No CUDA runtime is found, using CUDA_HOME=..." warning, which
    a CUDA build of torch logs on a machine without a GPU when it first compiles a
    CPU kernel: it concerns GPU kernels, which this module never builds, and it
    would otherwise appear in the output of the first optimizer step."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "No CUDA runtime is found" not in record.getMessage()


logging.getLogger("torch.utils.cpp_extension").addFilter(_NoCudaRuntimeNotice())


@functools.lru_cache(maxsize=None)
def available() -> bool:
    """Whether ``torch.compile`` can build CPU kernels here (dynamo and a C++ compiler)."""
    try:
        from torch._inductor import cpp_builder

        return (torch._dynamo.is_dynamo_supported()
                and shutil.which(cpp_builder.get_cpp_compiler()) is not None)
    except Exception:  # an exotic platform: no compiled path, the eager one works
        return False


def each_parameter(kernel: Callable, params, grads, states: dict, numbers: dict) -> None:
    """``kernel`` on every parameter: the loop that ``torch.compile`` compiles.

    ``states`` maps a state name to one tensor per parameter, ``numbers`` holds
    the step's numbers and flags, shared by all.  Compiled as one function, the
    loop becomes a single call per step, whatever the number of parameters: a
    compiled call costs 30-40 µs (dynamo checks its inputs, the wrapper calls
    the C++), which a kernel per parameter would pay 62 times on a ResNet-18,
    as much as the update of its small tensors.
    """
    for i, (p, g) in enumerate(zip(params, grads)):
        kernel(p, g, **{name: tensors[i] for name, tensors in states.items()}, **numbers)


def run(kernel: Callable, params: list, grads: list, **arguments) -> bool:
    """Run the compiled ``kernel`` on every parameter; False (after one warning)
    if it cannot be compiled.

    An argument that is a list holds one tensor per parameter (the state);
    the others are the step's numbers and flags.  The kernels mutate their
    tensor arguments in place; compilation happens before the first mutation,
    so after a False the caller runs its eager update on untouched tensors.
    """
    if kernel in _broken:
        return False
    states = {name: value for name, value in arguments.items() if isinstance(value, list)}
    numbers = {name: _scalar(name, value) if isinstance(value, float) else value
               for name, value in arguments.items() if name not in states}
    try:
        if kernel not in _compiled:  # torch.compile itself refuses some Pythons
            _compiled[kernel] = torch.compile(functools.partial(each_parameter, kernel),
                                              dynamic=False, fullgraph=True)
        with _recompile_limit(RECOMPILE_LIMIT):
            _compiled[kernel](params, grads, states, numbers)
    except Exception as error:  # BackendCompilerFailed, Unsupported, a missing compiler
        _broken.add(kernel)
        warnings.warn(f"optimlab: torch.compile of {kernel.__name__} failed "
                      f"({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
                      f"using the eager update instead", RuntimeWarning, stacklevel=3)
        return False
    return True


@contextlib.contextmanager
def _recompile_limit(limit: int):
    """Dynamo's limit of compiled variants per function set to ``limit`` in the block.

    Every variant is compiled on its first call: more than dynamo's default of 8
    per function, which would end in a hard error.  (Setting the limit around the
    call costs a few microseconds, against 30-40 µs for the call.)  The setting is
    ``recompile_limit`` since torch 2.7, ``cache_size_limit`` before; without
    either, the ``AttributeError`` sends :func:`run` to the eager update.
    """
    config = torch._dynamo.config
    name = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    previous = getattr(config, name)
    setattr(config, name, limit)
    try:
        yield
    finally:
        setattr(config, name, previous)


@functools.lru_cache(maxsize=256)
def _scalar(name: str, value: float) -> torch.Tensor:
    """A float as a 0-dim float64 tensor: ``torch.compile`` may bake a Python
    float into the kernel as a constant, and then compiles again for each new
    value; a tensor argument is read when the kernel runs.  Cached, since the
    parameters of a group share their numbers and the kernels never write
    them, and by name, since two arguments that are one tensor would make
    another variant."""
    return torch.tensor(value, dtype=torch.float64)


def weight_decay_arguments(weight_decay: float, decoupled: bool) -> dict:
    """The kernels' weight-decay arguments: ``decoupled`` shrinks θ, ``l2`` adds
    λθ to the gradient; neither when λ = 0, which spares the kernel the work."""
    return dict(weight_decay=weight_decay, decoupled=decoupled and weight_decay != 0,
                l2=not decoupled and weight_decay != 0)


# --- the kernels --------------------------------------------------------------------

def adam_kernel(p, g, m, v, v_max, beta1: float, beta2: float, eps: float,
                step_size: float, gradient_step: float, lr: float, weight_decay: float,
                decoupled: bool, l2: bool, amsgrad: bool, nesterov: bool):
    r"""Adam, AdamW, AMSGrad, NAdam and RAdam in one pass.

    .. math::
        \theta \leftarrow (1 - \eta\lambda)\,\theta - (a\, m_t + b\, g_t) / (\sqrt{v_t} + e)

    (the decay only with ``decoupled``; ``l2`` adds :math:`\lambda\theta` to
    :math:`g_t` instead), with :math:`a` = ``step_size``, :math:`b` = ``gradient_step`` (NAdam's
    Nesterov term, only with ``nesterov``) and :math:`e` = ``eps``, all chosen
    by the optimizer for this step (bias corrections included); :math:`v_t` is
    replaced by the running maximum with ``amsgrad``.
    """
    if decoupled:
        p.mul_(1 - lr * weight_decay)                         # θ ← (1 - ηλ) θ (AdamW)
    if l2:
        g = g + weight_decay * p                              # g_t + λθ (L2)
    m.add_((1 - beta1) * (g - m))                             # m_t = β1 m_{t-1} + (1-β1) g_t
    v.mul_(beta2).add_((1 - beta2) * g * g)                   # v_t = β2 v_{t-1} + (1-β2) g_t²
    if amsgrad:
        v = v_max.copy_(torch.maximum(v_max, v))              # v_max_t = max(v_max_{t-1}, v_t)
    denominator = v.sqrt() + eps                              # sqrt(v_t) + e
    if nesterov:
        p.add_(-gradient_step * (g / denominator))            # NAdam: - b g_t / (...)
    p.add_(-step_size * (m / denominator))                    # θ_t = θ - a m_t / (sqrt(v_t) + e)


def adopt_kernel(p, g, m, v, lr: float, beta1: float, beta2: float, eps: float,
                 clip: float, weight_decay: float, decoupled: bool, l2: bool,
                 clipped: bool):
    r"""An ADOPT update (:math:`t \ge 1`) in one pass; see :class:`~optimlab.optim.ADOPT`."""
    if decoupled:
        p.add_(-lr * weight_decay * p)                        # θ ← θ - ηλθ
    if l2:
        g = g + weight_decay * p                              # g_t + λθ_{t-1}
    normalised = g * torch.rsqrt(v.clamp(min=eps * eps))      # g_t / max(sqrt(v_{t-1}), ε)
    if clipped:
        normalised = torch.where(normalised.abs() > clip,     # clip(·, c_t)
                                 normalised.sign() * clip, normalised)
    m.add_((1 - beta1) * (normalised - m))                    # m_t = β1 m_{t-1} + (1-β1) g̃_t
    p.add_(-lr * m)                                           # θ_t = θ_{t-1} - η m_t
    v.mul_(beta2).add_((1 - beta2) * g * g)                   # v_t = β2 v_{t-1} + (1-β2) g_t²


def sgd_momentum_kernel(p, g, b, lr: float, momentum: float, keep: float, gain: float,
                        weight_decay: float, l2: bool, nesterov: bool):
    r"""SGD with momentum in one pass: :math:`b_t = \mu' b_{t-1} + k g_t`, then a step
    along :math:`b_t`, or with ``nesterov`` along :math:`k g_t + \mu b_t`.

    :math:`\mu'` (``keep``) is the momentum :math:`\mu`, except on the first
    step of PyTorch's convention, where :math:`\mu' = 0, k = 1` give
    :math:`b_1 = g_1`; :math:`k` (``gain``) is :math:`1 - \tau` in PyTorch's
    convention (:math:`1` with Nesterov) and :math:`1 - \beta` in the EMA one.
    """
    if l2:
        g = g + weight_decay * p                              # g_t + λθ_{t-1}
    b.mul_(keep).add_(gain * g)                               # b_t = μ' b_{t-1} + k g_t
    if nesterov:
        p.add_(-lr * (gain * g + momentum * b))               # θ_t = θ_{t-1} - η (k g_t + μ b_t)
    else:
        p.add_(-lr * b)                                       # θ_t = θ_{t-1} - η b_t
