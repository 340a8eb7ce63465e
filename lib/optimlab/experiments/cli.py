r"""``python -m optimlab.experiments``: fill, list and audit the result cache.

For example::

    python -m optimlab.experiments run mnist                 # the 48 MNIST runs (CPU)
    python -m optimlab.experiments run cifar10 --checkpoint-dir .checkpoints --resume
    python -m optimlab.experiments list mnist
    python -m optimlab.experiments audit         # every cached run, on the CPU
    python -m optimlab.experiments oneshot cifar10 --out $OUT  # see oneshot.py
    python -m optimlab.experiments import records.tar        # what oneshot returned
    torchrun --standalone --nproc-per-node 8 -m optimlab.experiments run imagenet \
        --checkpoint-dir .checkpoints --resume           # 8 GPUs share each run
    python -m optimlab.experiments ddp-demo              # data parallelism, measured
    python -m optimlab.experiments small-tasks run       # the small-task benchmark
    python -m optimlab.experiments small-tasks audit --task toy --sample 5
    python -m optimlab.experiments networks run --shard 0/2   # the network tasks

``run`` skips every run that is cached and current (reproduced by the current
code, see :mod:`.reproduction`), so after an
interruption the same command continues where it stopped; with
``--checkpoint-dir`` a run also saves its state after every epoch, and
``--resume`` continues an interrupted run from that checkpoint.  ``--shard i/n``
runs only every n-th config starting at the i-th, so that n processes can share
a grid.  A stale cached run is run again and replaced; a damaged file is kept
under another name and its run is done again.  A finished run whose result cannot
be saved is never lost: the error names the checkpoint or rescue file that holds it.

Under ``torchrun`` every rank runs ``run`` and shares each run
(:mod:`.distributed`); rank 0 decides which runs are due, prints, and stores the
results.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

from . import audit as audit_module
from . import cache, checkpoint, choosing_records, choosing_summary, distributed
from . import grids, large_batch, networks, networks_command, oneshot, runner
from . import small_tasks
from ..data import DataFileError, DatasetNotFoundError
from .cache import StaleResultError
from . import records as records_module
from .config import Config
from .records import DamagedResultError

__all__ = ["main"]


def _configs(args):
    options = {}
    if getattr(args, "epochs", None) is not None:
        options["epochs"] = args.epochs
    if getattr(args, "seeds", None):
        options["seeds"] = tuple(args.seeds)
    if getattr(args, "device", None):
        options["device"] = args.device
    for name in ("train_images", "image_size", "batch_size"):
        if getattr(args, name, None) is not None:
            options[name] = getattr(args, name)
    try:
        return grids.grid(args.grid, **options)
    except ValueError as error:
        raise SystemExit(f"python -m optimlab.experiments {args.command}: error: "
                         f"{error}") from None


def _shard(configs, shard: str | None):
    """:func:`.networks_command.shard`, its error as the command line's."""
    try:
        return networks_command.shard(configs, shard)
    except ValueError as error:
        raise SystemExit(str(error)) from None


def _test_accuracy(result) -> str:
    """", test accuracy 0.9123" (nothing for a run that never sees the test split)."""
    return "" if result["test"] is None else f", test accuracy {result['test']['accuracy']:.4f}"


def _say(*parts) -> None:
    print(*parts, flush=True)


def _set_threads(threads) -> None:
    if threads is not None:
        if threads < 1:
            raise SystemExit(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)


def _command(argv, world: distributed.World) -> str:
    """The command line of this run, as its record gives it."""
    if world.size == 1:
        return "python -m optimlab.experiments " + " ".join(argv)
    return (f"torchrun --nnodes {world.size // world.local_size} --nproc-per-node "
            f"{world.local_size} -m optimlab.experiments " + " ".join(argv))


def command_run(args, argv) -> int:
    configs = _shard(_configs(args), args.shard)
    _set_threads(args.threads)
    world = distributed.join()
    command = _command(argv, world)
    say = _say if world.is_main else (lambda *parts: None)
    progress = args.progress if args.progress is not None else sys.stderr.isatty()
    started, ran = time.perf_counter(), 0
    if world.size > 1:
        say(f"{world.size} ranks on {world.size // world.local_size} node(s), each "
            f"taking an equal share of every global batch")
    for number, config in enumerate(configs, 1):
        status = world.from_main(lambda: cache.describe(config, args.results))
        prefix = f"[{number}/{len(configs)}] {config.label}"
        if status.startswith("cached") and not args.force:
            say(f"{prefix}: {status}, skipped")
            continue
        if status.startswith("damaged") and world.is_main:
            kept = cache.set_aside(cache.path_for(config, args.results))
            say(f"{prefix}: {status}; kept as {kept}, running it again")
        elif status.startswith("stale"):
            say(f"{prefix}: {status}, running it again")
        result = runner.run(config, progress=progress, checkpoint_dir=args.checkpoint_dir,
                            resume=args.resume, world=world)
        ran += 1
        if not world.is_main:
            continue
        path = cache.save_run(config, result, command=command, root=args.results,
                              checkpoint_dir=args.checkpoint_dir)
        accuracy = result["evals"]["val_accuracy"][-1]
        say(f"{prefix}: {result['wall_time_s']:.1f} s, validation accuracy "
            f"{accuracy:.4f}{_test_accuracy(result)} -> {path}")
    say(f"{ran} run(s) in {time.perf_counter() - started:.1f} s wall time")
    distributed.leave(world)
    return 0


def command_list(args, argv) -> int:
    counts: dict[str, int] = {}
    for config in _configs(args):
        status = cache.describe(config, args.results)
        kind = status.split(" ")[0]
        counts[kind] = counts.get(kind, 0) + 1
        line = f"{config.key()}  {config.label:32s} {status}"
        if kind == "cached":
            record = cache.load(config, args.results)
            line += f"  {record['wall_time_s']:8.1f} s{_test_accuracy(record)}"
        _say(line)
    _say(", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())))
    return 1 if counts.get("damaged") else 0


def command_audit(args, argv) -> int:
    started = time.perf_counter()

    def report(result):
        mark = "ok  " if result.ok else "FAIL"
        _say(f"{mark} {result.kind:11s} {result.path.parent.name}/{result.path.name} "
             f"{result.label:32s} max rel. diff {result.max_relative_difference:.1e}  "
             f"{result.reason}")

    try:
        results = audit_module.audit(args.experiments or None, args.results, report,
                                     replay=args.replay, salt=args.replay_salt)
    except audit_module.NothingToAuditError as error:
        _say(f"nothing to audit: {error}")
        return 2
    _remember_reproduced(results, args.results, everything=not args.experiments)
    failed = [r for r in results if not r.ok]
    replays = sum(r.kind == "replay" for r in results)
    _say(f"audited {len(results) - replays} cached run(s) and replayed {replays} in "
         f"{time.perf_counter() - started:.1f} s: {len(failed)} failed")
    return 1 if failed else 0


def _remember_reproduced(results, root, everything: bool) -> None:
    """Store, for the chapters, which records the audit reproduced under changed
    code (:data:`.reproduction.REPRODUCED_FILE`); with ``everything``, forget
    records that are no longer in the cache."""
    from . import provenance, reproduction

    root = root or cache.results_root()
    entries = reproduction.read_reproduced(root)
    present = set()
    for result in results:
        if result.kind != "fingerprint":
            continue
        try:
            record = records_module.read(result.path)
        except DamagedResultError:
            continue
        digest = records_module.digest(record)
        present.add(digest)
        hashes = provenance.code_hashes(Config.from_dict(record["config"]))
        if result.ok and hashes != record["provenance"]["code_hash"]:
            entries[digest] = {"code_hash": hashes,
                               "max_relative_difference": result.max_relative_difference}
        else:
            entries.pop(digest, None)
    if everything:
        entries = {k: v for k, v in entries.items() if k in present}
    if entries or (Path(root) / reproduction.REPRODUCED_FILE).exists():
        reproduction.write_reproduced(root, entries)


def command_oneshot(args, argv) -> int:
    configs = _configs(args)
    command = "python -m optimlab.experiments " + " ".join(argv)
    try:
        oneshot.oneshot(configs, args.out, args.work, args.budget, args.timing, command,
                        say=_say)
    except (oneshot.TruncationError, oneshot.WorkerError) as error:
        raise SystemExit(f"python -m optimlab.experiments oneshot: error: {error}") from None
    return 0


def command_import(args, argv) -> int:
    try:
        stored = oneshot.import_records(args.tar, args.results, say=_say)
    except (oneshot.ImportRefusedError, OSError) as error:
        print(f"python -m optimlab.experiments import: error: {error}", file=sys.stderr,
              flush=True)
        return 2
    _say(f"imported {len(stored)} record(s)")
    return 0


def command_ddp_demo(args, argv) -> int:
    _set_threads(args.threads)
    _say(large_batch.report(large_batch.measure(epochs=args.epochs)))
    return 0


def command_small_tasks(args, argv) -> int:
    """run, audit, show or list the small-task benchmark, task by task."""
    _set_threads(args.threads)
    names = args.task or list(small_tasks.TASKS)
    if args.action == "run":
        command = "python -m optimlab.experiments " + " ".join(argv)
        for name in names:
            choosing_records.run_task(name, args.results, args.force, command, _say,
                                      args.updates)
        return 0
    if args.action == "list":
        for name in names:
            _say(f"{name:14s} {choosing_records.describe(name, args.results)}")
        return 0
    paths = [choosing_records.path_for(name, args.results) for name in names]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise SystemExit(f"python -m optimlab.experiments small-tasks "
                         f"{args.action}: error: no record {', '.join(missing)}: "
                         f"run `python -m optimlab.experiments small-tasks run` "
                         f"first")
    if args.action == "show":
        _say("\n\n".join(choosing_summary.table(choosing_records.read(path))
                          for path in paths))
        return 0
    salt = args.salt if args.salt is not None else audit_module.head_commit()
    failed = 0
    for path in paths:
        started = time.perf_counter()
        try:
            found = choosing_records.audit_task(path, args.optimizer, args.sample,
                                                salt, _say)
        except ValueError as error:
            raise SystemExit(f"python -m optimlab.experiments small-tasks audit: "
                             f"error: {error}") from None
        failed += bool(found)
        for mismatch in found:
            _say(f"FAIL {path.name}: {mismatch}")
        _say(f"{'FAIL' if found else 'ok  '} {path}: {len(found)} mismatch(es) "
             f"[{time.perf_counter() - started:.1f} s]")
    return 1 if failed else 0


def command_networks(args, argv) -> int:
    """run or list the benchmark's network tasks, pair by pair."""
    _set_threads(args.threads)
    pairs = networks.pairs(args.task)
    if args.action == "list":
        networks_command.describe_pairs(pairs, args.results, _say)
        return 0
    if args.action == "costs":
        try:
            path = networks_command.measure_costs(
                args.task or list(networks.TASKS),
                "python -m optimlab.experiments " + " ".join(argv), args.results, _say)
        except ValueError as error:
            raise SystemExit(f"python -m optimlab.experiments networks costs: "
                             f"error: {error}") from None
        _say(f"wrote {path}")
        return 0
    pairs = _shard(pairs, args.shard)
    started = time.perf_counter()
    done = networks_command.run_pairs(
        pairs, "python -m optimlab.experiments " + " ".join(argv), args.results, _say)
    _say(f"{done} run(s) in {time.perf_counter() - started:.1f} s wall time")
    return 0


def _fail(command: str, error: Exception) -> int:
    """Print ``error`` (naming the rank under torchrun); the exit status 2."""
    shared = os.environ.get("WORLD_SIZE", "1") != "1"
    where = f" (rank {os.environ.get('RANK')})" if shared else ""
    print(f"python -m optimlab.experiments {command}{where}: error: {error}",
          file=sys.stderr, flush=True)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: the process's arguments) and return
    its exit status; an expected failure (a result that cannot be saved, a damaged
    record, missing data, ...) is one line on stderr and the status 2, not a
    traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m optimlab.experiments",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=None,
                        help="result cache root (default: $OPTIMLAB_RESULTS or book/results)")
    commands = parser.add_subparsers(dest="command", required=True)

    def grid_options(sub):
        sub.add_argument("grid", choices=sorted(grids.GRIDS))
        sub.add_argument("--epochs", type=int, default=None,
                         help="cifar10(-smoke), mnist-smoke, imagenet: epochs")
        sub.add_argument("--seeds", type=int, nargs="+", default=None,
                         help="cifar10, cifar10-smoke, imagenet: seeds")
        sub.add_argument("--device", default=None,
                         help="cifar10, cifar10-smoke, imagenet: cpu or cuda")
        sub.add_argument("--train-images", type=int, default=None,
                         help="imagenet: images in the folder's train/ (491647)")
        sub.add_argument("--image-size", type=int, default=None,
                         help="imagenet: side of the crops (224)")
        sub.add_argument("--batch-size", type=int, default=None,
                         help="imagenet: global batch, shared by the ranks (256)")

    run = commands.add_parser("run", help="run a grid, skipping cached runs")
    grid_options(run)
    run.add_argument("--resume", action="store_true",
                     help="continue interrupted runs from --checkpoint-dir")
    run.add_argument("--checkpoint-dir", default=None,
                     help="save each run's state there after every epoch")
    run.add_argument("--shard", default=None, help="i/n: run configs i, i+n, i+2n, ...")
    run.add_argument("--force", action="store_true", help="run cached configs again")
    run.add_argument("--threads", type=int, default=None,
                     help="torch CPU threads (default: torch's choice)")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="tqdm progress bars (default: when stderr is a terminal)")
    listing = commands.add_parser("list", help="the status of every run of a grid")
    grid_options(listing)
    auditing = commands.add_parser("audit", help="recompute the fingerprints on the CPU")
    auditing.add_argument("experiments", nargs="*",
                          help="experiment folders (default: all under the cache root)")
    auditing.add_argument("--replay", choices=("none", "one", "all"), default="one",
                          help="also train whole CPU runs again and compare every number: "
                               "one affordable run chosen by the git commit (default), "
                               "every CPU run, or none")
    auditing.add_argument("--replay-salt", default=None,
                          help="choose the replayed run by this text instead of the commit")
    shot = commands.add_parser("oneshot", help="time, plan and run a whole grid at once "
                               "on one device, keeping every finished epoch")
    grid_options(shot)
    shot.add_argument("--out", required=True, help="folder for records.tar")
    shot.add_argument("--work", default=".oneshot",
                      help="folder for checkpoints, logs and records (default .oneshot)")
    shot.add_argument("--budget", type=float, default=480.0,
                      help="seconds for timing and runs together (default 480)")
    shot.add_argument("--timing", type=float, default=60.0,
                      help="seconds of the timing run (default 60)")
    importing = commands.add_parser("import", help="check the records of a records.tar "
                                    "from `oneshot` and store them in the cache")
    importing.add_argument("tar", help="the records.tar that `oneshot` wrote")
    demo = commands.add_parser("ddp-demo", help="measure on the CPU what data "
                               "parallelism does to an optimizer (the book's page)")
    demo.add_argument("--epochs", type=int, default=1,
                      help="epochs of each large-batch training run (default 1)")
    demo.add_argument("--threads", type=int, default=1,
                      help="torch CPU threads (default 1: the page's numbers)")
    small = commands.add_parser("small-tasks", help="the optimizer benchmark's "
                                "five small tasks: run, audit, show or list them")
    small.add_argument("action", choices=("run", "audit", "show", "list"))
    small.add_argument("--task", action="append", choices=list(small_tasks.TASKS),
                       help="a task (repeatable; default: all five)")
    small.add_argument("--force", action="store_true",
                       help="run: measure a task again although its record is whole")
    small.add_argument("--threads", type=int, default=1,
                       help="torch CPU threads (default 1: the records' setting)")
    small.add_argument("--optimizer", action="append", default=None,
                       help="audit: recompute only this optimizer (repeatable)")
    small.add_argument("--sample", type=int, default=None,
                       help="audit: recompute only this many runs, drawn by --salt")
    small.add_argument("--salt", default=None,
                       help="audit: the text that draws the sample (default: "
                            "the commit)")
    small.add_argument("--updates", type=int, default=None,
                       help="run: another budget of updates (tests; not the book's)")
    network_parser = commands.add_parser("networks", help="the optimizer benchmark's "
                                   "network tasks: run or list them, measure their costs")
    network_parser.add_argument("action", choices=("run", "list", "costs"))
    network_parser.add_argument("--task", action="append",
                          choices=list(networks.TASKS),
                          help="a task (repeatable; default: all four)")
    network_parser.add_argument("--shard", default=None,
                          help="run: i/n, the pairs i, i+n, i+2n, ... of the tasks' "
                               "(task, optimizer) pairs")
    network_parser.add_argument("--threads", type=int, default=1,
                          help="torch CPU threads (default 1: the records' setting)")
    args = parser.parse_args(argv)
    if args.command == "oneshot" and not 0 < args.timing < args.budget:
        parser.error(f"need 0 < --timing < --budget, got {args.timing} and {args.budget}")
    if args.command == "run" and args.resume and not args.checkpoint_dir:
        parser.error("--resume needs --checkpoint-dir")
    handler = {"run": command_run, "list": command_list, "audit": command_audit,
               "oneshot": command_oneshot, "import": command_import,
               "ddp-demo": command_ddp_demo, "small-tasks": command_small_tasks,
               "networks": command_networks}
    try:
        return handler[args.command](args, argv)
    except (cache.ResultNotSavedError, checkpoint.CheckpointError, StaleResultError,
            DamagedResultError, distributed.SharingError, DatasetNotFoundError,
            DataFileError) as error:
        return _fail(args.command, error)
