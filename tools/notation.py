"""The book's notation table (``book/notation.md``) checked against its chapters.

    python tools/notation.py           # the problems, if any (exit status 1)
    python tools/notation.py symbols   # every checked symbol and its first use

The rule, with symbols read as ``tools/latex_symbols.py`` describes:

1. The math of every page in ``_toc.yml`` but this table is read: ``$…$``,
   ``$$…$$`` and ``{math}`` blocks in the markdown cells of a notebook or a ``.md``
   page (inside exercises and admonitions too); code blocks and inline code are not.
2. *Checked* symbols: every Greek letter, ``\\ell``, ``\\mathcal`` and ``\\mathbf``
   letter, plain or decorated or subscripted; every Latin letter (``LATIN_BASES``)
   that is decorated (``\\hat m``) or has a subscript (``m_t``, ``L_t``) or a label
   superscript (``v^{\\max}``); every command symbol (``\\odot``, ``\\mathbb{E}``,
   ``\\operatorname{sign}``, a norm ``\\lVert\\cdot\\rVert_F``). Plain Latin
   letters, numbers and ``\\text{…}`` are not checked; a LaTeX command that
   ``latex_symbols`` does not know is reported, so that it gets classified.
3. The table: every row of a pipe table on the page whose last cell is a chapter
   link ``{doc}`N <name>```. The row's *forms* are the checked symbols in its first
   cell, outside subscripts (``x^\\top`` is the row of ``\\top``), or, if it has
   none, its plain Latin letters (the rows of L, d, T). A form written with a letter
   index (``m_t``) also stands for its index form (``m_•``: m_{t-1}, m_0, m_T); one
   written with a number (``\\beta_1``) only for itself. No two rows may share a
   form or an index form: a symbol with two meanings gets one row, which gives both
   ("Ch. N: …").
4. A symbol used in a chapter *matches* the row with a form of the same key, else
   the row with its index form. Every checked symbol must match a row.
5. A row's link names the first numbered chapter, in the order of ``_toc.yml``,
   whose math uses a symbol that matches the row, and N is that chapter's number.
   Pages without a number (the introduction) are checked by rule 4 only.
6. Every row matches some symbol of the book (no stale rows).
"""

from __future__ import annotations

import re
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from equations import document_path, markdown_of, numbered_chapters  # noqa: E402
from latex_symbols import Symbol, symbols  # noqa: E402
from notebooks import ROOT, prose_files  # noqa: E402

NOTATION = "book/notation"
# The Latin letters whose decorated or subscripted forms the table must list: all of
# them, the book's own (m_t, v_t, L_t) and those of one example (x_i, a_i) alike.
LATIN_BASES = set(string.ascii_letters)

FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*(.*?)\s*$")
INLINE_CODE = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
DISPLAY = r"\$\$(?P<display>.+?)\$\$"
INLINE = r"(?<![\\$])\$(?![\s$])(?P<inline>(?:[^$\\]|\\.)+?)(?<![\s\\])\$(?!\d)"
MATH = re.compile(f"{DISPLAY}|{INLINE}", re.S)
CHAPTER_LINK = re.compile(r"^\{doc\}`(\d+) <([\w/.-]+)>`$")


def math_of(markdown: str) -> list[str]:
    """The LaTeX of every formula in a page's markdown: those of the prose in order,
    then the bodies of its ``{math}`` blocks."""
    prose, blocks = _prose_and_math_blocks(markdown)
    prose = INLINE_CODE.sub(" ", prose)
    found = []
    for match in MATH.finditer(prose):
        tex = match.group("display") or match.group("inline")
        if match.group("inline") is not None and "\n\n" in tex:
            continue                                  # not one paragraph: no formula
        found.append(" ".join(tex.split()))
    return found + blocks


def _prose_and_math_blocks(markdown: str) -> tuple[str, list[str]]:
    """The markdown without code blocks, and the bodies of its ``{math}`` blocks.

    Directive fences (``{exercise}``, ``{admonition}``) hold markdown: kept."""
    prose, blocks, open_fences = [], [], []      # open_fences: (marker, kind)
    for line in markdown.splitlines():
        match = FENCE.match(line)
        inside = open_fences[-1] if open_fences else None
        if match and inside and match.group(2) == "" and \
                match.group(1).startswith(inside[0]):
            open_fences.pop()
            continue
        if inside and inside[1] != "markdown":
            if inside[1] == "math" and not line.lstrip().startswith(":"):
                blocks[-1] += " " + line.strip()
            continue
        if match:
            info = match.group(2)
            directive = info.startswith("{") and not info.startswith("{code")
            kind = ("math" if info.startswith("{math}") else
                    "markdown" if directive else "code")
            open_fences.append((match.group(1), kind))
            if kind == "math":
                blocks.append("")
            continue
        prose.append(line)
    return "\n".join(prose), [" ".join(block.split()) for block in blocks]


def is_checked(symbol: Symbol) -> bool:
    """Whether the table must list ``symbol`` (rule 2)."""
    if symbol.kind in ("letter", "command", "unknown"):
        return True
    return (symbol.decorated or symbol.scripted) and symbol.base in LATIN_BASES


@dataclass
class Row:
    """One row of the table: its symbol cell, forms, chapter link and line number."""
    symbol: str
    forms: list[Symbol]
    number: int
    chapter: str
    line: int
    used_in: list[str] = field(default_factory=list)


def read_table(markdown: str) -> tuple[list[Row], list[str]]:
    """The rows of the notation page, and the problems found in reading them."""
    rows, problems = [], []
    lines = markdown.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.startswith("|") or re.fullmatch(r"[|:\s-]+", line):
            continue
        if number < len(lines) and re.fullmatch(r"\|[|:\s-]+", lines[number]):
            continue                                         # a header row
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        link = CHAPTER_LINK.match(cells[-1])
        where = f"{NOTATION}.md line {number}"
        if link is None:
            problems.append(f"{where}: the last cell must be a chapter link "
                            f"{{doc}}`N <name>`, not {cells[-1]!r}")
            continue
        found = [s for tex in math_of(cells[0]) for s in symbols(tex)
                 if s.where != "sub"]
        forms = [s for s in found if is_checked(s)] or found
        if not forms:
            problems.append(f"{where}: no symbol in {cells[0]!r}")
            continue
        chapter = str(Path(NOTATION).parent / link.group(2))
        rows.append(Row(cells[0], forms, int(link.group(1)), chapter, number))
    return rows, problems


def form_index(rows: list[Row]) -> tuple[dict, dict, list[str]]:
    """Key → row and index form → row, and the forms that two rows share."""
    by_key: dict[str, Row] = {}
    by_index: dict[str, Row] = {}
    problems = []
    for row in rows:
        for form in row.forms:
            index_key = form.index_key if form.letter_index else None
            for table, key in ((by_key, form.key), (by_index, index_key)):
                if key is None:
                    continue
                other = table.setdefault(key, row)
                if other is not row:
                    problems.append(
                        f"{NOTATION}.md lines {other.line} and {row.line} both list "
                        f"{key}: merge them into one row that gives both meanings")
    return by_key, by_index, problems


def check(pages: list[tuple[str, str]], numbered: list[str],
          table: str) -> list[str]:
    """The problems of ``table`` (the notation page) for ``pages``: (toc entry,
    markdown) in reading order, of which ``numbered`` are the numbered chapters."""
    rows, problems = read_table(table)
    by_key, by_index, shared = form_index(rows)
    problems += shared
    missing: dict[str, str] = {}
    for entry, markdown in pages:
        for tex in math_of(markdown):
            try:
                found = symbols(tex)
            except ValueError as error:              # unbalanced braces and the like
                missing.setdefault(tex, f"{entry}: ${tex}$ cannot be read: {error}")
                continue
            for symbol in found:
                if symbol.kind == "unknown":
                    missing.setdefault(symbol.key, (
                        f"{entry}: ${tex}$ uses the LaTeX command {symbol.key}, "
                        "which tools/latex_symbols.py does not classify"))
                    continue
                row = by_key.get(symbol.key) or by_index.get(symbol.index_key)
                if row is not None:
                    if entry not in row.used_in:
                        row.used_in.append(entry)
                elif is_checked(symbol):
                    missing.setdefault(symbol.key, (
                        f"{entry}: ${tex}$ uses {symbol.key}, which {NOTATION}.md "
                        "does not list"))
    problems += missing.values()
    for row in rows:
        problems += _chapter_problems(row, numbered)
    return problems


def _chapter_problems(row: Row, numbered: list[str]) -> list[str]:
    where = f"{NOTATION}.md line {row.line} ({row.symbol})"
    if not row.used_in:
        return [f"{where}: no page of the book uses this symbol"]
    first = next((entry for entry in numbered if entry in row.used_in), None)
    if first is None:
        return [f"{where}: used only in {', '.join(row.used_in)}, not in a chapter"]
    number = numbered.index(first) + 1
    if (row.chapter, row.number) != (first, number):
        return [f"{where}: first used in chapter {number} ({first}), but the row "
                f"says {row.number} ({row.chapter})"]
    return []


def book_pages() -> list[tuple[str, str]]:
    return [(entry, markdown_of(document_path(entry)))
            for entry in prose_files() if entry != NOTATION]


def check_book() -> list[str]:
    table = (ROOT / f"{NOTATION}.md").read_text(encoding="utf-8")
    return check(book_pages(), numbered_chapters(), table)


def first_uses() -> dict[str, tuple[str, str]]:
    """Every checked symbol's key → (first page, formula), in reading order."""
    found: dict[str, tuple[str, str]] = {}
    for entry, markdown in book_pages():
        for tex in math_of(markdown):
            for symbol in symbols(tex):
                if is_checked(symbol):
                    found.setdefault(symbol.key, (entry, tex))
    return found


def main(argv: list[str]) -> int:
    if argv[1:] == ["symbols"]:
        for key, (entry, tex) in first_uses().items():
            print(f"{key:32} {entry:30} ${tex[:60]}$")
        return 0
    problems = check_book()
    print("\n".join(problems) or f"{NOTATION}.md lists every symbol of the book")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
