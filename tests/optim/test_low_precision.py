"""float16 and bfloat16 parameters: every path computes the update in float32 and
rounds once, so a zero gradient never becomes NaN through an underflowing ε or ε²
(ADOPT's authors' code stays finite there, and so must ADOPT), and the per-tensor,
multi-tensor and compiled paths agree on which entries are finite."""

import pytest
import torch

import optimlab.optim as ours

# torch-adopt 0.1.0 calls APIs that torch 2.14 deprecates.
pytestmark = [pytest.mark.filterwarnings("ignore:.*is_compiling.*:UserWarning"),
              pytest.mark.filterwarnings("ignore:.*graph_capture_health_check.*:Deprecation"
                                         "Warning")]

LOW = [torch.float16, torch.bfloat16]
EVERY = {  # every optimizer, with the options that use all of its state
    "SGD": dict(momentum=0.9), "Adagrad": {}, "RMSprop": dict(centered=True, momentum=0.5),
    "Adadelta": {}, "Adam": {}, "AdamW": {}, "AMSGrad": {}, "NAdam": {}, "RAdam": {},
    "ADOPT": {}, "AdaShift": dict(keep_num=2), "LAMB": {}, "LARS": {},
    "Lion": dict(weight_decay=0.1), "SGDScheduleFree": dict(weight_decay=0.1),
    "AdamWScheduleFree": dict(weight_decay=0.1),
    "SOAP": dict(precondition_1d=True),  # Shampoo: in test_shampoo.py (sums overflow)
    "Adafactor": dict(beta1=0.9),
}
REFERENCES = {"SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam", "RAdam"}
ONE_PATH = {"LAMB", "LARS",  # a norm per tensor: no multi-tensor path, no foreach option
            "SOAP",             # a matrix per tensor dimension: the same
            "Adafactor"}        # RMS of θ and of the update per tensor: the same


def gradient(t: int, dtype) -> torch.Tensor:
    """Zeros, entries whose square underflows in float16 (1e-5), entries whose
    square overflows it (300), and ordinary ones."""
    g = torch.randn(64, generator=torch.Generator().manual_seed(t)) * 1e-3
    g[:8], g[8:12], g[12:14] = 0.0, 1e-5, 300.0
    return g.to(dtype)


def run(make, dtype, steps=6):
    p = torch.linspace(-1, 1, 64).to(dtype).requires_grad_()
    optimizer = make([p])
    for t in range(steps):
        p.grad = gradient(t, dtype)
        optimizer.step()
    return p.detach()


def ours_on(name, path, **kwargs):
    options = {} if name in ONE_PATH else dict(foreach=path == "multi-tensor")
    if path == "compiled":
        options = dict(foreach=False, compiled=True)
    return lambda params: getattr(ours, name)(params, lr=0.01, **EVERY[name], **kwargs,
                                              **options)


@pytest.mark.parametrize("path", ["per-tensor", "multi-tensor", "compiled"])
@pytest.mark.parametrize("kwargs", [{}, dict(clip_lambda=None)], ids=str)
@pytest.mark.parametrize("dtype", LOW, ids=str)
def test_adopt_is_finite_where_the_authors_implementation_is(dtype, kwargs, path,
                                                             torch_adopt):
    mine = run(ours_on("ADOPT", path, **kwargs), dtype)
    theirs = run(lambda p: torch_adopt.ADOPT(p, lr=0.01, foreach=False, **kwargs), dtype)
    assert torch.isfinite(theirs).all() and torch.isfinite(mine).all()
    if kwargs:  # unclipped, a step g/ε where v underflowed: its rounding decides
        return
    # The same numbers, except where g² overflows float16 (g = 300): the reference's v
    # is inf there and its steps 0; ours are finite steps.
    kept = torch.ones(64, dtype=torch.bool)
    kept[12:14] = dtype != torch.float16
    torch.testing.assert_close(mine[kept], theirs[kept], rtol=0, atol=2e-2)


@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("name", [name for name in EVERY if name not in ONE_PATH])
def test_the_paths_agree_and_are_finite_where_torch_optim_is(name, dtype):
    results = [run(ours_on(name, path), dtype) for path in ("per-tensor", "multi-tensor")]
    assert torch.equal(torch.isfinite(results[0]), torch.isfinite(results[1]))
    torch.testing.assert_close(results[0], results[1], rtol=0, atol=1e-2)
    if name in REFERENCES:
        theirs = run(lambda p: getattr(torch.optim, name)(
            p, lr=0.01, foreach=False, **EVERY[name]), dtype)
        assert torch.isfinite(results[0])[torch.isfinite(theirs)].all()


@pytest.mark.parametrize("name, dtype", [("ADOPT", torch.float16), ("Adam", torch.float16),
                                         ("SGD", torch.float16), ("ADOPT", torch.bfloat16),
                                         ("Lion", torch.bfloat16),
                                         ("SGDScheduleFree", torch.float16),
                                         ("AdamWScheduleFree", torch.bfloat16)],
                         ids=str)
def test_the_compiled_path_agrees_with_the_eager_one(name, dtype):
    eager = run(ours_on(name, "per-tensor"), dtype)
    fused = run(ours_on(name, "compiled"), dtype)
    assert torch.equal(torch.isfinite(eager), torch.isfinite(fused))
    torch.testing.assert_close(eager, fused, rtol=0, atol=1e-2)


@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("name, path", [(name, path) for name in EVERY
                                        for path in ("per-tensor", "multi-tensor")
                                        if name not in ONE_PATH or path == "per-tensor"],
                         ids=str)
def test_a_low_precision_step_is_the_float32_step_rounded_once(name, path, dtype):
    """After three steps in ``dtype``, a fourth equals the same step taken in float32
    from the same (widened) parameters, gradient and state, then rounded."""
    params = [torch.linspace(-1, 1, 64).to(dtype).requires_grad_()]
    optimizer = ours_on(name, path)(params)
    for t in range(4):
        params[0].grad = gradient(t, dtype)
        if t == 3:
            wide = [params[0].detach().float().requires_grad_()]
            wide_optimizer = ours_on(name, path)(wide)
            wide_optimizer.load_state_dict(optimizer.state_dict())   # widens the state
            wide[0].grad = params[0].grad.float()
            wide_optimizer.step()
        optimizer.step()
    assert torch.equal(params[0], wide[0].detach().to(dtype))
    for key, value in optimizer.state[params[0]].items():
        wide_value = wide_optimizer.state[wide[0]][key]
        assert equal_rounded(value, wide_value), key


def equal_rounded(value, wide_value) -> bool:
    if isinstance(value, torch.Tensor):
        return torch.equal(value, wide_value.to(value.dtype))
    return value == wide_value


@pytest.mark.parametrize("compiled", [False, True])
def test_adopt_with_an_eps_whose_square_underflows_in_float32(compiled, torch_adopt):
    """ε = 1e-25: ε² is 0 in float32; a zero gradient must stay a zero step."""
    mine = run(lambda p: ours.ADOPT(p, lr=0.01, eps=1e-25, compiled=compiled),
               torch.float32)
    theirs = run(lambda p: torch_adopt.ADOPT(p, lr=0.01, eps=1e-25, foreach=False),
                 torch.float32)
    assert torch.isfinite(mine).all()
    torch.testing.assert_close(mine, theirs, rtol=1e-6, atol=1e-7)
