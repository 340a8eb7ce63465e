"""Whether the current code still produces a cached run: staleness by behaviour.

A cached record stores the float32 training losses of its run's first few updates
(its *fingerprint*, :func:`optimlab.experiments.runner.fingerprint`) and, as
provenance, hashes of the source that produced it.  A record is **current** when

* its code hashes equal those of the current code (then nothing could have
  changed and nothing is recomputed), or
* the current code, rebuilt from the record's config and seed, recomputes its
  fingerprint on the CPU within the tolerance below.

So an edit that changes no number -- a docstring, a comment, a refactoring, a
torchvision release with the same ResNet -- keeps every cached run current, and an
edit that changes an early update (a planted bug in Adam or ADOPT, another
initialisation, split or batch order) makes every run it affects stale.  A change
that shows only late in a run is the job of the audit's whole-run replay
(:func:`optimlab.experiments.audit.replay_file`).  Verdicts are remembered for the
life of the process, keyed by the record's digest and the current code hashes.

Recomputing fingerprints costs seconds per run, too much for a chapter that reads
dozens of runs after an edit of a docstring.  So ``python -m optimlab.experiments
audit`` also writes what it reproduced to :data:`REPRODUCED_FILE` in the results
folder: per record digest, the code hashes under which its fingerprint was
recomputed and agreed.  :func:`verdict` with ``reproduced`` (what
:func:`read_reproduced` reads) takes such an entry as the verdict when the current
hashes are exactly those; any other change of the code recomputes.  The audit
itself never reads the file: it recomputes every fingerprint.

Why a tolerance and how large: the same float32 computation gives bitwise equal
losses on one machine with one thread count (the recomputation therefore uses the
thread count a CPU run recorded), but another CPU (other SIMD widths, other BLAS
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

import contextlib
import json
import os
from pathlib import Path
from dataclasses import dataclass

import numpy as np
import torch

from . import provenance, records, runner
from .config import Config

__all__ = ["RTOL", "ATOL", "BLOWUP", "RTOL_UNSTABLE", "as_floats", "compare", "Verdict",
           "verdict", "recorded_threads", "recompute_fingerprint", "REPRODUCED_FILE",
           "read_reproduced", "write_reproduced"]

#: Relative tolerance of a recomputed fingerprint's losses (see above).
RTOL = 3e-4
#: Absolute tolerance added to it, for losses near zero.
ATOL = 1e-6
#: A run has blown up from the first stored loss above this many times its first.
BLOWUP = 10.0
#: Relative tolerance of the losses from that one on.
RTOL_UNSTABLE = 3e-2

_VERDICTS: dict[tuple, "Verdict"] = {}
#: The audit's record of the fingerprints it reproduced after a code change, in the
#: results folder: {record digest: {"code_hash": {...}, "max_relative_difference": d}}.
REPRODUCED_FILE = "fingerprints-reproduced.json"


def as_floats(values) -> np.ndarray:
    """Logged values as float64, null (a non-finite value) as NaN."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def compare(stored, recomputed) -> tuple[bool, float]:
    """Whether two fingerprints agree within the tolerance, and the largest relative
    difference between their finite entries."""
    if len(stored) != len(recomputed):
        return False, float("inf")
    a, b = as_floats(stored), as_floats(recomputed)
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


@contextlib.contextmanager
def recorded_threads(record):
    """Run with the CPU thread count a CPU run recorded (bitwise on its machine)."""
    threads = torch.get_num_threads()
    if record["config"]["device"] == "cpu":
        wanted = record["provenance"].get("threads", threads)
        if isinstance(wanted, int) and not isinstance(wanted, bool):
            torch.set_num_threads(max(1, min(wanted, os.cpu_count() or 1)))
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def recompute_fingerprint(record) -> list:
    """The record's fingerprint recomputed on the CPU with the current code and data."""
    config = Config.from_dict(record["config"])
    with recorded_threads(record):
        return runner.fingerprint(config, "cpu", steps=len(record["fingerprint"]))


@dataclass(frozen=True)
class Verdict:
    """Whether a record is current, and why.

    ``changed``: the components whose code hash differs from the current code;
    ``recomputed``: whether the fingerprint was recomputed (only when something
    changed); ``max_relative_difference``: of the recomputed fingerprint (0 when
    not recomputed).
    """

    current: bool
    changed: tuple[str, ...]
    recomputed: bool
    max_relative_difference: float

    def describe(self) -> str:
        """The verdict in words: which code changed, and whether the fingerprint
        was reproduced."""
        if not self.changed:
            return "code unchanged"
        what = " and ".join(self.changed)
        if self.current:
            return f"{what} code changed, fingerprint reproduced"
        return (f"{what} code changed and the fingerprint differs (largest relative "
                f"difference {self.max_relative_difference:.1e})")


def verdict(record, reproduced: dict | None = None) -> Verdict:
    """Whether the current code reproduces ``record`` (a record read by
    :func:`optimlab.experiments.records.read`).  ``reproduced``
    (:func:`read_reproduced`) spares the recomputation when the audit reproduced
    this record under exactly the current code hashes."""
    config = Config.from_dict(record["config"])
    current_hashes = provenance.code_hashes(config)
    stored_hashes = record["provenance"]["code_hash"]
    changed = tuple(sorted(name for name in current_hashes
                           if stored_hashes.get(name) != current_hashes[name]))
    if not changed:
        return Verdict(True, (), False, 0.0)
    digest = records.digest(record)
    memo_key = (digest, tuple(sorted(current_hashes.items())))
    entry = (reproduced or {}).get(digest)
    if memo_key not in _VERDICTS and isinstance(entry, dict) \
            and entry.get("code_hash") == current_hashes:
        _VERDICTS[memo_key] = Verdict(True, changed, True,
                                      float(entry.get("max_relative_difference", 0.0)))
    if memo_key not in _VERDICTS:
        ok, difference = compare(record["fingerprint"], recompute_fingerprint(record))
        _VERDICTS[memo_key] = Verdict(ok, changed, True, difference)
    return _VERDICTS[memo_key]


def read_reproduced(root) -> dict:
    """The audit's :data:`REPRODUCED_FILE` under ``root``; an empty dict when there is
    none or it cannot be read (the verdicts are then recomputed, never assumed)."""
    try:
        entries = json.loads((Path(root) / REPRODUCED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def write_reproduced(root, entries: dict) -> Path:
    """Store ``entries`` (record digest → code hashes and difference) atomically."""
    from .files import atomic_write_text

    text = json.dumps(dict(sorted(entries.items())), indent=1, sort_keys=True) + "\n"
    return atomic_write_text(Path(root) / REPRODUCED_FILE, text)
