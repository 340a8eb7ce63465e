"""An author–year bibliography, to match the author–year citations.

The text cites "Kingma and Ba [2015]"; with pybtex's ``plain`` style the
bibliography would list the same work as "[7]".  This registers the pybtex
style ``author_year_plain``: ``plain``'s entries and order (by author, year,
title) under labels such as "Kingma and Ba, 2015" or "Duchi et al., 2011".
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from string import ascii_lowercase

import latexcodec  # noqa: F401  (registers the "ulatex" codec that pybtex uses too)
from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle

STYLE = "author_year_plain"


def plain_text(latex: str) -> str:
    """"{\\'E}cole" → "École": LaTeX accents decoded, braces dropped."""
    return re.sub(r"[{}]", "", codecs.decode(latex, "ulatex"))


def surname(person) -> str:
    return plain_text(" ".join(person.prelast_names + person.last_names))


def author_year(entry) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [surname(person) for person in people]
    if not names:
        who = plain_text(entry.fields.get("organization", entry.fields.get("title", "?")))
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    """"Author, year"; works with the same label get "a", "b", … after the year."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year(entry) for entry in entries]
        repeated = Counter(labels)
        seen: Counter = Counter()
        for label in labels:
            if repeated[label] > 1:
                suffix = ascii_lowercase[seen[label]]
                seen[label] += 1
                label += suffix
            yield label


class AuthorYearStyle(PlainStyle):
    default_label_style = AuthorYearLabels


def setup(app):
    register_plugin("pybtex.style.formatting", STYLE, AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
