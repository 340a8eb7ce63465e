"""What data parallelism does to an optimizer, measured on the CPU in under a minute.

``python -m optimlab.experiments ddp-demo`` prints :func:`report` of
:func:`measure`; the page ``book/data_parallel.md`` quotes it.

1. **The averaged gradient is the big batch's** (:func:`shard_gradients`): N shards
   of a batch, each with its mean loss, give gradients whose average -- what DDP
   computes -- equals the gradient of the whole batch's mean loss, up to rounding
   (float32 and float64 are shown).  With a *summed* loss the average is 1/N of
   the big batch's gradient, and a network with BatchNorm, which normalises over
   each shard, has another gradient altogether.
2. **The learning rate follows the global batch** (:func:`scaling_runs`): SGD
   with momentum on the MNIST MLP for the same number of epochs, at batch 32 with
   rate η, then at batch 32k with η (k times fewer steps of the same size), with
   kη (Goyal et al.'s linear scaling) and with a linear warm-up from η to kη over
   the first quarter of the steps; and ADOPT at batch 32k with η, √k η and kη.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import runner
from .config import Config

__all__ = ["GradientGaps", "ScalingRun", "shard_gradients", "scaling_runs",
           "measure", "report", "BASE_BATCH", "BASE_LRS", "FACTORS"]

#: The batch size of the base runs; a scaled run's batch is k times as large.
BASE_BATCH = 32
#: The rate of each optimizer at :data:`BASE_BATCH` (and its other arguments).
BASE_LRS = {"SGD": (0.02, {"momentum": 0.9}), "ADOPT": (1e-3, {})}
#: Batch-size factors k of the SGD runs (ADOPT's: the first).
FACTORS = (16, 32, 64)


@dataclass(frozen=True)
class GradientGaps:
    """Largest ``|average of the shards' gradients - big batch's gradient|``,
    relative to the big batch's largest entry; and the ratio of their norms for a
    summed loss.  ``ranks`` shards of ``batch_size`` images in all."""

    ranks: int
    batch_size: int
    float32: float
    float64: float
    summed_loss_ratio: float
    batchnorm: float


@dataclass(frozen=True)
class ScalingRun:
    """One training run of :func:`scaling_runs`: the optimizer, batch size and rate;
    the ``rule`` that gave the rate (``"base"`` at :data:`BASE_BATCH`, else how the
    base rate was scaled: ``"same η"``, ``"√k η"``, ``"kη"``, ``"kη, warm-up"``); the
    warm-up and total updates; the validation images, the final validation loss
    and accuracy; and the seconds it took."""

    optimizer: str
    batch_size: int
    lr: float
    rule: str
    warmup_steps: int
    steps: int
    validation_images: int
    val_loss: float
    val_accuracy: float
    seconds: float


def _config(optimizer: str, batch_size: int, lr: float, epochs: int = 1,
            train_images: int = 0, seed: int = 0, eval_images: int = 0) -> Config:
    return Config(experiment="ddp-demo", model="mlp", dataset="mnist",
                  optimizer=optimizer, lr=lr, hyperparameters=BASE_LRS[optimizer][1],
                  batch_size=batch_size, epochs=epochs, seed=seed,
                  train_subset=train_images, eval_subset=eval_images,
                  fingerprint_steps=1)


def _gradient(model: nn.Module, x, y, reduction: str) -> torch.Tensor:
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y, reduction=reduction).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def _gap(model: nn.Module, x, y, ranks: int, reduction: str = "mean"):
    """The average of the shards' gradients minus the big batch's, and the latter."""
    whole = _gradient(model, x, y, reduction)
    shards = [_gradient(model, xs, ys, reduction)
              for xs, ys in zip(x.chunk(ranks), y.chunk(ranks))]
    return torch.stack(shards).mean(0) - whole, whole


def _relative(difference: torch.Tensor, whole: torch.Tensor) -> float:
    return (difference.abs().max() / whole.abs().max()).item()


def shard_gradients(ranks: int = 4, batch_size: int = 512, seed: int = 0
                    ) -> GradientGaps:
    """The gradient gaps of the MNIST MLP (its initial weights for ``seed``) on one
    batch of ``batch_size`` training images split into ``ranks`` shards."""
    if batch_size % ranks:
        raise ValueError(f"batch_size={batch_size} must split into ranks={ranks} "
                         f"equal shares")
    config = _config("SGD", batch_size, 0.1, seed=seed)
    epoch = runner.train_batches(config).epoch(runner.epoch_generator(config, 0))
    x, y = next(iter(epoch))
    model = runner.build(config)[0]
    gaps = {"ranks": ranks, "batch_size": batch_size,
            "float32": _relative(*_gap(model, x, y, ranks))}
    gaps["float64"] = _relative(*_gap(model.double(), x.double(), y, ranks))
    difference, whole = _gap(model.float(), x, y, ranks, "sum")
    gaps["summed_loss_ratio"] = (whole.norm() / (difference + whole).norm()).item()
    torch.manual_seed(seed)
    normalised = nn.Sequential(nn.Flatten(), nn.Linear(784, 784),
                               nn.BatchNorm1d(784), nn.ReLU(), nn.Linear(784, 10))
    gaps["batchnorm"] = _relative(*_gap(normalised, x, y, ranks))
    return GradientGaps(**gaps)


def _train(config: Config, rule: str, warmup: int = 0, start: float = 0.0
           ) -> ScalingRun:
    """One run: the runner's model, batches and update at rate ``config.lr``; with
    ``warmup`` the rate rises linearly from ``start`` at the first update to
    ``config.lr`` at update ``warmup + 1`` (Goyal et al.'s gradual warm-up)."""
    lr = config.lr
    started = time.perf_counter()
    model, optimizer = runner.build(config)
    batches, plain = runner.train_batches(config), contextlib.nullcontext()
    t = 0
    for epoch in range(config.epochs):
        for x, y in batches.epoch(runner.epoch_generator(config, epoch)):
            t += 1
            rate = lr if t > warmup else start + (lr - start) * (t - 1) / warmup
            runner._update(model, optimizer, x, y, rate, plain)
    validation = runner._eval_batches(config, "validation", torch.device("cpu"))
    loss, accuracy = runner._evaluate(model, validation, plain)
    return ScalingRun(config.optimizer, config.batch_size, lr, rule, warmup, t,
                      validation.labels.shape[0], loss, accuracy,
                      time.perf_counter() - started)


def scaling_runs(epochs: int = 1, train_images: int = 0, seed: int = 0,
                 eval_images: int = 0) -> list[ScalingRun]:
    """The runs of item 2 of the module's docstring, on the first ``train_images``
    training and ``eval_images`` validation images (0: all 48,000 and 12,000)."""
    runs = []
    for optimizer, factors in (("SGD", FACTORS), ("ADOPT", FACTORS[:1])):
        lr = BASE_LRS[optimizer][0]

        def config_for(batch: int, rate: float) -> Config:
            return _config(optimizer, batch, rate, epochs, train_images, seed,
                           eval_images)

        runs.append(_train(config_for(BASE_BATCH, lr), "base"))
        for k in factors:
            batch = BASE_BATCH * k
            steps = config_for(batch, lr).total_steps
            if optimizer == "SGD":
                rules = [("same η", lr, 0), ("kη", lr * k, 0),
                         ("kη, warm-up", lr * k, max(1, steps // 4))]
            else:
                rules = [("same η", lr, 0), ("√k η", lr * math.sqrt(k), 0),
                         ("kη", lr * k, 0)]
            runs += [_train(config_for(batch, rate), rule, warmup, start=lr)
                     for rule, rate, warmup in rules]
    return runs


def measure(epochs: int = 1, train_images: int = 0, seed: int = 0, ranks: int = 4
            ) -> tuple[GradientGaps, list[ScalingRun]]:
    """:func:`shard_gradients` and :func:`scaling_runs`."""
    return (shard_gradients(ranks, seed=seed),
            scaling_runs(epochs, train_images, seed))


def report_gaps(gaps: GradientGaps) -> str:
    """The gradient gaps as the text the book's page prints."""
    return "\n".join([
        f"One batch of {gaps.batch_size} MNIST images, {gaps.ranks} shards of "
        f"{gaps.batch_size // gaps.ranks}, the MLP.",
        f"Largest gap between the shards' averaged gradient and the big batch's:",
        f"  mean loss, float32: {gaps.float32:.1e}",
        f"  mean loss, float64: {gaps.float64:.1e}",
        f"  with BatchNorm (each shard normalised alone): {gaps.batchnorm:.1e}",
        f"Summed loss: big-batch gradient / average of shards = "
        f"{gaps.summed_loss_ratio:.3f}"])


def report_runs(runs: list[ScalingRun]) -> str:
    """The scaling runs as the table the book's page prints."""
    lines = [f"SGD (momentum 0.9) and ADOPT, {runs[0].steps * BASE_BATCH:,} training "
             f"images seen by each run,",
             f"{runs[0].validation_images:,} validation images:",
             f"  {'optimizer':9} {'batch':>5} {'rule':12} {'lr':>8} {'steps':>5} "
             f"{'val loss':>8} {'val acc':>7}"]
    lines += [f"  {run.optimizer:9} {run.batch_size:5d} {run.rule:12} {run.lr:8.4g} "
              f"{run.steps:5d} {run.val_loss:8.4f} {run.val_accuracy:7.4f}"
              for run in runs]
    return "\n".join(lines)


def report(measured: tuple[GradientGaps, list[ScalingRun]]) -> str:
    """The measurements as the text ``ddp-demo`` prints."""
    gaps, runs = measured
    return report_gaps(gaps) + "\n\n" + report_runs(runs)
