"""The exercise checks: every solution in the book passes, wrong answers do not.

Solutions are read from the notebooks themselves (the folded ``{solution}``
blocks), so a solution edited in a chapter is tested as it is printed.
"""

from __future__ import annotations

import ast
import importlib
import math
import pkgutil
import re
from pathlib import Path

import nbformat
import pytest
import torch

from notebooks import chapter_notebooks
from optimlab.exercises import REGISTRY, check, evaluate
from optimlab.exercises.checking import Case, Exercise, difference

SOLUTION = re.compile(r"`{3,}\{solution\}\s+(?P<label>\S+)(?P<body>.*?)\n`{4}", re.S)
PYTHON = re.compile(r"```python\n(?P<code>.*?)```", re.S)
CHECK_CALL = re.compile(r"""check\(\s*["'](?P<label>[^"']+)["']\s*,\s*(?P<name>\w+)\s*\)""")


def book_exercises():
    """(label, solution source, notebook name) for every solution with code."""
    found = []
    for path in chapter_notebooks():
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type != "markdown":
                continue
            for match in SOLUTION.finditer(cell.source):
                code = PYTHON.search(match["body"])
                if code:
                    found.append((match["label"], code["code"], path.stem))
    return found


def check_calls():
    calls = {}
    for path in chapter_notebooks():
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                for match in CHECK_CALL.finditer(cell.source):
                    calls[match["label"]] = (match["name"], path.stem)
    return calls


SOLUTIONS = book_exercises()


def solution_function(label: str, source: str):
    namespace = {"torch": torch}
    exec(compile(source, f"<solution {label}>", "exec"), namespace)
    return namespace[REGISTRY[label].function_name]


def test_every_registered_exercise_is_in_the_book_with_a_check_and_a_solution():
    calls = check_calls()
    solved = {label for label, _, _ in SOLUTIONS}
    assert set(REGISTRY) == set(calls), "each exercise needs exactly one check cell"
    assert set(REGISTRY) == solved, "each exercise needs a folded solution with code"
    for label, (name, _) in calls.items():
        assert name == REGISTRY[label].function_name


@pytest.mark.parametrize("label, source, chapter", SOLUTIONS, ids=[s[0] for s in SOLUTIONS])
def test_the_books_solution_passes_its_check(label, source, chapter):
    result = evaluate(label, solution_function(label, source))
    assert result.passed, result.message


def test_an_unfinished_stub_gets_a_hint_and_no_exception(capsys):
    def gradient_descent(grad, theta0, lr, num_steps):
        raise NotImplementedError

    check("ex-gd-loop", gradient_descent)
    out = capsys.readouterr().out
    assert out.startswith("✘ Not done yet") and "gradient_descent" in out


# Hand-written wrong answers, the mistakes students really make: one module per
# chapter in tests/wrong_answers/, each with a dict WRONG = {label: [(function,
# a phrase its hint must contain), ...]}.
WRONG = {}
for _module in pkgutil.iter_modules([str(Path(__file__).parent / "wrong_answers")]):
    _wrong = importlib.import_module(f"wrong_answers.{_module.name}").WRONG
    assert not set(_wrong) & set(WRONG), f"{_module.name} repeats a label"
    WRONG.update(_wrong)


def test_every_exercise_has_wrong_variants():
    assert set(WRONG) == set(REGISTRY)


@pytest.mark.parametrize("label, wrong, expected_hint",
                         [(label, fn, hint) for label, fns in WRONG.items() for fn, hint in fns],
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_a_wrong_variant_fails_with_a_specific_hint(label, wrong, expected_hint):
    result = evaluate(label, wrong)
    assert not result.passed
    assert result.message.startswith("✘ Not yet right on")
    assert expected_hint in result.message
    assert "Traceback" not in result.message


def test_the_momentum_window_cases_have_no_ties_and_tell_ceil_from_round_and_floor():
    """The answer of ex-momentum-window is ⌈ln(1 − p)/ln β⌉; a case whose ratio lies near
    a whole number would make it depend on rounding errors (β = 0.8, p = 0.2 once did)."""
    ratios = [math.log(1 - p) / math.log(beta)
              for beta, p in (case.args for case in REGISTRY["ex-momentum-window"].cases)]
    reference = REGISTRY["ex-momentum-window"].reference
    assert [reference(*case.args) for case in REGISTRY["ex-momentum-window"].cases] == \
        [math.ceil(r) for r in ratios]
    assert all(abs(r - round(r)) > 0.1 for r in ratios)
    assert sum(round(r) != math.ceil(r) for r in ratios) >= 3
    assert all(math.floor(r) != math.ceil(r) for r in ratios)


def test_a_crashing_function_is_reported_not_raised():
    result = evaluate("ex-gd-loop", lambda grad, theta0, lr, num_steps: 1 / 0)
    assert not result.passed and "ZeroDivisionError" in result.message


def test_a_function_that_edits_its_input_cannot_spoil_the_reference():
    def in_place(grad, theta0, lr, num_steps):
        thetas = [theta0.clone()]
        for _ in range(num_steps):
            theta0 -= lr * grad(theta0)
            thetas.append(theta0.clone())
        return torch.stack(thetas)

    assert evaluate("ex-gd-loop", in_place).passed


def test_checker_compares_nested_values():
    exercise = Exercise("x", "f", lambda: None, (Case("c"),))
    assert difference((torch.ones(2), 0.5), (torch.ones(2), 0.5), exercise) is None
    assert "item 1" in difference((torch.ones(2), 0.5), (torch.ones(2), 0.25), exercise)
    assert "shape" in difference(torch.ones(2, 3), torch.ones(3, 2), exercise)
    assert difference(torch.tensor([float("inf")]), torch.tensor([float("inf")]), exercise) is None


# Automatic mutants of each solution: every one must be caught.
SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
         ast.Gt: ast.Lt, ast.Lt: ast.Gt, ast.GtE: ast.LtE, ast.LtE: ast.GtE}


def mutation_sites(tree: ast.AST) -> list[ast.AST]:
    """The operators of ``tree`` that SWAPS can replace, in a fixed walk order."""
    return [node for node in ast.walk(tree)
            if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in SWAPS
            or isinstance(node, ast.Compare) and type(node.ops[0]) in SWAPS]


def mutants(source: str):
    """Copies of ``source`` with one arithmetic or comparison operator swapped."""
    for index in range(len(mutation_sites(ast.parse(source)))):
        mutant = ast.parse(source)
        node = mutation_sites(mutant)[index]
        if isinstance(node, ast.Compare):
            node.ops[0] = SWAPS[type(node.ops[0])]()
        else:
            node.op = SWAPS[type(node.op)]()
        yield ast.unparse(node), ast.unparse(mutant)


@pytest.mark.parametrize("label, source, chapter", SOLUTIONS, ids=[s[0] for s in SOLUTIONS])
def test_every_operator_mutant_of_a_solution_is_caught(label, source, chapter):
    survivors, count = [], 0
    for changed, mutant in mutants(source):
        count += 1
        # an endless loop is a wrong answer too: the time limit reports it
        if evaluate(label, solution_function(label, mutant), time_limit=2.0).passed:
            survivors.append(changed)
    assert count >= 2, "the solution has too few operators to mutate"
    assert not survivors, f"the check of {label} accepts these wrong variants: {survivors}"
