"""One training run, described by a small frozen configuration.

A :class:`Config` names everything that decides a run's numbers: the model, the
data set and how much of it, the optimizer and its hyperparameters, the
learning-rate schedule, the batch size, the length of training, the seed, the
precision and the device.  Its :meth:`~Config.key` (a hash of its canonical JSON)
names the run's file in the result cache, so two configs with the same key are
the same run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from .. import optim
from . import architectures

__all__ = ["Config", "SCHEDULES", "DATASETS", "PRECISIONS", "WRAPPERS"]

#: Learning-rate schedules, each a factor of the base rate at update t = 1, 2, ...
SCHEDULES = ("constant", "inverse-sqrt", "cosine")
#: name -> size of the training split (an image folder's: the config's train_subset).
#: training windows of 64 characters for "shakespeare" (optimlab.text)
DATASETS = {"mnist": 48_000, "cifar10": 40_000, "imagefolder": None, "shakespeare": 15_685}
#: The precisions a run can train in (``"bf16"``: autocast, on CUDA only).
PRECISIONS = ("float32", "bf16")


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _frozen(value):
    """Lists (from JSON) become tuples so that a config stays hashable."""
    return tuple(_frozen(item) for item in value) if isinstance(value, (list, tuple)) else value


#: The optimizers that wrap another one, named by the hyperparameter ``inner``
#: (see :func:`optimlab.experiments.runner.build`).
WRAPPERS = ("Lookahead", "SAM")

#: Fields added after the first cached runs, with the default that leaves them out.
ADDED_FIELDS = {"test_at_end": True, "image_size": 0}


@dataclass(frozen=True)
class Config:
    """A training run.  Length: give ``steps`` or ``epochs`` (the other stays 0).

    Attributes:
        experiment: the result-cache folder, e.g. ``"mnist"``; a smoke test gets
            its own, clearly named folder (``"cifar10-smoke"``).
        model: a name of :data:`optimlab.experiments.architectures.NAMES`.
        dataset: ``"mnist"`` or ``"cifar10"``, split as in :mod:`optimlab.data`; or
            ``"imagefolder"``, the folders ``train/``, ``val/`` (validation) and
            ``test/`` of :mod:`optimlab.experiments.imagefolder` (ResNet-50 only).
        optimizer: a class name in :mod:`optimlab.optim` (``"ADOPT"``).
        lr: the base learning rate α.
        hyperparameters: the optimizer's other arguments as sorted ``(name,
            value)`` pairs; a dict is accepted and sorted.
        schedule: ``"constant"``, ``"inverse-sqrt"`` (α/√t) or ``"cosine"``
            (from α down to 0 at the last update), applied at every update t.
        batch_size: training minibatch size; an epoch drops the last partial batch.
            Under torchrun it is the global batch, split into equal shares.
        steps: the number of updates (0: ``epochs`` gives the length).
        epochs: the number of passes over the training split (0: ``steps`` does).
        eval_every: evaluate on the validation split every this many updates
            (0: at the end of every epoch), always also before the first update
            and after the last.
        seed: initial weights, minibatch order and augmentation.
        train_subset: use only the first n images of the training split; 0 means
            all (for smoke tests).  An image folder's is the number of training
            images it holds (> 0, checked when the run reads the folder).
        eval_subset: the same for the validation and test splits (an image
            folder's is 0).
        augment: random crop and horizontal flip of the training images.
        precision: ``"float32"`` or ``"bf16"`` (autocast; only on CUDA).
        device: where the run trains, ``"cpu"`` or ``"cuda"``.
        fingerprint_steps: how many first training losses the audit recomputes.
        test_every_eval: also evaluate the test split at every evaluation (for
            curves).
        test_at_end: evaluate the test split after the last update (False for the
            runs of a learning-rate search, which must never see the test set).
        image_size: an image folder's side of the square crops (0 for MNIST and
            CIFAR-10, whose images keep their size).

    Fields added after the first cached runs (:data:`ADDED_FIELDS`) are left out
    of :meth:`to_dict`, and so of the key, while they hold their default, so that
    adding one never renames a cached run.
    """

    experiment: str
    model: str
    dataset: str
    optimizer: str
    lr: float
    hyperparameters: tuple = ()
    schedule: str = "constant"
    batch_size: int = 128
    steps: int = 0
    epochs: int = 0
    eval_every: int = 0
    seed: int = 0
    train_subset: int = 0
    eval_subset: int = 0
    augment: bool = False
    precision: str = "float32"
    device: str = "cpu"
    fingerprint_steps: int = 8
    test_every_eval: bool = False
    test_at_end: bool = True
    image_size: int = 0

    def __post_init__(self):
        hyper = self.hyperparameters
        pairs = hyper.items() if isinstance(hyper, dict) else hyper
        try:
            pairs = tuple(sorted((str(k), _frozen(v)) for k, v in pairs))
        except (TypeError, ValueError):
            raise ValueError(f"hyperparameters must be a dict or (name, value) pairs, "
                             f"got {hyper!r}") from None
        object.__setattr__(self, "hyperparameters", pairs)
        if isinstance(self.lr, int) and not isinstance(self.lr, bool):
            object.__setattr__(self, "lr", float(self.lr))
        self._validate()

    def _validate(self) -> None:
        if not self.experiment or not all(c.isalnum() or c in "-_" for c in self.experiment):
            raise ValueError(f"experiment must be a non-empty name of letters, digits, '-' "
                             f"and '_', got {self.experiment!r}")
        if self.model not in architectures.NAMES:
            raise ValueError(f"model must be one of {list(architectures.NAMES)}, "
                             f"got {self.model!r}")
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {self.dataset!r}")
        if self.optimizer not in optim.__all__ or self.optimizer == "Optimizer":
            raise ValueError(f"optimizer must be a class of optimlab.optim, "
                             f"got {self.optimizer!r}")
        self._validate_inner()
        if not isinstance(self.lr, float) or not math.isfinite(self.lr) or self.lr <= 0:
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if "lr" in dict(self.hyperparameters):
            raise ValueError("hyperparameters must not contain 'lr' (it is the field lr)")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        for name in ("batch_size",):
            _check_int(name, getattr(self, name), 1)
        for name in ("steps", "epochs", "eval_every", "seed", "train_subset", "eval_subset",
                     "fingerprint_steps", "image_size"):
            _check_int(name, getattr(self, name), 0)
        self._validate_image_folder()
        if (self.dataset == "shakespeare") != (self.model == "char_gpt"):
            raise ValueError(f"dataset 'shakespeare' and model 'char_gpt' go together, got "
                             f"dataset {self.dataset!r} with model {self.model!r}")
        if self.dataset == "shakespeare" and self.augment:
            raise ValueError("augment is for images; dataset 'shakespeare' has none")
        if (self.steps > 0) == (self.epochs > 0):
            raise ValueError(f"give exactly one of steps and epochs, got steps={self.steps}, "
                             f"epochs={self.epochs}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.device.split(":")[0] not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda[:n]', got {self.device!r}")
        if self.steps_per_epoch == 0:
            raise ValueError(f"batch_size={self.batch_size} is larger than the "
                             f"{self.train_size} training images")
        for name in ("augment", "test_every_eval", "test_at_end"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got "
                                 f"{getattr(self, name)!r}")
        if self.test_every_eval and not self.test_at_end:
            raise ValueError("test_every_eval=True evaluates the test split, so "
                             "test_at_end=False cannot hold")
        if self.fingerprint_steps > self.total_steps:
            raise ValueError(f"fingerprint_steps must be <= the {self.total_steps} steps "
                             f"of the run, got {self.fingerprint_steps}")

    def _validate_inner(self) -> None:
        """A wrapper (Lookahead, SAM) names its inner optimizer as the hyperparameter
        ``inner``; no other optimizer takes one."""
        inner = dict(self.hyperparameters).get("inner")
        if self.optimizer not in WRAPPERS:
            if inner is not None:
                raise ValueError(f"hyperparameter 'inner' is for the wrappers "
                                 f"{WRAPPERS}, not {self.optimizer}")
            return
        if (not isinstance(inner, str) or inner not in optim.__all__
                or inner in (*WRAPPERS, "Optimizer", "Muon")):
            raise ValueError(f"optimizer {self.optimizer} wraps another one: its "
                             f"hyperparameters must name it as 'inner', a class of "
                             f"optimlab.optim other than {WRAPPERS} and Muon, "
                             f"got inner={inner!r}")

    def _validate_image_folder(self) -> None:
        folder, name = self.dataset == "imagefolder", "dataset 'imagefolder'"
        if folder != (self.model == "resnet50"):
            raise ValueError(f"{name} and model 'resnet50' go together, got dataset "
                             f"{self.dataset!r} with model {self.model!r}")
        if not folder:
            if self.image_size:
                raise ValueError(f"image_size is for {name} only ({self.dataset} "
                                 f"images keep their size), got {self.image_size}")
            return
        if not self.train_subset:
            raise ValueError(f"{name} needs train_subset > 0: the number of "
                             f"training images in the folder")
        if self.eval_subset:
            raise ValueError(f"{name} evaluates whole folders: eval_subset must "
                             f"be 0, got {self.eval_subset}")
        if self.image_size < 16:
            raise ValueError(f"{name} needs image_size >= 16 (the side of the "
                             f"square crops), got {self.image_size}")

    # Derived quantities -----------------------------------------------------------
    @property
    def train_size(self) -> int:
        """Number of training images used."""
        full = DATASETS[self.dataset]
        if full is None:
            return self.train_subset
        return min(self.train_subset, full) if self.train_subset else full

    @property
    def steps_per_epoch(self) -> int:
        """Updates per pass over the training split (the last partial batch
        dropped)."""
        return self.train_size // self.batch_size

    @property
    def total_steps(self) -> int:
        """The number of updates of the run: ``steps``, or ``epochs`` whole
        epochs."""
        return self.steps if self.steps else self.epochs * self.steps_per_epoch

    @property
    def total_epochs(self) -> int:
        """Passes over the training split, the last one possibly partial."""
        return -(-self.total_steps // self.steps_per_epoch)

    @property
    def eval_steps(self) -> list[int]:
        """The updates after which the run evaluates (0 = before the first)."""
        every = self.eval_every or self.steps_per_epoch
        points = list(range(0, self.total_steps, every))
        return points + [self.total_steps]

    def optimizer_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the optimizer: ``lr`` and the hyperparameters."""
        return {"lr": self.lr, **{k: (list(v) if isinstance(v, tuple) else v)
                                  for k, v in self.hyperparameters}}

    # Identity ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (hyperparameters as a dict)."""
        out = dataclasses.asdict(self)
        for name, default in ADDED_FIELDS.items():
            if out[name] == default:
                del out[name]
        out["hyperparameters"] = {k: (list(v) if isinstance(v, tuple) else v)
                                  for k, v in self.hyperparameters}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Config":
        """The inverse of :meth:`to_dict`; unknown fields are a ValueError."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"data has fields a Config does not know: {unknown}")
        return cls(**data)

    def key(self) -> str:
        """16 hex digits of the SHA-256 of the canonical JSON of :meth:`to_dict`."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def replace(self, **changes) -> "Config":
        """A copy with some fields changed (checked like a new config)."""
        return dataclasses.replace(self, **changes)

    @property
    def label(self) -> str:
        """A short human-readable name: optimizer, learning rate, seed."""
        return f"{self.optimizer} lr={self.lr:g} seed={self.seed}"
