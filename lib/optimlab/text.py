"""Tiny Shakespeare: the character-level corpus of the language-model race.

The file is ``<data root>/tinyshakespeare/input.txt``, 1,115,394 characters of
Shakespeare's plays, byte-identical to ``data/tinyshakespeare/input.txt`` of
Karpathy's char-rnn repository (md5 :data:`SHAKESPEARE_MD5`).  When it is
missing, :func:`load_shakespeare` downloads it from there through a temporary
name and keeps it only if its md5 is right; offline machines copy it with
``python -m optimlab.data prepare --source ../shared/data``.

:func:`shakespeare_splits` cuts the text, in order, into 90% training, 5%
validation and 5% test characters (contiguous pieces: a random split of
characters would put the same lines in all three), encoded as integer ids of
the sorted set of characters.  :func:`random_windows` draws training batches,
:func:`evaluation_windows` cuts a split into non-overlapping windows.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import NamedTuple

import torch

from .data import TINYSHAKESPEARE_FILES, _resolve
from .datafiles import DataFileError, check_folders, check_md5

__all__ = ["SHAKESPEARE_URL", "SHAKESPEARE_MD5", "SHAKESPEARE_CHARACTERS", "CONTEXT",
           "WindowBatches",
           "load_shakespeare", "TextSplits", "shakespeare_splits", "random_windows",
           "evaluation_windows"]

#: Where the corpus is downloaded from when the data root lacks it.
SHAKESPEARE_URL = ("https://raw.githubusercontent.com/karpathy/char-rnn/master/"
                   "data/tinyshakespeare/input.txt")
#: The MD5 of the corpus file; a download with another is not kept.
SHAKESPEARE_MD5 = TINYSHAKESPEARE_FILES["input.txt"]
#: The length of the corpus in characters.
SHAKESPEARE_CHARACTERS = 1_115_394
SHAKESPEARE_FILE = Path("tinyshakespeare") / "input.txt"
FRACTIONS = (0.90, 0.05, 0.05)          # train, validation, test
#: Characters a window holds: the context of the race's GPT.
CONTEXT = 64


def _download(url: str, target: Path, md5: str) -> None:
    """``url`` into ``target`` through a temporary file, kept only with the right md5."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                         suffix=".partial")
    try:
        digest = hashlib.md5()
        with urllib.request.urlopen(url, timeout=60) as response, \
                os.fdopen(handle, "wb") as writer:
            for block in iter(lambda: response.read(1 << 16), b""):
                digest.update(block)
                writer.write(block)
        if digest.hexdigest() != md5:
            raise DataFileError(f"{url} gave a file with md5 {digest.hexdigest()}, not "
                                f"{md5}: not kept")
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def load_shakespeare(root: str | os.PathLike | None = None, download: bool = True) -> str:
    """The whole corpus as one string, checked by md5 (downloaded when missing)."""
    if not isinstance(download, bool):
        raise ValueError(f"download must be True or False, got {download!r}")
    root = _resolve(root)
    path = root / SHAKESPEARE_FILE
    check_folders(root / SHAKESPEARE_FILE.parent)
    if not os.path.lexists(path):
        if not download:
            raise FileNotFoundError(
                f"tiny Shakespeare was not found at {path} (download=False). Copy it "
                f"with `python -m optimlab.data prepare --source <offline copies>` or "
                f"allow the download from {SHAKESPEARE_URL}")
        try:
            _download(SHAKESPEARE_URL, path, SHAKESPEARE_MD5)
        except OSError as error:
            raise FileNotFoundError(
                f"tiny Shakespeare was not found at {path} and could not be downloaded "
                f"from {SHAKESPEARE_URL} ({error}); on an offline machine run `python -m "
                f"optimlab.data prepare --source <folder with the offline copies>`") from None
    damage = check_md5(path, SHAKESPEARE_MD5)
    if damage:
        raise DataFileError(f"{damage}. Delete it: load_shakespeare() downloads it again.")
    return path.read_text(encoding="utf-8")


class TextSplits(NamedTuple):
    """Character ids (int64) of the three parts, and the characters the ids stand for."""

    train: torch.Tensor
    validation: torch.Tensor
    test: torch.Tensor
    characters: str

    def decode(self, ids) -> str:
        """The text of a sequence of character ids."""
        return "".join(self.characters[int(i)] for i in ids)

    def encode(self, text: str) -> torch.Tensor:
        """The character ids of ``text`` (int64); a ValueError naming the
        characters that the corpus lacks."""
        index = {c: i for i, c in enumerate(self.characters)}
        unknown = sorted(set(text) - set(index))
        if unknown:
            raise ValueError(f"text has characters outside the corpus: {unknown}")
        return torch.tensor([index[c] for c in text], dtype=torch.int64)


def shakespeare_splits(root: str | os.PathLike | None = None,
                       download: bool = True) -> TextSplits:
    """90% / 5% / 5% of the corpus, in order, as character ids."""
    text = load_shakespeare(root, download)
    characters = "".join(sorted(set(text)))
    index = {c: i for i, c in enumerate(characters)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.int64)
    first = int(FRACTIONS[0] * len(ids))
    second = first + int(FRACTIONS[1] * len(ids))
    return TextSplits(ids[:first], ids[first:second], ids[second:], characters)


def _check_window(ids: torch.Tensor, context: int) -> None:
    if isinstance(context, bool) or not isinstance(context, int) or context < 1:
        raise ValueError(f"context must be an int >= 1, got {context!r}")
    if ids.ndim != 1 or len(ids) < context + 1:
        raise ValueError(f"ids must be a 1-D tensor of more than context = {context} "
                         f"ids, got shape {tuple(ids.shape)}")


def random_windows(ids: torch.Tensor, batch: int, context: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` windows at random starts: inputs ``ids[s : s+context]`` and targets
    shifted by one, ``ids[s+1 : s+context+1]``, both ``[batch, context]``."""
    _check_window(ids, context)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be an int >= 1, got {batch!r}")
    starts = torch.randint(len(ids) - context, (batch,), generator=generator)
    offsets = torch.arange(context)
    inputs = ids[starts[:, None] + offsets]
    return inputs, ids[starts[:, None] + offsets + 1]


def evaluation_windows(ids: torch.Tensor, context: int,
                       windows: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The split cut into consecutive, non-overlapping windows (the first ``windows``
    of them, or all): inputs and next-character targets, ``[windows, context]``."""
    _check_window(ids, context)
    available = (len(ids) - 1) // context
    if windows is not None:
        if isinstance(windows, bool) or not isinstance(windows, int) or windows < 1:
            raise ValueError(f"windows must be an int >= 1 or None, got {windows!r}")
        available = min(available, windows)
    span = available * context
    return ids[:span].view(available, context), ids[1:span + 1].view(available, context)


class WindowBatches:
    """Batches of character windows with the interface of
    :class:`optimlab.augment.DeviceBatches`, for the experiment runner.

    Training (``random=True``): an epoch is ``len(self)`` batches of windows at random
    starts drawn from the epoch's generator, as many characters as the split holds.
    Evaluation (``random=False``): the split's consecutive windows, in order, through
    :meth:`batch`.  ``labels`` are the targets ``[windows, context]``.
    """

    def __init__(self, ids: torch.Tensor, context: int, batch_size: int, *,
                 random: bool, windows: int | None = None, device: str = "cpu"):
        _check_window(ids, context)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.device, self.context, self.batch_size = torch.device(device), context, batch_size
        self.random = random
        self.ids = ids
        inputs, targets = evaluation_windows(ids, context, windows)
        self.inputs, self.labels = inputs.to(self.device), targets.to(self.device)

    def __len__(self) -> int:
        return self.labels.shape[0] // self.batch_size

    def epoch(self, generator: torch.Generator):
        """``len(self)`` training batches (random windows) of inputs and targets."""
        if not self.random:
            raise ValueError("an evaluation split has no epochs; use batch()")
        for _ in range(len(self)):
            inputs, targets = random_windows(self.ids, self.batch_size, self.context,
                                             generator)
            yield inputs.to(self.device), targets.to(self.device)

    def batch(self, index: torch.Tensor, generator: torch.Generator | None = None):
        """The consecutive windows ``index``: inputs and targets."""
        return self.inputs[index], self.labels[index]
