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
        assert any((ROOT / entry).with_suffix(s).is_file()
                   for s in (".md", ".ipynb", ".rst")), entry


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


# --- what fits the page: the text column holds 85 characters of code and ---------
# --- 660 CSS pixels of figure (optimlab.plotting.PAGE_WIDTH at 96 per inch) --------
COLUMN_CHARACTERS = 85
FIGURE_MAX_WIDTH = 700          # CSS pixels, a little slack for tight bounding boxes
SHARPNESS = 1.5                 # natural pixels per displayed pixel, at least


def text_lines(cell):
    """(what, line) for the source and every text output of a code cell."""
    for line in cell.source.splitlines():
        yield "source", line
    for output in cell.outputs:
        if output.output_type == "stream":
            text = output.text
        elif "text/plain" in output.get("data", {}) and not (
                {"image/png", "text/html"} & set(output.data)):
            text = output.data["text/plain"]
        else:
            continue
        for line in text.splitlines():
            yield "output", line


def png_size(data: str) -> tuple[int, int]:
    """Width and height of a base64 PNG, from its IHDR chunk."""
    import base64
    import struct

    head = base64.b64decode(data[:64])
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_code_and_outputs_fit_the_text_column(path):
    too_wide = [f"cell {number} {what} ({len(line)} chars): {line}"
                for number, cell in enumerate(read(path).cells)
                if cell.cell_type == "code"
                for what, line in text_lines(cell) if len(line) > COLUMN_CHARACTERS]
    assert not too_wide, "\n".join(too_wide)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_figures_are_page_wide_at_most_and_sharp(path):
    """Every PNG carries its display width (Matplotlib's "retina" inline format, set
    by use_book_style) and has at least 1.5 natural pixels per displayed pixel."""
    problems = []
    for number, cell in enumerate(read(path).cells):
        for output in cell.get("outputs", []):
            if "image/png" not in output.get("data", {}):
                continue
            natural, _ = png_size(output.data["image/png"])
            shown = output.get("metadata", {}).get("image/png", {}).get("width")
            if shown is None:
                problems.append(f"cell {number}: no display width (use_book_style?)")
            elif shown > FIGURE_MAX_WIDTH:
                problems.append(f"cell {number}: shown {shown} px wide, more than the "
                                f"column (use optimlab.plotting.book_figure)")
            elif natural < SHARPNESS * shown:
                problems.append(f"cell {number}: {natural} px drawn for {shown} shown")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_figure_text_is_readable_and_panels_at_most_two_across(path):
    """No font below 9 pt, no more than two panels side by side."""
    import re

    problems = []
    for number, cell in enumerate(read(path).cells):
        if cell.cell_type != "code":
            continue
        for match in re.finditer(r"fontsize\s*=\s*(\d+(?:\.\d+)?)", cell.source):
            if float(match.group(1)) < 9:
                problems.append(f"cell {number}: {match.group(0)}")
        figures = r"(?:subplots|book_figure)\("
        for match in re.finditer(figures + r"\s*\d+\s*,\s*(\d+)|" + figures +
                                 r"[^\n]*?\bncols\s*=\s*(\d+)", cell.source):
            columns = int(match.group(1) or match.group(2))
            if columns > 2:
                problems.append(f"cell {number}: {columns} columns (stack panels in rows)")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_doubled_exercise_word(path):
    """sphinx-exercise renders {ref} to an exercise as "Exercise N" already."""
    doubled = [f"cell {number}" for number, cell in enumerate(read(path).cells)
               if "Exercise {ref}" in cell.source or "exercise {ref}" in cell.source]
    assert not doubled, f"write {{ref}}`ex-…` alone, not 'Exercise {{ref}}': {doubled}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_code_names_equations_the_way_the_page_shows_them(path):
    """`# (7.3)`, the number on the page, not the hidden label `# (adam-hat)`; each
    number is the current one of the label kept in the cell's metadata."""
    from equations import METADATA_KEY, code_of, equation_numbers, hidden_labels

    numbers = equation_numbers()
    problems = []
    for number, cell in enumerate(read(path).cells):
        hidden = hidden_labels(code_of(cell), numbers)
        if hidden:
            problems.append(f"cell {number} names hidden labels {hidden}")
        for shown, label in cell.metadata.get(METADATA_KEY, {}).items():
            if numbers.get(label) != shown or shown not in code_of(cell):
                problems.append(f"cell {number}: {shown} should be {numbers.get(label)} "
                                f"({label})")
    assert not problems, "\n".join(problems) + "\nrun `python tools/notebooks.py equations`"
