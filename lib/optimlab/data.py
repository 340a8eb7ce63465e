"""Where the course's data sets live, and how they are loaded.

Every data set is read from one *data root*:

* ``$OPTIMLAB_DATA`` when that variable is set,
* otherwise ``<user cache dir>/optimlab/data`` (``~/.cache/optimlab/data`` on Linux).

MNIST goes through :class:`torchvision.datasets.MNIST` with ``download=True``:
when the four original ``.gz`` files are already in ``<root>/MNIST/raw`` they are
verified by md5 and nothing is downloaded.  CIFAR-10 is read from lossless
``<root>/cifar10-npz/{train,test}.npz`` arrays when they are present, and
otherwise through :class:`torchvision.datasets.CIFAR10` (which downloads it).

Offline machines prepare a root from a read-only copy with::

    python -m optimlab.data prepare --source ../shared/data

which copies (never moves, never writes into the source) what the root lacks.

The experiments split each official training set once, with a fixed seed
(:data:`SPLIT_SEED`), into a training and a validation part; the official test
set stays the test set.  :func:`mnist_splits` gives 48k/12k/10k and
:func:`cifar10_splits` 40k/10k/10k (train/validation/test).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import shutil
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

ENV_VAR = "OPTIMLAB_DATA"

MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
CIFAR10_NPZ_FILES = {
    "train.npz": "d58aafa937aad7a7d03ee9f9a5fc4ceb",
    "test.npz": "b05b2310b08d04d6bfd6d42bede12e99",
}
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)


class DatasetNotFoundError(FileNotFoundError):
    """A data set is neither in the data root nor downloadable."""


class ImageSet(NamedTuple):
    """A labelled image set held in memory as tensors."""

    images: torch.Tensor  # uint8: [N, H, W] (grey) or [N, H, W, C] (colour)
    labels: torch.Tensor  # int64: [N]
    classes: tuple[str, ...]


def data_root() -> Path:
    """The folder the data sets are read from (see the module docstring)."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("optimlab")) / "data"


def _resolve(root: str | os.PathLike | None) -> Path:
    return Path(root).expanduser() if root is not None else data_root()


def _not_found(name: str, looked_in: Path, reason: str, how: str) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"{name} was not found in {looked_in} ({reason}).\n"
        f"To get it: {how}\n"
        f"The data root comes from ${ENV_VAR} (default: a folder under the user's "
        f"cache directory); on an offline machine run "
        f"`python -m optimlab.data prepare --source <folder with the offline copies>`."
    )


def _torchvision_dataset(dataset_class, name: str, root: Path, train: bool, download: bool,
                         looked_in: Path, missing: str, how: str):
    """Instantiate a torchvision data set quietly; explain any failure in one error.

    torchvision reports progress and mirror failures on stdout and stderr; they are
    silenced so that notebooks show the same output on every machine.
    """
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            return dataset_class(str(root), train=train, download=download)
    except (RuntimeError, OSError) as error:
        reason = "download failed" if download else "download=False"
        raise _not_found(name, looked_in, f"{missing}{reason}: {error}", how) from None


def load_mnist(train: bool = True, root: str | os.PathLike | None = None,
               download: bool = True) -> ImageSet:
    """MNIST's training (60k) or test (10k) images as uint8 ``[N, 28, 28]``."""
    from torchvision.datasets import MNIST

    root = _resolve(root)
    raw = root / "MNIST" / "raw"
    dataset = _torchvision_dataset(
        MNIST, "MNIST", root, train, download, looked_in=raw, missing="",
        how="connect to the internet (torchvision downloads it), or copy the four "
            "original files (" + ", ".join(MNIST_FILES) + f") into {raw}.")
    return ImageSet(dataset.data.clone(), dataset.targets.clone(), tuple(dataset.classes))


def load_cifar10(train: bool = True, root: str | os.PathLike | None = None,
                 download: bool = True) -> ImageSet:
    """CIFAR-10's training (50k) or test (10k) images as uint8 ``[N, 32, 32, 3]``."""
    root = _resolve(root)
    npz = root / "cifar10-npz" / ("train.npz" if train else "test.npz")
    if npz.is_file():
        with np.load(npz, allow_pickle=False) as arrays:
            images, labels = arrays["x"], arrays["y"]
        return ImageSet(torch.from_numpy(images), torch.from_numpy(labels).long(),
                        CIFAR10_CLASSES)

    from torchvision.datasets import CIFAR10

    dataset = _torchvision_dataset(
        CIFAR10, "CIFAR-10", root, train, download, looked_in=root,
        missing=f"no {npz} and torchvision's copy is missing; ",
        how="connect to the internet (torchvision downloads it), or put the lossless "
            "arrays train.npz and test.npz (keys x: uint8 [N,32,32,3], y: int64 [N]) "
            f"into {npz.parent}.")
    return ImageSet(torch.from_numpy(dataset.data), torch.tensor(dataset.targets),
                    CIFAR10_CLASSES)


SPLIT_SEED = 20241104  # fixed once for every experiment (the ADOPT paper's arXiv date)
MNIST_VALIDATION = 12_000
CIFAR10_VALIDATION = 10_000


class Splits(NamedTuple):
    """Training, validation and test parts of a data set, each an :class:`ImageSet`."""

    train: ImageSet
    validation: ImageSet
    test: ImageSet


def split_indices(n: int, n_validation: int, seed: int = SPLIT_SEED
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``range(n)`` at random into training and validation indices.

    A permutation drawn from ``numpy.random.Generator(PCG64(seed))``: the last
    ``n_validation`` positions are the validation indices, the others the
    training indices; both are returned sorted, as int64 tensors.  The same
    ``(n, n_validation, seed)`` gives the same split on every machine.
    """
    for name, value in (("n", n), ("n_validation", n_validation), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an int, got {value!r}")
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    if not 0 < n_validation < n:
        raise ValueError(f"n_validation must be in [1, n - 1] = [1, {n - 1}], got {n_validation}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    order = np.random.Generator(np.random.PCG64(seed)).permutation(n)
    train, validation = np.sort(order[:n - n_validation]), np.sort(order[n - n_validation:])
    return torch.from_numpy(train).long(), torch.from_numpy(validation).long()


def _subset(images: ImageSet, indices: torch.Tensor) -> ImageSet:
    return ImageSet(images.images[indices], images.labels[indices], images.classes)


def make_splits(train: ImageSet, test: ImageSet, n_validation: int,
                seed: int = SPLIT_SEED) -> Splits:
    """Split ``train`` with :func:`split_indices`; ``test`` is kept as it is."""
    train_idx, validation_idx = split_indices(len(train.labels), n_validation, seed)
    return Splits(_subset(train, train_idx), _subset(train, validation_idx), test)


def mnist_splits(root: str | os.PathLike | None = None, download: bool = True) -> Splits:
    """MNIST as 48,000 training, 12,000 validation and the official 10,000 test images."""
    return make_splits(load_mnist(True, root, download), load_mnist(False, root, download),
                       MNIST_VALIDATION)


def cifar10_splits(root: str | os.PathLike | None = None, download: bool = True) -> Splits:
    """CIFAR-10 as 40,000 training, 10,000 validation and the official 10,000 test images."""
    return make_splits(load_cifar10(True, root, download),
                       load_cifar10(False, root, download), CIFAR10_VALIDATION)


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_data_root(source: str | os.PathLike,
                      root: str | os.PathLike | None = None) -> list[Path]:
    """Copy the offline data sets found in ``source`` into the data root.

    Only files the root lacks (or holds with a wrong md5) are copied; ``source`` is
    only read.  Returns the files that were copied.
    """
    source, root = Path(source), _resolve(root)
    if source.resolve() == root.resolve():
        raise ValueError(f"the data root {root} must not be the source folder itself")
    wanted = [("MNIST/raw", name, md5) for name, md5 in MNIST_FILES.items()]
    wanted += [("cifar10-npz", name, md5) for name, md5 in CIFAR10_NPZ_FILES.items()]
    copied = []
    for folder, name, md5 in wanted:
        origin, target = source / folder / name, root / folder / name
        if not origin.is_file():
            continue
        if target.is_file() and md5sum(target) == md5:
            continue
        if md5sum(origin) != md5:
            raise ValueError(f"{origin} has the wrong md5 (expected {md5}): refusing to copy it")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(origin, target)
        copied.append(target)
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimlab.data",
                                     description="Manage optimlab's data root.")
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("prepare", help="copy offline data sets into the data root")
    prepare.add_argument("--source", required=True, help="folder with MNIST/ and cifar10-npz/")
    prepare.add_argument("--root", default=None, help=f"data root (default: ${ENV_VAR})")
    commands.add_parser("where", help="print the data root")
    args = parser.parse_args(argv)
    if args.command == "where":
        print(data_root())
        return 0
    if not Path(args.source).is_dir():
        print(f"no offline data at {args.source}: nothing to prepare", file=sys.stderr)
        return 0
    copied = prepare_data_root(args.source, args.root)
    print(f"data root {_resolve(args.root)}: {len(copied)} file(s) copied")
    return 0


if __name__ == "__main__":
    sys.exit(main())
