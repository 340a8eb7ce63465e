"""Per-epoch checkpoints of a long run: one ``.npz`` file, no pickles.

The tensors (the model's and the optimizer's) are arrays of the npz; everything
else -- the config key, the progress (step, epoch, the losses so far), the
optimizer's plain numbers and hyperparameters -- is JSON stored in the same file as
the array ``meta`` (its UTF-8 bytes), read back with ``allow_pickle=False``.  One
file, written to a temporary name of its own and renamed into place
(:func:`optimlab.experiments.files.atomic_write`), so an interruption at any
moment leaves either the previous checkpoint or the new one, never a mixture, and
two processes never write into each other's temporary file.  A checkpoint of
another config is never loaded.

The runner writes a checkpoint after every epoch, the last one included, and does
not delete it: :func:`optimlab.experiments.cache.save_run` removes it only after
the result is safely in the cache.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import files
from .config import Config

__all__ = ["path_for", "file_for", "exists", "save", "load", "remove", "CheckpointError"]

FORMAT = 2
_META = "meta"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used (damaged, of another config or format)."""


def path_for(directory, config: Config) -> Path:
    """``<directory>/<experiment>/<key>``, the stem of the checkpoint file."""
    return Path(directory) / config.experiment / config.key()


def file_for(path) -> Path:
    """The checkpoint file of the stem ``path``."""
    return Path(path).with_suffix(".npz")


def exists(path) -> bool:
    """Whether the stem ``path`` has a checkpoint file."""
    return file_for(path).is_file()


PARTS = "_parts"      # the sub-optimizers of a composite state dict (Muon + AdamW)


def _flatten_optimizer(state_dict: dict, prefix: str = "optimizer"
                       ) -> tuple[dict[str, np.ndarray], dict]:
    """Split an optimizer state dict into arrays and a JSON-ready remainder (every
    top-level entry besides ``state`` is carried as it is).  A composite state dict,
    whose parts are state dicts themselves (``MuonWithAdamW``), is split part by part."""
    if "state" not in state_dict:
        parts = [key for key, value in state_dict.items()
                 if isinstance(value, dict) and "state" in value]
        if not parts:
            raise TypeError("the optimizer's state dict has no 'state' entry and no "
                            "part that has one: it cannot be checkpointed")
        arrays, plain = {}, {PARTS: parts}
        for key, value in state_dict.items():
            if key in parts:
                part_arrays, plain[key] = _flatten_optimizer(value, f"{prefix}/{key}")
                arrays.update(part_arrays)
            else:
                plain[key] = value
        return arrays, plain
    arrays, plain = {}, {}
    for index, entries in state_dict["state"].items():
        plain[str(index)] = described = {}
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                arrays[f"{prefix}/{index}/{name}"] = value.detach().cpu().numpy()
                described[name] = {"tensor": True}
            elif isinstance(value, (bool, int, float)) or value is None:
                described[name] = {"value": value}
            else:
                raise TypeError(f"optimizer state {name!r} of type {type(value).__name__} "
                                f"cannot be checkpointed without pickle")
    rest = {key: value for key, value in state_dict.items() if key != "state"}
    return arrays, {"state": plain, **rest}


def _unflatten_optimizer(arrays, plain: dict, device, prefix: str = "optimizer") -> dict:
    if PARTS in plain:
        return {key: (_unflatten_optimizer(arrays, value, device, f"{prefix}/{key}")
                      if key in plain[PARTS] else value)
                for key, value in plain.items() if key != PARTS}
    state = {}
    for index, described in plain["state"].items():
        state[int(index)] = {
            name: (torch.from_numpy(arrays[f"{prefix}/{index}/{name}"]).to(device)
                   if entry.get("tensor") else entry["value"])
            for name, entry in described.items()}
    return {**plain, "state": state}


def save(path, config: Config, model, optimizer, progress: dict[str, Any]) -> Path:
    """Write the model, the optimizer and ``progress`` (step, epoch, logs) atomically
    into the checkpoint file of ``path``; return the file."""
    arrays = {f"model/{name}": tensor.detach().cpu().numpy()
              for name, tensor in model.state_dict().items()}
    optimizer_arrays, optimizer_plain = _flatten_optimizer(optimizer.state_dict())
    arrays.update(optimizer_arrays)
    meta = {"format": FORMAT, "key": config.key(), "config": config.to_dict(),
            "progress": progress, "optimizer": optimizer_plain}
    arrays[_META] = np.frombuffer(json.dumps(meta, separators=(",", ":")).encode(),
                                  dtype=np.uint8)
    return files.atomic_write(file_for(path), lambda file: np.savez(file, **arrays))


def load(path, config: Config, model, optimizer) -> dict[str, Any] | None:
    """Restore the model and the optimizer from the checkpoint of ``path``; return the
    saved progress, or None when there is no checkpoint.

    :class:`CheckpointError` (naming the file) when it cannot be read, belongs to
    another config or was written by another format.
    """
    target = file_for(path)
    if not target.is_file():
        return None
    try:
        with np.load(target, allow_pickle=False) as arrays:
            if _META not in arrays.files:
                raise CheckpointError(f"{target} is not a checkpoint of format {FORMAT} "
                                      f"(no '{_META}' entry); delete it to start the run "
                                      f"afresh")
            meta = json.loads(arrays[_META].tobytes().decode())
            if meta.get("key") != config.key():
                raise CheckpointError(f"the checkpoint {target} belongs to config "
                                      f"{meta.get('key')}, not to {config.key()} "
                                      f"({config.label})")
            device = next(model.parameters()).device
            model.load_state_dict({name[len("model/"):]: torch.from_numpy(arrays[name])
                                   for name in arrays.files if name.startswith("model/")})
            optimizer.load_state_dict(
                _unflatten_optimizer(arrays, meta["optimizer"], device))
    except CheckpointError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, ValueError, KeyError,
            RuntimeError, TypeError) as error:
        raise CheckpointError(f"the checkpoint {target} cannot be used: "
                              f"{type(error).__name__}: {error}; delete it to start the run "
                              f"afresh") from error
    return meta["progress"]


def remove(path) -> None:
    """Delete the checkpoint of ``path`` (after the run's result is stored)."""
    file_for(path).unlink(missing_ok=True)
