"""The protocol of the small-task benchmark: one learning-rate search per
optimizer on a search seed, then the chosen rate on the final seeds.

For each task (:mod:`.small_tasks`) and each optimizer of the table
(:mod:`.small_optimizers`):

1. **search**: the rates ``default × 10^(k/2)`` for k = -4 … 4 (the library's
   default learning rate divided and multiplied by up to 100, a factor √10
   apart), each run once with :data:`SEARCH_SEED`, which is not a final seed.
   A run's score is its final reported objective (on the validation data where
   the task has data); a diverged run scores worst; a tie goes to the smaller
   rate.  While the best rate is at an edge of the grid (strictly better than
   its neighbour, or every run diverged), the grid gains one more rate beyond
   that edge, at most :data:`MAX_WIDENING` times per side; each widening is
   recorded, and so is a best rate still at the edge after the limit;
2. **final**: the chosen rate with each of :data:`FINAL_SEEDS` (a deterministic
   task: the first one only, since every seed gives the same run);
3. **cost**: the bytes of the optimizer's state per parameter after
   :data:`STATE_UPDATES` updates, and (:func:`time_updates`, not reproducible,
   kept apart) the time of an update relative to SGD's.

Every optimizer gets the task's number of updates; a run records its objective
at the task's evaluation points, its final value, the first evaluation point at
or below the task's target (``updates_to_target``, None if never) and whether it
diverged (a non-finite objective or parameter; the run stops there and its
remaining evaluations are None).
"""

from __future__ import annotations

import math
import time
from typing import Callable

import torch

from .small_optimizers import (ENTRIES, HYPERPARAMETER_RULE, Entry,
                               describe_hyperparameters, entry,
                               hyperparameter_count, missing_from_table,
                               state_bytes)
from .small_tasks import Task

__all__ = ["SEARCH_SEED", "FINAL_SEEDS", "GRID_EXPONENTS", "MAX_WIDENING",
           "STATE_UPDATES", "rate", "run_one", "score", "choose", "search",
           "final_seeds", "describe_entry", "measure_optimizer",
           "state_per_parameter", "time_updates", "measure_task", "protocol"]

#: The seed of the learning-rate search (never one of the final seeds).
SEARCH_SEED = 1000
#: The seeds of the final runs at the chosen rate.
FINAL_SEEDS = (0, 1, 2, 3, 4)
#: The searched rates are the default rate times 10 ** (k / 2) for these k.
GRID_EXPONENTS = tuple(range(-4, 5))
#: At most this many rates are added beyond either edge of the grid.
MAX_WIDENING = 8
#: Updates before the optimizer's state is measured (bytes per parameter).
STATE_UPDATES = 20
TIMING_ROUNDS, TIMING_UPDATES, TIMING_WARMUP = 9, 40, 20


def protocol() -> dict:
    """The protocol's constants, as the records state them."""
    return {"search_seed": SEARCH_SEED, "final_seeds": list(FINAL_SEEDS),
            "grid": "default_lr * 10**(k/2)",
            "grid_exponents": list(GRID_EXPONENTS),
            "max_widening_per_side": MAX_WIDENING,
            "score": "final objective of the search seed; diverged = worst; "
                     "ties: the smaller rate",
            "state_updates": STATE_UPDATES,
            "hyperparameter_rule": HYPERPARAMETER_RULE,
            "schedule": "constant learning rate", "dtype": "float64",
            "device": "cpu"}


def rate(item: Entry, exponent: int) -> float:
    """The grid's learning rate ``default × 10^(exponent/2)``."""
    return item.default_lr * 10 ** (exponent / 2)


def _update(problem, item: Entry, optimizer, theta: torch.Tensor, t: int) -> None:
    """One update: gradient(s), step, projection."""
    theta.grad = problem.gradient(theta.detach(), t)
    if item.gradients_per_update == 2:                 # SAM: the gradient at w + ε
        def closure():
            theta.grad = problem.gradient(theta.detach(), t)
            return 0.0
        optimizer.step(closure)
    else:
        optimizer.step()
    if problem.constrained:
        item.project(optimizer, theta)


def _start(task: Task, item: Entry, lr: float, seed: int):
    problem = task.problem(seed)
    theta = problem.initial().requires_grad_(True)
    return problem, theta, item.build([theta], lr)


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def run_one(task: Task, item: Entry, lr: float, seed: int) -> dict:
    """One run of ``item`` at ``lr`` on ``task``'s problem for ``seed``."""
    problem, theta, optimizer = _start(task, item, lr, seed)
    steps = task.eval_steps
    curve: list[float | None] = []
    reached, diverged = None, False

    def evaluate(t: int) -> None:
        nonlocal reached, diverged
        point = item.point(optimizer, theta)
        value = problem.evaluate(point, t)
        if not (math.isfinite(value) and bool(torch.isfinite(point).all())):
            diverged = True
            return
        curve.append(value)
        if reached is None and value <= task.target:
            reached = t

    evaluate(0)
    due = iter(steps[1:])
    next_eval = next(due, None)
    for t in range(1, task.updates + 1):
        if diverged:
            break
        if problem.online:
            problem.observe(item.point(optimizer, theta), t)
        _update(problem, item, optimizer, theta, t)
        if t == next_eval:
            evaluate(t)
            next_eval = next(due, None)
    curve += [None] * (len(steps) - len(curve))
    extras = {} if diverged else {
        name: _finite_or_none(value)
        for name, value in problem.extras(item.point(optimizer, theta)).items()}
    return {"seed": seed, "lr": lr, "curve": curve, "final": curve[-1],
            "updates_to_target": reached, "diverged": diverged, "extras": extras}


def score(run: dict) -> float:
    """A search run's score: its final objective, +inf when it diverged."""
    return math.inf if run["diverged"] or run["final"] is None else run["final"]


def choose(runs: dict[int, dict]) -> tuple[int, str | None]:
    """``(best exponent, side to widen or None)`` for search runs by exponent."""
    exponents = sorted(runs)
    scores = [score(runs[k]) for k in exponents]
    best = exponents[scores.index(min(scores))]        # ties: the smaller rate
    if len(exponents) > 1 and best == exponents[0] and (
            scores[0] < scores[1] or all(math.isinf(s) for s in scores)):
        return best, "low"
    if len(exponents) > 1 and best == exponents[-1]:
        return best, "high"
    return best, None


def search(task: Task, item: Entry, run: Callable = run_one) -> dict:
    """The learning-rate search of ``item`` on ``task`` (module docstring)."""
    runs = {k: run(task, item, rate(item, k), SEARCH_SEED) for k in GRID_EXPONENTS}
    widened: list[dict] = []
    while True:
        best, side = choose(runs)
        if side is None or sum(w["side"] == side for w in widened) >= MAX_WIDENING:
            break
        k = min(runs) - 1 if side == "low" else max(runs) + 1
        runs[k] = run(task, item, rate(item, k), SEARCH_SEED)
        widened.append({"side": side, "exponent": k, "lr": rate(item, k)})
    return {"exponents": sorted(runs), "runs": [runs[k] for k in sorted(runs)],
            "widened": widened, "chosen_exponent": best,
            "chosen_lr": rate(item, best), "edge_after_limit": side is not None}


def final_seeds(task: Task) -> tuple[int, ...]:
    """The final seeds of ``task``: only the first for a deterministic task."""
    return FINAL_SEEDS[:1] if task.deterministic else FINAL_SEEDS


def state_per_parameter(task: Task, item: Entry, lr: float) -> float:
    """Bytes of tensor state in ``state_dict()`` per parameter after
    :data:`STATE_UPDATES` updates (of the search seed's problem)."""
    problem, theta, optimizer = _start(task, item, lr, SEARCH_SEED)
    for t in range(1, min(STATE_UPDATES, task.updates) + 1):
        _update(problem, item, optimizer, theta, t)
    return state_bytes(optimizer) / theta.numel()


def time_updates(task: Task, rates: dict[str, float], rounds: int = TIMING_ROUNDS,
                 updates: int = TIMING_UPDATES) -> dict:
    """Seconds per update (gradients, step, projection) of each optimizer at its
    rate, measured in this process: after a warm-up, ``rounds`` rounds in which
    every optimizer in turn (the order rotated each round) makes ``updates``
    updates (fewer on a task with fewer updates); the medians over the rounds,
    and the median of each round's ratio to SGD's time."""
    updates = min(updates, task.updates)
    items = {name: entry(name) for name in rates}
    started = {name: _start(task, items[name], lr, SEARCH_SEED)
               for name, lr in rates.items()}
    clock = {name: 0 for name in rates}

    def advance(name: str, count: int) -> None:
        problem, theta, optimizer = started[name]
        for _ in range(count):
            clock[name] = clock[name] % task.updates + 1
            _update(problem, items[name], optimizer, theta, clock[name])

    seconds: dict[str, list[float]] = {name: [] for name in rates}
    names = list(rates)
    for name in names:
        advance(name, TIMING_WARMUP)
    for round_ in range(rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            begin = time.perf_counter()
            advance(name, updates)
            seconds[name].append((time.perf_counter() - begin) / updates)

    def median(values):
        ordered = sorted(values)
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else \
            (ordered[middle - 1] + ordered[middle]) / 2

    sgd = seconds.get("SGD")
    return {"rounds": rounds, "updates_per_round": updates,
            "what": "one update: its gradient(s), the optimizer's step, the "
                    "projection",
            "seconds_per_update": {n: median(s) for n, s in seconds.items()},
            "ratio_to_sgd": {n: median([a / b for a, b in zip(s, sgd)])
                             for n, s in seconds.items()} if sgd else {}}


def describe_entry(task: Task, item: Entry) -> dict:
    """What the record says of ``item`` before any run: its class, options,
    hyperparameters, their count, its gradients per update, where it is evaluated
    and whether it applies to the task (or why not)."""
    theta = task.problem(SEARCH_SEED).initial().requires_grad_(True)
    reason = item.applicable(theta.shape)
    if reason:                          # its defaults, described on a matrix
        theta = torch.zeros(2, 2, dtype=torch.float64, requires_grad=True)
    return {"class": item.optimizer, "wraps": item.wraps, "options": item.options,
            "inner_options": item.inner_options, "note": item.note,
            "default_lr": item.default_lr,
            "hyperparameters": describe_hyperparameters(item.build([theta], 1e-3)),
            "hyperparameter_count": hyperparameter_count(item),
            "gradients_per_update": item.gradients_per_update,
            "evaluated_at": "x (optimizer.eval())" if item.schedule_free
            else "the parameters", "applicable": reason is None,
            **({"reason": reason} if reason else {})}


def measure_optimizer(task: Task, item: Entry) -> dict:
    """Everything the record holds for one optimizer on ``task`` (no timing)."""
    described = describe_entry(task, item)
    if not described["applicable"]:
        return described
    found = search(task, item)
    lr = found["chosen_lr"]
    return {**described, "search": found,
            "final": [run_one(task, item, lr, seed) for seed in final_seeds(task)],
            "state_bytes_per_parameter": state_per_parameter(task, item, lr)}


def measure_task(task: Task, say: Callable[[str], None] = lambda line: None,
                 names=None, timing: bool = True) -> tuple[dict, dict]:
    """``(body, timing)``: the reproducible part of a task's record, and the
    timing (``{}`` without ``timing``); ``names``: only these optimizers."""
    missing = missing_from_table()
    if missing:
        raise ValueError(f"optimlab.optim exports {missing}, which the table of "
                         f"optimlab.experiments.small_optimizers lacks: add an "
                         f"entry")
    optimizers = {}
    for item in ENTRIES:
        if names is not None and item.name not in names:
            continue
        begin = time.perf_counter()
        optimizers[item.name] = measured = measure_optimizer(task, item)
        head = f"{task.name:13s} {item.name:17s}"
        if not measured["applicable"]:
            say(f"{head} not applicable: {measured['reason']}")
            continue
        finals = [run["final"] for run in measured["final"]]
        shown = ", ".join("diverged" if v is None else f"{v:.4g}" for v in finals)
        widened = len(measured["search"]["widened"])
        say(f"{head} lr {measured['search']['chosen_lr']:.3g}"
            f"{f' (grid widened {widened}x)' if widened else ''}: final {shown} "
            f"[{time.perf_counter() - begin:.1f} s]")
    rates = {name: m["search"]["chosen_lr"] for name, m in optimizers.items()
             if m["applicable"]}
    body = {"task": task.spec(), "protocol": protocol(), "optimizers": optimizers}
    return body, time_updates(task, rates) if timing else {}
