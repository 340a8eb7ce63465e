"""What each optimizer costs on the benchmark's networks: the bytes of its state
per parameter, and the time of an update relative to SGD's, measured side by side
in one process (``python -m optimlab.experiments networks costs``).

The bytes are those of every tensor in ``optimizer.state_dict()`` after three
updates, divided by the network's parameters (reproducible: a test recomputes
them).  The time is that of one whole update -- forward, backward, the optimizer's
step; SAM's two gradients -- on one fixed batch, on one CPU thread: after a
warm-up, :data:`ROUNDS` rounds in which every optimizer in turn (the order
rotated each round) makes the same number of updates (:data:`UPDATES`, or more
where SGD's would take less than :data:`ROUND_SECONDS`); the median over the
rounds of each round's ratio to SGD's time.  Timings are not reproducible to the digit, so the
file is written only by that command and never recomputed by the audit.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path

import torch

from . import cache, networks, runner
from .files import atomic_write_text
from .small_optimizers import Entry

__all__ = ["COSTS_FILE", "ROUNDS", "UPDATES", "measure_task", "write", "read"]

#: The file of the results folder that holds the costs (beside the experiment
#: folders; :func:`optimlab.experiments.cache.results_file`).
COSTS_FILE = "choosing-networks-costs.json"
#: Timed rounds; in each, every optimizer makes at least :data:`UPDATES` updates.
ROUNDS = 7
#: The fewest updates an optimizer makes in a round.
UPDATES = 3
WARMUP = 2
#: A round makes at least this many seconds of SGD updates (more than
#: :data:`UPDATES` on a fast network).
ROUND_SECONDS = 0.25


def _start(task, item: Entry, lr: float):
    run = networks.config(task, item, lr, networks.SEEDS[0])
    model, optimizer = runner.build(run)
    x, y = next(iter(runner.train_batches(run).epoch(runner.epoch_generator(run, 0))))
    return model, optimizer, x, y, lr


def _updates(started, count: int) -> None:
    model, optimizer, x, y, lr = started
    for _ in range(count):
        runner._update(model, optimizer, x, y, lr, torch.autocast("cpu", enabled=False))


def measure_task(task, rates: dict[str, float], say=lambda line: None) -> dict:
    """The costs of the optimizers ``rates`` (entry name → its chosen rate) on
    ``task``: state bytes per parameter, seconds per update, ratio to SGD."""
    from .small_optimizers import entry

    if "SGD" not in rates:
        raise ValueError("the time ratios are to SGD's: rates must include 'SGD'")
    states = {name: networks.state_bytes_per_parameter(
        task, entry(name), lr) for name, lr in rates.items()}
    started = {name: _start(task, entry(name), lr) for name, lr in rates.items()}
    for name in rates:
        _updates(started[name], WARMUP)
    begin = time.perf_counter()
    _updates(started["SGD"], WARMUP)
    sgd_update = (time.perf_counter() - begin) / WARMUP
    updates = max(UPDATES, math.ceil(ROUND_SECONDS / sgd_update))
    names, seconds = list(rates), {name: [] for name in rates}
    for round_ in range(ROUNDS):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            begin = time.perf_counter()
            _updates(started[name], updates)
            seconds[name].append((time.perf_counter() - begin) / updates)
        say(f"{task.name}: round {round_ + 1}/{ROUNDS} timed")
    sgd = seconds["SGD"]
    return {"state_bytes_per_parameter": states,
            "seconds_per_update": {n: statistics.median(s) for n, s in seconds.items()},
            "ratio_to_sgd": {n: statistics.median(a / b for a, b in zip(s, sgd))
                             for n, s in seconds.items()},
            "rounds": ROUNDS, "updates_per_round": updates,
            "what": "one update on one fixed batch: forward, backward (SAM: two), "
                    "the optimizer's step; one CPU thread"}


def write(tasks: dict, command: str, root=None) -> Path:
    """Merge ``tasks`` (name → :func:`measure_task`) into :data:`COSTS_FILE`,
    written atomically (an interruption keeps the old file)."""
    from .provenance import device_name

    path = Path(root or cache.results_root()) / COSTS_FILE
    merged = read(root)["tasks"] if path.is_file() else {}
    merged.update(tasks)
    body = {"tasks": merged, "threads": torch.get_num_threads(),
            "torch": torch.__version__, "device_name": device_name("cpu"),
            "command": command,
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    atomic_write_text(path, json.dumps(body, indent=1, sort_keys=True) + "\n")
    return path


def read(root=None) -> dict:
    """The costs file (downloaded first without a checkout, like a cache file);
    :class:`FileNotFoundError` or :class:`ValueError` naming it and the command
    that writes it."""
    path = cache.results_file(COSTS_FILE, root)
    again = "`python -m optimlab.experiments networks costs` in a checkout"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: measure the costs with {again}")
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        tasks = body["tasks"]
        for name, costs in tasks.items():
            if not all(float(v) >= 0 for v in
                       costs["state_bytes_per_parameter"].values()):
                raise ValueError(f"{name}: state bytes must be >= 0")
            if not all(float(v) > 0 for v in costs["ratio_to_sgd"].values()):
                raise ValueError(f"{name}: time ratios must be positive")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{path} is not a costs file ({error!r}); write it again "
                         f"with {again}") from None
    return body
