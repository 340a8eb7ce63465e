"""One shot on a lent accelerator: every run of a grid at once, each finished epoch kept.

A GPU lent to this course comes for minutes, with a hard limit per command.  So the
runs of a grid go in one command (:func:`oneshot`):

1. **Timing.**  Every run starts at once, one process each, and trains for
   ``timing_s`` seconds: the time to start (model, data, fingerprint), per update
   and per evaluation of a split, all measured while the runs share the device
   (:func:`measure`).
2. **Plan.**  The epochs per run that fit in ``budget_s``, from the slowest run
   (:func:`plan_epochs`); every run gets the same number, so the comparison is fair.
3. **Runs.**  Every run starts again, one process each, with that many epochs.
   After each epoch a worker stores the record of the run *so far*
   (:func:`run_keeping_epochs`).  This is honest only because the schedule does
   not depend on the length of the run (α/√t or constant, :func:`check_truncatable`):
   the first e epochs of the run are the run of ``config.replace(epochs=e)``.  A run
   cut short by the deadline is therefore stored as a run of the epochs it did,
   never stretched into a longer one.

The records, the workers' logs and ``plan.json`` are packed into ``records.tar``
under ``out`` every ``pack_every_s`` seconds and at the end, so that a command
killed at its time limit still returns every finished epoch.  Checkpoints stay in
the work folder on the device (a ResNet-18 with its optimizer state is ~130 MB per
run, too large to come back); a second command on the same machine resumes from
them.  :func:`import_records` then checks the returned records (digest, grid, the
fingerprint recomputed on this CPU) and stores them in the result cache with the
provenance they were written with (GPU name, versions, wall time).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from . import cache, grids, records, runner
from .audit import audit_file
from .config import Config
from .files import atomic_write, atomic_write_text

__all__ = ["check_truncatable", "measure", "plan_epochs", "run_keeping_epochs", "oneshot",
           "import_records", "TruncationError", "WorkerError", "ImportRefusedError"]

#: Share of the budget the plan fills: the rest absorbs the runs' uneven speed.
SAFETY = 0.9


class TruncationError(ValueError):
    """A config whose first epochs are not a shorter run of the same kind."""


class WorkerError(RuntimeError):
    """A worker process that failed (the message names its log)."""


class ImportRefusedError(ValueError):
    """A returned record that the cache must not take (the message says why)."""


def check_truncatable(config: Config) -> None:
    """Raise :class:`TruncationError` unless the first e epochs of ``config`` are
    the run of ``config.replace(epochs=e)``."""
    why = None
    if not config.epochs:
        why = "its length is given in steps, not epochs"
    elif config.schedule not in ("inverse-sqrt", "constant"):
        why = (f"its {config.schedule!r} schedule depends on the run's length, so its "
               f"first epochs are not a shorter run")
    elif config.eval_every:
        why = "it evaluates every eval_every updates, not at the end of each epoch"
    elif config.test_every_eval:
        why = "test_every_eval would show test curves the protocol does not allow"
    if why:
        raise TruncationError(f"{config.label} cannot be cut after any epoch: {why}")


# --- one worker ---------------------------------------------------------------------

def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _endless_batches(config: Config, device: torch.device):
    """The run's minibatches, epoch after epoch."""
    batches = runner.train_batches(config, device)
    for epoch in range(10**9):
        yield from batches.epoch(runner.epoch_generator(config, epoch))


def measure(config: Config, seconds: float) -> dict[str, Any]:
    """Time ``config`` on its device for about ``seconds``: ``startup_s`` (model,
    data, fingerprint, five warm-up updates), ``update_s`` (mean of the timed
    updates, at least five), ``evaluation_s`` (one pass over the validation
    split) and ``epoch_s``: an epoch's updates plus two evaluations (validation
    and test, as :func:`run_keeping_epochs` does after every epoch)."""
    started = time.perf_counter()
    device = torch.device(config.device)
    runner.fingerprint(config, device)
    model, optimizer = runner.build(config, device)
    autocast = runner._autocast(config, device)
    stream = _endless_batches(config, device)
    for t in range(1, 6):
        runner._update(model, optimizer, *next(stream), runner.lr_at(config, t), autocast)
    _sync(device)
    startup, timed = time.perf_counter() - started, 0
    clock = time.perf_counter()
    while timed < 5 or time.perf_counter() - started < seconds:
        runner._update(model, optimizer, *next(stream), runner.lr_at(config, timed + 6),
                       autocast)
        timed += 1
        if timed % 10 == 0:
            _sync(device)
    _sync(device)
    update = (time.perf_counter() - clock) / timed
    clock = time.perf_counter()
    runner._evaluate(model, runner._eval_batches(config, "validation", device), autocast)
    _sync(device)
    evaluation = time.perf_counter() - clock
    return {"label": config.label, "key": config.key(), "startup_s": round(startup, 3),
            "update_s": round(update, 6), "timed_updates": timed,
            "evaluation_s": round(evaluation, 3),
            "epoch_s": round(config.steps_per_epoch * update + 2 * evaluation, 3)}


def plan_epochs(timings: list[dict[str, Any]], budget_s: float, max_epochs: int) -> int:
    """The epochs every run can finish in ``budget_s`` seconds (at least 1, at most
    ``max_epochs``), from the slowest start and the slowest epoch, with
    :data:`SAFETY` of the budget filled."""
    if not timings:
        raise ValueError("timings is empty: no run was timed")
    startup = max(t["startup_s"] for t in timings)
    epoch = max(t["epoch_s"] for t in timings)
    fit = math.floor((SAFETY * budget_s - startup) / epoch)
    return max(1, min(max_epochs, fit))


def run_keeping_epochs(config: Config, root, checkpoint_dir, command: str) -> Path:
    """Train ``config`` (resuming from ``checkpoint_dir``), storing after every epoch
    e the record of ``config.replace(epochs=e)`` under ``root`` and removing the
    one of epoch e - 1; return the last record's path."""
    check_truncatable(config)
    kept: list[Path] = []

    def store(epoch: int, result) -> None:
        done = config.replace(epochs=epoch)
        kept.append(cache.save(done, result(), f"{command} (epoch {epoch} of "
                                                 f"{config.epochs})", root=root))
        for old in kept[:-1]:
            old.unlink(missing_ok=True)
        del kept[:-1]

    result = runner.run(config, checkpoint_dir=checkpoint_dir, resume=True, on_epoch=store)
    if not kept:                    # resumed from a finished checkpoint: store it again
        kept.append(cache.save(config, result, command, root=root))
    return kept[-1]


def worker(argv: list[str]) -> int:
    """``python -m optimlab.experiments.oneshot time|train CONFIG_JSON ...``."""
    mode, config = argv[0], Config.from_dict(json.loads(argv[1]))
    torch.set_num_threads(int(os.environ.get("OPTIMLAB_WORKER_THREADS", "1")))
    if mode == "time":
        seconds, out = float(argv[2]), Path(argv[3])
        atomic_write_text(out, json.dumps(measure(config, seconds)))
    elif mode == "train":
        root, checkpoints, command = argv[2], argv[3], argv[4]
        path = run_keeping_epochs(config, root, checkpoints, command)
        print(f"{config.label}: done -> {path.name}", flush=True)
    else:
        raise SystemExit(f"mode must be 'time' or 'train', got {mode!r}")
    return 0


# --- the orchestrator -----------------------------------------------------------------

def _start(args: list[str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as stream:
        return subprocess.Popen([sys.executable, "-m", "optimlab.experiments.oneshot", *args],
                                stdout=stream, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _wait(processes: list[subprocess.Popen], deadline: float, tick=None,
          every: float = 30.0) -> list[int | None]:
    """Wait until every process ends or ``deadline``; then stop the rest (SIGTERM,
    then SIGKILL).  ``tick()`` runs every ``every`` seconds meanwhile."""
    last = time.monotonic()
    while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
        time.sleep(0.5)
        if tick is not None and time.monotonic() - last >= every:
            tick()
            last = time.monotonic()
    for signal_number in (signal.SIGTERM, signal.SIGKILL):
        for p in processes:
            if p.poll() is None:
                os.killpg(p.pid, signal_number)
        for p in processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
    return [p.returncode for p in processes]


def _pack(work: Path, out: Path) -> Path:
    """``out/records.tar``: the records, the logs and plan.json, written atomically."""
    files = [*sorted(work.glob("results/*/*.json")), *sorted(work.glob("logs/*.log")),
             work / "plan.json"]

    def write(stream):
        with tarfile.open(fileobj=stream, mode="w") as tar:
            for path in files:
                try:
                    tar.add(path, arcname=str(path.relative_to(work)))
                except FileNotFoundError:   # a worker replaced it meanwhile
                    pass
    return atomic_write(out / "records.tar", write)


def oneshot(configs: list[Config], out, work, budget_s: float, timing_s: float,
            command: str, say=print) -> dict[str, Any]:
    """Time, plan and run ``configs`` at once (see the module); return the plan."""
    for config in configs:
        check_truncatable(config)
    out, work = Path(out), Path(work)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    say(f"timing {len(configs)} runs at once for {timing_s:g} s")
    timing_files = [work / "timing" / f"{c.key()}.json" for c in configs]
    processes = [_start(["time", json.dumps(c.to_dict()), str(timing_s), str(f)],
                        work / "logs" / f"time-{c.key()}.log")
                 for c, f in zip(configs, timing_files)]
    _wait(processes, started + 3 * timing_s + 120)
    missing = [c.label for c, f in zip(configs, timing_files) if not f.is_file()]
    if missing:
        _pack(work, out)
        raise WorkerError(f"the timing run failed for {missing}: see logs/ in "
                           f"{out / 'records.tar'}")
    timings = [json.loads(f.read_text()) for f in timing_files]
    remaining = budget_s - (time.monotonic() - started)
    epochs = plan_epochs(timings, remaining, max(c.epochs for c in configs))
    plan = {"configs": len(configs), "timing_s": timing_s, "budget_s": budget_s,
            "budget_left_s": round(remaining, 1), "epochs": epochs, "timings": timings,
            "device": configs[0].device, "command": command}
    atomic_write_text(work / "plan.json", json.dumps(plan, indent=1))
    say(f"plan: {epochs} epochs per run (slowest epoch "
        f"{max(t['epoch_s'] for t in timings):.1f} s, {remaining:.0f} s left)")
    processes = [_start(["train", json.dumps(c.replace(epochs=epochs).to_dict()),
                         str(work / "results"), str(work / "checkpoints"), command],
                        work / "logs" / f"train-{c.key()}.log") for c in configs]
    codes = _wait(processes, started + budget_s, tick=lambda: _pack(work, out))
    plan["exit_codes"] = codes
    plan["wall_s"] = round(time.monotonic() - started, 1)
    atomic_write_text(work / "plan.json", json.dumps(plan, indent=1))
    _pack(work, out)
    say(f"done in {plan['wall_s']:.0f} s; exit codes {codes} -> {out / 'records.tar'}")
    return plan


# --- bringing the records home ----------------------------------------------------------

def _in_grid(config: Config) -> bool:
    if config.experiment not in ("cifar10", "cifar10-smoke"):
        return False
    full = grids.grid(config.experiment, seeds=(config.seed,), device=config.device)
    return config.replace(epochs=full[0].epochs) in full


def import_records(tar_path, root=None, say=print) -> list[Path]:
    """Store the records of ``records.tar`` in the result cache.

    Each one must be intact (:func:`records.read`), belong to the ``cifar10`` or
    ``cifar10-smoke`` grid (any number of epochs) and pass the audit (its
    fingerprint recomputed on this CPU); else :class:`ImportRefusedError`, and
    nothing is stored.  A record replaces the cached records of the same run with
    fewer epochs (they are its first epochs)."""
    with tempfile.TemporaryDirectory() as folder:
        with tarfile.open(tar_path) as tar:
            tar.extractall(folder, filter="data")
        paths = sorted(Path(folder).glob("results/*/*.json"))
        if not paths:
            raise ImportRefusedError(f"{tar_path} holds no records under results/")
        checked = []
        for path in paths:
            try:
                record = records.read(path)
            except records.DamagedResultError as error:
                raise ImportRefusedError(f"{tar_path}: {error}") from None
            config = Config.from_dict(record["config"])
            if not _in_grid(config):
                raise ImportRefusedError(f"{tar_path}: {path.name} ({config.label}) is not "
                                         f"a run of the cifar10 grids")
            result = audit_file(path)
            if not result.ok:
                raise ImportRefusedError(f"{tar_path}: {path.name} ({config.label}) fails "
                                         f"the audit: {result.reason}")
            checked.append((config, path))
        stored = []
        for config, path in checked:
            target = cache.path_for(config, root)
            atomic_write(target, lambda stream, p=path: stream.write(p.read_bytes()))
            for other in target.parent.glob("*.json"):
                if other != target and _shorter_run_of(other, config):
                    other.unlink()
            say(f"{config.label}, {config.epochs} epochs: stored as {target}")
            stored.append(target)
    return stored


def _shorter_run_of(path: Path, config: Config) -> bool:
    try:
        other = Config.from_dict(json.loads(path.read_text())["config"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return other.epochs < config.epochs and other.replace(epochs=config.epochs) == config


if __name__ == "__main__":
    sys.exit(worker(sys.argv[1:]))
