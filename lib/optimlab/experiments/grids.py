"""The named grids of runs that the book shows, and the command that fills each.

* ``mnist``: the MLP on MNIST as in the ADOPT paper's Section 5 (Taniguchi et
  al., NeurIPS 2024): Adam, AMSGrad, AdaShift and ADOPT, each with its optimlab
  defaults, × α ∈ {1, 0.1, 0.01, 0.001} × seeds {0, 1, 2}; batch 48, 10,000
  updates, learning rate α/√t, weight decay 10⁻⁴ as an L2 term added to the
  gradient (each optimizer's ``weight_decay`` argument), validation every 500
  updates.  48 runs, on the CPU.
* ``cifar10``: ResNet-18 on CIFAR-10 with Adam, AdamW, ADOPT and SGD with
  momentum, each with its standard settings (:data:`CIFAR10_OPTIMIZERS`), batch
  128, random crop + flip, cosine decay to 0, bf16 autocast and channels-last on
  CUDA; ``epochs`` and ``seeds`` are options (default 100 epochs as in the
  course report, seed 0).
* ``cifar10-smoke``: the same code on 128 training images for one epoch on the
  CPU; a test of the pipeline, cache and audit, *not* a result.
* ``cifar10-cpu-search`` and ``cifar10-cpu``: the CPU tier, He et al.'s ResNet-20
  (0.27M parameters) on CIFAR-10 with the protocol of the course report: the
  40k/10k/10k split, α/√t, weight decay 10⁻⁴ as an L2 term, random crop + flip,
  batch 128, float32 and channels-last on the CPU.  The search trains every
  optimizer of :data:`CPU_OPTIMIZERS` with each α of :data:`CPU_LRS` for
  :data:`CPU_SEARCH_EPOCHS` epochs (seed 0) and never evaluates the test split;
  ``cifar10-cpu`` then trains each optimizer with the α that reached the best
  final validation accuracy (:func:`chosen_lrs`) for :data:`CPU_EPOCHS` epochs and
  seeds :data:`CPU_SEEDS`, and evaluates the test split once, after the last
  update.  Since α/√t depends only on the update count, a search run is the
  first epochs of the seed-0 run at the same α.
"""

from __future__ import annotations

from .config import Config

__all__ = ["GRIDS", "grid", "grid_command", "chosen_lrs", "MNIST_LRS", "MNIST_OPTIMIZERS",
           "CIFAR10_OPTIMIZERS"]

MNIST_OPTIMIZERS = ("Adam", "AMSGrad", "AdaShift", "ADOPT")
MNIST_LRS = (1.0, 0.1, 0.01, 0.001)
MNIST_SEEDS = (0, 1, 2)

#: Standard settings per optimizer for ResNet-18 on CIFAR-10, as (lr, hyperparameters).
#: SGD: lr 0.1, momentum 0.9, batch 128 (He et al., CVPR 2016), L2 weight decay 5e-4
#: (Zagoruyko & Komodakis, BMVC 2016).  Adam: Kingma & Ba's defaults (lr 1e-3,
#: betas 0.9/0.999, eps 1e-8) with the same L2 term 5e-4 added to the gradient.
#: AdamW: the same Adam, decay decoupled (Loshchilov & Hutter, ICLR 2019) with
#: λ = 0.05, so that the per-update shrinkage ηλ = 5e-5 equals SGD's 0.1 × 5e-4.
#: ADOPT: the authors' defaults (lr 1e-3, betas 0.9/0.9999, eps 1e-6, clip t^(1/4))
#: with AdamW's decoupled decay.
CIFAR10_OPTIMIZERS = {
    "Adam": (1e-3, {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 5e-4}),
    "AdamW": (1e-3, {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 5e-2}),
    "ADOPT": (1e-3, {"betas": (0.9, 0.9999), "eps": 1e-6, "weight_decay": 5e-2,
                     "decouple": True}),
    "SGD": (0.1, {"momentum": 0.9, "weight_decay": 5e-4}),
}
CIFAR10_EPOCHS = 100


def mnist() -> list[Config]:
    """48 runs, seed by seed, so that a partial grid already has every setting once."""
    return [Config(experiment="mnist", model="mlp", dataset="mnist", optimizer=name, lr=lr,
                   hyperparameters={"weight_decay": 1e-4}, schedule="inverse-sqrt",
                   batch_size=48, steps=10_000, eval_every=500, seed=seed,
                   fingerprint_steps=12)
            for seed in MNIST_SEEDS for name in MNIST_OPTIMIZERS for lr in MNIST_LRS]


def _cifar10(experiment: str, epochs: int, seeds, device: str, precision: str,
             **sizes) -> list[Config]:
    return [Config(experiment=experiment, model="resnet18", dataset="cifar10",
                   optimizer=name, lr=lr, hyperparameters=hyper, schedule="cosine",
                   epochs=epochs, seed=seed, augment=True, precision=precision,
                   device=device, test_every_eval=True, **sizes)
            for seed in seeds for name, (lr, hyper) in CIFAR10_OPTIMIZERS.items()]


def cifar10(epochs: int = CIFAR10_EPOCHS, seeds=(0,), device: str = "cuda") -> list[Config]:
    """Four runs per seed; bf16 autocast on CUDA, float32 elsewhere."""
    precision = "bf16" if device.startswith("cuda") else "float32"
    return _cifar10("cifar10", epochs, seeds, device, precision, batch_size=128,
                    fingerprint_steps=3)


def cifar10_smoke(epochs: int = 1, seeds=(0,), device: str = "cpu") -> list[Config]:
    """128 training and 100 validation and test images, batch 32, on the CPU."""
    return _cifar10("cifar10-smoke", epochs, seeds, device, "float32", batch_size=32,
                    train_subset=128, eval_subset=100, fingerprint_steps=3)


#: The CPU tier: each optimizer with its defaults and L2 weight decay 1e-4 (SGD:
#: momentum 0.9, as He et al. train their CIFAR ResNets).
CPU_OPTIMIZERS = {"Adam": {"weight_decay": 1e-4}, "ADOPT": {"weight_decay": 1e-4},
                  "SGD": {"momentum": 0.9, "weight_decay": 1e-4}}
CPU_LRS = (1.0, 0.1, 0.01, 0.001)
CPU_SEARCH_EPOCHS = 4
CPU_EPOCHS = 15
CPU_SEEDS = (0, 1, 2)
CPU_MODEL = "resnet20"


def _cifar10_cpu(experiment: str, name: str, lr: float, seed: int, epochs: int,
                 test_at_end: bool) -> Config:
    return Config(experiment=experiment, model=CPU_MODEL, dataset="cifar10",
                  optimizer=name, lr=lr, hyperparameters=CPU_OPTIMIZERS[name],
                  schedule="inverse-sqrt", batch_size=128, epochs=epochs, seed=seed,
                  augment=True, fingerprint_steps=3, test_at_end=test_at_end)


def cifar10_cpu_search() -> list[Config]:
    """Every optimizer × α of the CPU tier for a few epochs, seed 0, no test split."""
    return [_cifar10_cpu("cifar10-cpu-search", name, lr, 0, CPU_SEARCH_EPOCHS, False)
            for name in CPU_OPTIMIZERS for lr in CPU_LRS]


def chosen_lrs(root=None) -> dict[str, float]:
    """Per optimizer, the α of the search with the best final validation accuracy
    (the smaller α on a tie; a diverged run counts as accuracy 0).

    :class:`~optimlab.experiments.cache.MissingResultError` names the command to run
    while any search run is not cached."""
    from . import cache

    best: dict[str, tuple[float, float]] = {}
    for config in cifar10_cpu_search():
        record = cache.load(config, root)
        if record is None:
            raise cache.MissingResultError(
                f"the learning-rate search of the CPU tier is incomplete ({config.label} "
                f"is not cached): run `{grid_command(config)}` first")
        accuracy = 0.0 if record["diverged"] else record["evals"]["val_accuracy"][-1]
        if config.optimizer not in best or accuracy > best[config.optimizer][0] or (
                accuracy == best[config.optimizer][0] and config.lr < best[config.optimizer][1]):
            best[config.optimizer] = (accuracy, config.lr)
    return {name: lr for name, (_, lr) in best.items()}


def cifar10_cpu(root=None) -> list[Config]:
    """Each optimizer at its chosen α, seed by seed, tested once at the end."""
    lrs = chosen_lrs(root)
    return [_cifar10_cpu("cifar10-cpu", name, lrs[name], seed, CPU_EPOCHS, True)
            for seed in CPU_SEEDS for name in CPU_OPTIMIZERS]


GRIDS = {"mnist": mnist, "cifar10": cifar10, "cifar10-smoke": cifar10_smoke,
         "cifar10-cpu-search": cifar10_cpu_search, "cifar10-cpu": cifar10_cpu}
#: The grids whose runs take minutes each: run them with checkpoints.
CHECKPOINTED = ("cifar10", "cifar10-cpu-search", "cifar10-cpu")


def grid(name: str, **options) -> list[Config]:
    """The configs of grid ``name``; ``options`` (epochs, seeds, device) for CIFAR-10."""
    if name not in GRIDS:
        raise ValueError(f"name must be one of {sorted(GRIDS)}, got {name!r}")
    if name not in ("cifar10", "cifar10-smoke") and options:
        raise ValueError(f"the {name} grid takes no options, got {sorted(options)}")
    return GRIDS[name](**options)


def grid_command(config: Config) -> str:
    """The command that produces ``config``'s cache file."""
    base = f"python -m optimlab.experiments run {config.experiment}"
    if config.experiment == "mnist":
        return base
    if config.experiment in ("cifar10-cpu-search", "cifar10-cpu"):
        return base + " --threads 1 --checkpoint-dir .checkpoints --resume"
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
    return f"python -c 'run_or_load(Config.from_dict({config.to_dict()!r}), run=True)'"
