r"""The five small tasks of the optimizer benchmark (float64, CPU, seeded).

Each task states its budget of updates, its evaluation points, the target of
its time-to-target, and what it reports; :meth:`Task.problem` builds one run's
problem for a seed.  A :class:`Problem` gives the gradient of update ``t``
(counted from 1) at any point -- the same noise, minibatch or draw for every
call within an update, so that SAM's second gradient sees the same sample --
and the reported objective at an evaluation point.  The gradients are written
by hand (no autograd in the loop); ``tests/test_choosing_small.py`` checks them
against autograd.

* ``quadratic``: :math:`f(W) = \tfrac12 \operatorname{tr}((W - W^\star)^\top H
  (W - W^\star))` for a 50 × 4 matrix :math:`W` (four independent columns, a
  multi-output least squares), :math:`H` with eigenvalues log-spaced from 1 to
  1000 rotated by a fixed random orthogonal matrix; the stochastic gradient is
  the exact one plus Gaussian noise of standard deviation :data:`NOISE` per
  entry.  Reported: the true :math:`f(W) - f^\star`.
* ``rosenbrock``: the gradient-descent chapter's :math:`(1 - x)^2 + 100(y -
  x^2)^2` from :math:`(-1.5, 2)`, exact gradients: the task is deterministic.
* ``toy``: the ADOPT chapter's stochastic problem with :math:`k = 10`
  (:mod:`optimlab.toy`), :math:`\theta_0 = 0`, projected onto :math:`[-1, 1]`
  after every update.  Reported: :math:`\theta + 1`, the distance to
  :math:`\theta^\star = -1` and the excess of the mean objective :math:`\theta`,
  averaged over the updates since the previous evaluation point (a single
  :math:`\theta_t` jumps with every rare large gradient); at the end also
  :math:`\theta_T` and its distance.
* ``sparse``: the AdaGrad chapter's logistic regression on 30 binary features
  of frequencies 0.5 … 0.005 (its 4,000 examples, drawn as there, are the
  training set; 4,000 more from the same model are the validation set),
  minibatches of 32.  Reported: the validation loss; at the end also the mean
  :math:`|w_i - w^\star_i|` over the rare features (in < 2% of the examples)
  and over the others, :math:`w^\star` the training loss's minimiser.
* ``nonstationary``: the online cyclic problem of Part II
  (:class:`optimlab.online.CyclicProblem`, :math:`C = 3`) whose sign switches
  about every 400 rounds, so that :math:`\theta^\star_t` alternates between -1
  and +1; projected onto :math:`[-1, 1]`.  Reported: the average tracking
  error :math:`\frac1t\sum_{s \le t} |\theta_{s-1} - \theta^\star_s|` (the
  dynamic regret against the mean loss of each phase, divided by its slope).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..landscapes import Quadratic, Rosenbrock
from ..online import CyclicProblem
from ..toy import ToyProblem

__all__ = ["Problem", "Task", "TASKS", "task", "evaluation_steps", "NOISE"]

#: Standard deviation of the quadratic's gradient noise, per entry.
NOISE = 1.0
#: Evaluation points per run (log-spaced between 1 and the budget, and 0).
EVALUATIONS = 32


def evaluation_steps(updates: int, count: int = EVALUATIONS) -> tuple[int, ...]:
    """0 and ``count`` - 1 log-spaced updates up to ``updates`` (duplicates
    merged)."""
    spaced = np.unique(np.round(np.logspace(0, math.log10(updates), count - 1)))
    return (0, *(int(t) for t in spaced))


class Problem:
    """One run's problem: its start, gradients and reported objective."""

    #: Whether the parameters are projected onto [-1, 1] after every update.
    constrained = False
    #: Whether :meth:`observe` wants the point before every update.
    online = False

    def initial(self) -> torch.Tensor:
        """The starting point of the run, a new tensor."""
        raise NotImplementedError

    def gradient(self, theta: torch.Tensor, t: int) -> torch.Tensor:
        """The (stochastic) gradient of update ``t`` at ``theta``, a new tensor."""
        raise NotImplementedError

    def observe(self, point: torch.Tensor, t: int) -> None:
        """The point before update ``t`` (online tasks keep their regret here)."""

    def evaluate(self, point: torch.Tensor, t: int) -> float:
        """The reported objective after ``t`` updates."""
        raise NotImplementedError

    def extras(self, point: torch.Tensor) -> dict[str, float]:
        """Further numbers reported at the end of a run."""
        return {}


class Task:
    """A named problem family with its budget, target and stated constants."""

    name = ""
    objective = ""              #: what ``Problem.evaluate`` reports
    deterministic = False       #: the seed changes nothing
    log_scale = False           #: compare final values as log10 (they span decades)
    updates = 0
    target = 0.0                #: updates-to-target: the first evaluation <= target

    def __init__(self, updates: int | None = None):
        self.updates = int(updates or type(self).updates)
        if self.updates < 1:
            raise ValueError(f"{self.name}: updates must be >= 1, got {updates!r}")

    @property
    def eval_steps(self) -> tuple[int, ...]:
        """The update counts after which the objective is reported."""
        return evaluation_steps(self.updates)

    def constants(self) -> dict:
        """The task's stated numbers (without budget and target)."""
        return {}

    def spec(self) -> dict:
        """The task as stored in its record: budget, target and constants."""
        return {"name": self.name, "objective": self.objective,
                "deterministic": self.deterministic, "log_scale": self.log_scale,
                "updates": self.updates, "eval_steps": list(self.eval_steps),
                "target": self.target, "constants": self.constants()}

    def problem(self, seed: int) -> Problem:
        """The problem of the run with ``seed`` (its data and noise)."""
        raise NotImplementedError


class _QuadraticProblem(Problem):
    def __init__(self, landscape: Quadratic, w_star, noise: torch.Tensor):
        self.landscape, self.w_star, self.noise = landscape, w_star, noise

    def initial(self):
        return torch.zeros_like(self.w_star)

    def exact_gradient(self, theta):
        return self.landscape.A @ (theta - self.w_star)          # H (W - W*)

    def gradient(self, theta, t):
        return self.exact_gradient(theta) + NOISE * self.noise[t - 1]

    def evaluate(self, point, t):
        gap = (point - self.w_star).T                # rows: the columns of W - W*
        return float(self.landscape(gap).sum())      # Σ_j ½ d_jᵀ H d_j


class QuadraticTask(Task):
    name = "quadratic"
    objective = "f(W) - f*, the true objective"
    log_scale = True
    updates = 2000
    target = 1.0
    rows, columns, condition, structure_seed = 50, 4, 1000.0, 0

    def constants(self):
        return {"shape": [self.rows, self.columns],
                "eigenvalues": [1.0, self.condition], "spacing": "log",
                "noise_std": NOISE, "structure_seed": self.structure_seed,
                "start": "W = 0"}

    def structure(self) -> tuple[Quadratic, torch.Tensor]:
        """H (as a :class:`Quadratic`) and W*, fixed by :attr:`structure_seed`."""
        generator = torch.Generator().manual_seed(self.structure_seed)
        gaussian = torch.randn(self.rows, self.rows, generator=generator,
                               dtype=torch.float64)
        q, r = torch.linalg.qr(gaussian)
        rotation = q * torch.sign(torch.diagonal(r))  # a Haar-random rotation
        eigenvalues = torch.logspace(0, math.log10(self.condition), self.rows,
                                     dtype=torch.float64)
        hessian = rotation @ torch.diag(eigenvalues) @ rotation.T
        w_star = torch.randn(self.rows, self.columns, generator=generator,
                             dtype=torch.float64)
        return Quadratic((hessian + hessian.T) / 2), w_star

    def problem(self, seed):
        landscape, w_star = self.structure()
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(self.updates, self.rows, self.columns,
                            generator=generator, dtype=torch.float64)
        return _QuadraticProblem(landscape, w_star, noise)


class _RosenbrockProblem(Problem):
    landscape = Rosenbrock()
    start = (-1.5, 2.0)

    def initial(self):
        return torch.tensor(self.start, dtype=torch.float64)

    def gradient(self, theta, t):
        a, b = self.landscape.a, self.landscape.b
        x, y = theta[0], theta[1]
        bend = y - x * x
        return torch.stack([-2 * (a - x) - 4 * b * x * bend, 2 * b * bend])

    def evaluate(self, point, t):
        return float(self.landscape(point))


class RosenbrockTask(Task):
    name = "rosenbrock"
    objective = "f(x, y), whose minimum is 0 at (1, 1)"
    deterministic = True
    log_scale = True
    updates = 2000
    target = 1e-3

    def constants(self):
        return {"a": 1.0, "b": 100.0, "start": list(_RosenbrockProblem.start)}

    def problem(self, seed):
        return _RosenbrockProblem()


class _LinearProjectedProblem(Problem):
    """f_t(θ) = c_t θ on [-1, 1]: the gradient c_t does not depend on θ."""

    constrained = True

    def __init__(self, slopes: torch.Tensor):
        self.slopes = slopes

    def initial(self):
        return torch.zeros(1, dtype=torch.float64)

    def gradient(self, theta, t):
        return self.slopes[t - 1].reshape(1).clone()


class _ToyProblem(_LinearProjectedProblem):
    """Reports θ + 1 averaged over the points of the updates since the last
    evaluation (θ_(s-1) for s in the window): one θ_T alone is very noisy."""

    online = True

    def __init__(self, slopes):
        super().__init__(slopes)
        self.window_sum, self.window_count = 0.0, 0

    def observe(self, point, t):
        self.window_sum += float(point[0]) + 1.0     # θ - θ*, θ* = -1
        self.window_count += 1

    def evaluate(self, point, t):
        if t == 0:
            return float(point[0]) + 1.0
        value = self.window_sum / self.window_count
        self.window_sum, self.window_count = 0.0, 0
        return value

    def extras(self, point):
        theta = float(point[0])
        return {"final_theta": theta, "final_distance": theta + 1.0}


class ToyTask(Task):
    name = "toy"
    objective = ("θ + 1, the distance to θ* = -1 (the mean objective's excess), "
                 "averaged over the updates since the previous evaluation")
    updates = 2000
    target = 0.1
    k = 10

    def constants(self):
        return {"k": self.k, "start": 0.0, "feasible_set": [-1.0, 1.0]}

    def problem(self, seed):
        rng = np.random.default_rng(seed)
        return _ToyProblem(torch.from_numpy(ToyProblem(self.k).gradients(
            rng, self.updates)))


class _SparseProblem(Problem):
    def __init__(self, data: dict, batches: torch.Tensor):
        self.data, self.batches = data, batches

    def initial(self):
        return torch.zeros(self.data["x_train"].shape[1], dtype=torch.float64)

    def gradient(self, theta, t):
        batch = self.batches[t - 1]
        x, y = self.data["x_train"][batch], self.data["y_train"][batch]
        return (torch.sigmoid(x @ theta) - y) @ x / len(batch)  # X_Bᵀ(σ - y_B)/|B|

    def evaluate(self, point, t):
        return logistic_loss(point, self.data["x_val"], self.data["y_val"])

    def extras(self, point):
        error = (point - self.data["w_star"]).abs()
        rare = self.data["rare"]
        gap = logistic_loss(point, self.data["x_train"], self.data["y_train"]) \
            - self.data["f_star"]
        return {"rare_feature_error": float(error[rare].mean()),
                "frequent_feature_error": float(error[~rare].mean()),
                "training_gap": gap}


def logistic_loss(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    """The mean logistic loss of the weights ``w`` on ``(x, y)``."""
    z = x @ w
    return float((F.softplus(z) - y * z).mean())


class SparseTask(Task):
    name = "sparse"
    objective = "the validation loss (mean logistic loss on held-out examples)"
    updates = 1000
    target = 0.5
    examples, features, batch_size, rare_below = 4000, 30, 32, 0.02
    data_seed, validation_seed = 0, 1

    def constants(self):
        return {"features": self.features, "frequencies": [0.5, 0.005],
                "train_examples": self.examples,
                "validation_examples": self.examples,
                "batch_size": self.batch_size, "rare_below": self.rare_below,
                "data_seed": self.data_seed, "validation_seed": self.validation_seed}

    def data(self) -> dict:
        """The chapter's training set, a validation set, w* and f* (Newton)."""
        frequency = torch.logspace(math.log10(0.5), math.log10(0.005), self.features,
                                   dtype=torch.float64)

        def features(generator):             # feature i active with frequency[i]
            return (torch.rand((self.examples, self.features), generator=generator,
                               dtype=torch.float64) < frequency).double()

        def labels(x, generator):            # 1 with probability sigmoid(x·w_true)
            return (torch.rand(self.examples, generator=generator, dtype=torch.float64)
                    < torch.sigmoid(x @ w_true)).double()

        generator = torch.Generator().manual_seed(self.data_seed)
        x = features(generator)
        signs = torch.randn(self.features, generator=generator,
                            dtype=torch.float64).sign()
        w_true = signs * torch.linspace(0.5, 3.0, self.features, dtype=torch.float64)
        y = labels(x, generator)
        held_out = torch.Generator().manual_seed(self.validation_seed)
        x_val = features(held_out)
        y_val = labels(x_val, held_out)
        w_star = torch.zeros(self.features, dtype=torch.float64)
        n = self.examples
        for _ in range(25):                                      # Newton's method
            p = torch.sigmoid(x @ w_star)
            hessian = x.T @ (x * (p * (1 - p))[:, None]) / n
            w_star = w_star - torch.linalg.solve(hessian, x.T @ (p - y) / n)
        return {"x_train": x, "y_train": y, "x_val": x_val, "y_val": y_val,
                "w_star": w_star, "f_star": logistic_loss(w_star, x, y),
                "rare": frequency < self.rare_below}

    def problem(self, seed):
        if not hasattr(self, "_data"):
            self._data = self.data()                 # the same for every seed
        generator = torch.Generator().manual_seed(seed)
        batches = torch.randint(0, self.examples, (self.updates, self.batch_size),
                                generator=generator)
        return _SparseProblem(self._data, batches)


class _SwitchingProblem(_LinearProjectedProblem):
    online = True

    def __init__(self, slopes, optimum: torch.Tensor):
        super().__init__(slopes)
        self.optimum, self.error_sum = optimum, 0.0

    def observe(self, point, t):
        self.error_sum += abs(float(point[0]) - float(self.optimum[t - 1]))

    def evaluate(self, point, t):
        if t == 0:
            return abs(float(point[0]) - float(self.optimum[0]))
        return self.error_sum / t


class NonstationaryTask(Task):
    name = "nonstationary"
    objective = "the average tracking error (1/t) Σ_s |θ_(s-1) - θ*_s|"
    updates = 2000
    target = 0.1
    C, period, phase, jitter = 3.0, 3, 400, 100

    def constants(self):
        return {"C": self.C, "period": self.period, "mean_phase": self.phase,
                "switch_jitter": self.jitter, "start": 0.0,
                "feasible_set": [-1.0, 1.0]}

    def switches(self, seed: int) -> list[int]:
        """The rounds at which the sign flips: every ``phase`` rounds, each moved
        by a whole number drawn uniformly from ±``jitter``."""
        rng = np.random.default_rng(seed)
        nominal = range(self.phase, self.updates, self.phase)
        return [t + int(rng.integers(-self.jitter, self.jitter + 1))
                for t in nominal]

    def problem(self, seed):
        cyclic = CyclicProblem(self.C, self.period)
        if not hasattr(self, "_slopes"):             # c_t, the same for every seed
            self._slopes = torch.cat([cyclic.gradients(t, (1,))
                                      for t in range(1, self.updates + 1)])
        sign = torch.ones(self.updates, dtype=torch.float64)
        for switch in self.switches(seed):
            sign[switch - 1:] *= -1                  # rounds t >= switch flipped
        optimum = sign * cyclic.minimizer                       # θ*_t = -sign_t
        return _SwitchingProblem(sign * self._slopes, optimum)


#: The tasks by name, in the order of the benchmark.
TASKS = {cls.name: cls for cls in (QuadraticTask, RosenbrockTask, ToyTask,
                                   SparseTask, NonstationaryTask)}


def task(name: str, updates: int | None = None) -> Task:
    """The task ``name`` with its budget (or ``updates``, for tests)."""
    if name not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}, got {name!r}")
    return TASKS[name](updates)
