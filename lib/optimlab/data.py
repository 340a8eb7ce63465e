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

which copies (never moves, never writes into the source) what the root lacks,
each file through a temporary name, checked by md5 before it is renamed into
place; it fails, naming them, when files are missing or cannot be put in place.

Everything loaded is checked (IDX headers and sizes before reading, then
shapes, dtypes, label range and images per class): a truncated, damaged,
unreadable file, or a folder where a file belongs, raises :class:`DataFileError`
naming the file and saying why.

The experiments split each official training set once, with a fixed seed
(:data:`SPLIT_SEED`), into a training and a validation part; the official test
set stays the test set.  :func:`mnist_splits` gives 48k/12k/10k and
:func:`cifar10_splits` 40k/10k/10k (train/validation/test).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import os
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .datafiles import (  # DataFileError and md5sum belong to this module's interface
    DataFileError,
    check_folders,
    check_idx,
    check_images,
    check_labels,
    check_md5,
    copy_verified,
    md5sum,
    read_npz,
)

#: The environment variable that names the data root (:func:`data_root`).
ENV_VAR = "OPTIMLAB_DATA"

#: MNIST's four original files (in ``<root>/MNIST/raw``) and the MD5 of each.
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
#: The lossless CIFAR-10 arrays (in ``<root>/cifar10-npz``) and the MD5 of each.
CIFAR10_NPZ_FILES = {
    "train.npz": "d58aafa937aad7a7d03ee9f9a5fc4ceb",
    "test.npz": "b05b2310b08d04d6bfd6d42bede12e99",
}
#: Images per digit 0-9 in MNIST's official training and test files (a loaded
#: set must have exactly these).
MNIST_CLASS_COUNTS = {
    "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "t10k": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
}
#: Images per class in CIFAR-10's training and test sets.
CIFAR10_CLASS_COUNTS = {"train": (5000,) * 10, "test": (1000,) * 10}
#: CIFAR-10's class names, in the order of its labels 0-9.
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)


#: The character-level corpus of :mod:`optimlab.text` (as in karpathy/char-rnn,
#: in ``<root>/tinyshakespeare``) and its MD5.
TINYSHAKESPEARE_FILES = {"input.txt": "6fb458f1232090904fb40fe944165e91"}


class DatasetNotFoundError(FileNotFoundError):
    """A data set is neither in the data root nor downloadable."""


class PrepareError(RuntimeError):
    """``prepare`` could not complete the data root; ``report`` says what it did."""

    def __init__(self, message: str, report: PrepareReport | None = None):
        super().__init__(message)
        self.report = report


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
    """``root`` (or :func:`data_root`), which must be a folder or not exist yet."""
    if root is None:
        path = data_root()
        origin = f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "the default"
    elif isinstance(root, (str, os.PathLike)) and str(root):
        path, origin = Path(root).expanduser(), "the root argument"
    else:
        raise ValueError(f"root must be a non-empty path or None, got {root!r}")
    if path.exists() and not path.is_dir():
        raise DataFileError(f"the data root {path} (from {origin}) is not a folder")
    return path


def _check_flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _not_found(name: str, looked_in: Path, reason: str, how: str) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"{name} was not found in {looked_in} ({reason}).\n"
        f"To get it: {how}\n"
        f"The data root comes from ${ENV_VAR} (default: a folder under the user's "
        f"cache directory); on an offline machine run "
        f"`python -m optimlab.data prepare --source <folder with the offline copies>`."
    )


def _torchvision_dataset(dataset_class, name: str, root: Path, train: bool, download: bool,
                         looked_in: Path, missing: str, how: str,
                         known_files: dict[Path, str] | None = None):
    """Instantiate a torchvision data set quietly; explain any failure in one error.

    torchvision reports progress and mirror failures on stdout and stderr; they are
    silenced so that notebooks show the same output on every machine.  When it
    fails, each of ``known_files`` (path: md5) that is present but damaged is named.
    """
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            return dataset_class(str(root), train=train, download=download)
    except (RuntimeError, OSError) as error:
        reason = "download failed" if download else "download=False"
        damaged = "".join(f"; {problem}" for path, md5 in (known_files or {}).items()
                          if os.path.lexists(path) and (problem := check_md5(path, md5)))
        raise _not_found(name, looked_in, f"{missing}{reason}: {error}{damaged}",
                         how) from None
    except Exception as error:  # torchvision could not parse what it found
        raise DataFileError(f"torchvision could not read {name} in {looked_in} "
                            f"({type(error).__name__}: {error})") from error


def load_mnist(train: bool = True, root: str | os.PathLike | None = None,
               download: bool = True) -> ImageSet:
    """MNIST's training (60k) or test (10k) images as uint8 ``[N, 28, 28]``.

    The extracted IDX files are checked (header, size) before torchvision reads them,
    and what it reads is checked (shape, dtype, labels 0-9, images per digit); missing
    files are downloaded by torchvision, which checks their md5.
    """
    from torchvision.datasets import MNIST

    train, download = _check_flag("train", train), _check_flag("download", download)
    root = _resolve(root)
    raw = root / "MNIST" / "raw"
    check_folders(root / "MNIST", raw)
    prefix = "train" if train else "t10k"
    counts = MNIST_CLASS_COUNTS[prefix]
    images_file = raw / f"{prefix}-images-idx3-ubyte"
    labels_file = raw / f"{prefix}-labels-idx1-ubyte"
    for path, shape in ((images_file, (sum(counts), 28, 28)), (labels_file, (sum(counts),))):
        if os.path.lexists(path):
            check_idx(path, shape, remedy=f"Delete it: load_mnist() extracts it again from "
                       f"{path.name}.gz, downloading that when it is missing or damaged.")
    dataset = _torchvision_dataset(
        MNIST, "MNIST", root, train, download, looked_in=raw, missing="",
        how="connect to the internet (torchvision downloads it), or copy the four "
            "original files (" + ", ".join(MNIST_FILES) + f") into {raw}.",
        known_files={raw / name: md5 for name, md5 in MNIST_FILES.items()})
    images, labels = dataset.data.clone(), dataset.targets.clone()
    check_images(images.numpy(), str(images_file), (28, 28), counts)
    check_labels(labels.numpy(), str(labels_file), counts)
    return ImageSet(images, labels, tuple(dataset.classes))


def load_cifar10(train: bool = True, root: str | os.PathLike | None = None,
                 download: bool = True) -> ImageSet:
    """CIFAR-10's training (50k) or test (10k) images as uint8 ``[N, 32, 32, 3]``.

    What is read is checked (shape, dtype, labels 0-9, images per class); a damaged
    ``.npz`` is reported, never skipped for a download.
    """
    train, download = _check_flag("train", train), _check_flag("download", download)
    root = _resolve(root)
    split = "train" if train else "test"
    counts = CIFAR10_CLASS_COUNTS[split]
    npz = root / "cifar10-npz" / f"{split}.npz"
    check_folders(npz.parent)
    if os.path.lexists(npz):
        images, labels = read_npz(npz, ("x", "y"), remedy=(
            "Replace it (`python -m optimlab.data prepare --source <offline copies>` "
            "replaces a damaged copy), or delete it to let torchvision download CIFAR-10."))
        check_images(images, f"{npz} (array x)", (32, 32, 3), counts)
        check_labels(labels, f"{npz} (array y)", counts)
        return ImageSet(torch.from_numpy(images), torch.from_numpy(labels).long(),
                        CIFAR10_CLASSES)

    from torchvision.datasets import CIFAR10

    dataset = _torchvision_dataset(
        CIFAR10, "CIFAR-10", root, train, download, looked_in=root,
        missing=f"no {npz} and torchvision's copy is missing; ",
        how="connect to the internet (torchvision downloads it), or put the lossless "
            "arrays train.npz and test.npz (keys x: uint8 [N,32,32,3], y: int64 [N]) "
            f"into {npz.parent}.")
    where = f"torchvision's CIFAR-10 in {root / CIFAR10.base_folder}"
    check_images(dataset.data, where, (32, 32, 3), counts)
    check_labels(np.asarray(dataset.targets), where, counts)
    return ImageSet(torch.from_numpy(dataset.data), torch.tensor(dataset.targets),
                    CIFAR10_CLASSES)


#: The seed of every training/validation split, fixed once for every experiment
#: (the ADOPT paper's arXiv date).
SPLIT_SEED = 20241104
#: Images of MNIST's official training set that go to the validation split.
MNIST_VALIDATION = 12_000
#: Images of CIFAR-10's training set that go to the validation split.
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


@dataclasses.dataclass
class PrepareReport:
    """What :func:`prepare_data_root` did: ``copied`` and ``present`` (there already
    with the right md5, untouched) hold destination paths, ``missing`` the source files
    that do not exist, ``replaced`` (copied over a damaged copy) and ``failed`` (not
    put in place) messages that name the file and say why."""

    source: Path
    root: Path
    copied: list[Path] = dataclasses.field(default_factory=list)
    replaced: list[str] = dataclasses.field(default_factory=list)
    present: list[Path] = dataclasses.field(default_factory=list)
    missing: list[Path] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        """The counts, then each file copied, replaced, missing or not put in place."""
        lines = [f"data root {self.root}: {len(self.copied)} file(s) copied, "
                 f"{len(self.present)} already there, {len(self.missing)} missing from "
                 f"{self.source}, {len(self.failed)} not put in place"]
        for title, entries in (("copied", self.copied),
                               ("replaced, the copy there being damaged", self.replaced),
                               ("missing from the source", self.missing),
                               ("not put in place", self.failed)):
            if entries:
                lines += [f"  {title}:"] + [f"    {entry}" for entry in entries]
        return "\n".join(lines)


def prepare_data_root(source: str | os.PathLike,
                      root: str | os.PathLike | None = None) -> PrepareReport:
    """Copy the offline data sets found in ``source`` into the data root.

    ``source`` is only read.  A file already in the root with the right md5 is left
    alone; one that is absent or has a wrong md5 is copied from ``source`` by
    :func:`~optimlab.datafiles.copy_verified`, so an interrupted or failed copy never
    leaves a partial or wrong file under its final name.  Every file that can be put
    in place is; then :class:`PrepareError` (carrying the report) is raised when
    ``source`` is not a folder, when a file is in neither place, or when one could not
    be put in place (wrong md5 in the source, unreadable, destination not writable),
    naming each.
    """
    source, root = Path(source), _resolve(root)
    if not source.is_dir():
        state = "is not a folder" if source.exists() else "does not exist"
        raise PrepareError(f"the source folder {source} {state}: nothing was copied "
                           f"into the data root {root}")
    if source.resolve() == root.resolve():
        raise ValueError(f"the data root {root} must not be the source folder itself")
    wanted = [("MNIST/raw", name, md5) for name, md5 in MNIST_FILES.items()]
    wanted += [("cifar10-npz", name, md5) for name, md5 in CIFAR10_NPZ_FILES.items()]
    wanted += [("tinyshakespeare", name, md5) for name, md5 in TINYSHAKESPEARE_FILES.items()]
    report = PrepareReport(source, root)
    for folder, name, md5 in wanted:
        origin, target = source / folder / name, root / folder / name
        there = os.path.lexists(target)
        damage = check_md5(target, md5) if there else None
        if there and damage is None:
            report.present.append(target)
        elif there and not target.is_file():
            report.failed.append(f"{damage}; remove it")
        elif not os.path.lexists(origin):
            if there:
                report.failed.append(f"{damage}, and there is no {origin} to replace it")
            else:
                report.missing.append(origin)
        else:
            try:
                copy_verified(origin, target, md5)
            except (DataFileError, OSError) as error:
                report.failed.append(f"{target} not copied: {error}")
                continue
            report.copied.append(target)
            if there:
                report.replaced.append(damage)
    if report.missing or report.failed:
        raise PrepareError("the data root is incomplete.\n" + report.summary(), report)
    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m optimlab.data prepare --source DIR`` or ``where``: the command
    line of the module; returns the exit status (1 when ``prepare`` fails)."""
    parser = argparse.ArgumentParser(prog="python -m optimlab.data",
                                     description="Manage optimlab's data root.")
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("prepare", help="copy offline data sets into the data root")
    prepare.add_argument("--source", required=True,
                         help="folder with MNIST/, cifar10-npz/ and tinyshakespeare/")
    prepare.add_argument("--root", default=None, help=f"data root (default: ${ENV_VAR})")
    commands.add_parser("where", help="print the data root")
    args = parser.parse_args(argv)
    if args.command == "where":
        print(data_root())
        return 0
    try:
        report = prepare_data_root(args.source, args.root)
    except (PrepareError, DataFileError, ValueError) as error:
        print(f"prepare failed: {error}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
