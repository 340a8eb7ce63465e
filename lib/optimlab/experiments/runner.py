"""Train one :class:`~optimlab.experiments.config.Config` and return its result.

The result is a JSON-ready dict (see :func:`run`): the per-update training loss,
the validation (and, if asked, test) loss and accuracy at every evaluation, the
test loss and accuracy after the last update, the wall time, and a *fingerprint*:
the float32 training losses of the first few updates, computed deterministically
before the real run (no autocast, no TF32) so that the audit can recompute them
on any CPU (:func:`fingerprint`).

What makes a run reproducible:

* the initial weights come from ``torch.manual_seed(config.seed)`` on the CPU;
* epoch ``e`` draws its order and augmentation from a CPU generator seeded with
  :func:`epoch_seed` ``(seed, e)`` (:class:`optimlab.augment.DeviceBatches`),
  so the images a run sees do not depend on the device, and a run resumed at
  an epoch boundary sees the same images as one that never stopped;
* the learning rate of update ``t`` is set from the schedule before the update.

Under ``torchrun`` (:mod:`.distributed`) the same run is shared by N ranks: each
takes its share of every global batch, DDP averages the gradients, and rank 0
alone computes the fingerprint and writes the checkpoints.  An image folder's
batches come from :mod:`.imagefolder`.
"""

from __future__ import annotations

import contextlib
import functools
import time
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .. import data, optim, text
from ..augment import CIFAR10_MEAN, CIFAR10_STD, DeviceBatches
from ..schedules import Cosine, InverseSqrtDecay
from . import architectures, checkpoint, imagefolder
from . import config as config_module
from .config import Config
from .distributed import SINGLE, World, batchnorm

__all__ = ["run", "fingerprint", "epoch_seed", "epoch_generator", "lr_at", "float32_list",
           "build", "train_batches", "channels_last"]

#: Per-channel mean and standard deviation of the training images, in [0, 1] units.
NORMALISATION = {"mnist": ((0.1307,), (0.3081,)), "cifar10": (CIFAR10_MEAN, CIFAR10_STD)}
EVAL_BATCH = 1000
#: What a finished language-model run writes (``sample`` in its result): the prompt,
#: the number of characters sampled after it, and the softmax temperature.
SAMPLE_PROMPT, SAMPLE_CHARACTERS, SAMPLE_TEMPERATURE = "ROMEO:\n", 300, 0.8


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch``'s order and augmentation."""
    return seed * 1_000_003 + epoch


def epoch_generator(config: Config, epoch: int) -> torch.Generator:
    """The CPU generator of epoch ``epoch``'s order and augmentation."""
    return torch.Generator().manual_seed(epoch_seed(config.seed, epoch))


def lr_at(config: Config, t: int) -> float:
    """The learning rate of update ``t`` (counted from 1)."""
    if config.schedule == "inverse-sqrt":
        return config.lr * InverseSqrtDecay(1.0)(t - 1)                  # α / √t
    if config.schedule == "cosine":
        return config.lr * Cosine(config.total_steps)(t - 1)
    return config.lr


def float32_list(values) -> list:
    """Values rounded to float32 as short decimals; NaN and ±inf become None (null)."""
    array = np.asarray(values, dtype=np.float32).ravel()
    return [float(str(v)) if np.isfinite(v) else None for v in array]


# --- data --------------------------------------------------------------------------

@functools.lru_cache(maxsize=2)
def _splits(dataset: str):
    if dataset == "shakespeare":
        return text.shakespeare_splits()
    return data.mnist_splits() if dataset == "mnist" else data.cifar10_splits()


def _nhwc(images: torch.Tensor) -> torch.Tensor:
    return images if images.dim() == 4 else images.unsqueeze(-1)       # MNIST: C = 1


@functools.lru_cache(maxsize=8)
def _batches(dataset: str, part: str, subset: int, batch_size: int, augment: bool,
             device: str, channels_last: bool):
    if dataset == "shakespeare":
        ids = getattr(_splits(dataset), part)
        if subset:
            ids = ids[:subset * text.CONTEXT + 1]
        return text.WindowBatches(ids, text.CONTEXT, batch_size, random=part == "train",
                                  device=device)
    images = getattr(_splits(dataset), part)
    x, y = _nhwc(images.images), images.labels
    if subset:
        x, y = x[:subset], y[:subset]
    mean, std = NORMALISATION[dataset]
    return DeviceBatches(x, y, mean=mean, std=std, batch_size=batch_size, augment=augment,
                         drop_last=part == "train", device=device,
                         channels_last=channels_last)


def train_batches(config: Config, device: str | torch.device = "cpu",
                  world: World = SINGLE):
    """The run's training batches; ``.epoch(epoch_generator(config, e))`` is epoch e."""
    device = torch.device(device)
    if config.dataset == "imagefolder":
        return imagefolder.batches(config, "train", config.batch_size, device,
                                   _channels_last(config, device), world.local_size)
    return _batches(config.dataset, "train", config.train_subset, config.batch_size,
                    config.augment, str(device), _channels_last(config, device))


def _eval_batches(config: Config, part: str, device: torch.device,
                  world: World = SINGLE):
    if config.dataset == "imagefolder":
        return imagefolder.batches(config, part, EVAL_BATCH, device,
                                   _channels_last(config, device), world.local_size)
    return _batches(config.dataset, part, config.eval_subset, EVAL_BATCH, False,
                    str(device), _channels_last(config, device))


def _epoch_share(batches, generator: torch.Generator, world: World):
    """This rank's share of every global batch of one epoch."""
    if world.size == 1:
        return batches.epoch(generator)
    if isinstance(batches, imagefolder.FolderBatches):
        return batches.epoch(generator, world.rank, world.size)
    return ((world.share(x), world.share(y)) for x, y in batches.epoch(generator))


def _in_order(batches, world: World):
    """This rank's contiguous part of a split, in the stored order, in batches."""
    start, stop = world.part(batches.labels.shape[0])
    if isinstance(batches, imagefolder.FolderBatches):
        yield from batches.in_order(start, stop)
        return
    size = batches.batch_size
    for first in range(start, stop, size):
        yield batches.batch(torch.arange(first, min(first + size, stop)))


def channels_last(model: str, device: torch.device) -> bool:
    """Whether ``model`` trains in channels-last memory format on ``device``: ResNet-18
    and ResNet-50 on CUDA, the small CIFAR ResNets everywhere (ResNet-20 on this
    course's CPU, one thread: 469 against 198 images/s, see
    tools/benchmark_training.py)."""
    return ((device.type == "cuda" and model in ("resnet18", "resnet50"))
            or model in ("resnet20", "resnet8"))


def _channels_last(config: Config, device: torch.device) -> bool:
    return channels_last(config.model, device)


# --- model, optimizer, one update ------------------------------------------------------

def build(config: Config, device: str | torch.device = "cpu"):
    """The model (initial weights from ``config.seed``) and its optimizer."""
    device = torch.device(device)
    torch.manual_seed(config.seed)
    model = architectures.build(config.model).to(device)
    if _channels_last(config, device):
        model = model.to(memory_format=torch.channels_last)
    kwargs = config.optimizer_kwargs()
    if config.optimizer == "Muon":
        return model, _muon_with_adamw(model, kwargs)
    if config.optimizer in WRAPPERS:
        return model, _wrapper(config.optimizer, model.parameters(), kwargs)
    optimizer = getattr(optim, config.optimizer)(model.parameters(), **kwargs)
    return model, optimizer


#: The optimizers that wrap another one: the hyperparameter ``inner`` names its class,
#: those named ``inner_…`` are its arguments (the learning rate is the inner one's).
WRAPPERS = config_module.WRAPPERS
INNER, INNER_PREFIX = "inner", "inner_"


def _wrapper(name: str, params, kwargs: dict):
    """Lookahead around ``inner``, or SAM stepping ``inner`` (:data:`WRAPPERS`)."""
    inner = getattr(optim, kwargs.pop(INNER))
    inner_kwargs = {k[len(INNER_PREFIX):]: v for k, v in kwargs.items()
                    if k.startswith(INNER_PREFIX)}
    own = {k: v for k, v in kwargs.items() if not k.startswith(INNER_PREFIX)}
    lr = own.pop("lr")
    if name == "SAM":
        return optim.SAM(params, inner, lr=lr, **own, **inner_kwargs)
    return optim.Lookahead(inner(params, lr=lr, **inner_kwargs), **own)


ADAMW_PREFIX = "adamw_"


def _muon_with_adamw(model, kwargs: dict):
    """Muon for the hidden matrices, AdamW for the rest (:func:`optim.muon_with_adamw`).

    Hyperparameters named ``adamw_…`` go to AdamW (``adamw_lr`` its learning rate,
    AdamW's default otherwise), the others to Muon.  The schedule scales both: each
    AdamW group keeps ``lr_ratio``, its rate over Muon's."""
    adamw = {k[len(ADAMW_PREFIX):]: v for k, v in kwargs.items()
             if k.startswith(ADAMW_PREFIX)}
    muon = {k: v for k, v in kwargs.items() if not k.startswith(ADAMW_PREFIX)}
    optimizer = optim.muon_with_adamw(model, muon=muon, adamw=adamw)
    for group in optimizer.adamw.param_groups:
        group["lr_ratio"] = group["lr"] / muon["lr"]
    return optimizer


def _autocast(config: Config, device: torch.device):
    if config.precision == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _update(model, optimizer, x, y, lr: float, autocast) -> torch.Tensor:
    """One update on the batch ``(x, y)``; returns the batch's loss at the weights
    before it.  SAM takes a second gradient on the same batch, at its perturbed
    weights (a closure); a model with BatchNorm then also updates its running
    statistics twice."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_ratio", 1.0)

    def batch_loss() -> torch.Tensor:
        with autocast:
            logits = model(x)              # [batch, classes] or [batch, length, classes]
            return F.cross_entropy(logits.flatten(0, -2), y.flatten())

    loss = batch_loss()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if isinstance(optimizer, optim.SAM):
        def closure() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            perturbed = batch_loss()
            perturbed.backward()
            return perturbed
        optimizer.step(closure)
    else:
        optimizer.step()
    return loss.detach()


@contextlib.contextmanager
def _evaluation_weights(optimizer):
    """The weights to evaluate: a Schedule-Free optimizer's averaged point x, moved
    into the parameters by its ``eval()`` and back to y by ``train()``; for every
    other optimizer, the parameters as they are."""
    switches = hasattr(optimizer, "eval") and hasattr(optimizer, "train")
    if switches:
        optimizer.eval()
    try:
        yield
    finally:
        if switches:
            optimizer.train()


@torch.no_grad()
def _evaluate(model, batches, autocast, world: World = SINGLE
              ) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a whole split, in the stored order (each
    rank a part of it, the sums added up)."""
    model.eval()
    total_loss = torch.zeros((), dtype=torch.float64, device=batches.labels.device)
    correct = torch.zeros((), dtype=torch.int64, device=batches.labels.device)
    n = batches.labels.numel()                 # images, or characters predicted
    for x, y in _in_order(batches, world):
        with autocast:
            logits = model(x)
        total_loss += F.cross_entropy(logits.float().flatten(0, -2), y.flatten(),
                                      reduction="sum").double()
        correct += (logits.argmax(-1) == y).sum()
    model.train()
    return world.sum(total_loss).item() / n, world.sum(correct).item() / n


@torch.no_grad()
def _sample_text(model, seed: int) -> str:
    """:data:`SAMPLE_CHARACTERS` characters the language model writes after
    :data:`SAMPLE_PROMPT`, drawn at :data:`SAMPLE_TEMPERATURE` by a generator seeded
    with the run's ``seed`` (the prompt included).  A model whose weights or
    next-character probabilities are not all finite (a diverged run) writes
    nothing: the empty string."""
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        return ""
    splits = _splits("shakespeare")
    device = next(model.parameters()).device
    prompt = splits.encode(SAMPLE_PROMPT).to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    model.eval()
    if not bool(torch.isfinite(model(prompt.unsqueeze(0))).all()):
        model.train()
        return ""
    tokens = model.generate(prompt, SAMPLE_CHARACTERS, generator=generator,
                            temperature=SAMPLE_TEMPERATURE)
    model.train()
    return splits.decode(tokens.cpu())


@contextlib.contextmanager
def _strict_float32():
    """No TF32 and deterministic cuDNN while the fingerprint is computed."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
         torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark) = saved


def fingerprint(config: Config, device: str | torch.device = "cpu",
                steps: int | None = None) -> list:
    """The float32 training losses of the first ``steps`` updates (default
    ``config.fingerprint_steps``): the run's own initial weights, batches,
    augmentation and learning rates, without autocast or TF32, on ``device``."""
    steps = config.fingerprint_steps if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    device = torch.device(device)
    losses = []
    with _strict_float32():
        model, optimizer = build(config, device)
        model.train()
        for epoch in range(config.total_epochs):
            generator = epoch_generator(config, epoch)
            for x, y in train_batches(config, device).epoch(generator):
                t = len(losses) + 1
                losses.append(_update(model, optimizer, x, y, lr_at(config, t),
                                      contextlib.nullcontext()))
                if len(losses) == steps:
                    return float32_list(torch.stack(losses).cpu())
    raise ValueError(f"steps={steps} is more than the run's {len(losses)} updates")


# --- the run ---------------------------------------------------------------------------

def _progress_bar(enabled: bool, total: int, label: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, unit="step", leave=False, mininterval=1.0)


def run(config: Config, *, progress: bool = False, checkpoint_dir=None, resume: bool = False,
        on_epoch: Callable[[int, Callable[[], dict]], None] | None = None,
        world: World = SINGLE) -> dict[str, Any]:
    """Train ``config`` and return its result (the payload of a cache file).

    Keys: ``fingerprint`` (list), ``train_loss`` (one float32 value per update,
    None where not finite), ``evals`` (lists ``step``, ``epoch``, ``wall_time_s``,
    ``val_loss``, ``val_accuracy`` and, with ``test_every_eval``, ``test_loss``,
    ``test_accuracy``), ``test`` (``loss``, ``accuracy`` after the last update; None
    when ``config.test_at_end`` is False),
    ``wall_time_s`` (training and evaluation, without the fingerprint) and
    ``fingerprint_time_s``; a language model tested at the end adds ``sample``,
    the text it writes after :data:`SAMPLE_PROMPT` (:func:`_sample_text`).

    With ``checkpoint_dir`` the state is written there after every epoch, the last
    one included (see :mod:`.checkpoint`), and the checkpoint is left in place: the
    caller removes it once the result is stored
    (:func:`optimlab.experiments.cache.save_run`), so a failure to save loses
    nothing.  With ``resume=True`` a run continues from the checkpoint it finds
    there; resuming a finished run's checkpoint only evaluates the test split
    again.  ``progress`` shows a tqdm bar.  ``on_epoch(e, result)`` is called
    after every epoch e (after its checkpoint); ``result()`` returns what the run
    would return if it ended there.

    ``world`` (:func:`optimlab.experiments.distributed.join`) shares the run between
    the ranks of a torchrun job; every rank must call this function.  Only rank 0
    computes the fingerprint (another rank's result has none), writes the
    checkpoints and shows progress; every rank reads the checkpoint when resuming,
    so with several nodes the checkpoint folder must be shared.  A run resumed with
    another number of ranks goes on with the same batches.  When any epoch was
    shared, the result also has ``distributed``: the ranks of each epoch
    (``ranks_per_epoch``) and what BatchNorm normalised over (``batchnorm``).
    """
    world.check_batch(config)
    device = world.device(config)
    started = time.perf_counter()
    fingerprint_losses = fingerprint(config, device) if world.is_main else []
    fingerprint_time = time.perf_counter() - started

    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # the fingerprint above ran without it
    model, optimizer = build(config, device)
    autocast = _autocast(config, device)
    batches = train_batches(config, device, world)
    validation = _eval_batches(config, "validation", device, world)
    test = (_eval_batches(config, "test", device, world) if config.test_at_end
            else None)
    state = {"step": 0, "epoch": 0, "elapsed": 0.0, "train_loss": [],
             "evals": {name: [] for name in ("step", "epoch", "wall_time_s", "val_loss",
                                             "val_accuracy")},
             "ranks_per_epoch": []}
    if config.test_every_eval:
        state["evals"].update(test_loss=[], test_accuracy=[])
    path = checkpoint.path_for(checkpoint_dir, config) if checkpoint_dir else None
    if path is not None and resume:
        state = checkpoint.load(path, config, model, optimizer) or state
        # before the runner shared runs, every checkpointed epoch had one rank
        state.setdefault("ranks_per_epoch", [1] * state["epoch"])
        world.check_same(state["step"], f"the step to resume from: every rank must "
                         f"read the checkpoint {checkpoint.file_for(path)}")
    trained = world.wrap(model, device)

    eval_steps = set(config.eval_steps)
    clock = time.perf_counter() - state["elapsed"]

    def evaluate(split) -> tuple[float, float]:
        world.sync_buffers(model)
        with _evaluation_weights(optimizer):
            return _evaluate(model, split, autocast, world)

    def evaluate_now(step: int, epoch: float):
        evals = state["evals"]
        loss, accuracy = evaluate(validation)
        evals["step"].append(step)
        evals["epoch"].append(round(epoch, 6))
        evals["val_loss"].append(float32_list([loss])[0])
        evals["val_accuracy"].append(accuracy)
        if config.test_every_eval:
            loss, accuracy = evaluate(test)
            evals["test_loss"].append(float32_list([loss])[0])
            evals["test_accuracy"].append(accuracy)
        evals["wall_time_s"].append(round(time.perf_counter() - clock, 3))

    def result() -> dict[str, Any]:
        """The result of the updates done so far: after epoch e, that of the run of
        ``config.replace(epochs=e)`` (the test split is evaluated now)."""
        final_test, sample = None, {}
        if config.test_at_end:
            test_loss, test_accuracy = evaluate(test)
            final_test = {"loss": float32_list([test_loss])[0], "accuracy": test_accuracy}
            if config.dataset == "shakespeare" and world.is_main:
                with _evaluation_weights(optimizer):
                    sample = {"sample": _sample_text(model, config.seed)}
        ranks = state["ranks_per_epoch"]
        shared = {} if max(ranks, default=1) == 1 else {"distributed": {
            "ranks_per_epoch": list(ranks), "batchnorm": batchnorm(model, device)}}
        return {
            "fingerprint": fingerprint_losses,
            "train_loss": list(state["train_loss"]),
            "evals": {name: list(values) for name, values in state["evals"].items()},
            "test": final_test,
            "wall_time_s": round(time.perf_counter() - clock, 3),
            "fingerprint_time_s": round(fingerprint_time, 3),
            "diverged": any(v is None for v in state["train_loss"]),
            **sample, **shared,
        }

    pending: list[torch.Tensor] = []

    def log_pending():
        """Append the losses of the updates since the last call (their mean over
        the ranks: the loss of each global batch)."""
        if pending:
            losses = world.mean(torch.stack(pending).float())
            state["train_loss"] += float32_list(losses.cpu())
            pending.clear()

    if state["step"] == 0:
        evaluate_now(0, 0.0)
    bar = _progress_bar(progress and world.is_main, config.total_steps, config.label)
    if bar is not None:
        bar.update(state["step"])
    trained.train()
    for epoch in range(state["epoch"], config.total_epochs):
        generator = epoch_generator(config, epoch)
        for x, y in _epoch_share(batches, generator, world):
            t = state["step"] + 1
            pending.append(_update(trained, optimizer, x, y, lr_at(config, t),
                                   autocast))
            state["step"] = t
            if bar is not None:
                bar.update(1)
            if t in eval_steps:
                log_pending()
                evaluate_now(t, t / config.steps_per_epoch)
            if t == config.total_steps:
                break
        log_pending()
        state["epoch"] = epoch + 1
        state["ranks_per_epoch"].append(world.size)
        state["elapsed"] = time.perf_counter() - clock
        if path is not None and world.is_main:
            checkpoint.save(path, config, model, optimizer, state)
        if on_epoch is not None:
            on_epoch(epoch + 1, result)
    if bar is not None:
        bar.close()
    return result()
