"""Fixtures for the optimizer tests."""

import pytest
import torch

from optimlab.optim import Optimizer

#: Small chunks, so that the tests' largest parameter (3001 elements) is cut in four.
TEST_CHUNK_SIZE = 1000


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(Optimizer, "chunk_size", TEST_CHUNK_SIZE)


@pytest.fixture
def float64_default():
    """Make float64 the default dtype: torch.optim keeps some scalars (NAdam's μ
    product) in the default dtype, and a float32 scalar would cost 1e-8 of accuracy."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)
