"""Maintain the book's chapter notebooks.

    python tools/notebooks.py setup-cells        # rewrite every chapter's setup cell
    python tools/notebooks.py execute [NAMES...]  # re-run chapters, store fresh outputs
    python tools/notebooks.py equations          # code names equations by number

The setup cell is generated from the repository URL in ``_config.yml`` (the one
place it is written).  ``execute`` runs each notebook top to bottom in a fresh
``python3`` kernel from ``book/`` and stores the outputs that the book shows and
nbval checks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
SETUP_TAG = "colab-setup"
SETUP_TAGS = [SETUP_TAG, "remove-cell"]  # the HTML book hides it; Colab shows it

SETUP_TEMPLATE = '''\
# Setup: on Google Colab, install the course package `optimlab` (Colab's own
# PyTorch is kept); anywhere else this cell does nothing.
import sys

if "google.colab" in sys.modules:
    repository = "{url}"
    %pip install --quiet "optimlab @ git+{{repository}}"'''


def repository_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"].rstrip("/")


def setup_cell_source() -> str:
    return SETUP_TEMPLATE.format(url=repository_url())


def toc_files() -> list[str]:
    """Every document in ``_toc.yml``, in reading order (paths without suffix)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            files.append(chapter["file"])
            files += [section["file"] for section in chapter.get("sections", [])]
    return files


#: Pages generated from the package's docstrings (``make api``), not written prose.
GENERATED = "book/api/"


def prose_files() -> list[str]:
    """The documents of :func:`toc_files` that are written prose (chapters and
    Markdown pages), without the generated reference under :data:`GENERATED`."""
    return [entry for entry in toc_files() if not entry.startswith(GENERATED)]


def chapter_notebooks() -> list[Path]:
    """The notebooks under ``book/`` (every chapter is one)."""
    return sorted(p for p in BOOK.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def set_setup_cell(notebook) -> bool:
    """Make the first cell the setup cell; returns True when something changed."""
    source = setup_cell_source()
    first = notebook.cells[0] if notebook.cells else None
    if first is not None and SETUP_TAG in first.get("metadata", {}).get("tags", []):
        if first.source == source and first.metadata["tags"] == SETUP_TAGS:
            return False
        first.source, first.metadata["tags"] = source, list(SETUP_TAGS)
        return True
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(SETUP_TAGS)})
    notebook.cells.insert(0, cell)
    return True


def normalise(notebook) -> None:
    """Plain ``python3`` kernelspec and no per-cell ids/timestamps noise."""
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3", "language": "python", "name": "python3"}
    notebook.metadata.pop("jupytext", None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)


def merge_streams(outputs: list) -> list:
    """Join consecutive writes to the same stream: how they are split depends on timing."""
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.output_type == "stream" and previous is not None
                and previous.output_type == "stream" and previous.name == output.name):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def execute(path: Path, timeout: int = 600) -> None:
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    set_setup_cell(notebook)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            record_timing=False)
    client.execute()
    normalise(notebook)
    nbformat.write(notebook, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup-cells", help="rewrite the setup cell of every chapter")
    run = commands.add_parser("execute", help="execute chapters and store their outputs")
    run.add_argument("names", nargs="*", help="notebook names (default: all)")
    commands.add_parser("equations", help="write equation numbers into the chapters' "
                                          "code (see tools/equations.py)")
    args = parser.parse_args(argv)

    if args.command == "equations":
        from equations import renumber

        for path in renumber(chapter_notebooks()):
            print(f"renumbered {path.relative_to(ROOT)} (re-execute it if a printed "
                  f"line names an equation)")
        return 0

    if args.command == "setup-cells":
        for path in chapter_notebooks():
            notebook = nbformat.read(path, as_version=4)
            if set_setup_cell(notebook):
                nbformat.write(notebook, path)
                print(f"updated {path.relative_to(ROOT)}")
        return 0

    paths = chapter_notebooks()
    if args.names:
        wanted = {Path(n).stem for n in args.names}
        paths = [p for p in paths if p.stem in wanted]
        missing = wanted - {p.stem for p in paths}
        if missing:
            parser.error(f"no chapter notebook named {', '.join(sorted(missing))}")
    for path in paths:
        print(f"executing {path.relative_to(ROOT)}", flush=True)
        execute(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
