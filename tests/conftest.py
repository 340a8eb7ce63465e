"""Shared fixtures: repository paths and the notebook tools."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))  # tests/wrong_answers


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def built_book() -> Path:
    """The HTML book, built once per session with warnings as errors (its folder)."""
    from build_book import OUTPUT, build

    result = build()
    assert result.returncode == 0, "the book build failed or warned:\n" + \
        (result.stdout + result.stderr)[-6000:]
    return OUTPUT
