"""Whether the ADOPT authors' ``torch-adopt`` can run on the installed torch."""

from __future__ import annotations

import warnings

import torch


def why_torch_adopt_cannot_step() -> str | None:
    """None if torch-adopt's ADOPT takes a step here, else why not (a skip reason).

    torch-adopt 0.1.0 calls ``Optimizer._cuda_graph_capture_health_check``, which
    torch 2.11 renamed ``_accelerator_graph_capture_health_check`` (later versions
    keep the old name as a deprecated alias): on 2.11 its step raises an
    AttributeError.  Found by trying a step, not by reading the version number.
    """
    import adopt

    param = torch.zeros(2, requires_grad=True)
    param.grad = torch.ones(2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its deprecated calls; the tests filter them
            adopt.ADOPT([param]).step()
    except AttributeError as error:
        return (f"torch-adopt cannot take a step on torch {torch.__version__} ({error}); "
                f"the comparisons with it need another torch")
    return None
