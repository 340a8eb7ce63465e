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
"""

from __future__ import annotations

from .config import Config

__all__ = ["GRIDS", "grid", "grid_command", "MNIST_LRS", "MNIST_OPTIMIZERS",
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


GRIDS = {"mnist": mnist, "cifar10": cifar10, "cifar10-smoke": cifar10_smoke}


def grid(name: str, **options) -> list[Config]:
    """The configs of grid ``name``; ``options`` (epochs, seeds, device) for CIFAR-10."""
    if name not in GRIDS:
        raise ValueError(f"name must be one of {sorted(GRIDS)}, got {name!r}")
    if name == "mnist" and options:
        raise ValueError(f"the mnist grid takes no options, got {sorted(options)}")
    return GRIDS[name](**options)


def grid_command(config: Config) -> str:
    """The command that produces ``config``'s cache file."""
    base = f"python -m optimlab.experiments run {config.experiment}"
    if config.experiment == "mnist":
        return base
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
