"""Mutation check of optimlab.optim: break the math, make sure a test notices.

    .venv/bin/python tools/mutate_optim.py [--jobs 2] [module ...] [--tests PATH ...]

Each mutant changes one place in the update rules (``update``, ``advance``, the
helpers of ``transforms.py``, and the compiled kernels with the methods that
compute their numbers):

* a sign flip: ``alpha=-x`` / ``value=-x`` becomes ``+x``, ``-x`` becomes ``x``;
* ``+`` becomes ``-`` and ``-`` becomes ``+``;
* ``*`` becomes ``/`` and ``/`` becomes ``*``;
* a bias correction dropped: ``bias_correction(beta, t)`` becomes ``1``.

The mutant is written into a copy of the package that shadows the installed
one (the checkout is never modified) and ``tests/optim`` runs against it.
A mutant that no test fails is printed as SURVIVED; the script exits non-zero
if any survives.  It takes several minutes, so it is not part of ``make test``.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lib" / "optimlab"
OPTIM = PACKAGE / "optim"
RULE_FUNCTIONS = {"update", "advance", "_mu", "ema_", "ema_of_squares_", "first_step",
                  "second_step", "step",
                  "bias_correction", "l2_gradient", "decay_weights_", "weight_decay_",
                  # the numbers of a step, shared by update and the compiled kernels
                  "step_sizes", "nesterov_step_sizes", "rectification", "momentum_step_size",
                  "kernel_call", "adam_kernel_call",
                  # optimlab.optim.compiled
                  "adam_kernel", "adopt_kernel", "sgd_momentum_kernel",
                  # lion.py, schedule_free.py (train/eval: the switch y <-> x)
                  "lion_kernel", "schedule_free_kernel", "scheduled_lr",
                  "average_weight", "step_numbers", "kernel_arguments",
                  "normalisation", "direction", "train", "eval",
                  # kronecker.py, shampoo.py, soap.py
                  "mode_gram", "mode_products", "inverse_root", "eigenbasis",
                  "refresh_eigenbasis_", "merged_shape", "rotated_adam_step",
                  "step_size", "refresh_bases",
                  # muon.py, adafactor.py
                  "newton_schulz", "lr_scale", "relative_step_size",
                  "average_of_squares_", "factored_second_moment", "rms"}
SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}


def rule_nodes(tree: ast.AST):
    """Every node inside a function that implements an update rule."""
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef) and function.name in RULE_FUNCTIONS:
            yield from ast.walk(function)


def sites(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    found = []
    for node in rule_nodes(tree):
        if isinstance(node, ast.BinOp) and type(node.op) in SWAPS:
            found.append((node, f"{type(node.op).__name__} -> "
                                f"{SWAPS[type(node.op)].__name__}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            found.append((node, "drop a minus sign"))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "bias_correction"):
            found.append((node, "drop a bias correction"))
    return found


class Mutate(ast.NodeTransformer):
    def __init__(self, target: ast.AST):
        self.target = target

    def visit(self, node):
        if node is not self.target:
            return self.generic_visit(node)
        if isinstance(node, ast.BinOp):
            return ast.BinOp(node.left, SWAPS[type(node.op)](), node.right)
        if isinstance(node, ast.UnaryOp):
            return node.operand
        return ast.Constant(1)


def mutants(module: Path):
    source = module.read_text()
    for index, (_, what) in enumerate(sites(ast.parse(source))):
        tree = ast.parse(source)
        node = sites(tree)[index][0]
        line = node.lineno
        mutated = ast.unparse(ast.fix_missing_locations(Mutate(node).visit(tree)))
        yield f"{module.name}:{line} {what}", module.name, mutated


def caught(snapshot: Path, tests: list[str], label: str, module_name: str,
           source: str) -> tuple[str, bool]:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "optimlab"
        shutil.copytree(snapshot, copy)
        (copy / "optim" / module_name).write_text(source)
        env = {**os.environ, "PYTHONPATH": tmp, "PYTHONDONTWRITEBYTECODE": "1"}
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
             "-o", "addopts=", *tests],
            cwd=ROOT, env=env, capture_output=True, text=True)
        return label, result.returncode != 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help="file names in lib/optimlab/optim")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--tests", nargs="+", default=[str(ROOT / "tests" / "optim")],
                        help="the tests run against each mutant (default: "
                             "tests/optim); a mutant that some of them catch, all "
                             "of them catch")
    args = parser.parse_args()
    names = args.modules or sorted(p.name for p in OPTIM.glob("*.py"))
    with tempfile.TemporaryDirectory() as tmp:
        # A snapshot, so that editing the checkout meanwhile cannot mix versions.
        snapshot = Path(tmp) / "optimlab"
        shutil.copytree(PACKAGE, snapshot, ignore=shutil.ignore_patterns("__pycache__"))
        work = [m for name in names for m in mutants(snapshot / "optim" / name)]
        print(f"{len(work)} mutants")
        survived = report(work, snapshot, args.jobs, args.tests)
    print(f"{len(work) - len(survived)} of {len(work)} mutants caught")
    return 1 if survived else 0


def report(work, snapshot: Path, jobs: int, tests: list[str]) -> list[str]:
    survived = []
    with ThreadPoolExecutor(jobs) as pool:
        for label, was_caught in pool.map(lambda m: caught(snapshot, tests, *m),
                                          work):
            print(("caught   " if was_caught else "SURVIVED ") + label, flush=True)
            if not was_caught:
                survived.append(label)
    return survived


if __name__ == "__main__":
    sys.exit(main())
