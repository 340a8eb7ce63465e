"""Parameters, parameter groups and steps that cannot work are refused with an error
that says why, before anything changes; hyperparameters changed between steps
work as in torch.optim, or are refused where they cannot."""

import copy

import pytest
import pytorch_optimizer
import torch

import optimlab.optim as ours
from problems import make_params

CASES = {  # every optimizer; AdaShift with a queue short enough to move in a test
    "SGD": dict(momentum=0.9), "Adagrad": {}, "RMSprop": dict(centered=True),
    "Adadelta": {}, "Adam": {}, "AdamW": {}, "AMSGrad": {}, "NAdam": {}, "RAdam": {},
    "ADOPT": {}, "AdaShift": dict(keep_num=2), "LAMB": {}, "LARS": {},
    "Lion": {}, "SGDScheduleFree": {}, "AdamWScheduleFree": {},
    "Shampoo": dict(momentum=0.5),
    "SOAP": {},  # no precondition_1d: the constant gradients give rank-1 statistics
    "Adafactor": {},
}


def make(name, params, **kwargs):
    return getattr(ours, name)(params, **{**CASES[name], **kwargs})


def stepped(name):
    """An optimizer over two parameters (one group), after one step."""
    params = [torch.linspace(-1, 1, 5, requires_grad=True), torch.ones(3, requires_grad=True)]
    optimizer = make(name, params)
    step(optimizer, params)
    return optimizer, params


def step(optimizer, params):
    for p in params:
        p.grad = torch.full_like(p, 0.5)
    optimizer.step()


def used_up(*tensors):
    """A generator that has already been read, as model.parameters() is once given
    to an optimizer."""
    generator = (t for t in tensors)
    list(generator)
    return generator


def hyperparameters(optimizer):
    return copy.deepcopy([{k: v for k, v in group.items() if k != "params"}
                          for group in optimizer.param_groups])


# add_param_group ------------------------------------------------------------------------
GROUP_FAULTS = {  # id: (the group, from group 0's params and a new one; error; message)
    "negative lr": (lambda old, new: {"params": [new], "lr": -1.0}, ValueError,
                    "lr must be a finite number >= 0, got -1.0"),
    "infinite lr": (lambda old, new: {"params": [new], "lr": float("inf")}, ValueError,
                    "lr must be a finite number >= 0, got inf"),
    "integer parameter": (lambda old, new: {"params": [new, torch.zeros(2, dtype=int)]},
                          TypeError, "parameter 1 of group 1 has dtype torch.int64"),
    "a parameter of group 0": (lambda old, new: {"params": [new, old[0]]}, ValueError,
                               "parameter 1 of group 1 is already in parameter group 0"),
    "a parameter twice": (lambda old, new: {"params": [new, new]}, ValueError,
                          "parameter 1 of group 1 is the same tensor as parameter 0"),
    "not a tensor": (lambda old, new: {"params": [new, 0.5]}, TypeError,
                     "parameter 1 of group 1 is a float, not a tensor"),
    "a non-leaf tensor": (lambda old, new: {"params": [new * 2]}, ValueError,
                          "parameter 0 of group 1 is not a leaf tensor"),
    "no params": (lambda old, new: {"lr": 0.1}, ValueError,
                  r"parameter group 1 has no 'params' \(its keys: \['lr'\]\)"),
    "a used-up generator": (lambda old, new: {"params": used_up(new)}, ValueError,
                            "params of parameter group 1 are empty.*used up"),
    "a set": (lambda old, new: {"params": {new}}, TypeError, "are a set"),
    "a misspelt hyperparameter": (lambda old, new: {"params": [new], "weight_decy": 0.1},
                                  ValueError, "'weight_decy' is not a hyperparameter of "
                                              "this optimizer; did you mean 'weight_decay'"),
    "torch.optim's maximize": (lambda old, new: {"params": [new], "maximize": True},
                               ValueError, "maximize=True is an option of torch.optim "
                                           "that this optimizer does not implement"),
    "not a dict": (lambda old, new: [new], TypeError, "must be a dict"),
}


@pytest.mark.parametrize("fault", GROUP_FAULTS)
@pytest.mark.parametrize("name", CASES)
def test_a_refused_group_leaves_the_optimizer_as_it_was(name, fault):
    optimizer, params = stepped(name)
    groups, values = list(optimizer.param_groups), hyperparameters(optimizer)
    new = torch.ones(4, requires_grad=True)
    group, error, message = GROUP_FAULTS[fault]
    with pytest.raises(error, match=fr"^{name}: .*{message}"):
        optimizer.add_param_group(group(params, new))
    assert len(optimizer.param_groups) == 1 and optimizer.param_groups[0] is groups[0]
    assert hyperparameters(optimizer) == values
    assert all(q is r for q, r in zip(groups[0]["params"], params))
    assert new not in optimizer.state
    optimizer.add_param_group({"params": [new], "lr": 0.1})   # the corrected group
    for _ in range(4):
        step(optimizer, params + [new])
    assert (new < 1).all()                                   # descends (no ascent)


@pytest.mark.parametrize("wrap", [lambda p: ours.Lookahead(ours.Adam(p)),
                                  lambda p: ours.SAM(p, ours.Adam)], ids=["Lookahead", "SAM"])
def test_a_wrapper_leaves_a_refused_group_out(wrap):
    params, new = make_params(shapes=[(3,)]), torch.ones(2, requires_grad=True)
    wrapper = wrap(params)
    with pytest.raises(ValueError, match="Adam: lr must be a finite number >= 0"):
        wrapper.add_param_group({"params": [new], "lr": -1.0})
    assert len(wrapper.param_groups) == 1 and wrapper.optimizer.param_groups is \
        wrapper.param_groups and new not in wrapper.state
    wrapper.add_param_group({"params": [new], "lr": 0.1})
    assert len(wrapper.param_groups) == 2


def test_a_wrapper_that_cannot_take_the_groups_leaves_its_inner_optimizer_intact():
    params = make_params(shapes=[(3,), (2,)])
    inner = ours.Adam([{"params": params[:1]}, {"params": params[1:]}])
    inner.param_groups[0]["lr"] = -1.0                      # spoiled by hand
    groups = list(inner.param_groups)
    with pytest.raises(ValueError, match="lr must be"):
        ours.Lookahead(inner)
    assert len(inner.param_groups) == 2
    assert all(a is b for a, b in zip(inner.param_groups, groups))


# The params argument ----------------------------------------------------------------------
def p(*shape):
    return torch.zeros(shape or (3,), requires_grad=True)


a, b = p(), p(2)
PARAMS_FAULTS = {  # id: (params, error, message)
    "a used-up generator": (lambda: used_up(a, b), ValueError, "params is empty.*used up"),
    "an empty list": (lambda: [], ValueError, "params is empty: there is nothing"),
    "a single tensor": (lambda: a, TypeError, r"got a single tensor; pass \[tensor\]"),
    "one dict": (lambda: {"params": [a]}, TypeError, r"got one dict.*pass \[group\]"),
    "a dict of named parameters": (lambda: {"w": a}, TypeError,
                                   r"named parameters go in as pairs: dict.items\(\)"),
    "a number": (lambda: 3, TypeError, "params must be an iterable .*, got int"),
    "a string in the list": (lambda: [a, "bias"], TypeError,
                             "parameter 1 of group 0 is a str, not a tensor"),
    "a group without params": (lambda: [{"lr": 0.1}], ValueError,
                               "parameter group 0 has no 'params'"),
    "the same tensor twice": (lambda: [a, b, a], ValueError,
                              "parameter 2 of group 0 is the same tensor as parameter 0"),
    "one tensor in two groups": (lambda: [{"params": [a]}, {"params": [b, a]}], ValueError,
                                 "parameter 1 of group 1 is already in parameter group 0"),
    "one generator for two groups": (
        lambda: (lambda g: [{"params": g}, {"params": g, "lr": 0.1}])(iter([a, b])),
        ValueError, "params of parameter group 1 are empty.*used up"),
}


@pytest.mark.parametrize("fault", PARAMS_FAULTS)
@pytest.mark.parametrize("name", list(CASES) + ["SAM"])
def test_unusable_params_are_refused_by_name(name, fault):
    params, error, message = PARAMS_FAULTS[fault]
    build = (lambda q: ours.SAM(q, ours.Adam)) if name == "SAM" else \
        (lambda q: make(name, q))
    with pytest.raises(error, match=fr"^{'Adam' if name == 'SAM' else name}: .*{message}"):
        build(params())


# Steps that cannot be taken ----------------------------------------------------------------
def closure_returning(value):
    return lambda: value


STEP_FAULTS = {  # id: (break the optimizer or its params -> the step's closure; error; msg)
    "closure not callable": (lambda o, ps: ps[0].sum(), TypeError,
                             r"closure must be a function .*got Tensor; without one, call "
                             r"loss.backward\(\)"),
    "closure returns a str": (lambda o, ps: closure_returning("0.5"), TypeError,
                              "closure must return the loss .*, got str"),
    "closure returns a tuple": (lambda o, ps: closure_returning((1.0, 2.0)), TypeError,
                                "closure must return the loss .*, got tuple"),
    "gradient of another dtype": (lambda o, ps: setattr(ps[0], "data", ps[0].data.double()),
                                  TypeError, "parameter 0 of group 0 is torch.float64 of "
                                             r"shape \(5,\) on cpu but its gradient is "
                                             "torch.float32"),
    "gradient of another shape": (lambda o, ps: setattr(ps[1], "data", torch.ones(2)),
                                  ValueError, r"parameter 1 of group 0 is torch.float32 of "
                                              r"shape \(2,\).*gradient is .* shape \(3,\)"),
    "state of another dtype": (lambda o, ps: _convert(ps[1], torch.float64), TypeError,
                               r"parameter 1 of group 0 is torch.float64 on cpu, but its "
                               r"state '\w+' is torch.float32.*converted or moved"),
}


def _convert(p, dtype):
    """What model.to(dtype) does to a parameter and its gradient."""
    p.data, p.grad = p.data.to(dtype), p.grad.to(dtype)


@pytest.mark.parametrize("fault", STEP_FAULTS)
@pytest.mark.parametrize("name", CASES)
def test_a_step_that_cannot_be_taken_is_refused_before_anything_moves(name, fault):
    optimizer, params = stepped(name)
    for q in params:
        q.grad = torch.full_like(q, 0.5)
    breaking, error, message = STEP_FAULTS[fault]
    closure = breaking(optimizer, params)
    before = [q.detach().clone() for q in params]
    with pytest.raises(error, match=fr"^{name}(.step)?: {message}"):
        optimizer.step(closure)
    assert all(torch.equal(q, w) for q, w in zip(params, before))


@pytest.mark.parametrize("name", CASES)
def test_a_converted_model_steps_again_once_the_state_is_reloaded(name):
    optimizer, params = stepped(name)
    for q in params:
        _convert(q, torch.float64)
    optimizer.load_state_dict(optimizer.state_dict())    # as the error message advises
    step(optimizer, params)
    assert all(v.dtype == torch.float64 for s in optimizer.state.values()
               for v in s.values() if isinstance(v, torch.Tensor))


@pytest.mark.parametrize("bound", [-1.0, 0, float("nan"), "1", None])
def test_adopt_refuses_a_clip_bound_that_is_not_a_positive_number(bound):
    params = [p()]
    optimizer = ours.ADOPT(params, clip_lambda=lambda t: bound)
    step(optimizer, params)                              # the initialising call: no clip
    before = params[0].detach().clone()
    with pytest.raises(ValueError, match=r"ADOPT: parameter 0 of group 0 got "
                                         fr"clip_lambda\(1\) = {bound!r}; clip_lambda must "
                                         r"return a number > 0"):
        step(optimizer, params)
    assert torch.equal(params[0], before)


def test_sam_returns_to_w_when_the_closure_fails():
    params = [torch.linspace(-1, 1, 4, requires_grad=True)]
    sam, before = ours.SAM(params, ours.SGD, rho=0.5), params[0].detach().clone()

    def closure():
        raise KeyboardInterrupt

    params[0].grad = torch.ones(4)
    with pytest.raises(KeyboardInterrupt):
        sam.step(closure)
    assert torch.equal(params[0], before) and not sam.state


@pytest.mark.parametrize("name, kwargs", [("Adam", {}), ("SGD", dict(momentum=0.9))])
def test_keys_that_name_no_hyperparameter_are_kept_as_in_torch_optim(name, kwargs):
    """A group's name, named parameters, a scheduler's keys (max_momentum beside SGD's
    momentum), Lookahead's count, a SAM's rho: none is refused, also when the groups
    are added again (Lookahead) or reloaded."""
    model = torch.nn.Linear(3, 2)
    optimizer = getattr(ours, name)([{"params": [model.weight], "name": "weight"}],
                                    lr=0.1, **kwargs)
    optimizer.add_param_group({"params": [model.bias], "name": "bias"})
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
    wrapper = ours.Lookahead(optimizer, k=2)
    for _ in range(3):
        model.zero_grad()
        model(torch.ones(1, 3)).sum().backward()
        wrapper.step()
        scheduler.step()
    wrapper.load_state_dict(wrapper.state_dict())
    assert [g["name"] for g in optimizer.param_groups] == ["weight", "bias"]
    assert {"initial_lr", "max_lr", "lookahead_step"} <= set(optimizer.param_groups[0])
    named = ours.SGD(model.named_parameters(), lr=0.1, momentum=0.9)
    named.load_state_dict(named.state_dict())
    assert named.param_groups[0]["param_names"] == ["weight", "bias"]
    sam = pytorch_optimizer.SAM(model.parameters(), getattr(ours, name), rho=0.1)
    assert sam.base_optimizer.param_groups[0]["rho"] == 0.1
