"""The on-device CIFAR input pipeline: exact crops, flips, normalisation and order."""

from __future__ import annotations

import pytest
import torch

from optimlab.augment import CIFAR10_MEAN, CIFAR10_STD, DeviceBatches

MEAN, STD = (0.25, 0.5, 0.75), (0.5, 0.25, 0.125)


def toy_images(n=37, h=6, w=5, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, h, w, c), dtype=torch.uint8, generator=g)
    return images, torch.arange(n)


def normalise(pixels):
    """The plain formula, for an NHWC uint8 stack: (p / 255 - mean) / std, as NCHW."""
    x = pixels.double().permute(0, 3, 1, 2) / 255
    return (x - torch.tensor(MEAN, dtype=torch.float64).view(1, -1, 1, 1)) \
        / torch.tensor(STD, dtype=torch.float64).view(1, -1, 1, 1)


def candidates(image, padding):
    """Every crop of the zero-padded image, flipped or not: what augmentation may give."""
    h, w, _ = image.shape
    padded = torch.zeros(h + 2 * padding, w + 2 * padding, image.shape[2], dtype=image.dtype)
    padded[padding:padding + h, padding:padding + w] = image
    for oy in range(2 * padding + 1):
        for ox in range(2 * padding + 1):
            crop = padded[oy:oy + h, ox:ox + w]
            yield (oy, ox, False), crop
            yield (oy, ox, True), crop.flip(1)


def test_without_augmentation_one_epoch_is_a_permutation_and_exactly_normalised():
    images, labels = toy_images()
    batches = DeviceBatches(images, labels, mean=MEAN, std=STD, batch_size=8)
    seen = []
    for x, y in batches.epoch(torch.Generator().manual_seed(1)):
        assert x.dtype == torch.float32 and x.shape[1:] == (3, 6, 5)
        torch.testing.assert_close(x.double(), normalise(images[y]), rtol=0, atol=1e-6)
        seen.append(y)
    assert len(seen) == len(batches) == 5
    assert sorted(torch.cat(seen).tolist()) == list(range(37))


def test_drop_last_drops_the_short_batch():
    images, labels = toy_images()
    batches = DeviceBatches(images, labels, mean=MEAN, std=STD, batch_size=8, drop_last=True)
    sizes = [y.shape[0] for _, y in batches.epoch(torch.Generator().manual_seed(0))]
    assert sizes == [8, 8, 8, 8] and len(batches) == 4


def test_every_augmented_image_is_a_padded_crop_possibly_flipped_and_all_kinds_occur():
    images, labels = toy_images(n=64)
    padding = 2
    batches = DeviceBatches(images, labels, mean=MEAN, std=STD, batch_size=16,
                            augment=True, padding=padding)
    kinds = set()
    for x, y in batches.epoch(torch.Generator().manual_seed(3)):
        for xi, yi in zip(x.double(), y):
            matches = [kind for kind, crop in candidates(images[yi], padding)
                       if torch.allclose(xi, normalise(crop[None])[0], atol=1e-6)]
            assert matches, "an augmented image is not a crop of its padded original"
            kinds.update(matches)
    flips = {flip for _, _, flip in kinds}
    offsets = {(oy, ox) for oy, ox, _ in kinds}
    assert flips == {False, True}
    assert len(offsets) > 15  # of 25 possible offsets, 64 draws reach most


def test_the_same_seed_gives_the_same_batches_and_another_seed_does_not():
    images, labels = toy_images()

    def first_batch(seed):
        batches = DeviceBatches(images, labels, mean=MEAN, std=STD, batch_size=8, augment=True)
        return next(iter(batches.epoch(torch.Generator().manual_seed(seed))))

    (x0, y0), (x1, y1), (_, y2) = first_batch(5), first_batch(5), first_batch(6)
    assert torch.equal(x0, x1) and torch.equal(y0, y1)
    assert not torch.equal(y0, y2)


def test_memory_format_follows_the_option():
    images, labels = toy_images()
    batches = DeviceBatches(images, labels, mean=MEAN, std=STD, batch_size=8,
                            channels_last=True)
    x, _ = next(iter(batches.epoch(torch.Generator().manual_seed(0))))
    assert x.is_contiguous(memory_format=torch.channels_last)
    plain = DeviceBatches(images, labels, mean=MEAN, std=STD, batch_size=8)
    x, _ = next(iter(plain.epoch(torch.Generator().manual_seed(0))))
    assert x.is_contiguous()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_the_batches_equal_the_cpu_ones():
    images, labels = toy_images()
    make = lambda device: DeviceBatches(images, labels, mean=MEAN, std=STD, batch_size=8,
                                        augment=True, device=device)
    cpu = list(make("cpu").epoch(torch.Generator().manual_seed(2)))
    gpu = list(make("cuda").epoch(torch.Generator().manual_seed(2)))
    for (xc, yc), (xg, yg) in zip(cpu, gpu):
        assert xg.is_cuda and xg.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(xg.cpu(), xc)
        assert torch.equal(yg.cpu(), yc)


@pytest.mark.parametrize("change, message", [
    (dict(images=torch.zeros(4, 6, 5, 3)), "uint8"),
    (dict(images=torch.zeros(4, 6, 5, dtype=torch.uint8)), "uint8 tensor [N, H, W, C]"),
    (dict(labels=torch.arange(3)), "one label per image"),
    (dict(mean=(0.5, 0.5)), "one value per channel"),
    (dict(std=(0.5, 0.0, 0.5)), "std must be positive"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=2.5), "batch_size"),
    (dict(padding=-1), "padding"),
])
def test_bad_arguments_are_named(change, message):
    images, labels = toy_images(n=4)
    arguments = dict(images=images, labels=labels, mean=MEAN, std=STD, batch_size=2)
    arguments.update(change)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        DeviceBatches(**arguments)


def test_a_device_generator_is_refused():
    images, labels = toy_images(n=4)
    batches = DeviceBatches(images, labels, mean=MEAN, std=STD, batch_size=2)
    with pytest.raises(ValueError, match="CPU torch.Generator"):
        next(iter(batches.epoch(None)))


def test_cifar10_constants_are_the_training_set_statistics():
    from optimlab.data import DatasetNotFoundError, load_cifar10

    try:
        train = load_cifar10(train=True, download=False)
    except DatasetNotFoundError:
        pytest.skip("CIFAR-10 is not in the data root")
    values = torch.arange(256, dtype=torch.float64) / 255
    mean, std = [], []
    for channel in range(3):  # exact moments from the histogram of pixel values
        counts = torch.bincount(train.images[..., channel].flatten(), minlength=256).double()
        mu = (counts * values).sum() / counts.sum()
        mean.append(mu)
        std.append(((counts * (values - mu) ** 2).sum() / counts.sum()).sqrt())
    torch.testing.assert_close(torch.stack(mean), torch.tensor(CIFAR10_MEAN, dtype=torch.float64),
                               rtol=0, atol=1e-4)
    torch.testing.assert_close(torch.stack(std), torch.tensor(CIFAR10_STD, dtype=torch.float64),
                               rtol=0, atol=1e-4)
