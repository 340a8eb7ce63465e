"""Equation numbers as the reader sees them, for the chapters' code.

A chapter's code names the equation it implements in a comment, and it must
name it the way the page shows it, ``# (7.3)``, not by the hidden MyST label
``# (adam-hat)``.  Numbers change when an equation is added, so each code cell
keeps the labels behind its numbers in its metadata::

    "metadata": {"equations": {"(7.3)": "adam-hat"}}

and ``python tools/notebooks.py equations`` rewrites the numbers from the labels
(and turns any ``(label)`` written in code into its number).

Numbering follows Sphinx with ``numbered: true`` parts and ``math_numfig``: the
documents of the numbered parts are chapters 1, 2, … in reading order, and the
labelled display equations of a chapter are numbered in order of appearance.
``tests/test_book.py`` checks this against the built HTML.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
LABELLED = re.compile(r"\$\$\s*\(([A-Za-z0-9_-]+)\)")   # $$ ... $$ (label)
METADATA_KEY = "equations"
# "(label)" not right after a name, a dot or a bracket: `# (adam-hat)` and
# "(af-drift)" in a string are references, `torch.ones(window)` is a call.
REFERENCE = re.compile(r"(?<![\w.\])\]])\(([A-Za-z0-9_-]+)\)")


def numbered_chapters() -> list[str]:
    """The documents that get a chapter number, in order (paths without suffix)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [chapter["file"] for part in toc.get("parts", []) if part.get("numbered")
            for chapter in part.get("chapters", [])]


def markdown_of(document: Path) -> str:
    if document.suffix == ".md":
        return document.read_text(encoding="utf-8")
    notebook = nbformat.read(document, as_version=4)
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def document_path(entry: str) -> Path:
    for suffix in (".ipynb", ".md"):
        if (ROOT / entry).with_suffix(suffix).is_file():
            return (ROOT / entry).with_suffix(suffix)
    raise FileNotFoundError(f"_toc.yml names {entry!r}, which has no .ipynb or .md file")


def equation_numbers() -> dict[str, str]:
    """Label → the number the page shows, e.g. ``"adam-hat": "(7.3)"``."""
    numbers: dict[str, str] = {}
    for chapter, entry in enumerate(numbered_chapters(), start=1):
        labels = LABELLED.findall(markdown_of(document_path(entry)))
        for index, label in enumerate(labels, start=1):
            if label in numbers:
                raise ValueError(f"equation label {label!r} is defined twice "
                                 f"(second time in {entry})")
            numbers[label] = f"({chapter}.{index})"
    return numbers


def hidden_labels(source: str, numbers: dict[str, str]) -> list[str]:
    """The ``(label)`` references in code that the reader cannot find on the page."""
    return [label for label in REFERENCE.findall(source) if label in numbers]


FENCED = re.compile(r"^(```(?!`)[^\n]*\n)(.*?)^(```)(?!`)", re.S | re.M)  # in markdown


def _rewrite(code: str, known: dict[str, str], numbers: dict[str, str]):
    """``code`` with current numbers, and the numbers it now uses (number → label)."""
    for label in hidden_labels(code, numbers):
        code = code.replace(f"({label})", f"\0{label}\0")
    for shown, label in known.items():
        if label not in numbers:
            raise ValueError(f"a cell names equation {label!r}, which no longer exists")
        code = code.replace(shown, f"\0{label}\0")
    used = {}
    for label in re.findall(r"\0([A-Za-z0-9_-]+)\0", code):
        used[numbers[label]] = label
        code = code.replace(f"\0{label}\0", numbers[label])
    return code, used


def renumber_cell(cell, numbers: dict[str, str]) -> bool:
    """Write the current numbers into a cell's code (a markdown cell's fenced code
    blocks); True if it changed."""
    known: dict[str, str] = dict(cell.metadata.get(METADATA_KEY, {}))
    used: dict[str, str] = {}

    def rewrite(code: str) -> str:
        code, numbers_used = _rewrite(code, known, numbers)
        used.update(numbers_used)
        return code

    if cell.cell_type == "code":
        source = rewrite(cell.source)
    else:
        source = FENCED.sub(lambda m: m.group(1) + rewrite(m.group(2)) + m.group(3),
                            cell.source)
    changed = source != cell.source or used != known
    if changed:
        cell.source = source
        if used:
            cell.metadata[METADATA_KEY] = dict(sorted(used.items()))
        else:
            cell.metadata.pop(METADATA_KEY, None)
    return changed


def code_of(cell) -> str:
    """The code a cell shows: its source, or a markdown cell's fenced blocks."""
    if cell.cell_type == "code":
        return cell.source
    return "\n".join(m.group(2) for m in FENCED.finditer(cell.source))


def renumber(paths: list[Path]) -> list[Path]:
    """Renumber the code cells of ``paths``; the notebooks that changed."""
    numbers = equation_numbers()
    changed = []
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        if any([renumber_cell(cell, numbers) for cell in notebook.cells
                if cell.cell_type in ("code", "markdown")]):
            nbformat.write(notebook, path)
            changed.append(path)
    return changed
