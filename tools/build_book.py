"""Build the HTML book into ``_build/html`` with every warning treated as an error.

    python tools/build_book.py

Used by ``make book`` and by the test suite, so both build the book the same way.
The build's whole log goes to ``_build/build.log``; the console gets only its
warnings and errors, and where the book is.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "_build" / "html"
LOG = ROOT / "_build" / "build.log"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PROBLEM = re.compile(r"WARNING|ERROR|Error|Exception|Traceback|CRITICAL")


def build(clean: bool = True) -> subprocess.CompletedProcess:
    """Run Jupyter Book; the result's ``returncode`` is non-zero on any warning.

    Its ``stdout`` and ``stderr`` come without colour codes."""
    if clean:
        shutil.rmtree(ROOT / "_build", ignore_errors=True)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", str(ROOT), "--warningiserror", "--keep-going"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    result.stdout, result.stderr = ANSI.sub("", result.stdout), ANSI.sub("", result.stderr)
    LOG.parent.mkdir(parents=True, exist_ok=True)
    LOG.write_text(result.stdout + result.stderr, encoding="utf-8")
    return result


def main() -> int:
    start = time.monotonic()
    result = build()
    seconds = time.monotonic() - start
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if PROBLEM.search(line)]
    for line in problems:
        print(line, file=sys.stderr)
    log = LOG.relative_to(ROOT)
    if result.returncode != 0:
        print(f"The book build failed after {seconds:.0f} s; the whole log is in {log}.",
              file=sys.stderr)
        return result.returncode
    pages = len(list(OUTPUT.rglob("*.html")))
    print(f"Built {pages} pages in {seconds:.0f} s (log: {log}).\n"
          f"The book is in {OUTPUT.relative_to(ROOT)}/: open "
          f"{(OUTPUT / 'index.html').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
