"""Seconds per update of each optimizer of the language-model race, in one process.

    python tools/benchmark_race.py              # measure and print
    python tools/benchmark_race.py --write     # store book/results/charlm-timing.json

The grid's own wall times (``wall_time_s`` of each cached run) depend on what else
the machine did while each run trained; this measures the six optimizers side by
side instead.  Each trains the race's GPT exactly as the runner does (its
:func:`~optimlab.experiments.runner.build`, batches and update, one CPU thread) at
the rate the search chose; after ``--warmup`` untimed updates each, ``--rounds``
rounds time ``--updates`` updates of every optimizer in turn (a new order each
round), and the median over the rounds is its time per update.  Evaluation is not
included: it costs every optimizer the same.  The chapter "The race" reads the
stored file; its ratios to AdamW are what to compare, not the seconds, which
depend on the CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "book" / "results" / "charlm-timing.json"


def trainers(configs):
    """Per optimizer: a function that runs ``n`` more updates of its run."""
    from optimlab.experiments import runner

    result = {}
    for config in configs:
        model, optimizer = runner.build(config)
        model.train()
        batches = iter(runner.train_batches(config).epoch(runner.epoch_generator(config, 0)))
        done = [0]

        def train(n, model=model, optimizer=optimizer, batches=batches, done=done,
                  config=config):
            for _ in range(n):
                x, y = next(batches)
                done[0] += 1
                runner._update(model, optimizer, x, y, runner.lr_at(config, done[0]),
                               contextlib.nullcontext())

        result[config.optimizer] = train
    return result


def measure(warmup: int, rounds: int, updates: int) -> dict[str, float]:
    """Median seconds per update of each optimizer of the race (seed 0's run)."""
    from optimlab.experiments import grid

    configs = [c for c in grid("charlm") if c.seed == 0]
    train = trainers(configs)
    for run in train.values():
        run(warmup)
    times = {name: [] for name in train}
    names = list(train)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            train[name](updates)
            times[name].append((time.perf_counter() - start) / updates)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--write", action="store_true", help=f"store {OUTPUT}")
    args = parser.parse_args(argv)
    for name in ("warmup", "rounds", "updates"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    torch.set_num_threads(1)
    seconds = measure(args.warmup, args.rounds, args.updates)
    for name, value in seconds.items():
        print(f"{name:18s} {value * 1000:7.1f} ms per update   "
              f"{value / seconds['AdamW']:.2f} × AdamW")
    if args.write:
        from optimlab.experiments.files import atomic_write_text
        from optimlab.experiments.provenance import device_name

        record = {"seconds_per_update": {k: round(v, 6) for k, v in seconds.items()},
                  "warmup": args.warmup, "rounds": args.rounds, "updates": args.updates,
                  "threads": 1, "device_name": device_name("cpu"),
                  "torch": torch.__version__, "python": platform.python_version(),
                  "command": "python tools/benchmark_race.py --write",
                  "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        atomic_write_text(OUTPUT, json.dumps(record, indent=1) + "\n")
        print(f"stored {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
