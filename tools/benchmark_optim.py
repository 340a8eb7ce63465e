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
  (target on a CPU: at most 1.25x).

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
    }
    if device == "cpu":  # the default compiles these here; how fast is the eager path?
        for name in COMPILED:
            factory, reference, _ = table[name]
            table[f"{name} (eager)"] = (_eager(factory), reference, None)
    return table


#: The optimizers with a compiled kernel (optimlab.optim.compiled), which their
#: default compiled=None uses on a CPU for parameter sets of this size.
COMPILED = ["SGD momentum", "SGD nesterov", "Adam", "AdamW", "AMSGrad", "NAdam", "RAdam",
            "ADOPT"]


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


def measure(shapes, device: str, rounds: int, only=None) -> dict[str, float]:
    """Median seconds per step of every candidate, interleaved over rounds."""
    table = candidates(device)
    optimizers = {}
    for name, (factory, reference, _) in table.items():
        skipped = only and name not in only and not name.startswith("torch")
        if name == "ADOPT vs torch-adopt" or skipped:
            continue
        optimizers[name] = build(factory, shapes, device)
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
        if name not in results[sets[0]]:
            continue
        row = f"{name:<26}{reference or '(reference)':<26}"
        row += f"{'' if target is None else f'<={target:g}x':>7}"
        for set_name in sets:
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


if __name__ == "__main__":
    main()
