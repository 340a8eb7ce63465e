"""Where the book defines a term: the ``dfn`` role, with an anchor for the glossary.

A chapter marks the place where it defines a term with Sphinx's ``dfn`` role,
{dfn}`learning rate`, or, when the text uses another form of the term than the
glossary, with the glossary's form as an explicit key: {dfn}`epochs <epoch>`.
Sphinx's own role only sets the text in italics. This one renders
``<dfn class="dfn" id="dfn-learning-rate">`` and registers ``dfn-learning-rate``
as a label, titled with the chapter's title, so the glossary links to the place
with {ref}`dfn-learning-rate` and Sphinx checks every such link. A term marked
in two places is a build warning, that is an error in this book's build.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.util import logging
from sphinx.util.nodes import split_explicit_title

LABEL_PREFIX = "dfn-"
logger = logging.getLogger(__name__)


def term_and_key(text: str) -> tuple[str, str]:
    """What the page shows, and the glossary's term: "epochs <epoch>" gives
    ("epochs", "epoch"), "epoch" gives ("epoch", "epoch")."""
    _, shown, key = split_explicit_title(text)
    return shown, key


def label_for(key: str) -> str:
    """The label of the place that defines a term: "Newton's method" gives
    "dfn-newton-s-method"."""
    slug = re.sub(r"[^0-9a-z]+", "-", key.lower()).strip("-")
    if not slug:
        raise ValueError(f"the term {key!r} has no letter or digit to make a label")
    return LABEL_PREFIX + slug


class defining_term(nodes.emphasis):
    """The defining instance of a term; builders other than HTML show emphasis."""


def dfn_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    shown, key = term_and_key(nodes.unescape(text))
    node = defining_term(rawtext, shown, classes=["dfn"], ids=[label_for(key)])
    node["term"] = key
    return [node], []


def register_labels(app, doctree) -> None:
    """Make every defining place of this document a label titled with its chapter."""
    docname = app.env.docname
    chapter = doctree.next_node(nodes.section)
    title = chapter[0].astext() if chapter is not None else docname
    labels = app.env.get_domain("std").labels
    anonymous = app.env.get_domain("std").anonlabels
    for node in doctree.findall(defining_term):
        label = node["ids"][0]
        if label in anonymous:
            other = anonymous[label][0]
            logger.warning("the term %r is marked as defined twice (also in %s); "
                           "mark only the place that defines it", node["term"],
                           other, location=node)
            continue
        labels[label] = (docname, label, title)
        anonymous[label] = (docname, label)


def visit_defining_term(self, node) -> None:
    self.body.append(self.starttag(node, "dfn", ""))


def depart_defining_term(self, node) -> None:
    self.body.append("</dfn>")


def setup(app):
    app.add_node(defining_term, html=(visit_defining_term, depart_defining_term))
    app.add_role("dfn", dfn_role, override=True)
    app.connect("doctree-read", register_labels)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
