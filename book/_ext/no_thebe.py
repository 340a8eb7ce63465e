"""Leave Thebe out of the pages.

Jupyter Book always loads ``sphinx-thebe``, which writes its configuration
script into every page twice (a console error, "Identifier 'THEBE_JS_URL' has
already been declared") and names a CDN.  The book launches notebooks in Colab,
not Thebe, so its scripts, style sheet and per-page configuration are removed.
"""

from __future__ import annotations

from docutils import nodes


def _is_thebe(asset) -> bool:
    text = f"{getattr(asset, 'filename', '') or ''} {getattr(asset, 'attributes', {})}"
    return "thebe" in text.lower()


def drop_thebe_assets(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


def drop_thebe_config(app, doctree, docname) -> None:
    for node in list(doctree.findall(nodes.raw)):
        if "x-thebe-config" in node.astext() or "kernelName =" in node.astext():
            node.parent.remove(node)


def setup(app):
    app.connect("html-page-context", drop_thebe_assets, priority=900)
    app.connect("doctree-resolved", drop_thebe_config, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
