"""The English–Vietnamese glossary, ``book/glossary.md``, against the chapters.

A chapter marks the place where it defines a term with {dfn}`term`, or with
{dfn}`the form it uses <term>`; ``book/_ext/defined_terms.py`` gives that place the
label ``dfn-<term>``. An entry of the glossary reads

    term
      *Vietnamese term* — the meaning in one line → {ref}`label`

The source checks need no build: every marked term has an entry that links to the
label of its mark, and every entry has a Vietnamese term, a meaning and a link.
The check of the built book follows every link of the glossary page to a file and
an id that exist.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from equations import document_path, markdown_of
from notebooks import ROOT, prose_files

sys.path.insert(0, str(ROOT / "book" / "_ext"))
from defined_terms import LABEL_PREFIX, label_for, term_and_key  # noqa: E402

GLOSSARY = "book/glossary"
DFN = re.compile(r"\{dfn\}`([^`]+)`")
BLOCK = re.compile(r"^```\{glossary\}\n(.*?)^```$", re.S | re.M)
# {ref}`label` or {ref}`text <label>`
LINK = re.compile(r"^\{ref\}`(?:[^`<]*<)?([^`<>]+)>?`$")
EMPHASIS = re.compile(r"\*[^*\s][^*]*\*")


@dataclass(frozen=True)
class Entry:
    term: str
    vietnamese: str
    meaning: str
    label: str


def book_markdown() -> dict[str, str]:
    """The markdown of every document in the table of contents but the glossary."""
    return {entry: markdown_of(document_path(entry)) for entry in prose_files()
            if entry != GLOSSARY}


def defining_places(documents: dict[str, str]) -> dict[str, list[str]]:
    """Each term marked with {dfn} (case-folded) → the documents, once per mark."""
    places: dict[str, list[str]] = {}
    for document, text in documents.items():
        for mark in DFN.findall(text):
            places.setdefault(term_and_key(mark)[1].casefold(), []).append(document)
    return places


def glossary_entries(text: str) -> list[Entry]:
    """The entries of the {glossary} blocks; a part that is missing is left empty."""
    entries = []
    for block in BLOCK.findall(text):
        for chunk in re.split(r"\n\s*\n", block.strip()):
            term, _, body = chunk.partition("\n")
            body = " ".join(body.split())
            vietnamese, rest = body.split(" — ", 1) if " — " in body else ("", body)
            meaning, link = rest.rsplit(" → ", 1) if " → " in rest else (rest, "")
            label = LINK.match(link)
            entries.append(Entry(term.strip(), vietnamese, meaning.strip(),
                                 label.group(1) if label else ""))
    return entries


def entry_problems(entries: list[Entry]) -> list[str]:
    """Entries without a Vietnamese term, a meaning or a link; repeated entries, and
    entries out of alphabetical order."""
    problems = []
    for entry in entries:
        if not EMPHASIS.search(entry.vietnamese):
            problems.append(f"{entry.term!r} has no Vietnamese term (in *italics*)")
        if not entry.meaning:
            problems.append(f"{entry.term!r} has no meaning")
        if not entry.label:
            problems.append(f"{entry.term!r} has no link {{ref}}`label` at its end")
    terms = [entry.term.casefold() for entry in entries]
    problems += [f"{term!r} has two entries" for term in sorted(set(terms))
                 if terms.count(term) > 1]
    if terms != sorted(terms):
        problems.append("the entries are not in alphabetical order")
    return problems


def coverage_problems(places: dict[str, list[str]],
                      entries: list[Entry]) -> list[str]:
    """Terms marked twice, missing from the glossary or linked to another place, and
    glossary links to a defining place that no chapter marks."""
    problems = []
    by_term = {entry.term.casefold(): entry for entry in entries}
    for term, documents in sorted(places.items()):
        if len(documents) > 1:
            problems.append(f"{term!r} is marked as defined {len(documents)} times, "
                            f"in {', '.join(documents)}")
        entry = by_term.get(term)
        if entry is None:
            problems.append(f"{term!r}, defined in {documents[0]}, is not in the "
                            "glossary")
        elif entry.label and entry.label != label_for(term):
            problems.append(f"the glossary links {term!r} to {entry.label!r}, not "
                            f"to {label_for(term)!r}, where {documents[0]} defines "
                            "it")
    for entry in entries:
        marked = entry.term.casefold() in places
        if entry.label.startswith(LABEL_PREFIX) and not marked:
            problems.append(f"the glossary links {entry.term!r} to {entry.label!r}, "
                            f"but no chapter marks {entry.term!r} with {{dfn}}")
    return problems


class PageScan(HTMLParser):
    """An HTML page's ids (with the tag that carries each) and its glossary: the
    number of terms and the links in their definitions."""

    def __init__(self, html: str):
        super().__init__()
        self.ids: dict[str, str] = {}
        self.terms = 0
        self.links: list[str] = []
        self._glossary_depth = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if "id" in attrs:
            self.ids[attrs["id"]] = tag
        if tag == "dl" and (self._glossary_depth or "glossary" in classes):
            self._glossary_depth += 1
        elif self._glossary_depth and tag == "dt":
            self.terms += 1
        elif self._glossary_depth and tag == "a" and "headerlink" not in classes:
            self.links.append(attrs.get("href", ""))

    def handle_endtag(self, tag):
        if tag == "dl" and self._glossary_depth:
            self._glossary_depth -= 1


def dead_links(page: Path) -> list[str]:
    """The glossary links of an HTML page whose file or #id does not exist; a link to
    a defining place must land on the <dfn> itself."""
    dead = []
    scans: dict[Path, PageScan] = {}
    for link in PageScan(page.read_text(encoding="utf-8")).links:
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if "://" in link or not target.is_file():
            dead.append(f"{link}: no such page in the book")
            continue
        if target not in scans:
            scans[target] = PageScan(target.read_text(encoding="utf-8"))
        tag = scans[target].ids.get(anchor) if anchor else "page"
        if tag is None:
            dead.append(f"{link}: {target.name} has no id {anchor!r}")
        elif anchor.startswith(LABEL_PREFIX) and tag != "dfn":
            dead.append(f"{link}: lands on a <{tag}>, not on the defined term")
    return dead


def the_glossary() -> list[Entry]:
    return glossary_entries((ROOT / f"{GLOSSARY}.md").read_text(encoding="utf-8"))


# --- From the sources, no build --------------------------------------------------

def test_the_glossary_is_back_matter_before_the_bibliography():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    back = [c["file"] for c in toc["parts"][-1]["chapters"]]
    assert toc["parts"][-1]["caption"] == "Back matter"
    assert back.index(GLOSSARY) < back.index("book/bibliography")


def test_every_entry_has_a_vietnamese_term_a_meaning_and_a_link():
    entries = the_glossary()
    assert len(entries) >= 80
    assert entry_problems(entries) == []


def test_every_defined_term_is_in_the_glossary_linked_to_where_it_is_defined():
    places = defining_places(book_markdown())
    assert len(places) >= 80
    assert coverage_problems(places, the_glossary()) == []


def test_the_source_checks_catch_missing_terms_wrong_links_and_missing_parts():
    documents = {"book/a": "A {dfn}`foo` and {dfn}`bars <bar>`, then {dfn}`baz`.",
                 "book/b": "{dfn}`Baz` again."}
    glossary = ("```{glossary}\n"
                "bar\n  *thanh* — A bar. → {ref}`dfn-foo`\n\n"
                "qux\n  A qux, in English only. → {ref}`dfn-qux`\n\n"
                "baz\n  *baz* — A baz.\n"
                "```\n")
    entries = glossary_entries(glossary)
    assert [entry.term for entry in entries] == ["bar", "qux", "baz"]
    assert entry_problems(entries) == [
        "'qux' has no Vietnamese term (in *italics*)",
        "'baz' has no link {ref}`label` at its end",
        "the entries are not in alphabetical order"]
    assert coverage_problems(defining_places(documents), entries) == [
        "the glossary links 'bar' to 'dfn-foo', not to 'dfn-bar', where book/a "
        "defines it",
        "'baz' is marked as defined 2 times, in book/a, book/b",
        "'foo', defined in book/a, is not in the glossary",
        "the glossary links 'qux' to 'dfn-qux', but no chapter marks 'qux' with "
        "{dfn}"]


# --- In the built book ----------------------------------------------------------

def test_every_glossary_link_lands_in_the_built_book(built_book):
    page = built_book / f"{GLOSSARY}.html"
    scan = PageScan(page.read_text(encoding="utf-8"))
    entries = the_glossary()
    assert scan.terms == len(entries) and len(scan.links) == len(entries)
    assert dead_links(page) == []


def test_the_link_check_catches_a_missing_page_id_and_defined_term(tmp_path):
    (tmp_path / "chapter.html").write_text(
        '<p><dfn id="dfn-foo">foo</dfn> <span id="dfn-bar">bar</span></p>'
        '<section id="sec-baz"></section>', encoding="utf-8")
    links = ["chapter.html#dfn-foo", "chapter.html#sec-baz", "chapter.html#dfn-bar",
             "chapter.html#gone", "missing.html#dfn-foo", "https://example.org/"]
    (tmp_path / "glossary.html").write_text(
        '<dl class="simple glossary">' + "".join(
            f'<dt id="term-{i}">t<a class="headerlink" href="#term-{i}">#</a></dt>'
            f'<dd><p>v — m → <a class="reference internal" href="{link}">x</a>'
            '</p></dd>'
            for i, link in enumerate(links)) + "</dl>", encoding="utf-8")
    assert dead_links(tmp_path / "glossary.html") == [
        "chapter.html#dfn-bar: lands on a <span>, not on the defined term",
        "chapter.html#gone: chapter.html has no id 'gone'",
        "missing.html#dfn-foo: no such page in the book",
        "https://example.org/: no such page in the book"]
