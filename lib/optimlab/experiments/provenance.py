"""Where a cached run came from: code hashes, versions, device, command, date.

The code hashes name the source that produced a run (the optimizer, the model and
the data split).  They are provenance: whether a cached run is still *current* is
decided by behaviour, by recomputing its fingerprint
(:mod:`optimlab.experiments.reproduction`), so an edit that changes no number
keeps the cache usable.
"""

from __future__ import annotations

import hashlib
import inspect
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__, data, optim, text
from . import architectures, imagefolder
from .config import Config

__all__ = ["code_hashes", "device_name", "provenance"]

#: The machinery every optimizer runs on; compiled.py holds the kernels that large
#: CPU models use by default.
_OPTIM_SHARED = ("base.py", "transforms.py", "tensorlist.py", "compiled.py",
                 "validation.py")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def code_hashes(config: Config) -> dict[str, str]:
    """Hashes of the source that decides the run's numbers, by component.

    ``optimizer``: the modules of the optimizer's classes (its own and its optimlab
    parents, with their module-level helpers) and the shared machinery of
    :mod:`optimlab.optim`;
    ``model``: the model's builder (and torchvision's ResNet module for ResNets);
    ``data``: the split functions of :mod:`optimlab.data`, or for an image folder
    :mod:`.imagefolder` (its transforms, order and sharding), or for tiny
    Shakespeare :mod:`optimlab.text`.
    """
    classes = [getattr(optim, config.optimizer)]
    if config.optimizer == "Muon":          # the runner gives the rest of the model AdamW
        classes.append(optim.AdamW)
    inner = dict(config.hyperparameters).get("inner")
    if inner is not None:                   # a wrapper's inner optimizer
        classes.append(getattr(optim, inner))
    optim_dir = Path(inspect.getfile(optim.Optimizer)).parent
    modules = {Path(inspect.getfile(c)).name for cls in classes for c in cls.__mro__
               if c.__module__.startswith("optimlab.optim")}
    names = sorted(modules | {name for name in _OPTIM_SHARED if (optim_dir / name).is_file()})
    sources = [(optim_dir / name).read_text() for name in names]
    model = [architectures.source(config.model)]
    if config.model == "resnet18":
        import torchvision.models.resnet as resnet

        model.append(inspect.getsource(resnet))
    return {"optimizer": _sha("\n".join(sources)), "model": _sha("\n".join(model)),
            "data": _data_hash(config)}


def _data_hash(config: Config) -> str:
    if config.dataset == "imagefolder":
        return _sha(inspect.getsource(imagefolder))
    if config.dataset == "shakespeare":
        return _sha(inspect.getsource(text))
    splits = [inspect.getsource(f) for f in (data.split_indices, data.make_splits,
                                             data.mnist_splits, data.cifar10_splits)]
    return _sha("\n".join(splits) + f"\nseed={data.SPLIT_SEED}")


def device_name(device: str) -> str:
    """The GPU's name, or the CPU's model name."""
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
    """The provenance block of a record produced now by ``command``."""
    import torchvision

    return {
        "optimlab": __version__, "code_hash": code_hashes(config),
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "numpy": np.__version__, "python": platform.python_version(),
        "device": config.device, "device_name": device_name(config.device),
        "threads": torch.get_num_threads(), "platform": platform.platform(),
        "command": command, "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
