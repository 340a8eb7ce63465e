"""Fixtures for the optimizer tests."""

import pytest
import torch

from optimlab.optim import Optimizer
from torch_adopt_probe import why_torch_adopt_cannot_step

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


@pytest.fixture(scope="session")
def torch_adopt():
    """The ADOPT authors' ``torch-adopt`` (module ``adopt``); a test that uses it is
    skipped where torch-adopt's own step fails on this torch (torch 2.11: see
    :func:`torch_adopt_probe.why_torch_adopt_cannot_step`)."""
    import adopt

    reason = why_torch_adopt_cannot_step()
    if reason is not None:
        pytest.skip(reason)
    return adopt
