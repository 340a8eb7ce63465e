"""What every optimizer does (test_behaviour.py), for the two that its cases
cannot take: Muon (matrices only) and Adafactor (no foreach option).  Groups,
missing gradients, closures, dtypes, low precision, NaN gradients."""

import pytest
import torch

import optimlab.optim as ours
from kronecker_cases import one_thread  # noqa: F401 - tiny products: one thread
from problems import SHAPES, groups, make_params, set_gradients

CASES = {  # name: (shapes, options that use all of the state)
    "Muon": ([(4, 3), (5, 7), (6, 2), (1, 9)], dict(weight_decay=0.01)),
    "Adafactor": (SHAPES, dict(beta1=0.9, weight_decay=0.01)),
}
every = pytest.mark.parametrize("name", CASES)


def make(name, params):
    return getattr(ours, name)(groups(params, lr=3e-3), **CASES[name][1])


def params_of(name, dtype=torch.float64):
    return make_params(dtype=dtype, shapes=CASES[name][0])


def steps(optimizer, params, count, skip=None, seed=0):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(count):
        set_gradients(params, generator, skip=skip)
        optimizer.step()


@every
def test_each_group_uses_its_own_hyperparameters(name):
    params = params_of(name)
    before = [p.detach().clone() for p in params]
    optimizer = make(name, params)
    optimizer.param_groups[1]["lr"] = 0.0
    steps(optimizer, params, 5)
    assert not torch.equal(params[0], before[0])           # group 0 moves
    assert all(torch.equal(p, b) for p, b in zip(params[2:], before[2:]))


@every
def test_a_parameter_without_gradient_is_skipped(name):
    params = params_of(name)
    frozen = params[1].detach().clone()
    optimizer = make(name, params)
    steps(optimizer, params, 5, skip=1)
    assert torch.equal(params[1], frozen)
    assert params[1] not in optimizer.state and params[0] in optimizer.state


@every
def test_step_calls_the_closure_with_gradients_enabled(name):
    params = params_of(name)
    optimizer = make(name, params)
    calls = []

    def closure():
        assert torch.is_grad_enabled()
        optimizer.zero_grad()
        loss = sum((p**2).sum() for p in params)
        loss.backward()
        calls.append(loss.item())
        return loss

    for _ in range(4):
        with torch.no_grad():
            loss = optimizer.step(closure)
    assert len(calls) == 4 and loss.item() == calls[-1] < calls[0]


@every
def test_state_has_the_parameters_dtype(name):
    params = params_of(name, torch.float32)
    optimizer = make(name, params)
    steps(optimizer, params, 1)
    for state in optimizer.state.values():
        tensors = [v for v in state.values() if isinstance(v, torch.Tensor)]
        assert tensors and all(v.dtype == torch.float32 for v in tensors)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_a_low_precision_muon_step_is_the_float32_step_rounded_once(dtype):
    """(Adafactor: in test_low_precision.py.)"""
    params = params_of("Muon", dtype)
    optimizer = make("Muon", params)
    steps(optimizer, params, 3)
    wide = [p.detach().float().requires_grad_() for p in params]
    wide_optimizer = make("Muon", wide)
    wide_optimizer.load_state_dict(optimizer.state_dict())   # widens the state
    set_gradients(params, torch.Generator().manual_seed(9))
    for p, w in zip(params, wide):
        w.grad = p.grad.float()
    optimizer.step()
    wide_optimizer.step()
    assert all(torch.equal(p, w.detach().to(dtype)) for p, w in zip(params, wide))


def poisoned(make_optimizer, shape=(4, 6)):
    """Three steps; the second gradient has a NaN and an inf (entries 1 and 15)."""
    def ramp(start, end):
        return torch.linspace(start, end, 24, dtype=torch.float64).reshape(shape)

    p = ramp(-1, 1).requires_grad_()
    optimizer = make_optimizer([p])
    for t in range(3):
        p.grad = ramp(0.5, -0.7) + t
        if t == 1:
            p.grad.view(-1)[1], p.grad.view(-1)[15] = float("nan"), float("inf")
        optimizer.step()
    return p.detach()


def test_a_nan_gradient_makes_the_whole_matrix_nan_in_muon_as_in_torch():
    """NS mixes every entry with every other: nothing finite is left, in either."""
    assert torch.isnan(poisoned(lambda p: ours.Muon(p))).all()
    assert torch.isnan(poisoned(lambda p: torch.optim.Muon(p))).all()


def test_a_nan_gradient_makes_the_whole_tensor_nan_in_adafactor_not_in_torch():
    """A vector (a matrix's factors spread a NaN over it in both): RMS(U_t) is NaN,
    and here the clip spreads it over the tensor; torch's Python ``max(1.0, nan)``
    is 1.0, so its clip (and its α_t) ignore the NaN: only the two poisoned entries
    become NaN."""
    assert torch.isnan(poisoned(lambda p: ours.Adafactor(p), shape=(24,))).all()
    theirs = poisoned(lambda p: torch.optim.Adafactor(p, foreach=False), shape=(24,))
    assert torch.isnan(theirs).nonzero().flatten().tolist() == [1, 15]
