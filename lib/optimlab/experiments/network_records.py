"""A network task of the optimizer benchmark read from the result cache, in the
shape of a small task's record, so that :mod:`.choosing_summary` ranks and
tabulates both alike.

Per optimizer: its search (rates, final validation losses, the chosen rate, the
widenings), its final runs (seed, test loss -- the reported final value -- test
accuracy, updates to the target, whether it diverged), its hyperparameters, and
its costs (:mod:`.choosing_costs`).

**The target** of the time-to-target is set by a rule, not chosen by hand: the
training loss averaged over the last :data:`WINDOW` updates, and the target the
median, over the optimizers, of that average at the end of their final runs
(each optimizer's mean over the seeds): half of the optimizers reach it by the
end.  A run's updates-to-target is the first update at which its moving
average is at or below the target (None if never).
"""

from __future__ import annotations

import math
import statistics

from . import cache, choosing_costs, networks
from .small_optimizers import ENTRIES, hyperparameter_count

__all__ = ["WINDOW", "task_record", "all_records", "moving_average",
           "updates_to_target"]

#: Updates in the moving average of the training loss (the target's measure).
WINDOW = 10


def moving_average(losses: list, window: int = WINDOW) -> list[float]:
    """The mean of the last ``window`` losses after each update from the
    ``window``-th on (inf once a loss is not finite)."""
    values = [math.inf if v is None else v for v in losses]
    return [sum(values[t - window:t]) / window for t in range(window, len(values) + 1)]


def updates_to_target(losses: list, target: float, window: int = WINDOW) -> int | None:
    """The first update whose moving average is ≤ ``target`` (None if none)."""
    for offset, value in enumerate(moving_average(losses, window)):
        if value <= target:
            return window + offset
    return None


def _final_run(record: dict) -> dict:
    test = record["test"] or {}
    loss = test.get("loss")
    diverged = record["diverged"] or loss is None or not math.isfinite(loss)
    return {"seed": record["config"]["seed"], "final": None if diverged else loss,
            "accuracy": None if diverged else test.get("accuracy"),
            "diverged": diverged, "train_loss": record["train_loss"],
            "val_loss": record["evals"]["val_loss"][-1]}


def _entry(task, item, read) -> dict:
    described = {"class": item.optimizer, "wraps": item.wraps, "note": item.note,
                 "hyperparameters": networks.hyperparameters(item, 1.0),
                 "hyperparameter_count": hyperparameter_count(item),
                 "gradients_per_update": item.gradients_per_update}
    reason = networks.applicable(task, item)
    if reason:
        return {**described, "applicable": False, "reason": reason}
    found = networks.plan(task, item, read)
    if found["search"] is None or found["missing"]:
        raise cache.MissingResultError(
            f"the benchmark of {item.name} on {task.name} is not complete: run "
            f"`python -m optimlab.experiments networks run --task {task.name}` first")
    return {**described, "applicable": True, "search": found["search"],
            "final": [_final_run(read(c)) for c in found["finals"]]}


def task_record(name: str, root=None, costs: dict | None = None) -> dict:
    """The record of network task ``name`` (:data:`.networks.TASKS`),
    from the result cache and the costs file (``costs``: its ``tasks`` entry,
    read when None).  :class:`~.cache.MissingResultError` names the command to
    run while a run is not cached; a stale run raises
    :class:`~.cache.StaleResultError`."""
    task = networks.TASKS[name]
    if costs is None:
        costs = choosing_costs.read(root)["tasks"]
    if name not in costs:
        raise ValueError(f"the costs file has no task {name!r}: run `python -m "
                         f"optimlab.experiments networks costs --task {name}`")

    loaded: dict = {}

    def read(config):                  # the search reads the final runs' seed 0 too
        if config not in loaded:
            loaded[config] = cache.load(config, root)
        return loaded[config]

    optimizers = {item.name: _entry(task, item, read) for item in ENTRIES}
    applicable = {n: e for n, e in optimizers.items() if e["applicable"]}
    ends = [statistics.mean(moving_average(r["train_loss"])[-1] for r in e["final"])
            for e in applicable.values()]
    target = statistics.median(ends)
    for optimizer, entry in applicable.items():
        entry["state_bytes_per_parameter"] = \
            costs[name]["state_bytes_per_parameter"][optimizer]
        for run in entry["final"]:
            run["updates_to_target"] = updates_to_target(run["train_loss"], target)
    return {"task": {"name": name, "description": task.description,
                     "objective": f"test loss after {task.steps} updates; "
                                  f"target: training loss ({WINDOW}-update mean)",
                     "deterministic": False, "log_scale": False,
                     "updates": task.steps, "target": round(target, 4),
                     "batch_size": task.batch_size, "model": task.model,
                     "dataset": task.dataset},
            "optimizers": optimizers,
            "timing": {"ratio_to_sgd": costs[name]["ratio_to_sgd"],
                       "seconds_per_update": costs[name]["seconds_per_update"]}}



def all_records(root=None) -> dict[str, dict]:
    """Task name → record for the five small tasks and the four networks, in the
    course's order (a missing small-task record: :class:`FileNotFoundError`
    naming the command that writes it)."""
    from . import choosing_records, small_tasks

    found = {}
    for name in small_tasks.TASKS:
        relative = f"{choosing_records.EXPERIMENT}/{name}.json"
        path = cache.results_file(relative, root)
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `python -m "
                                    f"optimlab.experiments small-tasks run --task "
                                    f"{name}` in a checkout")
        found[name] = choosing_records.read(path)
    costs = choosing_costs.read(root)["tasks"]
    for name in networks.TASKS:
        found[name] = task_record(name, root, costs)
    return found
