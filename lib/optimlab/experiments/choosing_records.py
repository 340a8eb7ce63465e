"""The records of the small-task benchmark and their audit.

One sealed JSON file per task, ``<results>/choosing-small/<task>.json``, holds
what :func:`optimlab.experiments.choosing_small.measure_task` measured (every
run of every search and final seed, the chosen rates, the state bytes), the
timing (kept apart: it is not reproducible), the provenance, a format version
and a digest (:func:`optimlab.experiments.records.digest`: SHA-256 of the
canonical JSON of everything else).  It is written atomically when the whole
task is done (:mod:`.files`), so an interruption leaves the previous file or
none, never half of one: :func:`run_task` keeps a finished task and runs an
unfinished one again.  :func:`read` refuses a file that does not parse, lacks a
field, names another task or whose digest does not match, naming the file.

The audit (:func:`audit_task`) recomputes a task -- or only the runs of some
optimizers, or a sample of its runs -- and compares every logged number with
the stored one (exactly, or within :data:`RTOL` relative for floats), timing
and provenance excluded; it reports each mismatch by its place in the record.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import platform
import random
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import __version__, landscapes, online, optim, toy
from . import cache, choosing_small, files, small_optimizers, small_tasks
from .provenance import device_name
from .records import DamagedResultError, digest

__all__ = ["EXPERIMENT", "FORMAT", "RTOL", "path_for", "make_record", "write",
           "read", "describe", "run_task", "compare", "audit_task", "sample_runs"]

#: The folder of the results that holds one record per task.
EXPERIMENT = "choosing-small"
#: 1: the first format of these records.
FORMAT = 1
#: Relative tolerance of a float in the audit (the runs are float64 on a CPU).
RTOL = 1e-12
#: Parts of a record that the audit does not compare.
UNAUDITED = ("timing", "provenance", "digest", "format", "kind")
_FIELDS = {"kind": str, "format": int, "task": dict, "protocol": dict,
           "optimizers": dict, "timing": dict, "provenance": dict, "digest": str}


def path_for(task: str, root=None) -> Path:
    """Where the record of ``task`` is kept: ``<results>/choosing-small/<task>.json``."""
    return Path(root or cache.results_root()) / EXPERIMENT / f"{task}.json"


def _sha(*modules) -> str:
    text = "\n".join(inspect.getsource(module) for module in modules)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def code_hashes() -> dict[str, str]:
    """Hashes of the source behind the numbers: the tasks (and the modules they
    build on), the protocol and its table, the optimizers."""
    optim_dir = Path(inspect.getfile(optim.Optimizer)).parent
    optimizers = "\n".join(p.read_text() for p in sorted(optim_dir.glob("*.py")))
    return {"tasks": _sha(small_tasks, landscapes, online, toy),
            "protocol": _sha(choosing_small, small_optimizers),
            "optimizers": hashlib.sha256(optimizers.encode()).hexdigest()[:16]}


def make_record(body: dict, timing: dict, command: str, wall_s: float,
                cpu_s: float) -> dict:
    """The sealed record of a measured task."""
    provenance = {"optimlab": __version__, "code_hash": code_hashes(),
                  "torch": torch.__version__, "numpy": np.__version__,
                  "python": platform.python_version(),
                  "device_name": device_name("cpu"),
                  "threads": torch.get_num_threads(),
                  "platform": platform.platform(),
                  "command": command, "wall_time_s": wall_s, "cpu_time_s": cpu_s,
                  "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    record = {"kind": EXPERIMENT, "format": FORMAT, **body, "timing": timing,
              "provenance": provenance}
    return {**record, "digest": digest(record)}


def write(record: dict, root=None) -> Path:
    """Write ``record`` atomically to its task's path; return the path."""
    text = json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
    return files.atomic_write_text(path_for(record["task"]["name"], root), text)


def validate(record, path) -> None:
    """Raise :class:`DamagedResultError` naming ``path`` unless ``record`` is a
    whole, unaltered record of the task its file name gives."""
    if not isinstance(record, dict):
        raise DamagedResultError(path, f"it holds a JSON {type(record).__name__}, "
                                       f"not a record")
    for name, kind in _FIELDS.items():
        if not isinstance(record.get(name), kind):
            raise DamagedResultError(path, f"{name} is missing or not a "
                                           f"{kind.__name__}")
    if record["kind"] != EXPERIMENT or record["format"] != FORMAT:
        raise DamagedResultError(path, f"it is a {record['kind']!r} record of "
                                       f"format {record['format']}; this optimlab "
                                       f"reads {EXPERIMENT!r} format {FORMAT}")
    if record["digest"] != digest(record):
        raise DamagedResultError(path, "its digest does not match its contents (the "
                                       "file was changed after it was written)")
    name = record["task"].get("name")
    if Path(path).stem != name:
        raise DamagedResultError(path, f"it holds the task {name!r}, not the one "
                                       f"its name says")


def read(path) -> dict:
    """The record in ``path``, checked by :func:`validate`."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise DamagedResultError(path, f"it cannot be read ({error})") from None
    except ValueError as error:
        raise DamagedResultError(path, f"it is not valid JSON ({error}); the file "
                                       f"may be truncated") from None
    validate(record, path)
    return record


def describe(task: str, root=None) -> str:
    """``missing``, ``cached`` or ``damaged (why)``."""
    path = path_for(task, root)
    if not path.is_file():
        return "missing"
    try:
        read(path)
    except DamagedResultError as error:
        return f"damaged ({error.why})"
    return "cached"


def run_task(name: str, root=None, force: bool = False, command: str = "",
             say: Callable[[str], None] = print, updates: int | None = None) -> Path:
    """Measure task ``name`` and store its record, unless a whole record is there
    (``force`` measures it again); a damaged file is kept under another name."""
    path = path_for(name, root)
    status = describe(name, root)
    if status == "cached" and not force:
        say(f"{name}: cached in {path}, kept")
        return path
    if status.startswith("damaged"):
        say(f"{name}: {status}; kept as {cache.set_aside(path)}, measuring it again")
    wall, cpu = time.perf_counter(), time.process_time()
    body, timing = choosing_small.measure_task(small_tasks.task(name, updates), say)
    record = make_record(body, timing, command, time.perf_counter() - wall,
                         time.process_time() - cpu)
    written = write(record, root)
    say(f"{name}: {record['provenance']['wall_time_s']:.1f} s wall, "
        f"{record['provenance']['cpu_time_s']:.1f} s CPU -> {written}")
    return written


# --- the audit ---------------------------------------------------------------------

def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not (
            isinstance(a, (int, float)) and isinstance(b, (int, float))):
        return a == b
    if a == b:
        return True
    return math.isfinite(a) and math.isfinite(b) and \
        abs(a - b) <= RTOL * max(abs(a), abs(b))


def compare(stored, again, where: str = "") -> list[str]:
    """Every place where ``again`` differs from ``stored`` (lists by index, dicts
    by key; floats within :data:`RTOL`), as ``"place: stored X, recomputed Y"``."""
    if isinstance(stored, dict) and isinstance(again, dict):
        found = []
        for key in sorted(set(stored) | set(again)):
            place = f"{where}.{key}" if where else key
            if key not in stored or key not in again:
                where_found = "recomputed" if key in again else "stored"
                found.append(f"{place}: only {where_found}")
            elif not (where == "" and key in UNAUDITED):
                found += compare(stored[key], again[key], place)
        return found
    if isinstance(stored, list) and isinstance(again, list):
        if len(stored) != len(again):
            return [f"{where}: {len(stored)} entries stored, {len(again)} "
                    f"recomputed"]
        return [m for i, (a, b) in enumerate(zip(stored, again))
                for m in compare(a, b, f"{where}[{i}]")]
    return [] if _same(stored, again) else [f"{where}: stored {stored!r}, "
                                            f"recomputed {again!r}"]


def _run_keys(record: dict, names) -> list[tuple[str, str, int]]:
    """Every run of the optimizers ``names``: (optimizer, part, index)."""
    return [(name, part, i) for name in sorted(names)
            if record["optimizers"][name]["applicable"]
            for part in ("search", "final")
            for i in range(len(record["optimizers"][name]["search"]["runs"]
                               if part == "search"
                               else record["optimizers"][name]["final"]))]


def sample_runs(record: dict, count: int, salt: str) -> list[tuple[str, str, int]]:
    """``count`` runs of ``record``, as (optimizer, "search" or "final", index),
    drawn by ``salt`` (the same salt draws the same runs)."""
    runs = _run_keys(record, record["optimizers"])
    chooser = random.Random(hashlib.sha256(salt.encode()).hexdigest())
    return sorted(chooser.sample(runs, min(count, len(runs))))


def _audit_optimizer(record: dict, task, name: str) -> list[str]:
    """The cheap numbers of one optimizer: its description, the choice of its
    rate from its stored search runs, its state bytes."""
    entry, item = record["optimizers"][name], small_optimizers.entry(name)
    described = choosing_small.describe_entry(task, item)
    found = compare({key: entry.get(key) for key in described}, described,
                    f"optimizers.{name}")
    if not entry["applicable"]:
        return found
    search = entry["search"]
    runs = dict(zip(search["exponents"], search["runs"]))
    best, side = choosing_small.choose(runs)
    derived = {"chosen_exponent": best, "chosen_lr": choosing_small.rate(item, best),
               "edge_after_limit": side is not None}
    found += compare({key: search[key] for key in derived}, derived,
                     f"optimizers.{name}.search")
    state = choosing_small.state_per_parameter(task, item, search["chosen_lr"])
    found += compare(entry["state_bytes_per_parameter"], state,
                     f"optimizers.{name}.state_bytes_per_parameter")
    return found


def _audit_run(record: dict, task, key: tuple[str, str, int]) -> list[str]:
    name, part, index = key
    entry = record["optimizers"][name]
    stored = entry["search"]["runs"][index] if part == "search" \
        else entry["final"][index]
    again = choosing_small.run_one(task, small_optimizers.entry(name), stored["lr"],
                                   stored["seed"])
    place = "search.runs" if part == "search" else "final"
    return compare(stored, again, f"optimizers.{name}.{place}[{index}]")


@contextmanager
def _threads_of(record: dict):
    """Recompute with the thread count the record was measured with."""
    threads = torch.get_num_threads()
    wanted = record["provenance"].get("threads", threads)
    if isinstance(wanted, int) and not isinstance(wanted, bool) and wanted >= 1:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def audit_task(path, optimizers=None, sample: int | None = None, salt: str = "",
               say: Callable[[str], None] = lambda line: None) -> list[str]:
    """The mismatches of the record in ``path`` against a recomputation: of the
    whole task (the default; the searches with their widening included), of the
    optimizers ``optimizers`` (their runs and numbers), or of ``sample`` runs
    drawn by ``salt`` (and their optimizers' numbers)."""
    record = read(path)
    task = small_tasks.task(record["task"]["name"], record["task"]["updates"])
    found = compare(record["task"], task.spec(), "task")
    found += compare(record["protocol"], choosing_small.protocol(), "protocol")
    unknown = sorted(set(optimizers or ()) - set(record["optimizers"]))
    if unknown:
        raise ValueError(f"{path}: no optimizer {unknown} in this record; it has "
                         f"{sorted(record['optimizers'])}")
    with _threads_of(record):
        if optimizers is None and sample is None:
            body, _ = choosing_small.measure_task(task, say, timing=False)
            audited = {k: v for k, v in record.items() if k not in UNAUDITED}
            return found + compare(audited, body)
        runs = sample_runs(record, sample, salt) if sample is not None \
            else _run_keys(record, optimizers)
        names = sorted(set(optimizers or ()) | {name for name, _, _ in runs})
        say(f"{record['task']['name']}: recomputing {len(runs)} run(s) of "
            f"{', '.join(names)}")
        for name in names:
            found += _audit_optimizer(record, task, name)
        for key in runs:
            found += _audit_run(record, task, key)
    return found
