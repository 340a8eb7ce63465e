"""Checks of the data files :mod:`optimlab.data` reads, and its safe copy.

Every check raises :class:`DataFileError` naming the file and saying why, never a
bare ``BadZipFile``, ``EOFError`` or ``ValueError`` from inside numpy or the zip
module: a truncated, empty, damaged or unreadable file, a folder where a file
belongs (or the reverse), or arrays of the wrong shape, dtype, label range or
number of images per class.  :func:`copy_verified` never leaves a partial or
wrong file under its final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import struct
import tempfile
from pathlib import Path

import numpy as np


class DataFileError(ValueError):
    """A data file or folder is there but cannot be used: truncated, damaged, not what
    it should hold, unreadable, or a folder where a file belongs (or the reverse).
    The message names it and says why."""


def md5sum(path: Path) -> str:
    """The MD5 digest of a file's bytes, in hexadecimal (read 1 MiB at a time)."""
    digest = hashlib.md5()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_folders(*folders: Path) -> None:
    """Each of ``folders`` must be a folder or not exist yet."""
    for folder in folders:
        if folder.exists() and not folder.is_dir():
            raise DataFileError(f"{folder} must be a folder, but it is a file")


def read_start(path: Path, size: int = 0) -> bytes:
    """The first ``size`` bytes of ``path``, which must be a readable regular file."""
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "a broken link or not a regular file"
        raise DataFileError(f"{path} must be a file, but it is {kind}")
    try:
        with open(path, "rb") as file:
            return file.read(size)
    except OSError as error:
        raise DataFileError(f"{path} cannot be read: {error.strerror or error}") from error


def check_md5(path: Path, md5: str) -> str | None:
    """Why ``path`` (which must exist) is not the file of this ``md5``, or None."""
    try:
        read_start(path)
        found = md5sum(path)
    except (DataFileError, OSError) as error:
        return str(error)
    return None if found == md5 else f"{path} has the wrong md5 {found} (expected {md5})"


def check_idx(path: Path, shape: tuple[int, ...], remedy: str) -> None:
    """``path`` must be an IDX file of uint8 data of ``shape``: header and size."""
    header = struct.pack(f">{len(shape) + 1}I", 0x800 + len(shape), *shape)
    start, size = read_start(path, len(header)), path.stat().st_size
    if size == 0:
        why = "it is empty"
    elif start != header:
        why = f"its header is not that of uint8 data of shape {shape}"
    elif size != len(header) + math.prod(shape):
        why = f"it has {size:,} bytes instead of {len(header) + math.prod(shape):,}"
    else:
        return
    raise DataFileError(f"{path} is truncated or damaged: {why}. {remedy}")


def check_images(images: np.ndarray, where: str, shape: tuple[int, ...],
                 counts: tuple[int, ...]) -> None:
    """``sum(counts)`` uint8 images of ``shape``."""
    expected = (sum(counts), *shape)
    if images.dtype != np.uint8 or images.shape != expected:
        raise DataFileError(f"{where} holds {images.dtype} images of shape {images.shape}, "
                            f"expected uint8 {expected}: it is damaged or another data set")


def check_labels(labels: np.ndarray, where: str, counts: tuple[int, ...]) -> None:
    """Integer labels, one per image, in 0 .. len(counts) - 1, ``counts`` per class."""
    if labels.dtype.kind not in "iu" or labels.shape != (sum(counts),):
        raise DataFileError(f"{where} holds {labels.dtype} labels of shape {labels.shape}, "
                            f"expected {sum(counts)} integer labels")
    if labels.min() < 0 or labels.max() >= len(counts):
        raise DataFileError(f"{where} holds labels from {labels.min()} to {labels.max()}, "
                            f"expected 0 to {len(counts) - 1}")
    found = np.bincount(labels.astype(np.int64), minlength=len(counts))
    if tuple(found.tolist()) != counts:
        raise DataFileError(f"{where} holds {found.tolist()} images per class, "
                            f"expected {list(counts)}")


def read_npz(path: Path, keys: tuple[str, ...], remedy: str) -> tuple[np.ndarray, ...]:
    """The arrays ``keys`` of the npz archive ``path``; any failure names the file."""
    read_start(path)
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataFileError(f"{path} is a single .npy array, not an npz archive. {remedy}")
        with loaded:
            absent = [key for key in keys if key not in loaded.files]
            if absent:
                raise DataFileError(f"{path} lacks the array(s) {', '.join(absent)} (it "
                                    f"holds: {', '.join(loaded.files) or 'none'}). {remedy}")
            return tuple(loaded[key] for key in keys)
    except DataFileError:
        raise
    except Exception as error:  # BadZipFile, EOFError, zlib.error, ValueError, OSError...
        raise DataFileError(f"{path} cannot be read as an npz archive, it is truncated or "
                            f"damaged ({type(error).__name__}: {error}). {remedy}") from error


def copy_verified(origin: Path, target: Path, md5: str) -> None:
    """Copy ``origin`` to ``target`` through a unique temporary name in the target's
    folder; only a copy whose md5 is ``md5`` is renamed into place (``os.replace``).
    Whatever happens (an error, Ctrl-C), no partial file is left behind, and a file
    already at ``target`` stays as it was unless the new copy replaces it whole."""
    read_start(origin)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                             suffix=".partial")
    except OSError as error:
        raise DataFileError(f"cannot write into {target.parent}: "
                            f"{error.strerror or error}") from error
    try:
        digest = hashlib.md5()
        with open(origin, "rb") as reader, os.fdopen(handle, "wb") as writer:
            for block in iter(lambda: reader.read(1 << 20), b""):
                digest.update(block)
                writer.write(block)
            writer.flush()
            os.fsync(writer.fileno())
        if digest.hexdigest() != md5:
            raise DataFileError(f"{origin} has the wrong md5 {digest.hexdigest()} "
                                f"(expected {md5}): not copied")
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
