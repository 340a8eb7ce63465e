"""Serve MathJax 3 from the built book instead of a CDN.

The book must typeset its math with no network (CI, an offline reader, a
laptop on a train).  MathJax comes from the PyPI package ``django-static-mathjax``
(pure static files, no Django needed); this extension copies its ``es5``
bundle into ``_static/mathjax`` and points Sphinx's ``mathjax_path`` at it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

BUNDLE = "tex-mml-chtml.js"


def mathjax_es5() -> Path:
    try:
        import mathjax  # provided by django-static-mathjax
    except ImportError as error:  # pragma: no cover - a missing book extra
        raise RuntimeError(
            "MathJax is missing: install the book's dependencies with "
            "`pip install -e .[book]` (it brings django-static-mathjax)") from error
    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def use_local_mathjax(app, config) -> None:
    config.mathjax_path = f"mathjax/{BUNDLE}"  # relative to _static


def copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source = mathjax_es5()
    target = Path(app.outdir) / "_static" / "mathjax"
    # the other complete bundles (svg output, full, speech) are never loaded
    other_bundles = [p.name for p in source.glob("*.js") if p.name != BUNDLE]
    shutil.copytree(source, target, dirs_exist_ok=True,
                    ignore=lambda folder, names: other_bundles if Path(folder) == source else [])


def setup(app):
    app.connect("config-inited", use_local_mathjax, priority=900)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
