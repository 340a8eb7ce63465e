"""Write the book's ``optimlab`` reference (``book/api/``) from the docstrings.

    python tools/api_reference.py           # write the pages (``make api``)
    python tools/api_reference.py --check   # exit 1, naming them, if pages are stale

The book's renderer has neither torch nor optimlab, so Sphinx's autodoc cannot
import the package while the book builds. This script imports it in the main
environment instead and writes what autodoc would: pages of Sphinx's
Python-domain directives (``py:module``, ``py:class``, ``py:method``,
``py:function``, ``py:data``), each docstring as its directive's content, so that
Sphinx renders the docstrings' reST (``code``, cross-references, math) as in any
Sphinx project. What is documented, and where, is :mod:`api_inventory`'s.

The pages are reST files, not MyST ones with ``{eval-rst}`` blocks: the body is
reST throughout, and MyST keeps the whole build environment in the doctree of every
page with such a block (2 MB each; the build took about 4 s longer).

One page per subpackage (``book/api/optim.rst`` for :mod:`optimlab.optim` and its
modules), one for the modules at the top of the package (``modules.rst``), and the
index (``index.rst``) for the package itself. The output depends on the source
only: run twice, it writes the same bytes.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import textwrap
from pathlib import Path

import api_inventory as inventory
from api_signatures import WIDTH, annotation_text, directive_lines, signature
from sphinx.ext.napoleon import Config as NapoleonConfig
from sphinx.ext.napoleon.docstring import GoogleDocstring

ROOT = Path(__file__).resolve().parents[1]
API_DIR = ROOT / "book" / "api"
INDEX = "index"
TOP_LEVEL = "modules"
SUFFIX = ".rst"
GENERATED = ".. Written by tools/api_reference.py (make api): do not edit."
INTRODUCTION = """\
Every public name of the course's package, ``optimlab``, with its signature and its
docstring: the modules' ``__all__`` (or, in a module without one, every name its
source defines without a leading underscore), and the methods, properties and
documented attributes that each class defines itself. An object that several modules
make public is described once, where the shortest import reaches it
(``optimlab.optim.Adam``), and the others link there.

These pages are generated from the source by ``make api``
(``tools/api_reference.py``), and a test fails when they are out of date or when a
public name has no docstring.
"""
VALUE_WIDTH = 60
INDENT = "   "
# Google-style sections (``Args:``, ``Attributes:``) become field lists, as Sphinx's
# napoleon extension turns them for autodoc.
NAPOLEON = NapoleonConfig(napoleon_use_ivar=True, napoleon_use_param=True,
                          napoleon_use_rtype=True)


def page_of(module_name: str) -> str:
    """The page (file stem under ``book/api/``) that documents a module."""
    parts = module_name.split(".")
    if len(parts) == 1:
        return INDEX
    package = importlib.import_module(".".join(parts[:2]))
    return parts[1] if hasattr(package, "__path__") else TOP_LEVEL


def page_order(pages: list[str]) -> list[str]:
    """The index, the top-level modules, then the subpackages by name."""
    rank = {INDEX: 0, TOP_LEVEL: 1}
    return sorted(pages, key=lambda page: (rank.get(page, 2), page))


def render(all_entries: dict[str, list[inventory.Entry]]) -> dict[str, str]:
    """Every page's text by file name (``optim.rst``)."""
    by_page: dict[str, list[str]] = {}
    for module_name in all_entries:
        by_page.setdefault(page_of(module_name), []).append(module_name)
    pages = page_order(list(by_page))
    texts = {}
    for page in pages:
        modules = sorted(by_page[page])
        head = modules[0] if page != TOP_LEVEL else None
        title = ("optimlab reference" if page == INDEX
                 else head or "Top-level modules")
        rule = "=" * len(title)
        lines = [GENERATED, "", rule, title, rule, ""]
        if page == INDEX:
            lines += [INTRODUCTION, *_page_list(pages[1:], by_page), ""]
        for module_name in modules:
            if module_name != head:
                lines += [module_name, "-" * len(module_name), ""]
            lines += [*_module_block(module_name, all_entries[module_name]), ""]
        texts[page + SUFFIX] = "\n".join(lines).rstrip("\n") + "\n"
    return texts


def _page_list(pages: list[str], by_page: dict[str, list[str]]) -> list[str]:
    lines = []
    for page in pages:
        modules = sorted(by_page[page])
        if page == TOP_LEVEL:
            names = ", ".join(f":py:mod:`~{name}`" for name in modules)
            lines.append(f"- :doc:`Top-level modules <{page}>`: {names}")
        else:
            summary = _summary(modules[0])
            lines.append(f"- :doc:`{modules[0]} <{page}>`" + (f": {summary}"
                                                             if summary else ""))
    return [textwrap.fill(line, WIDTH, subsequent_indent="  ",
                          break_long_words=False, break_on_hyphens=False)
            for line in lines]


def _summary(module_name: str) -> str:
    doc = inspect.getdoc(importlib.import_module(module_name)) or ""
    first = doc.split("\n\n")[0].replace("\n", " ").strip()
    return first[:1].lower() + first[1:] if first else ""


def _module_block(module_name: str, entries: list[inventory.Entry]) -> list[str]:
    lines = [f".. py:module:: {module_name}", ""]
    doc = inspect.getdoc(importlib.import_module(module_name))
    if doc:
        lines += _content(doc, "", "module") + [""]
    elsewhere = [entry for entry in entries if not entry.at_home]
    if elsewhere:
        lines += ["Also public here, and described where the link leads:", ""]
        lines += [f"- ``{entry.name}``: :py:obj:`{entry.home_name}`"
                  for entry in elsewhere] + [""]
    for entry in entries:
        if entry.at_home:
            lines += _entry_lines(entry) + [""]
    return lines[:-1]


def _entry_lines(entry: inventory.Entry) -> list[str]:
    options = []
    if entry.origin != entry.home_name:
        options.append(f":canonical: {entry.origin}")
    if entry.kind == "data":
        value = inventory.assigned_source(entry.origin)
        if value is not None and len(value) <= VALUE_WIDTH:
            options.append(f":value: {value}")
        return _directive(f"py:data:: {entry.name}", options, entry.doc, "", "data")
    if entry.kind == "function":
        head = f"py:function:: {entry.name}{signature(entry.obj) or '()'}"
        return _directive(head, options, entry.doc, "", entry.kind)
    shown = signature(entry.obj, returns=False) or ""
    lines = _directive(f"py:{entry.kind}:: {entry.name}{shown}", options,
                       entry.doc, "", entry.kind)
    for member in inventory.members(entry.obj):
        lines += [""] + _member_lines(member, entry.obj)
    return lines


def _member_lines(member: inventory.Member, cls: type) -> list[str]:
    if member.kind == "attribute":
        options = []
        annotation = inspect.get_annotations(cls).get(member.name)
        if annotation is not None:
            options.append(f":type: {annotation_text(annotation)}")
        value = getattr(cls, member.name, None)
        if isinstance(value, (bool, int, float, str)) and \
                len(repr(value)) <= VALUE_WIDTH:
            options.append(f":value: {value!r}")
        return _directive(f"py:attribute:: {member.name}", options, member.doc,
                          INDENT, "data")
    if member.kind == "property":
        returned = (annotation_text(
            inspect.signature(member.function).return_annotation)
            if member.function is not None else None)
        options = [f":type: {returned}"] if returned else []
        return _directive(f"py:property:: {member.name}", options, member.doc,
                          INDENT, "attribute")
    shown = signature(member.function, drop_first=member.kind != "staticmethod")
    options = [f":{member.kind}:"] if member.kind != "method" else []
    return _directive(f"py:method:: {member.name}{shown or '()'}", options,
                      member.doc, INDENT, "method")


def _directive(head: str, options: list[str], doc: str, indent: str,
               what: str) -> list[str]:
    lines = directive_lines(f".. {head}", indent)
    lines += [f"{indent}{INDENT}{option}" for option in options]
    if doc:
        lines += [""] + _content(doc, indent + INDENT, what)
    return lines


def _content(doc: str, indent: str, what: str) -> list[str]:
    """The docstring's lines, indented; napoleon's reST for all but data (whose
    ``name: text`` it would take for a type)."""
    if what != "data":
        doc = str(GoogleDocstring(doc, NAPOLEON, what=what)).rstrip()
    return [(indent + line).rstrip() for line in doc.expandtabs(8).splitlines()]


def stale_pages(texts: dict[str, str], directory: Path = API_DIR) -> list[str]:
    """The pages under ``directory`` that differ from ``texts``, are missing, or
    are not generated (any other page source there, to delete)."""
    present = set()
    if directory.is_dir():
        present = {path.name for path in directory.iterdir()
                   if path.suffix in (".rst", ".md", ".ipynb")}
    wrong = [name for name, text in texts.items() if name not in present or
             (directory / name).read_text(encoding="utf-8") != text]
    return sorted(wrong + [name for name in present if name not in texts])


def write(texts: dict[str, str], directory: Path = API_DIR) -> list[str]:
    """Write the pages, delete other pages there; returns what changed."""
    changed = stale_pages(texts, directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name in changed:
        path = directory / name
        if name in texts:
            path.write_text(texts[name], encoding="utf-8")
        else:
            path.unlink()
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a page is out of date")
    arguments = parser.parse_args(argv)
    all_entries = inventory.entries()
    texts = render(all_entries)
    missing = inventory.undocumented(all_entries)
    if missing:
        print(f"{len(missing)} public names have no docstring:\n  " +
              "\n  ".join(missing), file=sys.stderr)
    where = API_DIR.relative_to(ROOT)
    if arguments.check:
        stale = stale_pages(texts)
        for name in stale:
            print(f"{where}/{name} is out of date: run make api", file=sys.stderr)
        return 1 if stale else 0
    changed = write(texts)
    print(f"{len(texts)} pages in {where}/, {len(changed)} changed"
          + (f": {', '.join(changed)}" if changed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
