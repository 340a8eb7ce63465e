"""Structural checks of every chapter notebook (nbval re-executes them separately)."""

from __future__ import annotations

import ast

import nbformat
import pytest

from notebooks import ROOT, SETUP_TAGS, chapter_notebooks, setup_cell_source, toc_files

NOTEBOOKS = chapter_notebooks()
IDS = [path.stem for path in NOTEBOOKS]


def read(path):
    return nbformat.read(path, as_version=4)


def test_there_are_chapters_and_each_is_in_the_table_of_contents():
    assert NOTEBOOKS
    in_toc = set(toc_files())
    for path in NOTEBOOKS:
        assert str(path.relative_to(ROOT).with_suffix("")) in in_toc, f"{path.name} not in _toc.yml"
    for entry in in_toc:
        assert any((ROOT / entry).with_suffix(s).is_file() for s in (".md", ".ipynb")), entry


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_kernelspec_is_plain_python3(path):
    assert read(path).metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_cell_is_the_shared_setup_cell(path):
    first = read(path).cells[0]
    assert first.cell_type == "code"
    assert first.source == setup_cell_source(), "run `make setup-cells`"
    assert first.metadata.get("tags") == SETUP_TAGS


def expects_output(source: str) -> bool:
    """Whether a cell visibly produces output: a print/check/plot call or a bare
    final expression not silenced with ';'."""
    code = "\n".join(line.split("%")[0] + "pass" if line.lstrip().startswith("%") else line
                     for line in source.splitlines())  # IPython magics are not Python
    tree = ast.parse(code)
    if not tree.body:
        return False
    calls = {node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
             for node in ast.walk(tree) if isinstance(node, ast.Call)}
    if calls & {"print", "check", "display", "subplots", "figure", "show"}:
        return True
    last = tree.body[-1]
    # A bare final value is displayed; a bare call may return None, so it is not counted.
    return (isinstance(last, ast.Expr) and not isinstance(last.value, ast.Call)
            and not source.rstrip().endswith(";"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_outputs_are_complete_and_clean(path):
    code_cells = [c for c in read(path).cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code_cells]
    # Executed once, top to bottom, by `make notebooks` (the setup cell included).
    assert counts == list(range(1, len(code_cells) + 1)), "re-run `make notebooks`"
    for number, cell in enumerate(code_cells, start=1):
        kinds = [o.output_type for o in cell.outputs]
        assert "error" not in kinds, f"cell {number} stored an error"
        assert not any(o.output_type == "stream" and o.name == "stderr" for o in cell.outputs), \
            f"cell {number} wrote to stderr (a warning?)"
        if expects_output(cell.source):
            assert cell.outputs, f"cell {number} should have stored output:\n{cell.source}"


def test_output_expectation_rule():
    assert expects_output("print(1)") and expects_output("x = 1\nx")
    assert not expects_output("x = 1") and not expects_output("ax.plot(x);")
    assert not expects_output("use_book_style()")
    assert expects_output("fig, ax = plt.subplots()\nax.plot(x);")
