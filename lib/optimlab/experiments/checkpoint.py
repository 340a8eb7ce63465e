"""Per-epoch checkpoints of a long run, as npz (tensors) + json (everything else).

No pickles: tensors go into an ``.npz`` read back with ``allow_pickle=False``, and
the plain numbers (the step, the losses so far, the optimizer's scalar state and
hyperparameters) into a ``.json`` beside it.  A checkpoint is written to temporary
files first and renamed into place, so an interruption while saving leaves the
previous checkpoint intact.  The json, written last, records the config key, and a
checkpoint of another config is never loaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import Config

__all__ = ["path_for", "save", "load", "remove"]

FORMAT = 1


def path_for(directory, config: Config) -> Path:
    """``<directory>/<experiment>/<key>`` (the stem of the .npz and .json files)."""
    return Path(directory) / config.experiment / config.key()


def _flatten_optimizer(state_dict: dict) -> tuple[dict[str, np.ndarray], dict]:
    """Split an optimizer state dict into arrays and a JSON-ready remainder."""
    arrays, plain = {}, {}
    for index, entries in state_dict["state"].items():
        plain[str(index)] = described = {}
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                arrays[f"optimizer/{index}/{name}"] = value.detach().cpu().numpy()
                described[name] = {"tensor": True}
            elif isinstance(value, (bool, int, float)) or value is None:
                described[name] = {"value": value}
            else:
                raise TypeError(f"optimizer state {name!r} of type {type(value).__name__} "
                                f"cannot be checkpointed without pickle")
    return arrays, {"state": plain, "param_groups": state_dict["param_groups"]}


def _unflatten_optimizer(arrays, plain: dict, device) -> dict:
    state = {}
    for index, described in plain["state"].items():
        state[int(index)] = {
            name: (torch.from_numpy(arrays[f"optimizer/{index}/{name}"]).to(device)
                   if entry.get("tensor") else entry["value"])
            for name, entry in described.items()}
    return {"state": state, "param_groups": plain["param_groups"]}


def _atomic_write(path: Path, write) -> None:
    temporary = path.with_name(path.name + ".partial")
    write(temporary)
    os.replace(temporary, path)


def save(path: Path, config: Config, model, optimizer, progress: dict[str, Any]) -> None:
    """Write the model, the optimizer and ``progress`` (step, epoch, logs) at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"model/{name}": tensor.detach().cpu().numpy()
              for name, tensor in model.state_dict().items()}
    optimizer_arrays, optimizer_plain = _flatten_optimizer(optimizer.state_dict())
    arrays.update(optimizer_arrays)

    def write_npz(target: Path):
        with open(target, "wb") as file:
            np.savez(file, **arrays)

    meta = {"format": FORMAT, "key": config.key(), "config": config.to_dict(),
            "progress": progress, "optimizer": optimizer_plain}

    def write_json(target: Path):
        target.write_text(json.dumps(meta, separators=(",", ":")))

    _atomic_write(path.with_suffix(".npz"), write_npz)
    _atomic_write(path.with_suffix(".json"), write_json)


def load(path: Path, config: Config, model, optimizer) -> dict[str, Any] | None:
    """Restore the model and the optimizer from ``path``; return the saved progress.

    None when there is no checkpoint; a ValueError when it belongs to another config.
    """
    path = Path(path)
    meta_path, npz_path = path.with_suffix(".json"), path.with_suffix(".npz")
    if not (meta_path.is_file() and npz_path.is_file()):
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("key") != config.key():
        raise ValueError(f"the checkpoint {meta_path} belongs to config {meta.get('key')}, "
                         f"not to {config.key()} ({config.label})")
    device = next(model.parameters()).device
    with np.load(npz_path, allow_pickle=False) as arrays:
        model_state = {name[len("model/"):]: torch.from_numpy(arrays[name])
                       for name in arrays.files if name.startswith("model/")}
        model.load_state_dict(model_state)
        optimizer.load_state_dict(_unflatten_optimizer(arrays, meta["optimizer"], device))
    return meta["progress"]


def remove(path: Path) -> None:
    """Delete the checkpoint at ``path`` (after the run has finished)."""
    for suffix in (".npz", ".json"):
        Path(path).with_suffix(suffix).unlink(missing_ok=True)
