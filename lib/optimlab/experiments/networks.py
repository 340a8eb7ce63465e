"""The network tasks of the optimizer benchmark ("Choosing an optimizer"), run by
the experiment runner.

Every optimizer of the small-task table (:mod:`.small_optimizers`) trains four
networks, at a budget a CPU affords and the same for every optimizer:

* ``softmax``: multinomial logistic regression on MNIST (a convex problem),
  batch 128, 400 updates (about one epoch);
* ``mlp``: the ADOPT paper's MLP on MNIST (784-784-10), batch 128, 400 updates;
* ``resnet8``: the smallest CIFAR ResNet of the family of the CIFAR-10 chapter's
  ResNet-20 (He et al.; 78k parameters), batch 64, 120 updates, no augmentation;
* ``char_gpt``: the character-level GPT of Part IV's race, batch 32, 80 updates.

So these are *early-training* budgets: what an optimizer reaches in the first
updates, not at convergence.  The protocol follows the small tasks'
(:mod:`.choosing_small`) and, in spirit, AlgoPerf's external tuning (Dahl et al.,
2023): each optimizer's learning rate is the library default × 10^(k/2), k = -2 …
2, widened by one more rate while the best one is at an edge (at most
:data:`MAX_WIDENING` per side), scored by the final **validation** loss of seed
0 (a diverged run scores worst; a tie goes to the smaller rate); the chosen rate
then runs with seeds 0, 1 and 2 (seed 0's run is the search's).  Every run
evaluates the validation split at the start, half-way and at the end, and the
test split once after the last update; the test numbers of runs that were not
chosen are never read.  Every optimizer but the Schedule-Free ones follows a
cosine schedule to 0 (the race's convention); those keep their constant rate.

Options beyond the library defaults (:data:`NETWORK_OPTIONS`): Shampoo
recomputes its inverse roots every 10 updates (SOAP's default; every update,
its default, makes it 35 times slower than Adam on the MLP); Muon's AdamW part
(:func:`optimlab.optim.muon_with_adamw`) takes the rate of AdamW's default
scaled like Muon's (``adamw_lr`` = lr × 1e-3/0.02).  Muon applies only where a
network has a hidden 2-D weight (the MLP and the GPT).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import optim
from . import architectures
from .choosing_small import choose
from .config import Config
from .small_optimizers import ENTRIES, Entry

__all__ = ["NetworkTask", "TASKS", "EXPERIMENT", "GRID_EXPONENTS", "MAX_WIDENING",
           "SEEDS", "NETWORK_OPTIONS", "rate", "hyperparameters", "config",
           "applicable", "pairs", "plan", "search_configs", "final_configs"]

#: The result-cache folder of every run of the benchmark's network tasks.
EXPERIMENT = "choosing-networks"
#: The searched rates are the default rate times 10 ** (k / 2) for these k.
GRID_EXPONENTS = tuple(range(-2, 3))
#: At most this many rates are added beyond either edge of the grid.
MAX_WIDENING = 4
#: The seeds of the final runs; the search runs with the first.
SEEDS = (0, 1, 2)
#: Options beyond the small-task table's, by entry (module docstring).
NETWORK_OPTIONS = {"Shampoo": {"precondition_frequency": 10}}
#: Muon's AdamW part: its rate over Muon's (AdamW's default over Muon's).
MUON_ADAMW_RATIO = 1e-3 / 0.02


@dataclass(frozen=True)
class NetworkTask:
    """One network of the benchmark and its budget."""

    name: str
    model: str
    dataset: str
    batch_size: int
    steps: int
    eval_subset: int = 0           #: validation and test examples (0: the splits)
    description: str = ""

    @property
    def eval_every(self) -> int:
        """Validation at the start, half-way and after the last update."""
        return self.steps // 2


#: The four networks by name, with their budgets (the module docstring).
TASKS = {task.name: task for task in (
    NetworkTask("softmax", "softmax", "mnist", 128, 400,
                description="softmax regression on MNIST"),
    NetworkTask("mlp", "mlp", "mnist", 128, 400, description="the MLP on MNIST"),
    NetworkTask("resnet8", "resnet8", "cifar10", 64, 120, eval_subset=1000,
                description="ResNet-8 on CIFAR-10"),
    NetworkTask("char_gpt", "char_gpt", "shakespeare", 32, 80, eval_subset=500,
                description="the char-level GPT on tiny Shakespeare"),
)}


def rate(item: Entry, exponent: int) -> float:
    """The grid's learning rate ``default × 10^(exponent/2)`` (rounded to 12
    significant digits, so that a config's key does not depend on the last bit)."""
    return float(f"{item.default_lr * 10 ** (exponent / 2):.12g}")


def hyperparameters(item: Entry, lr: float) -> dict:
    """The config's hyperparameters of ``item`` at rate ``lr``: the table's options,
    a wrapper's inner optimizer (``inner``, ``inner_…``), Muon's AdamW rate."""
    found = {**item.options, **NETWORK_OPTIONS.get(item.name, {})}
    if item.wraps:
        found["inner"] = item.wraps
        found.update({f"inner_{k}": v for k, v in item.inner_options.items()})
    if item.optimizer == "Muon":
        found["adamw_lr"] = float(f"{lr * MUON_ADAMW_RATIO:.12g}")
    return found


def config(task: NetworkTask, item: Entry, lr: float, seed: int) -> Config:
    """The run of ``item`` at ``lr`` with ``seed`` on ``task``."""
    schedule = "constant" if item.schedule_free else "cosine"
    return Config(experiment=EXPERIMENT, model=task.model, dataset=task.dataset,
                  optimizer=item.optimizer, lr=lr,
                  hyperparameters=hyperparameters(item, lr), schedule=schedule,
                  batch_size=task.batch_size, steps=task.steps,
                  eval_every=task.eval_every, seed=seed,
                  eval_subset=task.eval_subset, fingerprint_steps=3)


def applicable(task: NetworkTask, item: Entry) -> str | None:
    """None, or why ``item`` cannot train ``task``'s network (Muon without a
    hidden matrix)."""
    if item.optimizer != "Muon":
        return None
    model = architectures.build(task.model)
    try:
        optim.muon_with_adamw(model)
    except ValueError:
        shapes = sorted({tuple(p.shape) for p in model.parameters() if p.dim() == 2})
        return (f"Muon orthogonalises hidden 2-D weights; {task.description} has "
                f"none (its 2-D weights {shapes} are the output layer's)" if shapes
                else f"Muon orthogonalises hidden 2-D weights; {task.description} "
                     f"has none")
    return None


def pairs(tasks=None) -> list[tuple[NetworkTask, Entry]]:
    """Every (task, optimizer) of the benchmark, task by task, in table order."""
    names = list(TASKS) if tasks is None else list(tasks)
    return [(TASKS[name], item) for name in names for item in ENTRIES
            if applicable(TASKS[name], item) is None]


def _score(record: dict) -> dict:
    """What :func:`.choosing_small.choose` reads of a run: its final validation
    loss and whether it diverged."""
    final = record["evals"]["val_loss"][-1]
    return {"diverged": record["diverged"] or final is None, "final": final}


def plan(task: NetworkTask, item: Entry, read) -> dict:
    """The search of ``item`` on ``task`` as far as ``read`` (config → record or
    None) knows it: ``{"missing": [...], "search": {...} or None, "finals":
    [...]}``.  ``missing`` are the configs to run next (the search's, then the
    final seeds'); ``search`` is None until the search is complete."""
    exponents = list(GRID_EXPONENTS)
    widened: list[dict] = []
    while True:
        configs = {k: config(task, item, rate(item, k), SEEDS[0]) for k in exponents}
        found = {k: read(c) for k, c in configs.items()}
        missing = [configs[k] for k in exponents if found[k] is None]
        if missing:
            return {"missing": missing, "search": None, "finals": []}
        best, side = choose({k: _score(found[k]) for k in exponents})
        if side is None or sum(w["side"] == side for w in widened) >= MAX_WIDENING:
            break
        k = min(exponents) - 1 if side == "low" else max(exponents) + 1
        exponents.append(k)
        widened.append({"side": side, "exponent": k, "lr": rate(item, k)})
    exponents.sort()
    search = {"exponents": exponents, "lrs": [rate(item, k) for k in exponents],
              "val_loss": [_score(found[k])["final"] for k in exponents],
              "diverged": [_score(found[k])["diverged"] for k in exponents],
              "widened": widened, "chosen_exponent": best,
              "chosen_lr": rate(item, best), "edge_after_limit": side is not None}
    finals = [config(task, item, search["chosen_lr"], seed) for seed in SEEDS]
    return {"missing": [c for c in finals if read(c) is None], "search": search,
            "finals": finals}


def search_configs(task: NetworkTask, item: Entry, read) -> list[Config]:
    """The search runs of ``item`` on ``task`` known so far (cached or due)."""
    found = plan(task, item, read)
    if found["search"] is None:
        return found["missing"]
    return [config(task, item, lr, SEEDS[0]) for lr in found["search"]["lrs"]]


def final_configs(task: NetworkTask, item: Entry, read) -> list[Config]:
    """The final runs (empty while the search is incomplete)."""
    return plan(task, item, read)["finals"]


def state_bytes_per_parameter(task: NetworkTask, item: Entry, lr: float,
                              updates: int = 3) -> float:
    """Bytes of tensor state in the optimizer's ``state_dict()`` per parameter of
    the network, after ``updates`` updates (seed 0's first batches)."""
    from . import runner
    from .small_optimizers import state_bytes

    run = config(task, item, lr, SEEDS[0])
    model, optimizer = runner.build(run)
    parameters = sum(p.numel() for p in model.parameters())
    batches = runner.train_batches(run).epoch(runner.epoch_generator(run, 0))
    for t, (x, y) in zip(range(1, updates + 1), batches):
        runner._update(model, optimizer, x, y, runner.lr_at(run, t),
                       torch.autocast("cpu", enabled=False))
    return state_bytes(optimizer) / parameters
