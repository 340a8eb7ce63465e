"""The audit: recompute every cached run's fingerprint on the CPU and compare.

A cached file stores the float32 training losses of its run's first few updates,
computed without autocast or TF32 from batches drawn on the CPU
(:func:`optimlab.experiments.runner.fingerprint`).  The audit rebuilds each run
from its recorded config and seed with the *current* code and data, recomputes
those losses on the CPU and compares them with :data:`RTOL` and :data:`ATOL`.

Why a tolerance and how large: the same float32 computation gives bitwise equal
losses on one machine with one thread count (the audit therefore uses the thread
count a CPU run recorded), but another CPU (other SIMD widths, other BLAS
blocking), another thread count or a GPU sums in another order, and a loss then
moves in its last bits, about 1e-7 relative.  While training is stable such
differences grow only a little over the few updates of a fingerprint (measured on
all 48 MNIST runs, 1 vs 2 threads: at most 3e-5, for AMSGrad with α = 0.1); a real
change of the code or the data -- another initialisation, batch, learning rate,
update rule or split -- changes the losses by 1e-3 relative or more from the first
update on (ADOPT's clip shifted by one step: 1e-3 to 1e-2 at α = 0.001, more at
larger α).  :data:`RTOL` = 3e-4 sits between the two.

One regime is different: a run whose loss explodes in its first updates (ADOPT
with α = 1 on MNIST reaches 60 times its initial loss at the third update)
amplifies rounding differences about tenfold per update, to 2e-3 after twelve
(measured, 1 vs 2 threads).  Once the stored loss has exceeded :data:`BLOWUP`
times its first value, the remaining entries are compared with the looser
:data:`RTOL_UNSTABLE` = 3e-2, still far below the change a different update rule
makes there (tens of per cent).  A non-finite loss (stored as null) must be
non-finite again.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import cache, runner
from .config import Config

__all__ = ["RTOL", "ATOL", "BLOWUP", "RTOL_UNSTABLE", "AuditResult", "audit_file",
           "audit", "cached_files"]

RTOL = 3e-4
ATOL = 1e-6
BLOWUP = 10.0
RTOL_UNSTABLE = 3e-2


@dataclass
class AuditResult:
    path: Path
    label: str
    ok: bool
    max_relative_difference: float
    reason: str
    seconds: float


def compare(stored, recomputed) -> tuple[bool, float]:
    """Whether two fingerprints agree within the tolerance, and the largest relative
    difference between their finite entries."""
    if len(stored) != len(recomputed):
        return False, float("inf")
    a = np.array([np.nan if v is None else v for v in stored], dtype=np.float64)
    b = np.array([np.nan if v is None else v for v in recomputed], dtype=np.float64)
    if not np.array_equal(np.isfinite(a), np.isfinite(b)):
        return False, float("inf")
    finite = np.isfinite(a)
    if not finite.any():
        return True, 0.0
    blown_up = np.maximum.accumulate(np.nan_to_num(np.abs(a), nan=np.inf)
                                     > BLOWUP * abs(a[0]))
    rtol = np.where(blown_up, RTOL_UNSTABLE, RTOL)[finite]
    a, b = a[finite], b[finite]
    relative = np.abs(a - b) / np.maximum(np.abs(b), ATOL / RTOL)
    return bool(np.all(np.abs(a - b) <= ATOL + rtol * np.abs(b))), float(relative.max())


def audit_file(path) -> AuditResult:
    """Check one cache file: fresh code hashes and a matching fingerprint."""
    started = time.perf_counter()
    record = json.loads(Path(path).read_text())
    config = Config.from_dict(record["config"])
    stale = cache.stale_components(record)
    if stale:
        return AuditResult(Path(path), config.label, False, float("nan"),
                           f"stale: the {', '.join(stale)} code changed",
                           time.perf_counter() - started)
    stored = record["fingerprint"]
    threads = torch.get_num_threads()
    if config.device == "cpu":  # same thread count as the run: bitwise on its machine
        torch.set_num_threads(max(1, min(record["provenance"].get("threads", threads),
                                         os.cpu_count() or 1)))
    try:
        recomputed = runner.fingerprint(config, "cpu", steps=len(stored))
    finally:
        torch.set_num_threads(threads)
    ok, difference = compare(stored, recomputed)
    reason = "ok" if ok else (f"fingerprint mismatch: stored {stored[:3]}..., "
                              f"recomputed {recomputed[:3]}...")
    return AuditResult(Path(path), config.label, ok, difference, reason,
                       time.perf_counter() - started)


def cached_files(experiments=None, root=None) -> list[Path]:
    """Every cache file of the given experiment folders (default: all of them)."""
    root = Path(root or cache.results_root())
    folders = ([root / name for name in experiments] if experiments
               else sorted(p for p in root.glob("*") if p.is_dir()))
    return [path for folder in folders for path in sorted(folder.glob("*.json"))]


def audit(experiments=None, root=None, report=None) -> list[AuditResult]:
    """Audit every cached file; ``report(result)`` is called after each one."""
    results = []
    for path in cached_files(experiments, root):
        results.append(audit_file(path))
        if report is not None:
            report(results[-1])
    return results
