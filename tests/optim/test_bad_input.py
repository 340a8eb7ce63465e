"""Bad hyperparameters and bad tensors give an error that names the problem;
NaN and Inf gradients behave as in the reference implementation."""

import pytest
import torch

import optimlab.optim as ours

ADAPTIVE = ["Adam", "AdamW", "AMSGrad", "NAdam", "RAdam", "ADOPT", "AdaShift",
            "AdamWScheduleFree", "SOAP"]
EVERY = ["SGD", "Adagrad", "RMSprop", "Adadelta"] + ADAPTIVE + ["Lion", "SGDScheduleFree",
                                                                 "Shampoo", "Adafactor"]
WITH_EPS = ["Adagrad", "RMSprop", "Adadelta"] + ADAPTIVE + ["Shampoo"]

BAD = (
    [(name, "lr", -0.1) for name in EVERY]
    + [(name, "weight_decay", -1e-4) for name in EVERY]
    + [(name, "eps", bad) for name in WITH_EPS for bad in (0.0, -1e-8)]
    + [(name, "betas", bad) for name in ADAPTIVE
       for bad in ((1.0, 0.999), (0.9, 1.0), (-0.1, 0.999), (0.9, 1.5), (0.9,))]
    + [("SGD", "momentum", -0.5), ("SGD", "dampening", 1.0), ("SGD", "convention", "nag"),
       ("Adagrad", "lr_decay", -1.0), ("Adagrad", "initial_accumulator_value", -1.0),
       ("RMSprop", "alpha", 1.0), ("RMSprop", "momentum", -0.9), ("Adadelta", "rho", 1.5),
       ("NAdam", "momentum_decay", -1.0), ("AdaShift", "keep_num", 0),
       ("AdaShift", "phi", "mean"), ("Adam", "lr", float("nan"))]
)


def param():
    return torch.zeros(3, requires_grad=True)


@pytest.mark.parametrize("name, hyperparameter, value", BAD, ids=str)
def test_bad_hyperparameter_is_named_with_its_value(name, hyperparameter, value):
    with pytest.raises(ValueError) as error:
        getattr(ours, name)([param()], **{hyperparameter: value})
    message = str(error.value)
    assert hyperparameter in message and name in message
    assert str(offending(hyperparameter, value)) in message


def offending(hyperparameter, value):
    """The value the message must show: for betas, the bad one of the pair."""
    if hyperparameter != "betas" or len(value) != 2:
        return value
    return value[0] if not 0 <= value[0] < 1 else value[1]


@pytest.mark.parametrize("name", EVERY)
def test_bad_hyperparameter_in_a_later_group_is_caught(name):
    with pytest.raises(ValueError, match="lr must be a finite number >= 0, got -1"):
        getattr(ours, name)([{"params": [param()]}, {"params": [param()], "lr": -1}])


@pytest.mark.parametrize("hyperparameter, value", [("lr", "0.1"), ("keep_num", 2.0),
                                                   ("keep_num", True), ("lr", None)])
def test_wrong_type_is_a_type_error(hyperparameter, value):
    with pytest.raises(TypeError, match=hyperparameter):
        ours.AdaShift([param()], **{hyperparameter: value})


def test_nesterov_needs_momentum():
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        ours.SGD([param()], nesterov=True)


def test_clip_lambda_must_be_callable():
    with pytest.raises(TypeError, match="clip_lambda must be callable or None, got 0.25"):
        ours.ADOPT([param()], clip_lambda=0.25)


@pytest.mark.parametrize("name", EVERY)
def test_integer_parameter_is_a_type_error(name):
    with pytest.raises(TypeError, match="parameter 1 of group 0 has dtype torch.int64"):
        getattr(ours, name)([param(), torch.zeros(3, dtype=torch.int64)])


@pytest.mark.parametrize("name", EVERY)
def test_sparse_gradient_is_a_type_error(name):
    p = param()
    optimizer = getattr(ours, name)([p])
    p.grad = torch.zeros(3).to_sparse()
    with pytest.raises(TypeError, match="parameter 0 of group 0 has a sparse gradient"):
        optimizer.step()


TORCH_COUNTERPARTS = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam",
                      "RAdam"]


def poisoned_run(make_optimizer, steps=6):
    """Gradients with NaN in one entry and ±Inf in two others at step 3."""
    p = torch.linspace(-1, 1, 6, dtype=torch.float64).requires_grad_()
    optimizer = make_optimizer([p])
    for t in range(1, steps + 1):
        g = torch.linspace(0.5, -0.7, 6, dtype=torch.float64) * t
        if t == 3:
            g[1], g[3], g[4] = float("nan"), float("inf"), -float("inf")
        p.grad = g
        optimizer.step()
    return p.detach()


def assert_same_non_finite_behaviour(mine, theirs):
    assert torch.equal(torch.isnan(mine), torch.isnan(theirs))
    assert torch.equal(torch.isinf(mine), torch.isinf(theirs))
    finite = torch.isfinite(theirs)
    torch.testing.assert_close(mine[finite], theirs[finite], rtol=1e-12, atol=0)


NAN_CASES = [(name, {}) for name in TORCH_COUNTERPARTS] + [
    ("SGD", dict(momentum=0.9)), ("Adam", dict(amsgrad=True)), ("AdamW", dict(amsgrad=True))]


@pytest.mark.parametrize("name, kwargs", NAN_CASES, ids=str)
def test_nan_and_inf_gradients_behave_like_torch(name, kwargs, float64_default):
    mine = poisoned_run(lambda p: getattr(ours, name)(p, **kwargs))
    theirs = poisoned_run(lambda p: getattr(torch.optim, name)(p, foreach=False, **kwargs))
    assert_same_non_finite_behaviour(mine, theirs)
    assert not torch.isfinite(mine).all()  # the poison did reach the parameters


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
def test_nan_and_inf_gradients_behave_like_torch_adopt(torch_adopt):
    mine = poisoned_run(lambda p: ours.ADOPT(p, lr=0.1))
    theirs = poisoned_run(lambda p: torch_adopt.ADOPT(p, lr=0.1, foreach=False))
    assert_same_non_finite_behaviour(mine, theirs)
    assert not torch.isfinite(mine).all()


# Non-finite and out-of-range hyperparameters, for every optimizer -----------------
NUMERIC = {  # the numeric hyperparameters of each optimizer's __init__
    "SGD": ["lr", "momentum", "dampening", "weight_decay"],
    "Adagrad": ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"],
    "RMSprop": ["lr", "alpha", "eps", "weight_decay", "momentum"],
    "Adadelta": ["lr", "rho", "eps", "weight_decay"],
    "Adam": ["lr", "eps", "weight_decay"],
    "AdamW": ["lr", "eps", "weight_decay"],
    "AMSGrad": ["lr", "eps", "weight_decay"],
    "NAdam": ["lr", "eps", "weight_decay", "momentum_decay"],
    "RAdam": ["lr", "eps", "weight_decay"],
    "ADOPT": ["lr", "eps", "weight_decay"],
    "AdaShift": ["lr", "eps", "weight_decay"],
    "LAMB": ["lr", "eps", "weight_decay", "max_weight_norm"],
    "LARS": ["lr", "momentum", "weight_decay", "trust_coefficient"],
    "Lion": ["lr", "weight_decay"],
    "SGDScheduleFree": ["lr", "momentum", "weight_decay", "r", "weight_lr_power"],
    "AdamWScheduleFree": ["lr", "eps", "weight_decay", "r", "weight_lr_power"],
    "Shampoo": ["lr", "momentum", "weight_decay", "eps"],
    "SOAP": ["lr", "eps", "weight_decay", "shampoo_beta"],
    "Adafactor": ["lr", "beta2_decay", "d", "weight_decay", "beta1"],
}
NON_FINITE = [float("inf"), float("-inf"), float("nan")]
NON_FINITE_CASES = (
    [(name, hyperparameter, value) for name, names in NUMERIC.items()
     for hyperparameter in names for value in NON_FINITE]
    + [(name, "betas", pair) for name in ADAPTIVE + ["LAMB"] for value in NON_FINITE
       for pair in ((value, 0.999), (0.9, value))]
)


@pytest.mark.parametrize("name, hyperparameter, value", NON_FINITE_CASES, ids=str)
def test_non_finite_hyperparameter_is_refused(name, hyperparameter, value):
    with pytest.raises(ValueError) as error:
        getattr(ours, name)([param()], **{hyperparameter: value})
    bad = value if hyperparameter != "betas" else next(
        v for v in value if v != 0.9 and v != 0.999)
    message = str(error.value)
    assert name in message and hyperparameter in message and str(bad) in message
    assert "finite" in message


OUT_OF_RANGE = [  # (optimizer, kwargs, the bad one): torch.optim.SGD takes momentum=1.5
    ("SGD", dict(momentum=1.5), "momentum"), ("SGD", dict(momentum=1.0), "momentum"),
    ("SGD", dict(momentum=1.5, convention="ema"), "momentum"),
    ("SGD", dict(momentum=0.9, dampening=1.5), "dampening"),
    ("RMSprop", dict(momentum=1.5), "momentum"), ("RMSprop", dict(momentum=1.0), "momentum"),
    ("LARS", dict(momentum=1.5), "momentum"), ("Adadelta", dict(rho=1.0), "rho"),
    ("LAMB", dict(max_weight_norm=-1.0), "max_weight_norm"),
    ("LARS", dict(trust_coefficient=-1e-3), "trust_coefficient"),
    ("Adafactor", dict(beta2_decay=0.5), "beta2_decay"), ("Adafactor", dict(d=-1.0), "d"),
    ("Adafactor", dict(beta1=1.0), "beta1"),
]


@pytest.mark.parametrize("name, kwargs, hyperparameter", OUT_OF_RANGE, ids=str)
def test_out_of_range_hyperparameter_is_refused(name, kwargs, hyperparameter):
    value = kwargs[hyperparameter]
    with pytest.raises(ValueError, match=fr"{name}: {hyperparameter} must be a finite "
                                         fr"number .*, got {value}"):
        getattr(ours, name)([param()], **kwargs)


WRAPPED = {  # id: (build with a bad value, the hyperparameter)
    "Lookahead-alpha": (lambda v: ours.Lookahead(ours.Adam([param()]), alpha=v), "alpha"),
    "SAM-rho": (lambda v: ours.SAM([param()], ours.Adam, rho=v), "rho"),
    "SAM-perturb_eps": (lambda v: ours.SAM([param()], ours.Adam, perturb_eps=v),
                        "perturb_eps"),
    "SAM-inner-lr": (lambda v: ours.SAM([param()], ours.Adam, lr=v), "lr"),
}


@pytest.mark.parametrize("value", NON_FINITE, ids=str)
@pytest.mark.parametrize("case", WRAPPED)
def test_wrappers_refuse_non_finite_hyperparameters(case, value):
    build, hyperparameter = WRAPPED[case]
    with pytest.raises(ValueError, match=fr"{hyperparameter} must be a finite number"):
        build(value)


ALL = list(NUMERIC)


def stepped(name, **kwargs):
    """An optimizer of ``name`` over two parameters, after one step."""
    params = [torch.linspace(-1, 1, 5, requires_grad=True), torch.ones(3, requires_grad=True)]
    optimizer = getattr(ours, name)(params, **kwargs)
    for p in params:
        p.grad = torch.full_like(p, 0.5)
    optimizer.step()
    return optimizer, params


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("hyperparameter, value", [("lr", float("inf")), ("lr", -1.0),
                                                   ("weight_decay", float("nan"))])
def test_a_hyperparameter_spoiled_between_steps_is_refused_at_the_step(
        name, hyperparameter, value):
    optimizer, params = stepped(name)
    before = [p.detach().clone() for p in params]
    optimizer.param_groups[0][hyperparameter] = value      # a scheduler's or a hand's doing
    with pytest.raises(ValueError, match=fr"{name}: parameter group 0: {hyperparameter} "
                                         fr"must be a finite number >= 0"):
        optimizer.step()
    assert all(torch.equal(p, b) for p, b in zip(params, before))
