"""An image folder (ImageNet's layout) served as batches that do not depend on the
number of ranks, nor on the number of loader workers.

The folder is ``$OPTIMLAB_IMAGEFOLDER``, else ``<data root>/imagenet``
(:func:`folder`), with one sub-folder per class in each of ``train/``, ``val/``
(the validation split) and, for a run that evaluates a test split, ``test/``;
torchvision's :class:`~torchvision.datasets.ImageFolder` reads it, nothing is
downloaded.  The class folders must be the same in every split, and a config's
``train_subset`` must be the number of training images (:func:`scan`).

The transforms are the usual ImageNet ones (Goyal et al., 2017; torchvision's
reference scripts): for training a random resized crop to ``image_size`` and a
random horizontal flip; for evaluation a resize of the short side to
``image_size · 256/224`` and a centre crop.  Images are decoded by
:class:`~torch.utils.data.DataLoader` workers into ``uint8`` and normalised on
the device.

Epoch e of a run (:meth:`FolderBatches.epoch`) draws, from the run's epoch
generator, the order of the training images and one seed per position; the
random crop and flip of the image at a position draw from that seed alone.  The
global batch k is the positions ``[kB, (k+1)B)``, and rank r of N loads the
positions ``[kB + rb, kB + (r+1)b)`` of it, b = B/N -- the same contiguous share
that :meth:`~optimlab.experiments.distributed.World.share` cuts from an
in-memory batch.  So the images and their augmentation are those of the
single-process run, whatever N and however many workers decode them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from .. import data
from ..datafiles import DataFileError
from .architectures import RESNET50_CLASSES

__all__ = ["FOLDER_ENV_VAR", "PARTS", "IMAGENET_MEAN", "IMAGENET_STD", "folder",
           "scan", "FolderBatches", "batches", "loader_workers"]

#: The environment variable that names the image folder (:func:`folder`).
FOLDER_ENV_VAR = "OPTIMLAB_IMAGEFOLDER"
#: The runner's splits and the sub-folders that hold them.
PARTS = {"train": "train", "validation": "val", "test": "test"}
#: Per-channel mean of ImageNet's training images, pixel values scaled to [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
#: Per-channel standard deviation of the same images, on the same scale.
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Evaluation resizes the short side to image_size · 256/224, then crops the centre.
RESIZE_RATIO = 256 / 224


def folder() -> Path:
    """``$OPTIMLAB_IMAGEFOLDER``, else ``<data root>/imagenet``."""
    configured = os.environ.get(FOLDER_ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    return data.data_root() / "imagenet"


@functools.lru_cache(maxsize=8)
def _read(path: Path) -> tuple[tuple[tuple[str, int], ...], tuple[str, ...]]:
    from torchvision.datasets import ImageFolder

    if not path.is_dir():
        raise data.DatasetNotFoundError(
            f"the image folder {path} does not exist: point ${FOLDER_ENV_VAR} at a "
            f"folder with train/ and val/ (and test/ for a run that is tested), "
            f"each holding one sub-folder of images per class; nothing is "
            f"downloaded")
    try:
        found = ImageFolder(str(path))
    except OSError as error:
        raise DataFileError(f"{path} is not an image folder (one sub-folder of "
                            f"images per class): {error}") from None
    return tuple(found.samples), tuple(found.classes)


def scan(part: str, expected: int | None = None, root: Path | None = None
         ) -> tuple[tuple[tuple[str, int], ...], tuple[str, ...]]:
    """``(samples, classes)`` of split ``part`` (a key of :data:`PARTS`): the
    ``(path, label)`` pairs in torchvision's sorted order and the class names.

    DataFileError, naming the folders, when its classes are not those of
    ``train/`` or are more than ResNet-50's outputs, or when ``expected`` is given
    and the split does not hold that many images."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {sorted(PARTS)}, got {part!r}")
    root = folder() if root is None else Path(root)
    where = root / PARTS[part]
    samples, classes = _read(where)
    _, train_classes = _read(root / "train")
    if classes != train_classes:
        only = sorted(set(classes) ^ set(train_classes))
        raise DataFileError(f"{where} and {root / 'train'} must hold the same class "
                            f"folders; they differ in {only[:5] or 'their order'}")
    if len(classes) > RESNET50_CLASSES:
        raise DataFileError(f"{where} holds {len(classes)} classes, more than "
                            f"ResNet-50's {RESNET50_CLASSES} outputs")
    if expected is not None and len(samples) != expected:
        raise DataFileError(f"{where} holds {len(samples)} images, the config "
                            f"expects {expected} (its train_subset; the grid's "
                            f"--train-images option sets it)")
    return samples, classes


def _transform(image_size: int, augment: bool):
    from torchvision import transforms as T

    if augment:
        steps = [T.RandomResizedCrop(image_size), T.RandomHorizontalFlip()]
    else:
        resized = round(image_size * RESIZE_RATIO)
        steps = [T.Resize(resized), T.CenterCrop(image_size)]
    return T.Compose([*steps, T.PILToTensor()])


class _SeededImages(Dataset):
    """Images by ``(index, seed)``: the random transform draws from ``seed`` only."""

    def __init__(self, samples, transform):
        self.samples, self.transform = samples, transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, item: tuple[int, int]):
        from PIL import Image

        index, seed = item
        path, label = self.samples[index]
        try:
            with Image.open(path) as file:
                image = file.convert("RGB")
        except OSError as error:
            raise DataFileError(f"{path} cannot be read as an image: "
                                f"{error}") from None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.transform(image), label


def loader_workers(device: torch.device, local_ranks: int = 1) -> int:
    """Decoding processes per rank: none on a CPU (the tests' tiny folders), else
    up to 8, sharing the node's cores between its ranks."""
    if device.type != "cuda":
        return 0
    return max(1, min(8, (os.cpu_count() or 1) // max(1, local_ranks) - 1))


class FolderBatches:
    """The images of one split, served as normalised float32 batches ``(x, y)`` on
    ``device`` (channels-last when asked), like
    :class:`optimlab.augment.DeviceBatches`: ``labels`` (on the device) and
    ``batch_size`` have the same meaning."""

    def __init__(self, samples, *, image_size: int, batch_size: int, augment: bool,
                 drop_last: bool, device: torch.device, channels_last: bool,
                 workers: int):
        self.images = _SeededImages(samples, _transform(image_size, augment))
        self.batch_size, self.drop_last = batch_size, drop_last
        self.device, self.channels_last = torch.device(device), channels_last
        self.workers = workers
        labels = [label for _, label in samples]
        self.labels = torch.tensor(labels, device=self.device)
        std = torch.tensor(IMAGENET_STD, device=self.device)
        self.scale = (1 / (255 * std)).view(1, -1, 1, 1)
        self.shift = (torch.tensor(IMAGENET_MEAN, device=self.device) / std).view(
            1, -1, 1, 1)

    def __len__(self) -> int:
        """Batches per epoch."""
        n = len(self.images)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def epoch(self, generator: torch.Generator, rank: int = 0, ranks: int = 1
              ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Rank ``rank``'s share of every global batch of one epoch drawn from
        ``generator`` (all of each batch for one rank)."""
        n = len(self.images)
        order = torch.randperm(n, generator=generator).tolist()
        seeds = torch.randint(0, 2**62, (n,), generator=generator).tolist()
        share = self.batch_size // ranks
        plan = [[(order[p], seeds[p]) for p in range(start, start + share)]
                for start in range(rank * share, len(self) * self.batch_size,
                                   self.batch_size)]
        return self._load(plan)

    def in_order(self, start: int, stop: int
                 ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Images ``start`` to ``stop`` in the stored order, in batches."""
        plan = [[(i, 0) for i in range(first, min(first + self.batch_size, stop))]
                for first in range(start, stop, self.batch_size)]
        return self._load(plan)

    def _load(self, plan) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        cuda = self.device.type == "cuda"
        loader = DataLoader(self.images, batch_sampler=plan,
                            num_workers=self.workers, pin_memory=cuda,
                            generator=torch.Generator())
        for pixels, labels in loader:
            pixels = pixels.to(self.device, non_blocking=cuda)
            x = torch.addcmul(-self.shift, pixels.float(), self.scale)
            x = x.contiguous(memory_format=torch.channels_last if self.channels_last
                             else torch.contiguous_format)
            yield x, labels.to(self.device, non_blocking=cuda)


@functools.lru_cache(maxsize=8)
def _cached(root: Path, part: str, expected: int | None, image_size: int,
            batch_size: int, augment: bool, device: str, channels_last: bool,
            workers: int) -> FolderBatches:
    samples, _ = scan(part, expected, root)
    return FolderBatches(samples, image_size=image_size, batch_size=batch_size,
                         augment=augment, drop_last=part == "train",
                         device=torch.device(device), channels_last=channels_last,
                         workers=workers)


def batches(config, part: str, batch_size: int, device: torch.device,
            channels_last: bool, local_ranks: int = 1) -> FolderBatches:
    """The :class:`FolderBatches` of ``config``'s split ``part`` (augmented when it
    is ``"train"`` and the config augments), read once per process."""
    train = part == "train"
    return _cached(folder(), part, config.train_subset if train else None,
                   config.image_size, batch_size, config.augment and train,
                   str(device), channels_last, loader_workers(device, local_ranks))
