"""Build the HTML book into ``_build/html`` with every warning treated as an error.

    python tools/build_book.py

Used by ``make book`` and by the test suite, so both build the book the same way.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "_build" / "html"


def build(clean: bool = True) -> subprocess.CompletedProcess:
    """Run Jupyter Book; the result's ``returncode`` is non-zero on any warning."""
    if clean:
        shutil.rmtree(ROOT / "_build", ignore_errors=True)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", str(ROOT), "--warningiserror", "--keep-going"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


def main() -> int:
    result = build()
    sys.stdout.write(result.stdout[-4000:])
    sys.stderr.write(result.stderr)
    if result.returncode == 0:
        print(f"\nThe book is in {OUTPUT.relative_to(ROOT)}/ (open index.html).")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
