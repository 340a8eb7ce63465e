"""CIFAR-10 training throughput of the experiments' ResNets, and the optimizer's share.

    python tools/benchmark_training.py                 # the device it finds (CUDA first)
    python tools/benchmark_training.py --device cpu --batch-size 32 --steps 3
    python tools/benchmark_training.py --device cpu --model resnet20 --threads 1 2

For each optimizer of the CIFAR-10 grids (Adam, ADOPT, SGD with momentum, with
their settings) it trains a model of the experiments (``--model``:
``resnet18``, the GPU tier's, by default; ``resnet20`` and ``resnet8`` for the CPU
tier) exactly as the runner does -- the input pipeline of
:class:`optimlab.augment.DeviceBatches` with random crop and flip, bf16 autocast
on CUDA, float32 on a CPU, channels-last where the runner uses it
(:func:`optimlab.experiments.runner.channels_last`) -- for ``--warmup`` untimed and
``--steps`` timed updates, with each CPU thread count of ``--threads``, and prints

* images/s: batch size × timed updates / their wall time, and
* the optimizer step's share: the time inside ``optimizer.step()`` over the time of
  the whole update, measured in the same updates.

To split the time, the device is synchronised before and after ``optimizer.step()``;
that costs a little throughput on CUDA (the next forward pass cannot be queued while
the step runs), so the images/s printed here are a slight underestimate.  The images
are random pixels unless ``--real-data`` (the speed does not depend on the pixels).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from optimlab import models, optim
from optimlab.augment import CIFAR10_MEAN, CIFAR10_STD, DeviceBatches
from optimlab.experiments.grids import CIFAR10_OPTIMIZERS
from optimlab.experiments.runner import channels_last


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images(real: bool, n: int):
    if real:
        from optimlab.data import load_cifar10

        train = load_cifar10(True)
        return train.images[:n], train.labels[:n]
    generator = torch.Generator().manual_seed(0)
    return (torch.randint(0, 256, (n, 32, 32, 3), dtype=torch.uint8, generator=generator),
            torch.randint(0, 10, (n,), generator=generator))


def measure(name: str, model_name: str, device: torch.device, batches: DeviceBatches,
            warmup: int, steps: int) -> tuple[float, float]:
    """(images per second, optimizer share) of ``steps`` timed updates."""
    torch.manual_seed(0)
    model = models.build(model_name).to(device)
    cuda = device.type == "cuda"
    if batches.channels_last:
        model = model.to(memory_format=torch.channels_last)
    # α = 0.01, the CPU tier's choice for Adam and ADOPT (the speed does not depend on it)
    optimizer = getattr(optim, name)(model.parameters(), lr=0.01, **CIFAR10_OPTIMIZERS[name])
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda)
    generator = torch.Generator().manual_seed(0)
    stream = iter(())
    step_time = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            synchronize(device)
            started, step_time = time.perf_counter(), 0.0
        x_y = next(stream, None)
        if x_y is None:
            stream = batches.epoch(generator)
            x_y = next(stream)
        x, y = x_y
        with autocast:
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        synchronize(device)
        before = time.perf_counter()
        optimizer.step()
        synchronize(device)
        step_time += time.perf_counter() - before
    synchronize(device)
    total = time.perf_counter() - started
    return steps * batches.batch_size / total, step_time / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=None,
                        help="timed updates (default: 100 on CUDA, 5 on a CPU)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed updates first (default: 20 on CUDA, 1 on a CPU)")
    parser.add_argument("--optimizers", nargs="+", default=list(CIFAR10_OPTIMIZERS),
                        choices=list(CIFAR10_OPTIMIZERS))
    parser.add_argument("--real-data", action="store_true", help="CIFAR-10 images")
    parser.add_argument("--model", default="resnet18", choices=["resnet18", "resnet20",
                                                                "resnet8"])
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="CPU thread counts to measure (default: torch's choice)")
    args = parser.parse_args()
    if any(t < 1 for t in args.threads or ()):
        parser.error(f"--threads must be >= 1, got {args.threads}")
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    steps = args.steps or (100 if cuda else 5)
    warmup = args.warmup if args.warmup is not None else (20 if cuda else 1)
    if cuda:
        torch.backends.cudnn.benchmark = True
    x, y = images(args.real_data, max(args.batch_size * 8, 1024))
    layout = channels_last(args.model, device)
    batches = DeviceBatches(x, y, mean=CIFAR10_MEAN, std=CIFAR10_STD,
                            batch_size=args.batch_size, augment=True, drop_last=True,
                            device=device, channels_last=layout)
    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    for threads in args.threads or [torch.get_num_threads()]:
        torch.set_num_threads(threads)
        print(f"{args.model}, 32x32 images, batch {args.batch_size}, {name}, "
              f"{'bf16 autocast' if cuda else 'float32'}"
              f"{', channels-last' if layout else ''}, torch {torch.__version__}, "
              f"{threads} CPU threads; {warmup} warm-up + {steps} timed updates")
        for optimizer in args.optimizers:
            throughput, share = measure(optimizer, args.model, device, batches, warmup,
                                        steps)
            print(f"{optimizer:6s} {throughput:9.1f} images/s   optimizer step "
                  f"{share:6.1%} of the update time")


if __name__ == "__main__":
    main()
