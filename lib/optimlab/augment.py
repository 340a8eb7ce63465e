"""An image data set held on one device, served as augmented, normalised batches.

CIFAR-10's training split is 40,000 × 32 × 32 × 3 bytes, 123 MB: it fits on any GPU
as one ``uint8`` tensor.  :class:`DeviceBatches` keeps it there and cuts every batch
from it with one gather that does the random crop (with zero padding) and the random
horizontal flip at once; the conversion to float and the normalisation are one more
fused operation.  There are no DataLoader workers and no host-to-device copy of
images per batch, so the input pipeline never starves the GPU.

The random numbers (the shuffle, the crop offsets, the flips) are drawn on the CPU
from a CPU :class:`torch.Generator`, and only the few integers per batch move to the
device.  The order of the batches and their augmentation therefore depend only on
the seed, not on the device: a run on a GPU sees the same images as its replay on a
CPU, which is what the audit of the result cache relies on.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch
import torch.nn.functional as F

#: Per-channel mean of CIFAR-10's 50,000 training images, pixel values scaled to
#: [0, 1] (tests/test_augment.py recomputes it and :data:`CIFAR10_STD`).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
#: Per-channel standard deviation of the same images, on the same scale.
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


class DeviceBatches:
    """Images held on one device as one uint8 tensor ``[N, H, W, C]``; yields batches.

    Each batch is ``(x, y)``: ``x`` float32 ``[B, C, H, W]`` equal to
    ``(pixels / 255 - mean) / std`` (in channels-last memory format on CUDA, or when
    ``channels_last=True``), ``y`` int64 ``[B]``.  With ``augment=True`` every image is
    first padded with ``padding`` zero pixels on each side, cropped back to ``H × W``
    at a random offset, and flipped left-right with probability 1/2 (the standard
    CIFAR augmentation of He et al., 2016).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, *,
                 mean: Sequence[float], std: Sequence[float], batch_size: int,
                 augment: bool = False, padding: int = 4, drop_last: bool = False,
                 device: str | torch.device = "cpu", channels_last: bool | None = None):
        _check_images(images, labels)
        channels = images.shape[-1]
        if len(mean) != channels or len(std) != channels:
            raise ValueError(f"mean and std need one value per channel ({channels}), got "
                             f"{len(mean)} and {len(std)}")
        if any(s <= 0 for s in std):
            raise ValueError(f"std must be positive, got {tuple(std)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise ValueError(f"padding must be a non-negative integer, got {padding!r}")
        device = torch.device(device)
        self.batch_size, self.augment, self.padding = batch_size, augment, padding
        self.drop_last = drop_last
        self.channels_last = device.type == "cuda" if channels_last is None else channels_last
        self.height, self.width = images.shape[1], images.shape[2]
        images = images.to(device)
        if augment and padding:
            # pad H and W once, for the whole set: [N, H + 2p, W + 2p, C]
            images = F.pad(images, (0, 0, padding, padding, padding, padding))
        self.images, self.labels = images, labels.to(device)
        # x = pixels · scale - shift  ==  (pixels / 255 - mean) / std
        std_ = torch.tensor(std, dtype=torch.float32, device=device)
        self.scale = (1 / (255 * std_)).view(1, -1, 1, 1)
        self.shift = (torch.tensor(mean, dtype=torch.float32, device=device) / std_).view(1, -1, 1, 1)

    def __len__(self) -> int:
        """Batches per epoch."""
        n = self.labels.shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def epoch(self, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One pass over the set in a random order drawn from ``generator`` (a CPU one)."""
        if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
            raise ValueError("epoch() needs a CPU torch.Generator, so that the order and the "
                             "augmentation do not depend on the device; got "
                             f"{generator!r}")
        order = torch.randperm(self.labels.shape[0], generator=generator)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start:start + self.batch_size]
            yield self.batch(index, generator)

    def batch(self, index: torch.Tensor, generator: torch.Generator | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """The images and labels at ``index`` (augmented with randoms from ``generator``)."""
        device = self.images.device
        on_device = index.to(device, non_blocking=True)
        if self.augment:
            pixels = self._crop_and_flip(on_device, generator)
        else:
            pixels = self.images[on_device]
        x = pixels.permute(0, 3, 1, 2)                    # NCHW view of NHWC memory
        x = torch.addcmul(-self.shift, x.float(), self.scale)  # (p/255 - mean) / std
        x = x.contiguous(memory_format=torch.channels_last if self.channels_last
                         else torch.contiguous_format)
        return x, self.labels[on_device]

    def _crop_and_flip(self, index: torch.Tensor, generator: torch.Generator | None):
        """One gather: image i, rows oy_i + r, columns ox_i + c (or reversed if flipped).

        The offsets and flips are drawn on the CPU from ``generator``; ``index`` is
        already on the images' device.
        """
        b, p = index.shape[0], self.padding
        offsets = torch.randint(0, 2 * p + 1, (2, b), generator=generator)
        flip = torch.rand(b, generator=generator) < 0.5
        rows = offsets[0, :, None] + torch.arange(self.height)          # [B, H]
        columns = torch.arange(self.width).expand(b, -1)                # [B, W]
        columns = torch.where(flip[:, None], columns.flip(1), columns)  # mirror
        columns = offsets[1, :, None] + columns
        device = self.images.device
        rows, columns = rows.to(device, non_blocking=True), columns.to(device, non_blocking=True)
        return self.images[index[:, None, None], rows[:, :, None], columns[:, None, :]]


def _check_images(images: torch.Tensor, labels: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError("images must be a uint8 tensor [N, H, W, C], got "
                         f"{getattr(images, 'dtype', type(images))} of shape "
                         f"{tuple(getattr(images, 'shape', ()))}")
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 \
            or labels.shape[0] != images.shape[0]:
        raise ValueError(f"labels must be a 1-D tensor with one label per image "
                         f"({images.shape[0]}), got shape {tuple(getattr(labels, 'shape', ()))}")
