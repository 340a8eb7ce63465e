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
