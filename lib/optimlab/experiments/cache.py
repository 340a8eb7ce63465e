"""The result cache: one JSON file per run under ``book/results/<experiment>/``.

A file is named by its config's key (``<key>.json``) and holds the config, the
result of :func:`optimlab.experiments.runner.run`, its *provenance* (the optimlab
version, hashes of the source that produced it, the torch/torchvision/numpy
versions, the device, the command, the date, the wall time; see
:mod:`.provenance`) and a digest of all of it (:mod:`.records`).  Files are plain
JSON, so loading one never executes code, and they are written atomically
(:mod:`.files`), so an interrupted or failed save never leaves half a file.

:func:`run_or_load` is how the book gets a run: the cached result when it is there
and still *current*; otherwise it runs the config if that is cheap or asked for,
and else stops with an error naming the command that produces the file.

Current means reproduced, not unchanged: a record whose code hashes differ from
the current code is still used when the current code recomputes its fingerprint
(:mod:`.reproduction`).  A record that the current code does not reproduce is
*stale*: it raises :class:`StaleResultError` naming what changed, and is never
used silently.  A file that cannot be read, is incomplete or was altered raises
:class:`~optimlab.experiments.records.DamagedResultError` naming it.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from . import checkpoint, files, records, reproduction, runner
from .config import Config
from .provenance import code_hashes, provenance
from .records import DamagedResultError

__all__ = ["results_root", "results_file", "download", "path_for", "code_hashes", "save", "save_run",
           "load", "load_experiment", "run_or_load", "is_cheap", "command_for",
           "describe", "search_records", "MissingResultError", "StaleResultError", "ResultNotSavedError",
           "DamagedResultError", "RUN_ENV_VAR", "RESULTS_ENV_VAR"]

#: The environment variable that, set to ``1``, lets :func:`run_or_load` train a run
#: that is not cached instead of raising :class:`MissingResultError`.
RUN_ENV_VAR = "OPTIMLAB_RUN"
#: The environment variable that names another results folder (:func:`results_root`).
RESULTS_ENV_VAR = "OPTIMLAB_RESULTS"
RESULTS_URL_ENV_VAR = "OPTIMLAB_RESULTS_URL"
DEFAULT_RESULTS_URL = ("https://raw.githubusercontent.com/optimlab/from-gd-to-adopt/main/"
                       "book/results")
#: Runs below this many (image × layer-size) units take well under a minute on a CPU.
CHEAP_IMAGES = {"mlp": 100_000, "resnet18": 1_000}


class MissingResultError(LookupError):
    """A run is not in the cache and is too expensive to run implicitly."""


class StaleResultError(RuntimeError):
    """The current code no longer reproduces a cached run."""


class ResultNotSavedError(OSError):
    """A finished run could not be written to the cache; the message says where the
    finished work is kept instead (a checkpoint or a rescue file)."""


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


def _is_remote(root) -> bool:
    """Whether missing results are fetched from the repository: no ``root`` given,
    no ``$OPTIMLAB_RESULTS``, and optimlab does not run from a checkout."""
    return root is None and not os.environ.get(RESULTS_ENV_VAR) \
        and not _checkout_results().is_dir()


def _fetch_text(relative: str, base_url: str | None = None) -> str | None:
    """The text of ``<results URL>/<relative>``, or None when it cannot be fetched."""
    import urllib.error
    import urllib.request

    base = (base_url or os.environ.get(RESULTS_URL_ENV_VAR) or DEFAULT_RESULTS_URL).rstrip("/")
    try:
        with urllib.request.urlopen(f"{base}/{relative}", timeout=30) as response:
            return response.read().decode()
    except (urllib.error.URLError, OSError, ValueError):
        return None


def results_file(name: str, root=None) -> Path:
    """The path of the file ``name`` in the results folder (beside the experiment
    folders); without a checkout of the repository a missing one is first
    downloaded from it, like a cache file.  The caller checks what it holds."""
    path = Path(root or results_root()) / name
    attempt = (str(path), os.environ.get(RESULTS_URL_ENV_VAR))
    if not path.is_file() and _is_remote(root) and attempt not in _TRIED:
        _TRIED.add(attempt)                    # one try per process: offline is slow
        text = _fetch_text(name)
        if text is not None:
            files.atomic_write_text(path, text)
    return path


_TRIED: set[tuple] = set()


def _reproduced(root) -> dict:
    """What the audit reproduced (:func:`.reproduction.read_reproduced`), fetched
    first like a results file when there is no checkout."""
    path = results_file(reproduction.REPRODUCED_FILE, root)
    return reproduction.read_reproduced(path.parent)


def download(config: Config, root=None, base_url: str | None = None) -> bool:
    """Copy ``config``'s cache file from the repository into ``root``; True on success.

    Used only where optimlab is installed without the repository (Colab): the file
    is fetched from ``$OPTIMLAB_RESULTS_URL`` (default: the repository's
    ``book/results`` on GitHub).  It is JSON, so reading it executes nothing; it is
    put in place only when it is a complete, intact record of ``config``, and then
    checked like any cache file (staleness) when loaded.
    """
    relative = f"{config.experiment}/{config.key()}.json"
    text = _fetch_text(relative, base_url)
    if text is None:
        return False
    try:
        if records.validate(json.loads(text), relative) != config:
            return False
    except ValueError:
        return False
    files.atomic_write_text(path_for(config, root), text)
    return True


def path_for(config: Config, root=None) -> Path:
    """``<root>/<experiment>/<key>.json``."""
    return Path(root or results_root()) / config.experiment / f"{config.key()}.json"


def command_for(config: Config) -> str:
    """The shell command that produces ``config``'s cache file."""
    from .grids import grid_command

    return grid_command(config)


# --- writing ---------------------------------------------------------------------------

def search_records(configs, what: str, root=None) -> list[dict[str, Any]]:
    """The cached records of a learning-rate search, in order; while any is missing,
    :class:`MissingResultError` names it and the command that produces it."""
    records = []
    for config in configs:
        record = load(config, root)
        if record is None:
            raise MissingResultError(f"{what} is incomplete ({config.label} is not "
                                     f"cached): run `{command_for(config)}` first")
        records.append(record)
    return records


def make_record(config: Config, result: dict[str, Any], command: str) -> dict[str, Any]:
    """The sealed record of a finished run of ``config``."""
    return records.seal({"experiment": config.experiment, "key": config.key(),
                         "label": config.label, "config": config.to_dict(),
                         "seed": config.seed, "wall_time_s": result["wall_time_s"],
                         "provenance": provenance(config, command), **result})


def _record_text(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"


def save(config: Config, result: dict[str, Any], command: str, root=None) -> Path:
    """Write ``result`` with its config, provenance and digest; return the path.

    The write is atomic: two processes saving the same run, or a save interrupted
    half way, leave one whole file (or the previous one).  An unwritable folder
    raises :class:`OSError`.
    """
    record = make_record(config, result, command)
    return files.atomic_write_text(path_for(config, root), _record_text(record))


def _rescue(config: Config, result: dict[str, Any], command: str) -> Path | None:
    """Write the record where it can be written: the working folder, else the
    temporary folder; None when neither can be written."""
    text = _record_text(make_record(config, result, command))
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        try:
            return files.atomic_write_text(
                folder / f"optimlab-unsaved-{config.experiment}-{config.key()}.json", text)
        except OSError:
            continue
    return None


def save_run(config: Config, result: dict[str, Any], command: str, root=None,
             checkpoint_dir=None) -> Path:
    """:func:`save`, then remove the run's checkpoint -- in that order, so that the
    finished work survives every failure to save.

    When the save fails, :class:`ResultNotSavedError` says why and where the work
    is: the run's final checkpoint (the same command with ``--resume`` finishes it
    without training again), or else a rescue file holding the whole record, to be
    moved to the path the error names.
    """
    target = path_for(config, root)
    try:
        path = save(config, result, command, root)
    except OSError as error:
        where = checkpoint.path_for(checkpoint_dir, config) if checkpoint_dir else None
        if where is not None and checkpoint.exists(where):
            kept = (f"the finished run is kept in its checkpoint {checkpoint.file_for(where)}; "
                    f"once {target.parent} is writable, run the same command with "
                    f"--checkpoint-dir {checkpoint_dir} --resume to store it without "
                    f"training again")
        else:
            rescued = _rescue(config, result, command)
            kept = (f"the whole record was written to {rescued} instead: move it to "
                    f"{target}" if rescued else "no folder could be written to keep it")
        raise ResultNotSavedError(f"{config.label}: the result could not be saved to "
                                  f"{target} ({error}); {kept}") from error
    if checkpoint_dir:
        checkpoint.remove(checkpoint.path_for(checkpoint_dir, config))
    return path


# --- reading ---------------------------------------------------------------------------

def _read_record(path: Path, config: Config | None = None) -> dict[str, Any]:
    record = records.read(path)
    if config is not None and (record["key"] != config.key()
                               or Config.from_dict(record["config"]) != config):
        raise DamagedResultError(path, f"it holds the run {record['label']}, not "
                                       f"{config.label} (key mismatch)")
    return record


def check_current(record: dict[str, Any], path, reproduced: dict | None = None
                  ) -> reproduction.Verdict:
    """The record's :func:`~.reproduction.verdict` (``reproduced``: what the audit
    reproduced, :func:`~.reproduction.read_reproduced`); :class:`StaleResultError`
    when the current code does not reproduce it."""
    verdict = reproduction.verdict(record, reproduced)
    if not verdict.current:
        config = Config.from_dict(record["config"])
        raise StaleResultError(
            f"{path}: the cached run {config.label} is stale: the {verdict.describe()}, "
            f"so the current code no longer produces it "
            f"(it came from `{record['provenance']['command']}`). Re-run it with: "
            f"{command_for(config)} (with OPTIMLAB_RUN=1 or run=True from Python).")
    return verdict


def load(config: Config, root=None, allow_stale: bool = False) -> dict[str, Any] | None:
    """The cached record of ``config``, or None when there is none.

    A damaged file raises :class:`DamagedResultError`, a stale one
    :class:`StaleResultError` unless ``allow_stale``.  Without a checkout of the
    repository (and without ``$OPTIMLAB_RESULTS``), a missing file is first
    downloaded from the repository (:func:`download`).
    """
    path = path_for(config, root)
    if not path.is_file() and not (_is_remote(root) and download(config)):
        return None
    record = _read_record(path, config)
    if not allow_stale:
        check_current(record, path, _reproduced(root))
    return record


def load_experiment(experiment: str, root=None, allow_stale: bool = False
                    ) -> list[dict[str, Any]]:
    """Every cached record of an experiment folder, sorted by optimizer, lr and seed.

    A damaged file is skipped with a warning that names it; a stale record raises
    :class:`StaleResultError` unless ``allow_stale``.  A missing folder holds no
    records.
    """
    folder = Path(root or results_root()) / experiment
    reproduced = _reproduced(root)
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = records.read(path)
        except DamagedResultError as error:
            warnings.warn(f"skipped: {error}", stacklevel=2)
            continue
        if not allow_stale:
            check_current(record, path, reproduced)
        found.append(record)
    return sorted(found, key=lambda r: (r["config"]["optimizer"], r["config"]["lr"],
                                        r["config"]["seed"]))


def describe(config: Config, root=None) -> str:
    """``missing``, ``cached``, ``cached (... code changed, fingerprint reproduced)``,
    ``stale (...)`` or ``damaged (...)`` for a config."""
    path = path_for(config, root)
    if not path.is_file():
        return "missing"
    try:
        verdict = reproduction.verdict(_read_record(path, config))
    except DamagedResultError as error:
        return f"damaged ({error.why})"
    if not verdict.current:
        return f"stale ({verdict.describe()})"
    return "cached" if not verdict.changed else f"cached ({verdict.describe()})"


def set_aside(path) -> Path:
    """Rename a damaged file to ``<name>.damaged-<UTC time>`` (kept, no longer read)."""
    path = Path(path)
    target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    os.replace(path, target)
    return target


# --- run or load -------------------------------------------------------------------

def is_cheap(config: Config) -> bool:
    """Whether the run is short enough to run implicitly on a CPU (< ~1 minute)."""
    images = config.total_steps * config.batch_size
    return images <= CHEAP_IMAGES.get(config.model, 0) and config.device == "cpu"


def run_or_load(config: Config, run: bool | None = None, root=None,
                progress: bool = False) -> dict[str, Any]:
    """The cached result of ``config``; or run it.

    * cached and current: the record is returned;
    * cached but stale: :class:`StaleResultError` naming what changed;
    * damaged: :class:`DamagedResultError` naming the file and what is wrong;
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
        save_run(config, result, command=command_for(config), root=root)
        return load(config, root)
    return {"config": config.to_dict(), "key": config.key(), "label": config.label,
            "experiment": config.experiment, "seed": config.seed,
            "provenance": provenance(config, "run_or_load (live run, not cached)"),
            **result}
