"""state_dict / load_state_dict: every optimizer resumes exactly (also through the
JSON of the experiments' checkpoints), and a state dict it cannot use -- another
optimizer's, torch.optim's, a damaged one -- is refused with an error that says
what is wrong, leaving the optimizer as it was."""

import copy
import json

import pytest
import torch

import optimlab.optim as ours
from problems import groups, make_params, set_gradients

SHAPES = [(4, 3), (7,), (2, 5)]
CASES = {  # every optimizer, with the options that give it all of its state
    "SGD": dict(momentum=0.9, weight_decay=0.01),
    "Adagrad": dict(lr_decay=0.01),
    "RMSprop": dict(centered=True, momentum=0.9),
    "Adadelta": dict(),
    "Adam": dict(),
    "AdamW": dict(),
    "AMSGrad": dict(),
    "NAdam": dict(),
    "RAdam": dict(),
    "ADOPT": dict(weight_decay=0.01),
    "AdaShift": dict(keep_num=2),
    "LAMB": dict(weight_decay=0.01),
    "LARS": dict(),
    "Lion": dict(weight_decay=0.01),
    "SGDScheduleFree": dict(weight_decay=0.01, warmup_steps=3),
    "AdamWScheduleFree": dict(weight_decay=0.01, warmup_steps=3),
    "Shampoo": dict(momentum=0.9, weight_decay=0.01),
    "SOAP": dict(precondition_1d=True, precondition_frequency=2),
    "Adafactor": dict(beta1=0.9, weight_decay=0.01),
}
TORCH_COUNTERPART = {"SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam",
                     "RAdam"}


def p():
    return torch.zeros(2, requires_grad=True)


def make(name, params, lr=2e-2):
    return getattr(ours, name)(groups(params, lr=lr), **CASES[name])


def train(optimizer, params, generator, steps):
    for _ in range(steps):
        set_gradients(params, generator)
        optimizer.step()


def trained(name, steps=4, seed=1):
    """(optimizer, params, generator) after ``steps`` steps."""
    params, generator = make_params(shapes=SHAPES), torch.Generator().manual_seed(seed)
    optimizer = make(name, params)
    train(optimizer, params, generator, steps)
    return optimizer, params, generator


def through_json(state_dict):
    """The state dict as the experiments' checkpoint keeps it: its tensors aside,
    everything else (hyperparameters, step counts, class name) through JSON."""
    numbers = {index: {k: v for k, v in entry.items() if not isinstance(v, torch.Tensor)}
               for index, entry in state_dict["state"].items()}
    plain = json.loads(json.dumps({**{k: v for k, v in state_dict.items() if k != "state"},
                                   "numbers": numbers}))
    state = {int(index): {**entry, **{k: v.clone() for k, v in
                                      state_dict["state"][int(index)].items()
                                      if isinstance(v, torch.Tensor)}}
             for index, entry in plain.pop("numbers").items()}
    return {**plain, "state": state}


# Round trips ------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["fresh optimizer", "same optimizer", "through JSON",
                                 "loaded twice"])
@pytest.mark.parametrize("name", CASES)
def test_a_resumed_run_equals_the_uninterrupted_one(name, how):
    optimizer, params, generator = trained(name, steps=10)   # the uninterrupted run

    resumed_optimizer, resumed, resumed_generator = trained(name, steps=5)
    saved = resumed_optimizer.state_dict()
    assert saved["optimizer"] == name
    if how == "through JSON":
        saved = through_json(saved)
        assert isinstance(saved["param_groups"][0].get("betas", []), list)
    if how != "same optimizer":
        resumed = [p.detach().clone().requires_grad_() for p in resumed]
        resumed_optimizer = make(name, resumed, lr=0.5)   # its lr comes from the state
    resumed_optimizer.load_state_dict(saved)
    if how == "loaded twice":   # what the first load made of the optimizer loads again
        resumed_optimizer.load_state_dict(resumed_optimizer.state_dict())
        assert sorted(resumed_optimizer.defaults) == sorted(make(name, [p()]).defaults)
    train(resumed_optimizer, resumed, resumed_generator, 5)
    assert all(torch.equal(a, b) for a, b in zip(params, resumed))


@pytest.mark.parametrize("name", CASES)
def test_a_deep_copy_steps_as_the_original(name):
    """copy.deepcopy and pickle go through __getstate__: ADOPT's clip_lambda too."""
    optimizer, params, generator = trained(name)
    twin = copy.deepcopy({"optimizer": optimizer, "params": params, "rng": generator})
    train(optimizer, params, generator, 3)
    train(twin["optimizer"], twin["params"], twin["rng"], 3)
    assert all(torch.equal(a, b) for a, b in zip(params, twin["params"]))


# Refused state dicts ------------------------------------------------------------------
def equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(equal, a, b))
    return a == b


def snapshot(optimizer):
    """What load_state_dict may replace: the group objects, their values, the state."""
    return ([id(group) for group in optimizer.param_groups],
            copy.deepcopy([{k: v for k, v in g.items() if k != "params"}
                           for g in optimizer.param_groups]),
            {id(p): {k: v.clone() if isinstance(v, torch.Tensor) else v
                     for k, v in state.items()} for p, state in optimizer.state.items()})


def torch_state_dict(name):
    """A torch.optim state dict for the same parameters and groups, after a step."""
    params = make_params(shapes=SHAPES)
    optimizer = getattr(torch.optim, name if name in TORCH_COUNTERPART else "Adam")(
        groups(params, lr=0.1))
    set_gradients(params, torch.Generator().manual_seed(0))
    optimizer.step()
    return optimizer.state_dict()


def another_class(name):
    """The state dict of another optimlab optimizer: Adam's into AMSGrad, AMSGrad's
    into Adam, Adam's into the others."""
    other = {"Adam": "AMSGrad"}.get(name, "Adam")
    return trained(other)[0].state_dict()


def required_key(optimizer):
    """A state entry the parameter cannot do without (m for Adam, step for SGD)."""
    entry = optimizer.state_dict()["state"][0]
    tensors = [k for k, v in entry.items() if isinstance(v, torch.Tensor)
               and k not in optimizer.optional_state]
    return tensors[0] if tensors else "step"


def first_tensor(entry):
    return next(k for k, v in entry.items() if isinstance(v, torch.Tensor))


def damage(change):
    """A function: the optimizer's own state dict, changed in place by
    ``change(state_dict, optimizer)``."""
    def damaged(optimizer):
        state_dict = copy.deepcopy(optimizer.state_dict())
        change(state_dict, optimizer)
        return state_dict
    return damaged


def put(*path, value):
    """A change of a state dict: the entry at ``path`` becomes ``value``, or
    ``value(old entry)`` when it is callable."""
    def change(state_dict, optimizer):
        *inner, last = [first_tensor(path_item(state_dict, path[:i])) if key is TENSOR
                        else key for i, key in enumerate(path)]
        target = path_item(state_dict, inner)
        target[last] = value(target[last]) if callable(value) else value
    return damage(change)


TENSOR = object()  # in a path: the entry's first tensor


def path_item(state_dict, path):
    for key in path:
        state_dict = state_dict[key]
    return state_dict


FAULTS = {  # id: (state dict for the optimizer, error, what the message says)
    "torch.optim's": (lambda o: torch_state_dict(type(o).__name__), ValueError,
                      r"no 'optimizer' entry.*torch.optim"),
    "another optimizer's": (lambda o: another_class(type(o).__name__), ValueError,
                            r"saved by (Adam|AMSGrad), not by"),
    "class entry removed": (damage(lambda sd, o: sd.pop("optimizer")), ValueError,
                            "no 'optimizer' entry"),
    "state entry missing": (damage(lambda sd, o: sd["state"][0].pop(required_key(o))),
                            ValueError, r"state of parameter 0: lacks"),
    "state of another shape": (put("state", 1, TENSOR, value=torch.zeros(8)), ValueError,
                               r"state of parameter 1: '\w+' has shape \(8,\)"),
    "integer state tensor": (put("state", 0, TENSOR, value=torch.Tensor.long), TypeError,
                             "must be a floating-point tensor, got torch.int64"),
    "step a tensor": (put("state", 0, "step", value=torch.tensor(4.0)), TypeError,
                      r"'step' must be an int >= 0"),
    "negative step": (put("state", 0, "step", value=-1), ValueError,
                      r"'step' must be an int >= 0, got -1"),
    "unknown state entry": (put("state", 0, "exp_avg", value=torch.zeros(4, 3)),
                            ValueError, "'exp_avg', which .* never creates"),
    "state of an unlisted parameter": (put("state", 7, value=torch.zeros(3)), ValueError,
                                       "parameter 7, which none of"),
    "negative lr": (put("param_groups", 1, "lr", value=-1), ValueError,
                    r"parameter group 1 of the state_dict: lr must be a finite number "
                    r">= 0, got -1"),
    "infinite lr": (put("param_groups", 0, "lr", value=float("inf")), ValueError,
                    r"group 0 of the state_dict: lr must be a finite number"),
    "torch.optim's maximize": (put("param_groups", 0, "maximize", value=True), ValueError,
                               "group 0 of the state_dict: maximize=True is an option "
                               "of torch.optim"),
    "hyperparameter missing": (damage(lambda sd, o: sd["param_groups"][0].pop(
        "weight_decay")), ValueError, r"lacks the hyperparameter\(s\) \['weight_decay'\]"),
    "one group more": (damage(lambda sd, o: sd["param_groups"].append(
        {**sd["param_groups"][0], "params": []})), ValueError,
        r"has 3 parameter group\(s\), the optimizer 2"),
    "a parameter fewer": (damage(lambda sd, o: sd["param_groups"][1]["params"].pop()),
                          ValueError, "has 0 parameter"),
    "a file name": (lambda o: "checkpoint.pt", TypeError, "read the file with torch.load"),
    "a whole checkpoint": (lambda o: {"model": {}, "optimizer": o.state_dict()},
                           ValueError, "whole checkpoint"),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", CASES)
def test_an_unusable_state_dict_is_refused_and_changes_nothing(name, fault):
    optimizer, params, generator = trained(name)
    twin, twin_params, twin_generator = trained(name)
    bad, error, message = FAULTS[fault]
    state_dict = bad(optimizer)
    before = snapshot(optimizer)
    with pytest.raises(error, match=fr"^{name}.load_state_dict: .*{message}"):
        optimizer.load_state_dict(state_dict)
    assert equal(snapshot(optimizer), before)
    train(optimizer, params, generator, 3)          # and it trains on as if never asked
    train(twin, twin_params, twin_generator, 3)
    assert all(torch.equal(a, b) for a, b in zip(params, twin_params))


# The wrappers ---------------------------------------------------------------------------
def lookahead(inner="Adam"):
    params = make_params(shapes=SHAPES)
    return ours.Lookahead(getattr(ours, inner)(groups(params, lr=0.1)), k=2), params


def sam(inner="Adam"):
    params = make_params(shapes=SHAPES)
    return ours.SAM(groups(params, lr=0.1), getattr(ours, inner), rho=0.1), params


def wrapper_step(wrapper, params, generator):
    set_gradients(params, generator)
    if isinstance(wrapper, ours.SAM):
        wrapper.step(lambda: set_gradients(params, generator))
    else:
        wrapper.step()


WRAPPER_FAULTS = {  # id: (make the saved state dict from a trained wrapper, message)
    "the inner optimizer's only": (lambda w, make: w.optimizer.state_dict(),
                                   "saved by Adam, not by"),
    "another inner optimizer": (lambda w, make: make("AMSGrad")[0].state_dict(),
                                "wraps AMSGrad, this .* wraps Adam"),
    "the other wrapper's": (lambda w, make: (sam if make is lookahead else lookahead)()[0]
                            .state_dict(), r"saved by (SAM|Lookahead), not by"),
    "inner lr negative": (lambda w, make: _with_inner_lr(w.state_dict(), -1.0),
                          "lr must be a finite number >= 0, got -1.0"),
    "torch.optim's": (lambda w, make: torch_state_dict("Adam"), "no 'optimizer' entry"),
}


def _with_inner_lr(state_dict, lr):
    state_dict["inner"]["param_groups"][0]["lr"] = lr
    return state_dict


@pytest.mark.parametrize("fault", WRAPPER_FAULTS)
@pytest.mark.parametrize("make_wrapper", [lookahead, sam], ids=["Lookahead", "SAM"])
def test_a_wrapper_refuses_an_unusable_state_dict_and_changes_nothing(make_wrapper, fault):
    wrapper, params = make_wrapper()
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        wrapper_step(wrapper, params, generator)
    saved, message = WRAPPER_FAULTS[fault]
    state_dict = saved(wrapper, make_wrapper)
    before = (snapshot(wrapper.optimizer), snapshot(wrapper))
    with pytest.raises(ValueError, match=message):
        wrapper.load_state_dict(state_dict)
    assert equal((snapshot(wrapper.optimizer), snapshot(wrapper)), before)


def test_lookahead_refuses_a_negative_count_of_fast_steps():
    wrapper, _ = lookahead()
    state_dict = wrapper.state_dict()
    state_dict["inner"]["param_groups"][0]["lookahead_step"] = -1
    with pytest.raises(ValueError, match="lookahead_step of parameter group 0 must be an "
                                         "int >= 0, got -1"):
        wrapper.load_state_dict(state_dict)


@pytest.mark.parametrize("make_wrapper", [lookahead, sam], ids=["Lookahead", "SAM"])
def test_a_wrapper_resumes_into_a_fresh_one_exactly(make_wrapper):
    def run(stop_at=None):
        wrapper, params = make_wrapper()
        generator = torch.Generator().manual_seed(0)
        for t in range(8):
            if t == stop_at:
                saved, weights = wrapper.state_dict(), [p.detach().clone() for p in params]
                wrapper, params = make_wrapper()   # fresh parameters, fresh wrapper
                with torch.no_grad():
                    for p, w in zip(params, weights):
                        p.copy_(w)
                wrapper.load_state_dict(saved)
            wrapper_step(wrapper, params, generator)
        return params

    assert all(torch.equal(a, b) for a, b in zip(run(), run(stop_at=3)))
