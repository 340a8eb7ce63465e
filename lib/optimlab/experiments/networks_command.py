"""``python -m optimlab.experiments networks run|list|costs``: the network tasks of
the optimizer benchmark (:mod:`.networks`).

``run`` works (task, optimizer) pair by pair: the learning-rate search, widened
while its best rate is at an edge, then the final seeds; each run goes through
the runner and is stored in the result cache as soon as it ends, so that the
same command continues where an interrupted one stopped.  ``--shard i/n`` takes
every n-th pair from the i-th, so that n processes share the work.  ``list``
says how far each pair is; ``costs`` measures the state bytes per parameter and
the time per update (:mod:`.choosing_costs`).
"""

from __future__ import annotations

import time

from . import cache, networks, runner
from .config import Config
from .records import DamagedResultError

__all__ = ["reader", "run_pairs", "describe_pairs", "shard", "chosen_rates",
           "measure_costs"]


def reader(root=None):
    """config → its cached record or None (read without a reproduction check: the
    audit checks the records; a damaged one is set aside and counts as missing)."""
    def read(config: Config):
        path = cache.path_for(config, root)
        if not path.is_file():
            return None
        try:
            return cache._read_record(path, config)
        except DamagedResultError:
            cache.set_aside(path)
            return None
    return read


def shard(items: list, spec: str | None) -> list:
    """Items i, i+n, i+2n, … of ``items`` for ``spec`` = "i/n" (all for None)."""
    if not spec:
        return items
    try:
        index, count = (int(part) for part in spec.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like i/n (e.g. 0/2), got {spec!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"--shard i/n needs 0 <= i < n, got {spec!r}")
    return items[index::count]


def run_pairs(pairs, command: str, root=None, say=print) -> int:
    """Run every missing run of ``pairs``, in order; the number of runs done."""
    read, done = reader(root), 0
    for task, item in pairs:
        while True:
            missing = networks.plan(task, item, read)["missing"]
            if not missing:
                break
            for config in missing:
                begin = time.perf_counter()
                result = runner.run(config)
                cache.save_run(config, result, command=command, root=root)
                done += 1
                loss = result["evals"]["val_loss"][-1]
                shown = "diverged" if loss is None else f"val. loss {loss:.4f}"
                say(f"{task.name:8s} {item.name:17s} lr {config.lr:<9.3g} seed "
                    f"{config.seed}: {shown} [{time.perf_counter() - begin:.1f} s]")
    return done


def describe_pairs(pairs, root=None, say=print) -> dict[str, int]:
    """One line per pair: searching, finals due, or done with its chosen rate."""
    read = reader(root)
    counts = {"searching": 0, "finals due": 0, "done": 0}
    for task, item in pairs:
        found = networks.plan(task, item, read)
        if found["search"] is None:
            state = "searching"
            line = f"searching ({len(found['missing'])} run(s) due)"
        else:
            state = "finals due" if found["missing"] else "done"
            edge = " (at the edge)" if found["search"]["edge_after_limit"] else ""
            line = f"{state}: lr {found['search']['chosen_lr']:.3g}{edge}"
        counts[state] += 1
        say(f"{task.name:8s} {item.name:17s} {line}")
    say(", ".join(f"{n} {state}" for state, n in counts.items()))
    return counts


def chosen_rates(task, root=None) -> dict[str, float]:
    """Entry name → chosen rate of every optimizer applicable to ``task``;
    :class:`ValueError` naming the first whose search is not complete."""
    read, rates = reader(root), {}
    for _, item in networks.pairs([task.name]):
        search = networks.plan(task, item, read)["search"]
        if search is None:
            raise ValueError(f"the rate search of {item.name} on {task.name} is not "
                             f"complete: run `python -m optimlab.experiments networks "
                             f"run --task {task.name}` first")
        rates[item.name] = search["chosen_lr"]
    return rates


def measure_costs(names, command: str, root=None, say=print):
    """Measure the costs of every optimizer on the tasks ``names`` at its chosen
    rate (:mod:`.choosing_costs`) and write them; the file's path."""
    from . import choosing_costs

    tasks = {}
    for name in names:
        task = networks.TASKS[name]
        tasks[name] = choosing_costs.measure_task(task, chosen_rates(task, root), say)
    return choosing_costs.write(tasks, command, root)
