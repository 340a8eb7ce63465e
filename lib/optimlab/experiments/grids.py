"""The named grids of runs that the book shows, and the command that fills each.

* ``mnist``: the MLP on MNIST as in the ADOPT paper's Section 5 (Taniguchi et
  al., NeurIPS 2024): Adam, AMSGrad, AdaShift and ADOPT, each with its optimlab
  defaults, × α ∈ {1, 0.1, 0.01, 0.001} × seeds {0, 1, 2}; batch 48, 10,000
  updates, learning rate α/√t, weight decay 10⁻⁴ as an L2 term added to the
  gradient (each optimizer's ``weight_decay`` argument), validation every 500
  updates.  48 runs, on the CPU.

Both CIFAR-10 tiers follow the course report's protocol (the seed's Section 4.3):
the 40k/10k/10k split, Adam, ADOPT and SGD with momentum (:data:`CIFAR10_OPTIMIZERS`),
learning rate α/√t with α from :data:`CIFAR10_LRS` chosen per optimizer on the
validation split, weight decay 10⁻⁴ as an L2 term, random crop + flip, batch 128.

* ``cifar10``: the GPU tier, ResNet-18, every optimizer × α (twelve runs per seed),
  bf16 autocast and channels-last on CUDA; ``epochs`` (default 100, the report's),
  ``seeds`` and ``device`` are options.  Since α/√t does not depend on the length
  of the run, the first e epochs of a run *are* the run of e epochs: a run cut
  short is stored as what it is (:mod:`.oneshot`).
* ``cifar10-smoke``: the same runs at α = 0.01 on 128 training images for two
  epochs on the CPU; a test of the pipeline, cache and audit, *not* a result.
* ``cifar10-cpu-search`` and ``cifar10-cpu``: the CPU tier, He et al.'s ResNet-20
  (0.27M parameters), float32 and channels-last on the CPU.  The search trains
  every optimizer with each α for :data:`CPU_SEARCH_EPOCHS` epochs (seed 0) and
  never evaluates the test split; ``cifar10-cpu`` then trains each optimizer with
  the α that reached the best final validation accuracy (:func:`chosen_lrs`) for
  :data:`CPU_EPOCHS` epochs and seeds :data:`CPU_SEEDS`, and evaluates the test
  split once, after the last update.  A search run is the first epochs of the
  seed-0 run at the same α.

* ``mnist-smoke``: ADOPT on the MLP, 2,048 MNIST training images, global batch 64,
  on the CPU; the config that the tests of the data-parallel runner train under
  ``torchrun`` and in one process, *not* a result.
* ``imagenet``: the seed report's fourth experiment (:func:`imagenet`), ResNet-50
  on an image folder with ImageNet's layout, ADOPT against AdamW, for ``torchrun``
  on N GPUs.
"""

from __future__ import annotations

from . import charlm
from .config import Config

__all__ = ["GRIDS", "grid", "grid_command", "chosen_lrs", "best_lrs", "MNIST_LRS",
           "MNIST_OPTIMIZERS", "CIFAR10_OPTIMIZERS", "CIFAR10_LRS",
           "IMAGENET_OPTIMIZERS", "OPTIONS"]

#: The optimizers of the MNIST experiment, as in the ADOPT paper's Section 5.
MNIST_OPTIMIZERS = ("Adam", "AMSGrad", "AdaShift", "ADOPT")
#: The base learning rates α of the MNIST grid (each optimizer runs with all).
MNIST_LRS = (1.0, 0.1, 0.01, 0.001)
MNIST_SEEDS = (0, 1, 2)

def mnist() -> list[Config]:
    """48 runs, seed by seed, so that a partial grid already has every setting once."""
    return [Config(experiment="mnist", model="mlp", dataset="mnist", optimizer=name, lr=lr,
                   hyperparameters={"weight_decay": 1e-4}, schedule="inverse-sqrt",
                   batch_size=48, steps=10_000, eval_every=500, seed=seed,
                   fingerprint_steps=12)
            for seed in MNIST_SEEDS for name in MNIST_OPTIMIZERS for lr in MNIST_LRS]


#: The optimizers of the CIFAR-10 experiments with the course report's settings: each
#: with its optimlab defaults and weight decay 1e-4 as an L2 term added to the
#: gradient; SGD with momentum 0.9, as He et al. train their CIFAR ResNets.
CIFAR10_OPTIMIZERS = {"Adam": {"weight_decay": 1e-4}, "ADOPT": {"weight_decay": 1e-4},
                      "SGD": {"momentum": 0.9, "weight_decay": 1e-4}}
#: The α of the search, as in the MNIST experiment.
CIFAR10_LRS = (1.0, 0.1, 0.01, 0.001)
CIFAR10_EPOCHS = 100


def _protocol(experiment: str, model: str, name: str, lr: float, seed: int, epochs: int,
              batch_size: int = 128, **fields) -> Config:
    """One run of the course report's CIFAR-10 protocol: α/√t, batch 128, crop + flip."""
    return Config(experiment=experiment, model=model, dataset="cifar10", optimizer=name,
                  lr=lr, hyperparameters=CIFAR10_OPTIMIZERS[name], schedule="inverse-sqrt",
                  batch_size=batch_size, epochs=epochs,
                  seed=seed, augment=True, fingerprint_steps=3, **fields)


def cifar10(epochs: int = CIFAR10_EPOCHS, seeds=(0,), device: str = "cuda",
            lrs=CIFAR10_LRS) -> list[Config]:
    """ResNet-18: every optimizer × α, seed by seed, tested after the last epoch;
    bf16 autocast on CUDA, float32 elsewhere.  Twelve runs per seed."""
    precision = "bf16" if device.startswith("cuda") else "float32"
    return [_protocol("cifar10", "resnet18", name, lr, seed, epochs, precision=precision,
                      device=device)
            for seed in seeds for name in CIFAR10_OPTIMIZERS for lr in lrs]


def cifar10_smoke(epochs: int = 2, seeds=(0,), device: str = "cpu") -> list[Config]:
    """The ResNet-18 runs at α = 0.01 on 128 training and 100 validation and test
    images, batch 32, on the CPU: a test of the pipeline, not a result."""
    return [_protocol("cifar10-smoke", "resnet18", name, 0.01, seed, epochs,
                      batch_size=32, device=device, train_subset=128, eval_subset=100)
            for seed in seeds for name in CIFAR10_OPTIMIZERS]


#: The CPU tier (:func:`cifar10_cpu_search`, :func:`cifar10_cpu`).
CPU_LRS = CIFAR10_LRS
CPU_SEARCH_EPOCHS = 4
CPU_EPOCHS = 15
CPU_SEEDS = (0, 1, 2)
CPU_MODEL = "resnet20"


def cifar10_cpu_search() -> list[Config]:
    """Every optimizer × α of the CPU tier for a few epochs, seed 0, no test split."""
    return [_protocol("cifar10-cpu-search", CPU_MODEL, name, lr, 0, CPU_SEARCH_EPOCHS,
                      test_at_end=False)
            for name in CIFAR10_OPTIMIZERS for lr in CPU_LRS]


def best_lrs(records) -> dict[str, float]:
    """Per optimizer, the α of the records with the best final validation accuracy
    (the smaller α on a tie; a diverged run counts as accuracy 0)."""
    best: dict[str, tuple[float, float]] = {}
    for record in records:
        name, lr = record["config"]["optimizer"], record["config"]["lr"]
        accuracy = 0.0 if record["diverged"] else record["evals"]["val_accuracy"][-1]
        if name not in best or accuracy > best[name][0] or (
                accuracy == best[name][0] and lr < best[name][1]):
            best[name] = (accuracy, lr)
    return {name: lr for name, (_, lr) in best.items()}


def chosen_lrs(root=None) -> dict[str, float]:
    """The CPU tier's α per optimizer: :func:`best_lrs` of its search.

    :class:`~optimlab.experiments.cache.MissingResultError` names the command to run
    while any search run is not cached."""
    from . import cache

    return best_lrs(cache.search_records(
        cifar10_cpu_search(), "the learning-rate search of the CPU tier", root))


def cifar10_cpu(root=None) -> list[Config]:
    """Each optimizer at its chosen α, seed by seed, tested once at the end."""
    lrs = chosen_lrs(root)
    return [_protocol("cifar10-cpu", CPU_MODEL, name, lrs[name], seed, CPU_EPOCHS)
            for seed in CPU_SEEDS for name in CIFAR10_OPTIMIZERS]


def mnist_smoke(epochs: int = 5) -> list[Config]:
    """ADOPT on the MLP: 2,048 training and 500 validation and test images, global
    batch 64 (32 updates per epoch), α = 0.003, α/√t, on the CPU; a test of the
    runner under torchrun, not a result.

    Two ranks sum each gradient in another order than one process; here the
    losses then differ by at most 5e-7 relative over the 160 updates (measured).
    At α = 0.01 this small run amplifies that rounding to 1.5e-2 by its fifth
    epoch, so a comparison there would test the run's sensitivity, not the
    runner."""
    return [Config(experiment="mnist-smoke", model="mlp", dataset="mnist",
                   optimizer="ADOPT", lr=0.003,
                   hyperparameters={"weight_decay": 1e-4},
                   schedule="inverse-sqrt", batch_size=64, epochs=epochs,
                   train_subset=2048, eval_subset=500, fingerprint_steps=4)]


#: The seed report's ImageNet optimizers: ADOPT against AdamW, both with weight decay
#: 1e-4 decoupled from the gradient (AdamW's own; ADOPT's ``decouple=True``).
IMAGENET_OPTIMIZERS = {"ADOPT": {"weight_decay": 1e-4, "decouple": True},
                       "AdamW": {"weight_decay": 1e-4}}
#: The images of the report's 40% subset of ImageNet's training set.
IMAGENET_TRAIN_IMAGES = 491_647


def imagenet(epochs: int = 50, seeds=(0,), device: str = "cuda",
             train_images: int = IMAGENET_TRAIN_IMAGES, image_size: int = 224,
             batch_size: int = 256) -> list[Config]:
    """The seed report's ImageNet experiment: torchvision's ResNet-50 on an image
    folder (:mod:`.imagefolder`; the report's 40% subset of ImageNet, 491,647
    training images), 224×224 random resized crops and flips, global batch 256,
    α_t = 0.1/√t, weight decay 1e-4, 50 epochs, ADOPT and AdamW; bf16 autocast and
    channels-last on CUDA.  The validation split is the folder's ``val/``
    (ILSVRC-2012's 50,000 validation images, on which ImageNet results are
    reported); nothing is chosen on it, so no test split is evaluated.  On a CPU
    (the tests' tiny folders) the optimizers stay eager: a short test run does not
    repay compiling them."""
    cuda = device.startswith("cuda")
    eager = {} if cuda else {"compiled": False}
    return [Config(experiment="imagenet", model="resnet50", dataset="imagefolder",
                   optimizer=name, lr=0.1, hyperparameters={**hyper, **eager},
                   schedule="inverse-sqrt", batch_size=batch_size, epochs=epochs,
                   seed=seed, train_subset=train_images, image_size=image_size,
                   augment=True, precision="bf16" if cuda else "float32",
                   device=device, fingerprint_steps=3, test_at_end=False)
            for seed in seeds for name, hyper in IMAGENET_OPTIMIZERS.items()]


#: Every named grid by name: the function that returns its configs (called with
#: the grid's :data:`OPTIONS`; see :func:`grid`).
GRIDS = {"mnist": mnist, "cifar10": cifar10, "cifar10-smoke": cifar10_smoke,
         "cifar10-cpu-search": cifar10_cpu_search, "cifar10-cpu": cifar10_cpu,
         "mnist-smoke": mnist_smoke, "imagenet": imagenet,
         "charlm-search": charlm.search, "charlm": charlm.final}
#: The grids whose runs take minutes each: run them with checkpoints.
CHECKPOINTED = ("cifar10", "cifar10-cpu-search", "cifar10-cpu", "imagenet",
                "charlm-search", "charlm")
#: The options each grid takes (the command line's --epochs, --seeds, ...).
OPTIONS = {"cifar10": ("epochs", "seeds", "device"),
           "cifar10-smoke": ("epochs", "seeds", "device"),
           "mnist-smoke": ("epochs",),
           "imagenet": ("epochs", "seeds", "device", "train_images", "image_size",
                        "batch_size")}


def grid(name: str, **options) -> list[Config]:
    """The configs of grid ``name`` with ``options`` (:data:`OPTIONS`)."""
    if name not in GRIDS:
        raise ValueError(f"name must be one of {sorted(GRIDS)}, got {name!r}")
    unknown = sorted(set(options) - set(OPTIONS.get(name, ())))
    if unknown:
        takes = ", ".join(OPTIONS.get(name, ())) or "no options"
        raise ValueError(f"the {name} grid takes {takes}; got {unknown}")
    return GRIDS[name](**options)


def grid_command(config: Config) -> str:
    """The command that produces ``config``'s cache file."""
    base = f"python -m optimlab.experiments run {config.experiment}"
    if config.experiment == "mnist":
        return base
    if config.experiment in ("cifar10-cpu-search", "cifar10-cpu", "charlm-search",
                             "charlm"):
        return base + " --threads 1 --checkpoint-dir .checkpoints --resume"
    if config.experiment == "imagenet":
        return _imagenet_command(config)
    if config.experiment in ("cifar10", "cifar10-smoke"):
        default = GRIDS[config.experiment]()[0]
        extra = ""
        if config.epochs != default.epochs:
            extra += f" --epochs {config.epochs}"
        if config.seed != 0:
            extra += f" --seeds {config.seed}"
        if config.device != default.device:
            extra += f" --device {config.device}"
        return base + extra + (" --checkpoint-dir .checkpoints --resume"
                               if config.experiment == "cifar10" else "")
    if config.experiment == "mnist-smoke":
        same = config.epochs == mnist_smoke()[0].epochs
        return base + ("" if same else f" --epochs {config.epochs}")
    return f"python -c 'run_or_load(Config.from_dict({config.to_dict()!r}), run=True)'"


def _imagenet_command(config: Config) -> str:
    """The torchrun command of an ``imagenet`` config (8 GPUs of one machine)."""
    default = imagenet()[0]
    extra = ""
    for option, field, value in (
            ("--epochs", "epochs", config.epochs), ("--seeds", "seed", config.seed),
            ("--device", "device", config.device),
            ("--train-images", "train_subset", config.train_subset),
            ("--image-size", "image_size", config.image_size),
            ("--batch-size", "batch_size", config.batch_size)):
        if value != getattr(default, field):
            extra += f" {option} {value}"
    return (f"torchrun --standalone --nproc-per-node 8 -m optimlab.experiments run "
            f"imagenet{extra} --checkpoint-dir .checkpoints --resume")
