"""The optimizers on every torch that pyproject.toml allows (2.5 and later).

Where the package calls an API newer than its torch floor, it detects the API and
falls back; each test here takes the newer API away and checks the fallback: the
same numbers, or the eager update with a warning.  ``make test-minimum`` runs every
unit test on the real minimum versions (constraints-minimum.txt).
"""

import types

import pytest
import torch
import torch._dynamo

import optimlab.optim as ours
from optimlab.optim import compiled
from problems import groups, run
from torch_adopt_probe import why_torch_adopt_cannot_step

ADOPT_CASES = [dict(), dict(clip_lambda=None, weight_decay=0.1, decouple=True)]


@pytest.mark.parametrize("kwargs", ADOPT_CASES, ids=str)
def test_adopt_multi_tensor_path_without_foreach_rsqrt(kwargs, monkeypatch):
    """torch < 2.6 has no ``torch._foreach_rsqrt_``: ADOPT's multi-tensor path (the
    default on CUDA) then takes each tensor's rsqrt, the numbers of the real kernel."""
    def adopt(params):
        return ours.ADOPT(groups(params, lr=3e-3), foreach=True, **kwargs)

    with_kernel = run(adopt, steps=30)                  # where this torch has the kernel
    monkeypatch.delattr(torch, "_foreach_rsqrt_", raising=False)
    without_kernel = run(adopt, steps=30)
    assert all(torch.equal(a, b) for a, b in zip(without_kernel, with_kernel))


@pytest.mark.parametrize("settings", [["cache_size_limit"],                    # torch < 2.7
                                      ["recompile_limit", "cache_size_limit"]],
                         ids=["torch<2.7", "torch>=2.7"])
def test_compiled_call_runs_under_the_raised_recompile_limit(settings, monkeypatch):
    """dynamo's limit of compiled variants per function is ``recompile_limit`` since
    torch 2.7 and ``cache_size_limit`` before: the compiled call runs with it raised,
    and it is restored after the call."""
    config = types.SimpleNamespace(**{name: 8 for name in settings})
    monkeypatch.setattr(torch._dynamo, "config", config)
    seen = []

    def compiled_loop(params, grads, states, numbers):
        seen.append(getattr(config, settings[0]))

    monkeypatch.setattr(compiled, "_compiled", {compiled.sgd_momentum_kernel: compiled_loop})
    assert compiled.run(compiled.sgd_momentum_kernel, [], [], b=[], lr=0.1)
    assert seen == [compiled.RECOMPILE_LIMIT]
    assert vars(config) == {name: 8 for name in settings}


def without_recompile_limit(monkeypatch):
    """A dynamo config with neither name of the limit (a later rename)."""
    def never_called(*args):
        raise AssertionError("the compiled call ran although the limit could not be set")

    monkeypatch.setattr(compiled, "_compiled", {compiled.adam_kernel: never_called})
    monkeypatch.setattr(torch._dynamo, "config", types.SimpleNamespace())
    return r"AttributeError: .*cache_size_limit"


def without_torch_compile(monkeypatch):
    """torch.compile refuses to compile at all (torch 2.5 on Python 3.13 does)."""
    def refuse(*args, **kwargs):
        raise RuntimeError("Dynamo is not supported on Python 3.13+")

    monkeypatch.setattr(torch, "compile", refuse)
    return r"RuntimeError: Dynamo is not supported on Python 3\.13\+"


@pytest.mark.parametrize("fault", [without_recompile_limit, without_torch_compile],
                         ids=lambda fault: fault.__name__)
def test_a_torch_that_cannot_compile_gets_the_eager_update(fault, monkeypatch):
    """The optimizer warns once and runs its eager update, with the eager numbers,
    instead of failing at every step."""
    monkeypatch.setattr(compiled, "_compiled", {})
    monkeypatch.setattr(compiled, "_broken", set())
    error = fault(monkeypatch)
    with pytest.warns(RuntimeWarning, match="torch.compile of adam_kernel failed "
                                            rf"\({error}") as caught:
        fallback = run(lambda p: ours.Adam(groups(p, lr=3e-3), compiled=True), steps=20)
    assert len([w for w in caught if "adam_kernel" in str(w.message)]) == 1
    eager = run(lambda p: ours.Adam(groups(p, lr=3e-3), compiled=False), steps=20)
    assert all(torch.equal(a, b) for a, b in zip(fallback, eager))


def test_torch_adopt_is_skipped_where_its_step_fails(monkeypatch):
    """torch 2.11 has no ``Optimizer._cuda_graph_capture_health_check``, which
    torch-adopt 0.1.0 calls: the tests that compare with it are skipped, saying so."""
    monkeypatch.delattr(torch.optim.Optimizer, "_cuda_graph_capture_health_check",
                        raising=False)
    reason = why_torch_adopt_cannot_step()
    assert reason is not None
    assert "_cuda_graph_capture_health_check" in reason and torch.__version__ in reason


def test_torchs_no_cuda_runtime_notice_is_kept_out_of_the_output(caplog):
    """A CUDA build of torch on a CPU-only machine logs this when it first compiles;
    the notebooks' stored outputs must not depend on it (other warnings still pass)."""
    import logging

    from optimlab.optim import compiled  # noqa: F401 - installs the filter

    logger = logging.getLogger("torch.utils.cpp_extension")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        logger.warning("No CUDA runtime is found, using CUDA_HOME='/usr/local'")
        logger.warning("another warning")
    assert [r.getMessage() for r in caplog.records] == ["another warning"]
