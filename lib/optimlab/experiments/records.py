"""What a cache file must hold, and its integrity digest.

A record (one JSON file of the result cache) is checked field by field before
anything reads a number from it: :func:`read` returns it only when it parses, has
every field with the right type and length for its config (one training loss per
update, one evaluation per evaluation point, a fingerprint as long as the config
says), and when its ``digest`` -- the SHA-256 of everything else in the record, in
canonical JSON -- still matches.  A file that fails any of this raises
:class:`DamagedResultError`, which names the file and says what is wrong; the
listing, the audit and :func:`optimlab.experiments.cache.load_experiment` report
such a file and go on with the others.

The digest is an integrity check, not a signature: it catches a truncated file, a
bad merge or a number edited by hand (a changed final loss or test accuracy that
the fingerprint, which covers only the first updates, would not see).  That the
numbers are *right* is the audit's job: it recomputes the fingerprint of every run
and replays whole runs (:mod:`optimlab.experiments.audit`).
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from pathlib import Path
from typing import Any

from .config import Config

__all__ = ["DamagedResultError", "digest", "seal", "validate", "read", "FORMAT"]

#: 2: records carry a ``digest``; 1 (before): they did not.
FORMAT = 2


class DamagedResultError(ValueError):
    """A cache file that cannot be used: unreadable, incomplete or altered."""

    def __init__(self, path, why: str):
        self.path, self.why = Path(path), why
        super().__init__(f"{path}: damaged cache file: {why}")


def _canonical(record: dict[str, Any]) -> bytes:
    body = {k: v for k, v in record.items() if k != "digest"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"),
                      allow_nan=False).encode()


def digest(record: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``record`` without its ``digest`` field."""
    return hashlib.sha256(_canonical(record)).hexdigest()


def seal(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with its ``format`` and ``digest`` set (a new dict)."""
    sealed = {**record, "format": FORMAT}
    sealed.pop("digest", None)
    sealed["digest"] = digest(sealed)
    return sealed


def _is_number(value) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def _series(record, name: str, values, length: int, nullable: bool) -> None:
    if not isinstance(values, list):
        raise TypeError(f"{name} must be a list, got {type(values).__name__}")
    if len(values) != length:
        raise TypeError(f"{name} has {len(values)} entries, its config implies {length}")
    for i, value in enumerate(values):
        if not (_is_number(value) or (nullable and value is None)):
            raise TypeError(f"{name}[{i}] must be a number{' or null' if nullable else ''}, "
                            f"got {value!r}")


def _require(mapping, name: str, kind, where: str):
    if not isinstance(mapping, dict) or name not in mapping:
        raise TypeError(f"{where}{name} is missing")
    value = mapping[name]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise TypeError(f"{where}{name} must be of type {getattr(kind, '__name__', kind)}, "
                        f"got {value!r:.60}")
    return value


def _check_fields(record: dict[str, Any]) -> Config:
    config = Config.from_dict(_require(record, "config", dict, ""))
    for name, expected in (("key", config.key()), ("experiment", config.experiment),
                           ("seed", config.seed), ("label", config.label)):
        if record.get(name) != expected:
            raise TypeError(f"{name} is {record.get(name)!r}, its config gives {expected!r}")
    provenance = _require(record, "provenance", dict, "")
    hashes = _require(provenance, "code_hash", dict, "provenance.")
    for component in ("optimizer", "model", "data"):
        _require(hashes, component, str, "provenance.code_hash.")
    _require(provenance, "command", str, "provenance.")
    if not _is_number(record.get("wall_time_s")):
        raise TypeError(f"wall_time_s must be a number, got {record.get('wall_time_s')!r}")
    _require(record, "diverged", bool, "")
    _series(record, "fingerprint", _require(record, "fingerprint", list, ""),
            config.fingerprint_steps, nullable=True)
    _series(record, "train_loss", _require(record, "train_loss", list, ""),
            config.total_steps, nullable=True)
    evals = _require(record, "evals", dict, "")
    names = ["step", "epoch", "wall_time_s", "val_loss", "val_accuracy"]
    names += ["test_loss", "test_accuracy"] if config.test_every_eval else []
    for name in names:
        _series(record, f"evals.{name}", _require(evals, name, list, "evals."),
                len(config.eval_steps), nullable=name.endswith("loss"))
    if evals["step"] != config.eval_steps:
        raise TypeError(f"evals.step is not the config's evaluation points")
    if not config.test_at_end:
        if record.get("test", 0) is not None:
            raise TypeError("test must be null: the config never evaluates the test split")
        return config
    test = _require(record, "test", dict, "")
    for name, nullable in (("loss", True), ("accuracy", False)):
        _series(record, f"test.{name}", [test.get(name)], 1, nullable)
    if config.dataset == "shakespeare":          # the text the trained model writes
        _require(record, "sample", str, "")
    return config


def validate(record, path) -> Config:
    """The config of ``record`` when the record is complete and intact; else
    :class:`DamagedResultError` naming ``path`` and what is wrong."""
    if not isinstance(record, dict):
        raise DamagedResultError(path, f"it holds a JSON {type(record).__name__}, "
                                       f"not a record (an object)")
    if record.get("format") != FORMAT:
        raise DamagedResultError(path, f"format is {record.get('format')!r}, this optimlab "
                                       f"reads format {FORMAT}")
    try:
        config = _check_fields(record)
    except (TypeError, ValueError) as error:
        raise DamagedResultError(path, str(error)) from None
    stored = record.get("digest")
    if stored != digest(record):
        raise DamagedResultError(path, "its digest does not match its contents (the file "
                                       "was changed after it was written)")
    return config


def read(path) -> dict[str, Any]:
    """The record in ``path``, checked by :func:`validate`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DamagedResultError(path, f"it cannot be read ({error})") from None
    if not text.strip():
        raise DamagedResultError(path, "it is empty")
    try:
        record = json.loads(text)
    except ValueError as error:
        raise DamagedResultError(path, f"it is not valid JSON ({error}); the file may be "
                                       f"truncated") from None
    validate(record, path)
    if path.suffix == ".json" and path.stem != record["key"]:
        raise DamagedResultError(path, f"it holds the run {record['key']} "
                                       f"({record['label']}), not the run its name says")
    return record
