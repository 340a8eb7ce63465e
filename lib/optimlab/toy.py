r"""The toy problem of Taniguchi et al. (2024), run for many optimizers and seeds at once.

The stochastic objective on :math:`\theta \in [-1, 1]` is

.. math::
    f_t(\theta) = \begin{cases} k^2\,\theta & \text{with probability } 1/k, \\
                                -k\,\theta & \text{otherwise,} \end{cases}

whose mean is :math:`\mathbb{E} f_t(\theta) = \theta`: the optimum is
:math:`\theta^\star = -1`.  The gradient :math:`g_t \in \{k^2, -k\}` does not
depend on :math:`\theta`, so an optimizer's state (:math:`m_t`, :math:`v_t`) and
its unprojected step :math:`\Delta_t` are functions of the gradients alone, and
only the projection :math:`\theta_t = \operatorname{clip}(\theta_{t-1} - \Delta_t, -1, 1)`
involves :math:`\theta`.  :func:`simulate` uses this to be fast:

1. it draws the gradients of a block of steps up front (one stream per seed,
   shared by every method, so that methods are compared on the same draws);
2. each update rule of :data:`RULES` turns the block into the steps
   :math:`\Delta_t` with a handful of array operations over ``[runs, steps]``;
   the moving averages are linear recurrences, evaluated by :func:`linear_scan`;
3. the projection is a composition of clamp maps
   :math:`x \mapsto \operatorname{clip}(x + a, l, h)`, which is again a clamp
   map, so :func:`project` composes them pairwise in a tree and reads
   :math:`\theta_t` at the recorded steps only.

A rule called on a block of one step is the ordinary per-step update over an
array of shape ``[runs]``; ``tests/test_toy.py`` checks each rule against the
optimizers of :mod:`optimlab.optim`, step by step.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["ToyProblem", "toy_learning_rate", "linear_scan", "project", "RULES",
           "ToyRun", "simulate"]


@dataclass(frozen=True)
class ToyProblem:
    r""":math:`f_t(\theta) = k^2\theta` w.p. :math:`1/k`, else :math:`-k\theta`."""

    k: float

    def __post_init__(self):
        if isinstance(self.k, bool) or not isinstance(self.k, (int, float)) \
                or not math.isfinite(self.k) or self.k <= 1:
            raise ValueError(f"k must be a finite number > 1, got {self.k!r}")

    minimizer = -1.0      #: the optimum of the mean objective f(θ) = θ on [-1, 1]
    mean_gradient = 1.0   #: E[g_t] = k² / k - k (1 - 1/k) = 1

    def gradients(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent gradients g_t from ``rng``: k² w.p. 1/k, else -k."""
        return np.where(rng.random(n) < 1 / self.k, self.k ** 2, -float(self.k))

    @staticmethod
    def project(theta):
        """The projection onto the feasible set [-1, 1]."""
        return np.clip(theta, -1.0, 1.0)


def toy_learning_rate(t):
    r"""The paper's schedule :math:`\eta_t = 0.01 / \sqrt{1 + 0.01\,t}`."""
    return 0.01 / np.sqrt(1 + 0.01 * np.asarray(t, dtype=np.float64))


_CHUNK = 16


@functools.lru_cache(maxsize=64)
def _chunk_weights(a: float) -> tuple[np.ndarray, np.ndarray]:
    """W[s, j] = a^(j-s) for s <= j (else 0), and a^(j+1), for one chunk."""
    j = np.arange(_CHUNK)
    return np.triu(a ** np.maximum(j[None, :] - j[:, None], 0)), a ** (j + 1)


def linear_scan(u: np.ndarray, a: float, y0) -> np.ndarray:
    r""":math:`y_t = a\,y_{t-1} + u_t` along the last axis, with :math:`y_{-1}` = ``y0``.

    The steps are cut into chunks of :math:`B = 16`.  Within a chunk,
    :math:`y_j = \sum_{s \le j} a^{j-s} u_s + a^{j+1} y_{\text{start}}` is one
    product with a :math:`B \times B` triangular matrix; the chunks' end values
    obey the same recurrence with :math:`a^B` and are solved recursively.  An
    exponential moving average :math:`m_t = \beta m_{t-1} + (1-\beta) x_t` is
    ``linear_scan((1 - β) x, β, m0)``.
    """
    if not 0 <= a < 1:
        raise ValueError(f"a must be in [0, 1), got {a!r}")
    u = np.asarray(u, dtype=np.float64)
    y0 = np.asarray(y0, dtype=np.float64)
    if y0.shape != u.shape[:-1]:
        y0 = np.broadcast_to(y0, u.shape[:-1])
    n = u.shape[-1]
    chunks = -(-n // _CHUNK)
    padded = np.zeros(u.shape[:-1] + (chunks, _CHUNK))
    padded.reshape(u.shape[:-1] + (-1,))[..., :n] = u
    weights, powers = _chunk_weights(float(a))
    local = padded @ weights                             # Σ_{s≤j} a^(j-s) u_s
    if chunks > 1:
        ends = linear_scan(local[..., -1], a ** _CHUNK, y0)
        starts = np.concatenate([y0[..., None], ends[..., :-1]], axis=-1)
    else:
        starts = y0[..., None]
    y = local + powers * starts[..., None]
    return y.reshape(u.shape[:-1] + (-1,))[..., :n]


def _shift(x: np.ndarray, first) -> np.ndarray:
    """x_{t-1} along the last axis, with ``first`` in front."""
    return np.concatenate([np.broadcast_to(first, x.shape[:-1])[..., None], x[..., :-1]],
                          axis=-1)


# The update rules.  Each takes the gradients g of a block, shape [runs, n], the
# step indices t (from 1) and learning rates eta of the block, shape [n], its state
# (a dict of [runs] arrays, changed in place) and hyperparameters; it returns the
# steps Δ_t of shape [runs, n], so that θ_t = clip(θ_{t-1} - Δ_t, -1, 1).

def _adam(g, t, eta, state, beta1, beta2, eps, clip, amsgrad=False):
    m = linear_scan((1 - beta1) * g, beta1, state["m"])        # (adam-m)
    v = linear_scan((1 - beta2) * g * g, beta2, state["v"])    # (adam-v)
    state["m"][:], state["v"][:] = m[..., -1], v[..., -1]
    if amsgrad:
        v = np.maximum.accumulate(np.concatenate([state["v_max"][..., None], v], -1),
                                  axis=-1)[..., 1:]             # max(v_max_{t-1}, v_t)
        state["v_max"][:] = v[..., -1]
    m_hat = m / _bias_correction(beta1, t)                      # m_t / (1 - β1^t)
    v_hat = v / _bias_correction(beta2, t)                      # v_t / (1 - β2^t)
    return eta * m_hat / (np.sqrt(v_hat) + eps)


def _bias_correction(beta, t):
    """1 - β^t for the steps t of a block; exactly 1.0 once β^t is below rounding."""
    return 1 - beta ** t if beta ** t[0] > 1e-18 else 1.0


def _amsgrad(g, t, eta, state, beta1, beta2, eps, clip):
    return _adam(g, t, eta, state, beta1, beta2, eps, clip, amsgrad=True)


def _clip(x, t, clip):
    if clip is None:
        return x
    c = clip(t)                                                 # c_t = t^(1/4)
    return np.clip(x, -c, c)


def _adopt(g, t, eta, state, beta1, beta2, eps, clip, shift=True, reorder=True):
    v = linear_scan((1 - beta2) * g * g, beta2, state["v"])    # v_t
    v_norm = _shift(v, state["v"]) if shift else v              # v_{t-1}, or v_t unshifted
    scale = np.maximum(np.sqrt(v_norm), eps)                    # max(√v_{t-1}, ε)
    if reorder:                                                 # normalise, then momentum
        m = linear_scan((1 - beta1) * _clip(g / scale, t, clip), beta1, state["m"])
        step = eta * m
    else:                                                       # momentum, then normalise
        m = linear_scan((1 - beta1) * g, beta1, state["m"])
        step = eta * _clip(m / scale, t, clip)
    state["m"][:], state["v"][:] = m[..., -1], v[..., -1]
    return step


def _adopt_no_shift(g, t, eta, state, beta1, beta2, eps, clip):
    return _adopt(g, t, eta, state, beta1, beta2, eps, clip, shift=False)


def _adopt_no_reorder(g, t, eta, state, beta1, beta2, eps, clip):
    return _adopt(g, t, eta, state, beta1, beta2, eps, clip, reorder=False)


@dataclass(frozen=True)
class Rule:
    """An update rule over arrays, with its defaults."""

    update: Callable
    eps: float              #: the default ε of the optimizer it copies
    uses_g0: bool           #: ADOPT's v_0 = g_0²: one extra gradient before step 1
    clipped: bool = False   #: clips its normalised gradient at c_t (ADOPT's Algorithm 2)


#: The methods of the toy experiment.  The two ablations each drop one of the
#: changes of ADOPT's Algorithm 1 to Adam: "without shift" divides by
#: max(√v_t, ε), v_t including g_t; "without reorder" takes the momentum of the
#: raw gradients, then divides it by max(√v_{t-1}, ε).
RULES = {
    "Adam": Rule(_adam, eps=1e-8, uses_g0=False),
    "AMSGrad": Rule(_amsgrad, eps=1e-8, uses_g0=False),
    "ADOPT (Alg. 1)": Rule(_adopt, eps=1e-6, uses_g0=True),
    "ADOPT (Alg. 2)": Rule(_adopt, eps=1e-6, uses_g0=True, clipped=True),
    "Alg. 1 without shift": Rule(_adopt_no_shift, eps=1e-6, uses_g0=True),
    "Alg. 1 without reorder": Rule(_adopt_no_reorder, eps=1e-6, uses_g0=True),
}


def project(theta0: np.ndarray, steps: np.ndarray, at: np.ndarray):
    r"""Apply :math:`\theta_t = \mathrm{clip}(\theta_{t-1} - \Delta_t, -1, 1)` to a block.

    Args:
        theta0: :math:`\theta` before the block, shape ``[runs]``.
        steps: the block's :math:`\Delta_t`, shape ``[runs, n]``.
        at: sorted step counts ``0 <= c <= n`` within the block at which to read θ.

    Returns ``(theta_at, theta_end)``: shape ``[runs, len(at)]`` and ``[runs]``.
    The map :math:`x \mapsto \operatorname{clip}(x + a, l, h)` followed by
    :math:`x \mapsto \operatorname{clip}(x + a', l', h')` is
    :math:`x \mapsto \operatorname{clip}(x + a + a', \operatorname{clip}(l + a', l', h'),
    \operatorname{clip}(h + a', l', h'))`; composing pairs level by level builds a
    tree whose nodes cover :math:`2^p` consecutive steps.
    """
    runs, n = steps.shape
    size = 1 << max(1, (n - 1).bit_length())
    a = np.zeros((runs, size))                  # padding: x -> clip(x, -1, 1), the identity
    a[:, :n] = -steps
    levels = [(a, -1.0, 1.0)]                   # every single step clamps to [-1, 1]
    a2 = a[:, 1::2]
    a = a[:, 0::2] + a2
    lo = np.minimum(np.maximum(a2 - 1.0, -1.0), 1.0)
    hi = np.minimum(np.maximum(a2 + 1.0, -1.0), 1.0)
    levels.append((a, lo, hi))
    while a.shape[1] > 1:
        a1, a2 = a[:, 0::2], a[:, 1::2]
        l1, l2, h1, h2 = lo[:, 0::2], lo[:, 1::2], hi[:, 0::2], hi[:, 1::2]
        a = a1 + a2
        lo = np.minimum(np.maximum(l1 + a2, l2), h2)
        hi = np.minimum(np.maximum(h1 + a2, l2), h2)
        levels.append((a, lo, hi))
    at = np.asarray(at, dtype=np.int64)
    theta = np.repeat(np.asarray(theta0, dtype=np.float64)[:, None], len(at), axis=1)
    done = np.zeros(len(at), dtype=np.int64)       # steps already applied
    for p in range(len(levels) - 1, -1, -1):
        take = (at - done) >= (1 << p)
        if take.any():
            a, lo, hi = (x if np.isscalar(x) else x[:, done[take] >> p] for x in levels[p])
            theta[:, take] = np.minimum(np.maximum(theta[:, take] + a, lo), hi)
            done[take] += 1 << p
    a, lo, hi = (x[:, 0] for x in levels[-1])
    end = np.minimum(np.maximum(theta0 + a, lo), hi)
    return theta, end


@dataclass(frozen=True)
class ToyRun:
    """θ_t at the recorded steps for every method, β2 and seed of one k."""

    k: float
    steps: np.ndarray            #: [K] recorded t (0 included)
    thetas: dict                 #: (method, β2) -> [seeds, K]

    def final(self, method: str, beta2: float) -> np.ndarray:
        """θ_T of every seed."""
        return self.thetas[(method, beta2)][:, -1]


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")


def simulate(k: float, steps: int, *, methods=tuple(RULES), beta2s=(0.1, 0.5, 0.999),
             seeds=range(5), beta1: float = 0.9, learning_rate=toy_learning_rate,
             clip: Callable = lambda t: t ** 0.25, record=200, block: int = 4096,
             theta0: float = 0.0) -> ToyRun:
    r"""Run every method for every :math:`\beta_2` and seed on the problem with ``k``.

    Args:
        k: the problem's parameter (> 1).
        steps: T, the number of updates.
        methods: names from :data:`RULES`.
        beta2s, seeds: the grid; seed ``s`` draws its gradients from
            ``numpy.random.default_rng(s)``, the same for every method.
        learning_rate: :math:`\eta_t` as a function of an array of t.
        clip: the clipping bound :math:`c_t` of ADOPT's Algorithm 2, a function
            of an array of t.
        record: the number of log-spaced steps at which θ is recorded (step 0
            is always recorded), or the sorted steps themselves.
        block: steps drawn and processed at once.
        theta0: the starting point in [-1, 1].
    """
    ToyProblem(k)
    _check_positive_int("steps", steps)
    _check_positive_int("block", block)
    unknown = [name for name in methods if name not in RULES]
    if unknown or not methods:
        raise ValueError(f"methods must be names from {sorted(RULES)}, got {list(methods)}")
    if not all(0 <= b < 1 for b in beta2s) or not len(beta2s):
        raise ValueError(f"beta2s must be values in [0, 1), got {list(beta2s)}")
    if not 0 <= beta1 < 1:
        raise ValueError(f"beta1 must be in [0, 1), got {beta1!r}")
    if not -1 <= theta0 <= 1:
        raise ValueError(f"theta0 must be in [-1, 1], got {theta0!r}")
    problem, seeds = ToyProblem(k), list(seeds)
    rngs = [np.random.default_rng(s) for s in seeds]
    g0 = np.array([problem.gradients(rng, 1)[0] for rng in rngs])      # ADOPT's g_0
    keys = [(name, b2) for name in methods for b2 in beta2s]
    states = {}
    for name, b2 in keys:
        zero = np.zeros(len(seeds))
        states[(name, b2)] = {"m": zero.copy(),
                              "v": g0 ** 2 if RULES[name].uses_g0 else zero.copy(),
                              "v_max": zero.copy()}
    if isinstance(record, (int, np.integer)) and not isinstance(record, bool):
        _check_positive_int("record", record)
        record = np.round(np.logspace(0, math.log10(steps), record))
    marks = np.asarray(record, dtype=np.int64)
    if marks.ndim != 1 or np.any(marks < 1) or np.any(marks > steps) \
            or np.any(np.diff(marks) < 0):
        raise ValueError(f"record must be an int >= 1 or sorted steps in [1, steps], "
                         f"got {record!r}")
    marks = np.concatenate([[0], np.unique(marks)])
    theta = np.full(len(keys) * len(seeds), float(theta0))
    recorded = [theta[:, None]]
    for start in range(0, steps, block):
        n = min(block, steps - start)
        g = np.stack([problem.gradients(rng, n) for rng in rngs])        # [seeds, n]
        t = np.arange(start + 1, start + n + 1, dtype=np.float64)
        eta = learning_rate(t)
        delta = np.concatenate([
            RULES[name].update(g, t, eta, states[(name, b2)], beta1, b2, RULES[name].eps,
                               clip if RULES[name].clipped else None)
            for name, b2 in keys])
        inside = marks[(marks > start) & (marks <= start + n)] - start
        at, theta = project(theta, delta, inside)
        recorded.append(at)
    thetas = np.concatenate(recorded, axis=1).reshape(len(keys), len(seeds), -1)
    return ToyRun(k, marks, {key: thetas[i] for i, key in enumerate(keys)})
