"""Time one optimizer step against torch's fused kernels, measured in the same run.

    .venv/bin/python tools/benchmark_optim.py [--rounds 30] [--device cpu|cuda]

Two parameter sets: the shapes of torchvision's ResNet-18 (11.7M parameters in
62 tensors) and one tensor of 10M elements.  Every optimizer gets the same
random gradients; each round times one ``step()`` of every optimizer in turn
(interleaved, so that a slow moment of the machine hits all of them), and the
table reports medians and their ratio to the reference:

* Adam-type optimizers and ADOPT against ``torch.optim.Adam(fused=True)``
  (target on a CPU: at most 2x), and ADOPT also against the authors'
  ``torch-adopt`` (target: faster, ratio below 1);
* SGD with momentum (and Nesterov) against ``torch.optim.SGD(momentum=0.9,
  fused=True)`` with the same ``nesterov`` flag
  (target on a CPU: at most 1.25x);
* Muon against ``torch.optim.Muon`` on the matrices of a set (ResNet-18's conv
  filters reshaped to out x in·k·k; n/a on a vector), target at most 1.1x, and
  Adafactor against ``torch.optim.Adafactor``;
* Shampoo and SOAP against pytorch-optimizer's (target: at most 1x; Shampoo
  n/a on the 10M vector, which would need a 10M x 10M matrix).  A step takes
  seconds on ResNet-18's shapes: ``--only Shampoo SOAP --rounds 5``;
* Lion and Schedule-Free SGD/AdamW against ``torch.optim.Adam(fused=True)``
  (target on a CPU: at most 1.25x), beside their references ``lion-pytorch``
  and ``schedulefree``.

After the table, the bytes of optimizer state per parameter element (its state
tensors after the warm-up steps, e.g. 8 for Adam's m and v in float32).

On a CPU, parameter sets this large make the optimizers that have a compiled
kernel use it (``compiled=None``, see ``optimlab.optim.compiled``); their rows
"(eager)" time the same optimizers with ``compiled=False``, the chunked eager
path.  The warm-up steps include the compilation (about 20 s per kernel and
parameter set without a warm on-disk cache, once).

The numbers are wall-clock times of this machine: compare ratios, not times.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
import torchvision

import optimlab.optim as ours

Factory = Callable[[list[torch.Tensor]], torch.optim.Optimizer]


def resnet18_shapes() -> list[torch.Size]:
    return [p.shape for p in torchvision.models.resnet18().parameters()]


def parameter_sets() -> dict[str, list[torch.Size]]:
    return {"ResNet-18 (62 tensors)": resnet18_shapes(),
            "one 10M tensor": [torch.Size([10_000_000])]}


def candidates(device: str) -> dict[str, tuple[Factory, str, float | None]]:
    """name -> (factory, reference name, target ratio or None)."""
    import adopt as torch_adopt

    adam_target = 2.0 if device == "cpu" else None
    sgd_target = 1.25 if device == "cpu" else None
    table = {
        "torch Adam fused": (lambda p: torch.optim.Adam(p, fused=True), "", None),
        "torch SGD momentum fused": (
            lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, fused=True), "", None),
        "torch SGD nesterov fused": (
            lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, fused=True),
            "", None),
        "torch Adam (default)": (lambda p: torch.optim.Adam(p), "torch Adam fused", None),
        "torch-adopt ADOPT": (lambda p: torch_adopt.ADOPT(p), "torch Adam fused", None),
        "SGD momentum": (lambda p: ours.SGD(p, lr=0.1, momentum=0.9),
                         "torch SGD momentum fused", sgd_target),
        "SGD nesterov": (lambda p: ours.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                         "torch SGD nesterov fused", sgd_target),
        "Adam": (lambda p: ours.Adam(p), "torch Adam fused", adam_target),
        "AdamW": (lambda p: ours.AdamW(p), "torch Adam fused", adam_target),
        "AMSGrad": (lambda p: ours.AMSGrad(p), "torch Adam fused", adam_target),
        "NAdam": (lambda p: ours.NAdam(p), "torch Adam fused", adam_target),
        "RAdam": (lambda p: ours.RAdam(p), "torch Adam fused", adam_target),
        "ADOPT": (lambda p: ours.ADOPT(p), "torch Adam fused", adam_target),
        "ADOPT vs torch-adopt": (lambda p: ours.ADOPT(p), "torch-adopt ADOPT", 1.0),
        "AdaShift (n=10)": (lambda p: ours.AdaShift(p), "torch Adam fused", None),
        "Adagrad": (lambda p: ours.Adagrad(p), "torch Adam fused", None),
        "RMSprop": (lambda p: ours.RMSprop(p), "torch Adam fused", None),
        "Adadelta": (lambda p: ours.Adadelta(p), "torch Adam fused", None),
        **lion_and_schedule_free(device),
        **muon_and_adafactor(),
        **shampoo_and_soap(),
    }
    if device == "cpu":  # the default compiles these here; how fast is the eager path?
        for name in COMPILED:
            factory, reference, _ = table[name]
            table[f"{name} (eager)"] = (_eager(factory), reference, None)
    return table


def lion_and_schedule_free(
        device: str) -> dict[str, tuple[Factory, str, float | None]]:
    """Lion and Schedule-Free SGD/AdamW (target on a CPU: at most 1.25x torch's
    fused Adam) and their references, lion-pytorch and schedulefree."""
    import lion_pytorch
    import schedulefree

    def training(optimizer):  # schedulefree refuses to step before train()
        optimizer.train()
        return optimizer

    adam, target = "torch Adam fused", 1.25 if device == "cpu" else None
    return {
        "Lion": (lambda p: ours.Lion(p), adam, target),
        "SGDScheduleFree": (lambda p: ours.SGDScheduleFree(p), adam, target),
        "AdamWScheduleFree": (lambda p: ours.AdamWScheduleFree(p), adam, target),
        "lion-pytorch Lion": (lambda p: lion_pytorch.Lion(p), adam, None),
        "schedulefree SGD": (lambda p: training(schedulefree.SGDScheduleFree(p)),
                             adam, None),
        "schedulefree AdamW": (lambda p: training(schedulefree.AdamWScheduleFree(p)),
                               adam, None),
    }


class NotApplicable(Exception):
    """A candidate that cannot run on a parameter set (Muon on a vector)."""


def as_matrices(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """The parameters of 2 or more dims as (rows, rest) matrices that share their
    storage and gradients: a conv filter (out, in, k, k) becomes out x in·k·k."""
    matrices = []
    for p in params:
        if p.dim() >= 2:
            matrix = p.detach().view(p.shape[0], -1).requires_grad_()
            matrix.grad = p.grad.view(matrix.shape)
            matrices.append(matrix)
    if not matrices:
        raise NotApplicable
    return matrices


def muon_and_adafactor() -> dict[str, tuple[Factory, str, float | None]]:
    """Muon on the matrices of a set (ResNet-18: its 20 conv filters reshaped,
    64x147 ... 512x4608, and the 1000x512 head; target: at most 1.1x
    ``torch.optim.Muon``, which runs the same bfloat16 products) and Adafactor
    (against ``torch.optim.Adafactor``, per tensor as by default)."""
    muon = dict(lr=0.02, weight_decay=0.1)
    return {
        "Muon (torch.optim)": (
            lambda p: torch.optim.Muon(as_matrices(p), **muon), "", None),
        "Muon": (lambda p: ours.Muon(as_matrices(p), **muon), "Muon (torch.optim)",
                 1.1),
        "Adafactor (torch.optim)": (lambda p: torch.optim.Adafactor(p), "", None),
        "Adafactor": (lambda p: ours.Adafactor(p), "Adafactor (torch.optim)", None),
    }


def shampoo_and_soap() -> dict[str, tuple[Factory, str, float | None]]:
    """Shampoo and SOAP with their defaults (target: at most 1x pytorch-optimizer's,
    with its defaults: the same algorithm, roots every step, bases refreshed every
    10); Shampoo keeps an n x n matrix for every dimension n, so it is n/a on the
    10M vector."""
    import pytorch_optimizer

    def matrices_fit(make: Factory) -> Factory:
        def build(params):
            if any(n > 10_000 for p in params for n in p.shape):
                raise NotApplicable
            return make(params)
        return build

    return {
        "pytorch-optimizer Shampoo": (matrices_fit(pytorch_optimizer.Shampoo), "",
                                      None),
        "Shampoo": (matrices_fit(ours.Shampoo), "pytorch-optimizer Shampoo", 1.0),
        "pytorch-optimizer SOAP": (pytorch_optimizer.SOAP, "", None),
        "SOAP": (ours.SOAP, "pytorch-optimizer SOAP", 1.0),
    }


#: The optimizers with a compiled kernel (optimlab.optim.compiled), which their
#: default compiled=None uses on a CPU for parameter sets of this size.
COMPILED = ["SGD momentum", "SGD nesterov", "Adam", "AdamW", "AMSGrad", "NAdam", "RAdam",
            "ADOPT", "Lion", "SGDScheduleFree", "AdamWScheduleFree"]


def _eager(factory: Factory) -> Factory:
    def build(params):
        optimizer = factory(params)
        for group in optimizer.param_groups:
            group["compiled"] = False
        return optimizer
    return build


def build(factory: Factory, shapes, device: str, seed: int = 0) -> torch.optim.Optimizer:
    generator = torch.Generator().manual_seed(seed)
    params = []
    for shape in shapes:
        p = torch.randn(shape, generator=generator).to(device).requires_grad_()
        p.grad = torch.randn(shape, generator=generator).to(device) * 1e-2
        params.append(p)
    optimizer = factory(params)
    for _ in range(3):  # create the state and warm the caches
        optimizer.step()
    return optimizer


def timed_step(optimizer: torch.optim.Optimizer, device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    optimizer.step()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


#: Bytes of optimizer state per parameter element, recorded by ``measure``.
STATE_BYTES: dict[str, float] = {}


def state_bytes_per_element(optimizer: torch.optim.Optimizer) -> float:
    """The bytes of the state tensors of ``optimizer`` (after its first steps),
    divided by the number of parameter elements: 8 for Adam's m and v in float32."""
    elements = sum(p.numel() for group in optimizer.param_groups
                   for p in group["params"])
    stored = sum(tensor_bytes(value) for state in optimizer.state.values()
                 for value in state.values())
    return stored / elements


def tensor_bytes(value) -> int:
    """The bytes of a state entry's tensors: a tensor, or a list of them (as
    pytorch-optimizer's SOAP keeps its matrices), else 0."""
    if isinstance(value, torch.Tensor):
        return value.nbytes
    if isinstance(value, (list, tuple)):
        return sum(tensor_bytes(item) for item in value)
    return 0


def state_report() -> str:
    return "\n".join(["bytes of state per parameter element:"] + [
        f"  {name:<26}{size:6.2f}" for name, size in STATE_BYTES.items()
        if not name.endswith("(eager)")])


def measure(shapes, device: str, rounds: int, only=None) -> dict[str, float]:
    """Median seconds per step of every candidate, interleaved over rounds."""
    table = candidates(device)
    optimizers = {}
    references = {table[name][1] for name in only or () if name in table}
    for name, (factory, reference, _) in table.items():
        skipped = (only and name not in only and name not in references
                   and not name.startswith("torch"))
        if name == "ADOPT vs torch-adopt" or skipped:
            continue
        try:
            optimizers[name] = build(factory, shapes, device)
        except NotApplicable:
            continue
        # the first set's (ResNet-18): Adafactor's factors depend on the shapes
        STATE_BYTES.setdefault(name, state_bytes_per_element(optimizers[name]))
    times: dict[str, list[float]] = {name: [] for name in optimizers}
    for _ in range(rounds):
        for name, optimizer in optimizers.items():
            times[name].append(timed_step(optimizer, device))
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    if "ADOPT" in medians:
        medians["ADOPT vs torch-adopt"] = medians["ADOPT"]
    return medians


def report(results: dict[str, dict[str, float]], device: str) -> str:
    table = candidates(device)
    sets = list(results)
    header = f"{'optimizer':<26}{'reference':<26}{'target':>7}"
    for name in sets:
        header += f"{name[:22]:>24}"
    lines = [header, "-" * len(header)]
    for name, (_, reference, target) in table.items():
        if all(name not in results[set_name] for set_name in sets):
            continue
        row = f"{name:<26}{reference or '(reference)':<26}"
        row += f"{'' if target is None else f'<={target:g}x':>7}"
        for set_name in sets:
            if name not in results[set_name]:   # not applicable (Muon on a vector)
                row += f"{'n/a':>24}"
                continue
            ms = results[set_name][name] * 1e3
            if reference:
                ratio = results[set_name][name] / results[set_name][reference]
                flag = "" if target is None else (" ok" if ratio <= target else " !!")
                row += f"{ms:>10.2f} ms {ratio:>6.2f}x{flag:>3}"
            else:
                row += f"{ms:>10.2f} ms {'':>10}"
        lines.append(row)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--only", nargs="*", help="time only these (and the references)")
    parser.add_argument("--chunk-size", type=int, help="override Optimizer.chunk_size")
    args = parser.parse_args()
    if args.chunk_size:
        ours.Optimizer.chunk_size = args.chunk_size
    print(f"device: {args.device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads, chunk size {ours.Optimizer.chunk_size}")
    results = {name: measure(shapes, args.device, args.rounds, args.only)
               for name, shapes in parameter_sets().items()}
    print(report(results, args.device))
    print(state_report())


if __name__ == "__main__":
    main()
