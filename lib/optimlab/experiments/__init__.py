"""Reproducible training runs with an auditable result cache.

* :mod:`.config`     :class:`Config`, a frozen description of one run, keyed by a hash
* :mod:`.runner`     :func:`run` trains a config; :func:`fingerprint` its first losses
* :mod:`.checkpoint` per-epoch npz + json checkpoints of long runs (no pickles)
* :mod:`.cache`      JSON results under ``book/results/``, :func:`run_or_load`
* :mod:`.audit`      recompute every cached run's fingerprint on the CPU
* :mod:`.grids`      the named grids of the book (``mnist``, ``cifar10``, ...)
* :mod:`.distributed` a run shared by the ranks of ``torchrun`` (DDP)
* :mod:`.imagefolder` ImageNet-style image folders, sharded batches
* :mod:`.architectures` the networks a config names (ResNet-50 included)
* :mod:`.large_batch` what data parallelism does to an optimizer, measured
* :mod:`.small_tasks` the five small tasks of the optimizer benchmark
* :mod:`.small_optimizers` its table: every optimizer of :mod:`optimlab.optim`
* :mod:`.choosing_small` its protocol: rate search, final seeds, memory, time
* :mod:`.choosing_records` its sealed records (one per task) and their audit
* :mod:`.choosing_summary` paired differences, intervals and the table
* :mod:`.cli`        ``python -m optimlab.experiments run|list|audit|small-tasks``
"""

from .cache import (MissingResultError, StaleResultError, load, load_experiment,
                    run_or_load)
from .config import Config
from .grids import grid
from .runner import fingerprint, run

__all__ = ["Config", "run", "fingerprint", "run_or_load", "load", "load_experiment",
           "grid", "MissingResultError", "StaleResultError"]
