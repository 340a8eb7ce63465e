"""Writing a file so that no reader ever sees half of it, and no writer another's.

:func:`atomic_write` writes to a temporary file of its own in the target's folder
(a unique name per call, so two processes saving the same record never share one),
flushes it to disk and then renames it over the target with :func:`os.replace`,
which is atomic on POSIX and Windows.  An interruption (Ctrl-C, a full disk, a
crash) at any point leaves either the old file or the new one, never a mixture;
the temporary file is removed when the write fails.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, IO

__all__ = ["atomic_write", "atomic_write_text"]


def atomic_write(path, write: Callable[[IO[bytes]], None]) -> Path:
    """Create or replace ``path`` with what ``write(file)`` writes into a binary file.

    The folder is created when missing.  Errors (an unwritable folder, a full disk)
    propagate as :class:`OSError` naming ``path``; nothing is left behind but the
    previous ``path``, untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".partial")
    try:
        os.chmod(temporary, _mode_for(path))
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _mode_for(path: Path) -> int:
    """The permissions of the file replaced, or those a new file gets (not the
    owner-only ones of a temporary file)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_text(path, text: str) -> Path:
    """:func:`atomic_write` of a UTF-8 text."""
    return atomic_write(path, lambda file: file.write(text.encode("utf-8")))
