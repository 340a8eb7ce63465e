"""What the tests of Shampoo and SOAP share: the shapes, per-tensor errors, and one
thread for their tiny matrices."""

import pytest
import torch

from problems import max_relative_error

NEVER = 10**9  # skip_every=NEVER: every parameter gets a gradient at every step
#: Every order, from a scalar to a convolution kernel.
SHAPES = [(4, 3), (7,), (2, 3, 5), (6, 5, 3, 3), ()]


def relative_errors(actual, expected) -> list[float]:
    """The largest relative error of each tensor."""
    return [max_relative_error([a], [e]) for a, e in zip(actual, expected)]


@pytest.fixture(autouse=True)
def one_thread():
    """The eigendecompositions and products of matrices of a few rows here run
    ten times faster on one thread than on two when the machine is busy (the
    threads wait for each other at every call)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
