"""The result cache: one JSON file per run under ``book/results/<experiment>/``.

A file is named by its config's key (``<key>.json``) and holds the config, the
result of :func:`optimlab.experiments.runner.run` and its *provenance*: the
optimlab version, hashes of the source of the optimizer, the model and the data
split that produced it, the torch/torchvision/numpy versions, the device, the
command that produced it, the date and the wall time.  Files are plain JSON, so
loading one never executes code.

:func:`run_or_load` is how the book gets a run: the cached result when it is there
and still matches the code; otherwise it runs the config if that is cheap or asked
for, and else stops with an error naming the command that produces the file.
A result whose code hashes no longer match the current code is *stale*: it raises
:class:`StaleResultError` naming what changed, and is never used silently.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__, data, models, optim
from . import runner
from .config import Config

__all__ = ["results_root", "download", "path_for", "code_hashes", "save", "load", "load_experiment",
           "run_or_load", "is_cheap", "command_for", "MissingResultError",
           "StaleResultError", "RUN_ENV_VAR", "RESULTS_ENV_VAR"]

FORMAT = 1
RUN_ENV_VAR = "OPTIMLAB_RUN"
RESULTS_ENV_VAR = "OPTIMLAB_RESULTS"
RESULTS_URL_ENV_VAR = "OPTIMLAB_RESULTS_URL"
DEFAULT_RESULTS_URL = ("https://raw.githubusercontent.com/optimlab/from-gd-to-adopt/main/"
                       "book/results")
#: Runs below this many (image × layer-size) units take well under a minute on a CPU.
CHEAP_IMAGES = {"mlp": 100_000, "resnet18": 1_000}
#: The machinery every optimizer runs on; compiled.py holds the kernels that large
#: CPU models (the CIFAR-10 smoke runs) use by default.
_OPTIM_SHARED = ("base.py", "transforms.py", "tensorlist.py", "compiled.py")


class MissingResultError(LookupError):
    """A run is not in the cache and is too expensive to run implicitly."""


class StaleResultError(RuntimeError):
    """A cached run was produced by code that has changed since."""


def _checkout_results() -> Path:
    return Path(__file__).resolve().parents[3] / "book" / "results"


def results_root() -> Path:
    """``$OPTIMLAB_RESULTS``; else ``book/results`` when optimlab runs from a checkout
    of the repository; else a download folder in the user's cache directory (an
    installed package, e.g. on Colab: see :func:`download`)."""
    configured = os.environ.get(RESULTS_ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    if _checkout_results().is_dir():
        return _checkout_results()
    import platformdirs

    return Path(platformdirs.user_cache_dir("optimlab")) / "results"


def download(config: Config, root=None, base_url: str | None = None) -> bool:
    """Copy ``config``'s cache file from the repository into ``root``; True on success.

    Used only where optimlab is installed without the repository (Colab): the file
    is fetched from ``$OPTIMLAB_RESULTS_URL`` (default: the repository's
    ``book/results`` on GitHub).  It is JSON, so reading it executes nothing, and it
    is checked like any cache file (key, staleness) when loaded.
    """
    import urllib.error
    import urllib.request

    base = (base_url or os.environ.get(RESULTS_URL_ENV_VAR) or DEFAULT_RESULTS_URL).rstrip("/")
    url = f"{base}/{config.experiment}/{config.key()}.json"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            text = response.read().decode()
        json.loads(text)
    except (urllib.error.URLError, OSError, ValueError):
        return False
    path = path_for(config, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def path_for(config: Config, root=None) -> Path:
    """``<root>/<experiment>/<key>.json``."""
    return Path(root or results_root()) / config.experiment / f"{config.key()}.json"


# --- provenance ------------------------------------------------------------------------

def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def code_hashes(config: Config) -> dict[str, str]:
    """Hashes of the source that decides the run's numbers, by component.

    ``optimizer``: the optimizer's classes (its own and its optimlab parents) and
    the shared machinery of :mod:`optimlab.optim` (base, transforms, tensorlist,
    compiled);
    ``model``: the model's builder (and torchvision's ResNet module for ResNets);
    ``data``: the split functions of :mod:`optimlab.data`.
    """
    cls = getattr(optim, config.optimizer)
    own = [inspect.getsource(c) for c in cls.__mro__
           if c.__module__.startswith("optimlab.optim") and c is not optim.Optimizer]
    optim_dir = Path(inspect.getfile(optim.Optimizer)).parent
    shared = [(optim_dir / name).read_text() for name in _OPTIM_SHARED]
    model = [models.source(config.model)]
    if config.model == "resnet18":
        import torchvision.models.resnet as resnet

        model.append(inspect.getsource(resnet))
    splits = [inspect.getsource(f) for f in (data.split_indices, data.make_splits,
                                             data.mnist_splits, data.cifar10_splits)]
    return {"optimizer": _sha("\n".join(own + shared)), "model": _sha("\n".join(model)),
            "data": _sha("\n".join(splits) + f"\nseed={data.SPLIT_SEED}")}


def _device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def provenance(config: Config, command: str) -> dict[str, Any]:
    import torchvision

    return {
        "optimlab": __version__, "code_hash": code_hashes(config),
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "numpy": np.__version__, "python": platform.python_version(),
        "device": config.device, "device_name": _device_name(config.device),
        "threads": torch.get_num_threads(), "platform": platform.platform(),
        "command": command, "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def command_for(config: Config) -> str:
    """The shell command that produces ``config``'s cache file."""
    from .grids import grid_command

    return grid_command(config)


# --- files -------------------------------------------------------------------------

def save(config: Config, result: dict[str, Any], command: str, root=None) -> Path:
    """Write ``result`` with its config and provenance; return the file's path."""
    record = {"format": FORMAT, "experiment": config.experiment, "key": config.key(),
              "label": config.label, "config": config.to_dict(),
              "seed": config.seed, "wall_time_s": result["wall_time_s"],
              "provenance": provenance(config, command), **result}
    path = path_for(config, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n")
    os.replace(temporary, path)
    return path


def _read(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def stale_components(record: dict[str, Any]) -> list[str]:
    """The components whose code hash differs from the current code (empty: fresh)."""
    config = Config.from_dict(record["config"])
    stored, current = record["provenance"]["code_hash"], code_hashes(config)
    return sorted(name for name in current if stored.get(name) != current[name])


def check_fresh(record: dict[str, Any], path) -> None:
    """Raise :class:`StaleResultError` when ``record``'s code has changed."""
    changed = stale_components(record)
    if changed:
        config = Config.from_dict(record["config"])
        raise StaleResultError(
            f"{path}: the cached run {config.label} is stale: the {' and '.join(changed)} "
            f"code changed since it was produced by `{record['provenance']['command']}`. "
            f"Re-run it with: {command_for(config)} (with OPTIMLAB_RUN=1 or run=True from "
            f"Python), after deleting the stale file.")


def load(config: Config, root=None, allow_stale: bool = False) -> dict[str, Any] | None:
    """The cached record of ``config``, or None; stale records raise unless allowed.

    Without a checkout of the repository (and without ``$OPTIMLAB_RESULTS``), a
    missing file is first downloaded from the repository (:func:`download`).
    """
    path = path_for(config, root)
    remote = root is None and not os.environ.get(RESULTS_ENV_VAR) \
        and not _checkout_results().is_dir()
    if not path.is_file() and not (remote and download(config)):
        return None
    record = _read(path)
    if record.get("key") != config.key() or Config.from_dict(record["config"]) != config:
        raise ValueError(f"{path} does not hold the run of {config.label} (key mismatch)")
    if not allow_stale:
        check_fresh(record, path)
    return record


def load_experiment(experiment: str, root=None, allow_stale: bool = False
                    ) -> list[dict[str, Any]]:
    """Every cached record of an experiment folder, sorted by label (fresh ones only
    unless ``allow_stale``)."""
    folder = Path(root or results_root()) / experiment
    records = []
    for path in sorted(folder.glob("*.json")):
        record = _read(path)
        if not allow_stale:
            check_fresh(record, path)
        records.append(record)
    return sorted(records, key=lambda r: (r["config"]["optimizer"], r["config"]["lr"],
                                          r["config"]["seed"]))


# --- run or load -------------------------------------------------------------------

def is_cheap(config: Config) -> bool:
    """Whether the run is short enough to run implicitly on a CPU (< ~1 minute)."""
    images = config.total_steps * config.batch_size
    return images <= CHEAP_IMAGES[config.model] and config.device == "cpu"


def run_or_load(config: Config, run: bool | None = None, root=None,
                progress: bool = False) -> dict[str, Any]:
    """The cached result of ``config``; or run it.

    * cached and fresh: the record is returned;
    * cached but stale: :class:`StaleResultError` naming what changed;
    * not cached: it runs when ``run`` is True, or ``run`` is None and either
      ``$OPTIMLAB_RUN=1`` or the config :func:`is_cheap`; a run asked for
      (``run=True`` or the variable) is saved into the cache, a cheap implicit one
      is only returned.  Otherwise :class:`MissingResultError` names the command
      that produces the file.
    """
    record = load(config, root)
    if record is not None:
        return record
    asked = run if run is not None else os.environ.get(RUN_ENV_VAR, "") == "1"
    if not asked and not (run is None and is_cheap(config)):
        raise MissingResultError(
            f"{path_for(config, root)} is not cached ({config.label}). Produce it with: "
            f"{command_for(config)}   (or set {RUN_ENV_VAR}=1 / pass run=True to run it "
            f"here)")
    result = runner.run(config, progress=progress)
    if asked:
        save(config, result, command=command_for(config), root=root)
        return load(config, root)
    return {"config": config.to_dict(), "key": config.key(), "label": config.label,
            "experiment": config.experiment, "seed": config.seed,
            "provenance": provenance(config, "run_or_load (live run, not cached)"),
            **result}


def describe(config: Config, root=None) -> str:
    """``cached``, ``stale (...)`` or ``missing`` for a config."""
    path = path_for(config, root)
    if not path.is_file():
        return "missing"
    changed = stale_components(_read(path))
    return f"stale ({', '.join(changed)} changed)" if changed else "cached"
