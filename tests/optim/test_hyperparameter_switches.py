"""A hyperparameter changed in a parameter group between steps: the run goes on as
torch.optim's does (which creates SGD's momentum buffer on its first use), state that
torch.optim would lack (AMSGrad's maximum switched on) starts at zero, and a change
the state cannot follow (AdaShift's queue length) is refused with a clear error."""

import pytest
import torch

import optimlab.optim as ours
from problems import make_params, set_gradients

SWITCH_AT, STEPS = 3, 8
#: (optimizer, kwargs at the start, changes after SWITCH_AT steps, torch.optim's state
#: entry that must be created at the switch for torch to go on, if any)
SWITCHES = [
    ("SGD", dict(lr=0.1), dict(momentum=0.9), None),
    ("SGD", dict(lr=0.1), dict(momentum=0.9, dampening=0.3), None),
    ("SGD", dict(lr=0.1, weight_decay=0.1), dict(momentum=0.9, nesterov=True), None),
    ("SGD", dict(lr=0.1, momentum=0.9), dict(nesterov=True), None),
    ("SGD", dict(lr=0.1, momentum=0.9), dict(momentum=0.0), None),
    ("Adam", dict(), dict(weight_decay=0.1), None),
    ("Adam", dict(weight_decay=0.1), dict(decoupled_weight_decay=True), None),
    ("Adam", dict(), dict(amsgrad=True), "max_exp_avg_sq"),
    ("AdamW", dict(), dict(amsgrad=True), "max_exp_avg_sq"),
    ("NAdam", dict(), dict(momentum_decay=0.01, weight_decay=0.1), None),
    ("RAdam", dict(), dict(decoupled_weight_decay=True, weight_decay=0.1), None),
    ("RMSprop", dict(), dict(centered=True), "grad_avg"),
    ("RMSprop", dict(), dict(momentum=0.9), "momentum_buffer"),
    ("Adagrad", dict(), dict(lr_decay=0.1), None),
    ("Adadelta", dict(), dict(rho=0.5), None),
]


def switched_run(optimizer_class, kwargs, changes, new_state=None, **options):
    """STEPS steps; ``changes`` go into the groups after SWITCH_AT of them (and, for
    torch.optim, the state entry ``new_state`` at zero, as ours creates it)."""
    params, generator = make_params(), torch.Generator().manual_seed(3)
    optimizer = optimizer_class(params, **kwargs, **options)
    for t in range(STEPS):
        if t == SWITCH_AT:
            for group in optimizer.param_groups:
                group.update(changes)
            for p in params if new_state else []:
                optimizer.state[p][new_state] = torch.zeros_like(p)
        set_gradients(params, generator)
        optimizer.step()
    return params


def case_id(case):
    return f"{case[0]}-{case[2]}"


@pytest.mark.parametrize("path", ["per-tensor", "multi-tensor"])
@pytest.mark.parametrize("case", SWITCHES, ids=case_id)
def test_a_switch_between_steps_goes_on_as_torch_does(case, path, float64_default):
    name, kwargs, changes, new_state = case
    mine = switched_run(getattr(ours, name), kwargs, changes,
                        foreach=path == "multi-tensor")
    theirs = switched_run(getattr(torch.optim, name), kwargs, changes, new_state,
                          foreach=False)
    for a, b in zip(mine, theirs):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", [SWITCHES[1], SWITCHES[7]], ids=case_id)
def test_a_switch_between_steps_on_the_compiled_path(case):
    name, kwargs, changes, _ = case
    eager = switched_run(getattr(ours, name), kwargs, changes, compiled=False)
    fused = switched_run(getattr(ours, name), kwargs, changes, compiled=True)
    for a, b in zip(eager, fused):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-13)


def test_ema_momentum_switched_on_starts_its_average_at_zero():
    """b_0 = 0 in the EMA convention: switched on, as if the run had started there."""
    p = torch.tensor([1.0], requires_grad=True)
    optimizer = ours.SGD([p], lr=0.5, convention="ema")
    p.grad = torch.tensor([2.0])
    optimizer.step()                                          # θ = 1 - 0.5·2 = 0
    optimizer.param_groups[0]["momentum"] = 0.75
    p.grad = torch.tensor([4.0])
    optimizer.step()                                          # b = 0.25·4 = 1, θ = -0.5
    assert p.item() == -0.5 and optimizer.state[p]["b"].item() == 1.0


REFUSED = [  # (optimizer, kwargs, changes, message)
    ("AdaShift", dict(keep_num=2), dict(keep_num=3),
     "has a queue of 2 past gradients, but keep_num is now 3"),
    ("AdaShift", dict(keep_num=2), dict(phi=None),
     "has a second moment made with phi='max', but phi is now None"),
    ("AdaShift", dict(keep_num=2, phi=None), dict(phi="max"),
     "has a second moment made with phi=None, but phi is now 'max'"),
    ("AMSGrad", dict(), dict(amsgrad=False), "amsgrad must be True in AMSGrad"),
    ("AdamW", dict(), dict(decoupled_weight_decay=False),
     "decoupled_weight_decay must be True in AdamW"),
    ("NAdam", dict(), dict(amsgrad=True), "amsgrad must be False in NAdam"),
    ("RAdam", dict(), dict(amsgrad=True), "amsgrad must be False in RAdam"),
    ("SGD", dict(momentum=0.9, nesterov=True), dict(momentum=0.0),
     "nesterov=True needs momentum > 0"),
    ("SGD", dict(momentum=0.9), dict(momentum=1.5), "momentum must be a finite number"),
    ("SGD", dict(), dict(convention="nag"), "convention must be one of"),
    ("RMSprop", dict(), dict(centered="yes"), "centered must be True, False or None"),
    ("Adafactor", dict(), dict(factored=False),
     "has a factored second moment, but factored is now False"),
]


@pytest.mark.parametrize("name, kwargs, changes, message", REFUSED,
                         ids=[f"{c[0]}-{c[2]}" for c in REFUSED])
def test_a_switch_the_optimizer_cannot_follow_is_refused(name, kwargs, changes, message):
    params, generator = make_params(), torch.Generator().manual_seed(3)
    optimizer = getattr(ours, name)(params, **kwargs)
    for _ in range(SWITCH_AT):
        set_gradients(params, generator)
        optimizer.step()
    optimizer.param_groups[0].update(changes)
    before = [p.detach().clone() for p in params]
    with pytest.raises((ValueError, TypeError), match=fr"^{name}: .*{message}"):
        optimizer.step()
    assert all(torch.equal(p, b) for p, b in zip(params, before))
