"""The audit of the result cache: is every record intact, and does the current code
still produce it?

For every cache file the audit

1. reads it with :func:`optimlab.experiments.records.read`: it must parse, hold every
   field with the type and length its config implies (a fingerprint as long as the
   config says, one loss per update, one evaluation per evaluation point) and match
   its digest, which covers every number a chapter reads -- the final loss, the
   test accuracy, every validation accuracy;
2. recomputes its fingerprint (the float32 losses of the first updates) on the CPU
   with the current code and data, and compares it within the tolerance of
   :mod:`optimlab.experiments.reproduction` (``RTOL`` and friends are re-exported
   here).

And it *replays* whole runs (:func:`replay_file`): the run is trained again from
its config, on the CPU with the thread count it recorded, and every logged number
-- each training loss, each validation and test loss and accuracy, the final test
-- is compared with the record.  On the machine kind that produced a CPU run this is
bitwise (measured: a 10,000-update MNIST run replayed with its one thread gave
the same 10,000 losses to the last bit); :data:`REPLAY_RTOL` allows the last-bit
differences of another CPU, which grow over a long run (measured, 1 against 2
threads on the same MNIST runs: see the constant).  A whole run costs what it cost
to produce, so ``make test`` replays one affordable CPU run
(:data:`REPLAY_BUDGET_S`), chosen by :func:`choose_replay` from the commit being
tested: a different one at each commit, all of them over time.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cache, records, reproduction, runner
from .config import Config
from .records import DamagedResultError
from .reproduction import ATOL, BLOWUP, RTOL, RTOL_UNSTABLE, compare

__all__ = ["RTOL", "ATOL", "BLOWUP", "RTOL_UNSTABLE", "REPLAY_RTOL", "REPLAY_ACCURACY",
           "REPLAY_BUDGET_S", "AuditResult", "compare", "audit_file", "replay_file",
           "compare_runs", "choose_replay", "cached_files", "audit",
           "NothingToAuditError", "OTHER_AUDITS", "head_commit",
           "SAMPLED_IN_TESTS", "sample_for_tests"]

#: Relative tolerance of a replayed run's losses against the record.
REPLAY_RTOL = 1e-2
#: The largest difference of a replayed accuracy from the record's (accuracies are
#: fractions: one image in two thousand).
REPLAY_ACCURACY = 5e-4
#: Runs that took at most this long (their recorded wall time) can be replayed in CI.
REPLAY_BUDGET_S = 120.0
#: Folders of the results root that hold records of another kind, with the command
#: that audits them: this audit leaves them out.
OTHER_AUDITS = {
    "choosing-small": "python -m optimlab.experiments small-tasks audit"}


class NothingToAuditError(FileNotFoundError):
    """The results folder or an experiment named has no cache file to audit."""


@dataclass
class AuditResult:
    """The verdict on one cache file: whether it passed (``ok``), the largest
    relative difference of the recomputed losses, the ``reason`` (``"ok"`` or what
    failed), the seconds it took, and the ``kind`` of check, ``"fingerprint"``
    (:func:`audit_file`) or ``"replay"`` (:func:`replay_file`)."""

    path: Path
    label: str
    ok: bool
    max_relative_difference: float
    reason: str
    seconds: float
    kind: str = "fingerprint"


def _failed(path, label, reason, started, kind="fingerprint") -> AuditResult:
    return AuditResult(Path(path), label, False, float("nan"), reason,
                       time.perf_counter() - started, kind)


def audit_file(path) -> AuditResult:
    """Check one cache file: intact (fields, lengths, digest) and its fingerprint
    recomputed by the current code."""
    started = time.perf_counter()
    try:
        record = records.read(path)
    except DamagedResultError as error:
        return _failed(path, "?", f"damaged: {error.why}", started)
    config = Config.from_dict(record["config"])
    verdict = reproduction.verdict(record)
    if verdict.recomputed:
        ok, difference = verdict.current, verdict.max_relative_difference
    else:
        ok, difference = compare(record["fingerprint"],
                                 reproduction.recompute_fingerprint(record))
    changed = f" ({verdict.describe()})" if verdict.changed else ""
    reason = "ok" + changed if ok else (f"fingerprint mismatch: the current code does not "
                                        f"reproduce the first {len(record['fingerprint'])} "
                                        f"losses{changed}")
    return AuditResult(Path(path), config.label, ok, difference, reason,
                       time.perf_counter() - started)


def _series_pairs(record, replayed):
    yield "train_loss", record["train_loss"], replayed["train_loss"]
    for name in record["evals"]:
        if name not in ("wall_time_s", "step", "epoch"):
            yield f"evals.{name}", record["evals"][name], replayed["evals"][name]
    if record["test"] is not None:
        for name in ("loss", "accuracy"):
            yield f"test.{name}", [record["test"][name]], [replayed["test"][name]]
    yield "fingerprint", record["fingerprint"], replayed["fingerprint"]


def compare_runs(record, replayed) -> tuple[bool, float, str]:
    """Whether a replayed run (a :func:`runner.run` result) gives every logged number
    of ``record``: losses within :data:`REPLAY_RTOL`, accuracies within
    :data:`REPLAY_ACCURACY`, the same entries non-finite.  Returns (ok, the largest
    relative loss difference, the first disagreement or "ok")."""
    largest = 0.0
    for name, stored, again in _series_pairs(record, replayed):
        a, b = reproduction.as_floats(stored), reproduction.as_floats(again)
        if a.shape != b.shape:
            return False, float("inf"), f"{name}: {len(stored)} values, replayed {len(again)}"
        if not np.array_equal(np.isfinite(a), np.isfinite(b)):
            index = int(np.argmax(np.isfinite(a) != np.isfinite(b)))
            return False, float("inf"), f"{name}[{index}]: {stored[index]} vs {again[index]}"
        finite = np.isfinite(a)
        a, b = a[finite], b[finite]
        if name.endswith("accuracy"):
            bad = np.abs(a - b) > REPLAY_ACCURACY
        else:
            relative = np.abs(a - b) / np.maximum(np.abs(a), ATOL)
            largest = max(largest, float(relative.max(initial=0.0)))
            bad = relative > REPLAY_RTOL
        if bad.any():
            index = int(np.flatnonzero(finite)[np.argmax(bad)])
            return False, largest, (f"{name}[{index}]: stored {stored[index]}, replayed "
                                    f"{again[index]}")
    return True, largest, "ok"


def replay_file(path) -> AuditResult:
    """Train the run of a cache file again on the CPU and compare every number."""
    started = time.perf_counter()
    try:
        record = records.read(path)
    except DamagedResultError as error:
        return _failed(path, "?", f"damaged: {error.why}", started, "replay")
    config = Config.from_dict(record["config"])
    if config.device != "cpu":
        return _failed(path, config.label, "only CPU runs can be replayed on the CPU",
                       started, "replay")
    with reproduction.recorded_threads(record):
        replayed = runner.run(config)
    ok, difference, reason = compare_runs(record, replayed)
    return AuditResult(Path(path), config.label, ok, difference,
                       "ok: every logged number reproduced" if ok else
                       f"replay differs: {reason}", time.perf_counter() - started, "replay")


def head_commit() -> str:
    """The git commit of the checkout (else today's date): the salt of a draw."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return time.strftime("%Y-%m-%d")


def _replayable(path, budget_s: float) -> bool:
    """An intact CPU run that took at most ``budget_s`` seconds."""
    try:
        record = records.read(path)
    except DamagedResultError:
        return False
    return record["config"]["device"] == "cpu" and record["wall_time_s"] <= budget_s


def choose_replay(paths, salt: str | None = None) -> Path | None:
    """One cache file to replay: among the intact CPU runs that took at most
    :data:`REPLAY_BUDGET_S`, the one that ``salt`` (default: the git commit being
    tested, else today's date) hashes to; None when there is none."""
    eligible = [Path(p) for p in sorted(paths) if _replayable(p, REPLAY_BUDGET_S)]
    if not eligible:
        return None
    salt = head_commit() if salt is None else salt
    return eligible[int(hashlib.sha256(salt.encode()).hexdigest(), 16) % len(eligible)]


#: Folders with so many records that the test suite recomputes a sample of them,
#: drawn anew by each commit (:func:`sample_for_tests`); ``audit`` checks all.
SAMPLED_IN_TESTS = {"choosing-networks": 24}


def sample_for_tests(paths, salt: str | None = None) -> list[Path]:
    """``paths`` with only :data:`SAMPLED_IN_TESTS` of the records of each folder
    named there, drawn by hashing each path with ``salt`` (default: the git commit
    being tested), so that successive commits check different records."""
    salt = head_commit() if salt is None else salt
    kept, by_folder = [], {}
    for path in map(Path, paths):
        if path.parent.name in SAMPLED_IN_TESTS:
            by_folder.setdefault(path.parent.name, []).append(path)
        else:
            kept.append(path)
    for folder, found in by_folder.items():
        def draw(path):
            return hashlib.sha256(f"{salt}/{path.name}".encode()).hexdigest()
        kept += sorted(sorted(found, key=draw)[:SAMPLED_IN_TESTS[folder]])
    return kept


def cached_files(experiments=None, root=None) -> list[Path]:
    """Every cache file of the given experiment folders (default: all of them but
    those of :data:`OTHER_AUDITS`).

    :class:`NothingToAuditError` when the root or a named experiment folder does not
    exist, or when there is no file at all."""
    root = Path(root or cache.results_root())
    if not root.is_dir():
        raise NothingToAuditError(f"the results folder {root} does not exist")
    if experiments:
        others = [name for name in experiments if name in OTHER_AUDITS]
        if others:
            raise NothingToAuditError(f"{others[0]} holds no run records; audit "
                                      f"it with `{OTHER_AUDITS[others[0]]}`")
        folders = [root / name for name in experiments]
        missing = [str(folder) for folder in folders if not folder.is_dir()]
        if missing:
            known = sorted(p.name for p in root.iterdir() if p.is_dir())
            raise NothingToAuditError(f"no experiment folder {', '.join(missing)} "
                                      f"(experiments under {root}: {known})")
    else:
        folders = sorted(p for p in root.iterdir()
                         if p.is_dir() and p.name not in OTHER_AUDITS)
    paths = [path for folder in folders for path in sorted(folder.glob("*.json"))]
    if not paths:
        raise NothingToAuditError(f"no cache file (*.json) under {', '.join(map(str, folders))}"
                                  if folders else f"no experiment folder under {root}")
    return paths


def audit(experiments=None, root=None, report=None, replay: str = "none",
          salt: str | None = None) -> list[AuditResult]:
    """Audit every cached file, then replay runs: ``replay`` is ``"none"``,
    ``"one"`` (:func:`choose_replay`) or ``"all"`` (every CPU run).
    ``report(result)`` is called after each check."""
    if replay not in ("none", "one", "all"):
        raise ValueError(f"replay must be 'none', 'one' or 'all', got {replay!r}")
    paths = cached_files(experiments, root)
    results = []
    for path in paths:
        results.append(audit_file(path))
        if report is not None:
            report(results[-1])
    if replay == "all":
        chosen = [p for p in paths if _replayable(p, float("inf"))]
    else:
        chosen = [choose_replay(paths, salt)] if replay == "one" else []
    for path in filter(None, chosen):
        results.append(replay_file(path))
        if report is not None:
            report(results[-1])
    return results
