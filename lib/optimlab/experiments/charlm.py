"""The language-model race of Part IV: six optimizers of the 2020s on a small GPT.

The character-level GPT of :mod:`optimlab.transformer` (0.8M parameters, context
64) learns tiny Shakespeare (:mod:`optimlab.text`) with batches of 32 windows,
on the CPU, one thread per run.  The protocol is the CIFAR-10 CPU tier's:

1. ``charlm-search``: every optimizer at three to six learning rates around its usual
   value, seed 0, :data:`SEARCH_STEPS` updates, validation only (the test split
   is never seen);
2. ``charlm``: each optimizer at the learning rate with the lowest final
   validation loss, seeds 0, 1 and 2, :data:`FINAL_STEPS` updates, the test split
   evaluated once at the end.

Every optimizer but Schedule-Free follows a cosine schedule to 0 (its runs are
as long as their budget); Schedule-Free AdamW keeps a constant rate after its
own warm-up, which is its point.  Muon takes the hidden matrices and AdamW
(``adamw_…`` hyperparameters, :func:`optimlab.experiments.runner.build`) the
embeddings, the head, the norms and the biases.
"""

from __future__ import annotations

from .config import Config

__all__ = ["OPTIMIZERS", "SEARCH_STEPS", "FINAL_STEPS", "SEEDS", "search", "final",
           "TIMING_FILE", "seconds_per_update",
           "chosen_lrs"]

#: name → (hyperparameters, learning rates searched, schedule)
OPTIMIZERS = {
    "AdamW": ({"betas": (0.9, 0.95), "weight_decay": 0.1}, (3e-4, 1e-3, 3e-3, 1e-2),
              "cosine"),
    "Lion": ({"betas": (0.9, 0.99), "weight_decay": 1.0}, (1e-4, 3e-4, 1e-3, 3e-3),
             "cosine"),
    "Muon": ({"adamw_lr": 3e-3, "adamw_betas": (0.9, 0.95), "adamw_weight_decay": 0.1},
             (0.01, 0.02, 0.05), "cosine"),
    "AdamWScheduleFree": ({"betas": (0.9, 0.95), "weight_decay": 0.1,
                           "warmup_steps": 100}, (1e-3, 3e-3, 1e-2, 3e-2),
                          "constant"),
    "Adafactor": ({"relative_step": False, "beta1": 0.9},
                  (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1),
                  "cosine"),
    "SOAP": ({"betas": (0.95, 0.95), "weight_decay": 0.1}, (1e-3, 3e-3, 1e-2), "cosine"),
}
#: Updates of a run of the learning-rate search.
SEARCH_STEPS = 500
#: Updates of a final run.
FINAL_STEPS = 1500
#: The seeds of the final runs.
SEEDS = (0, 1, 2)
BATCH = 32
EVAL_EVERY = 100


def _config(experiment: str, name: str, lr: float, seed: int, steps: int,
            test_at_end: bool) -> Config:
    hyperparameters, _, schedule = OPTIMIZERS[name]
    return Config(experiment=experiment, model="char_gpt", dataset="shakespeare",
                  optimizer=name, lr=lr, hyperparameters=hyperparameters,
                  schedule=schedule, batch_size=BATCH, steps=steps, eval_every=EVAL_EVERY,
                  seed=seed, test_at_end=test_at_end)


def search() -> list[Config]:
    """Every optimizer × learning rate, seed 0, no test split."""
    return [_config("charlm-search", name, lr, 0, SEARCH_STEPS, test_at_end=False)
            for name, (_, lrs, _) in OPTIMIZERS.items() for lr in lrs]


def chosen_lrs(root=None) -> dict[str, float]:
    """Per optimizer, the searched rate with the lowest final validation loss (a
    diverged run counts as infinite loss; the smaller rate on a tie).

    :class:`~optimlab.experiments.cache.MissingResultError` names the command to
    run while a search run is not cached."""
    from . import cache

    best: dict[str, tuple[float, float]] = {}
    configs = search()
    records = cache.search_records(configs, "the race's learning-rate search", root)
    for config, record in zip(configs, records):
        loss = float("inf") if record["diverged"] else record["evals"]["val_loss"][-1]
        name = config.optimizer
        if name not in best or (loss, config.lr) < best[name]:
            best[name] = (loss, config.lr)
    return {name: lr for name, (_, lr) in best.items()}


def final(root=None) -> list[Config]:
    """Each optimizer at its chosen rate, seeds 0, 1 and 2, tested once at the end."""
    lrs = chosen_lrs(root)
    return [_config("charlm", name, lrs[name], seed, FINAL_STEPS, test_at_end=True)
            for seed in SEEDS for name in OPTIMIZERS]


#: The measured seconds per update of each optimizer (``tools/benchmark_race.py
#: --write``), a file of the results folder beside the experiment folders.
TIMING_FILE = "charlm-timing.json"


def seconds_per_update(root=None) -> dict[str, float]:
    """Per optimizer of the race, the seconds one training update takes, measured
    side by side in one process on one CPU thread (``tools/benchmark_race.py``).

    Read from :data:`TIMING_FILE` in the results folder; without a checkout of the
    repository (Colab) the file is first downloaded like a cache file.  A missing or
    malformed file raises :class:`FileNotFoundError` or :class:`ValueError` naming it
    and the command that writes it."""
    import json

    from . import cache

    path = cache.results_file(TIMING_FILE, root)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: measure the race's optimizers with "
                                f"`python tools/benchmark_race.py --write` in a checkout")
    try:
        seconds = json.loads(path.read_text(encoding="utf-8"))["seconds_per_update"]
        timing = {name: float(seconds[name]) for name in OPTIMIZERS}
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a timing of every optimizer of the race "
                         f"({error!r}); write it again with `python "
                         f"tools/benchmark_race.py --write`") from None
    if not all(0 < value < float("inf") for value in timing.values()):
        raise ValueError(f"{path}: seconds per update must be positive, got {timing}")
    return timing
