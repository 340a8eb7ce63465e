"""Lion against lion-pytorch (the reference), by hand, on every path; where the
reference's conventions differ, a test pins the difference.

Lion's bad input, state dicts, groups and low precision are also tested with
every optimizer (test_bad_input.py, test_state_dicts.py, ...).
"""

import pytest
import torch
from lion_pytorch import Lion as TheirLion

from optimlab.optim import Lion
from problems import groups, make_params, max_relative_error, run, set_gradients
from test_bad_input import assert_same_non_finite_behaviour, poisoned_run
from test_hand_computed import G, THETA0, assert_path, trajectory

pytestmark = pytest.mark.usefixtures("float64_default")

TOLERANCE = 1e-10
PATHS = {"auto": dict(), "per-tensor": dict(foreach=False),
         "multi-tensor": dict(foreach=True), "compiled": dict(compiled=True)}
CASES = [dict(), dict(weight_decay=0.1), dict(betas=(0.8, 0.95), weight_decay=1.0),
         dict(betas=(0.0, 0.5))]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kwargs", CASES, ids=str)
def test_equals_lion_pytorch(kwargs, path):
    """100 steps, two groups, four shapes, a parameter without gradient every 7th."""
    second = dict(lr=3e-3, betas=(0.5, 0.9))
    mine = run(lambda p: Lion(groups(p, **second), lr=1e-2, **kwargs, **PATHS[path]))
    theirs = run(lambda p: TheirLion(groups(p, **second), lr=1e-2, **kwargs))
    assert max_relative_error(mine, theirs) < TOLERANCE


@pytest.mark.parametrize("weight_decay", [0.0, 0.5])
def test_by_hand(weight_decay):
    lr, beta1, beta2, theta, m, expected = 0.1, 0.9, 0.99, THETA0, 0.0, []
    for g in G:
        c = beta1 * m + (1 - beta1) * g                   # c_t
        sign = (c > 0) - (c < 0)
        theta -= lr * (sign + weight_decay * theta)       # θ_t
        m = beta2 * m + (1 - beta2) * g                   # m_t
        expected.append(theta)
    actual = trajectory(lambda p: Lion(p, lr=lr, weight_decay=weight_decay))
    assert_path(actual, expected)
    # g_2 = -2 against m_1 = 0.01: c_2 = 0.009 - 0.2 < 0, the step goes up.
    assert actual[1] > actual[0] + lr / 2


def test_every_step_has_the_size_of_the_learning_rate():
    """The sign forgets the gradient's scale: 1e-6 and 1e6 give the same steps."""
    for scale in (1e-6, 1.0, 1e6):
        path = trajectory(lambda p: Lion(p, lr=0.01), gradients=[scale] * 3)
        assert_path(path, [THETA0 - 0.01, THETA0 - 0.02, THETA0 - 0.03])


def scheduled_run(make_optimizer, schedule, steps=20):
    """problems.run, every parameter stepped, the lr multiplied by schedule(t)."""
    params, generator = make_params(), torch.Generator().manual_seed(1)
    optimizer = make_optimizer(params)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    for _ in range(steps):
        set_gradients(params, generator)
        optimizer.step()
        scheduler.step()
    return [p.detach() for p in params]


@pytest.mark.parametrize("schedule", [lambda t: 1.0, lambda t: 0.8**t],
                         ids=["constant", "decaying"])
def test_lion_pytorch_decoupled_decay_divides_by_the_first_lr(schedule):
    """lion-pytorch's decoupled_weight_decay=True decays by λ η_t/η_0: our
    weight_decay = λ/η_0, also under a schedule; it differs from weight_decay = λ."""
    lr, decay = 1e-2, 0.1
    theirs = scheduled_run(lambda p: TheirLion(
        p, lr=lr, weight_decay=decay, decoupled_weight_decay=True), schedule)
    same = scheduled_run(lambda p: Lion(p, lr=lr, weight_decay=decay / lr), schedule)
    plain = scheduled_run(lambda p: Lion(p, lr=lr, weight_decay=decay), schedule)
    assert max_relative_error(same, theirs) < TOLERANCE
    assert max_relative_error(plain, theirs) > 1e-3


@pytest.mark.parametrize("path", PATHS)
def test_nan_and_inf_gradients_behave_like_lion_pytorch(path):
    """torch.sign(NaN) = 0: the NaN entry takes no step and stays finite (its m is
    NaN); the infinite ones step by η. So Lion's parameters never show a NaN."""
    mine = poisoned_run(lambda p: Lion(p, lr=0.1, **PATHS[path]))
    theirs = poisoned_run(lambda p: TheirLion(p, lr=0.1))
    assert_same_non_finite_behaviour(mine, theirs)
    assert torch.isfinite(mine).all()
    unpoisoned = poisoned_run(lambda p: Lion(p, lr=0.1), steps=2)
    assert mine[1] == unpoisoned[1]                       # frozen since step 3


def test_the_state_is_one_moment():
    params = make_params()
    optimizer = Lion(params)
    set_gradients(params, torch.Generator().manual_seed(0))
    optimizer.step()
    for p in params:
        state = optimizer.state[p]
        assert sorted(state) == ["m", "step"] and state["m"].shape == p.shape


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(lr=-1e-4), ValueError, "lr must be a finite number >= 0, got -0.0001"),
    (dict(lr=True), TypeError, "lr must be a real number, got True"),
    (dict(betas=(1.0, 0.99)), ValueError,
     r"betas\[0\] \(beta1\) must be a finite number in \[0, 1\), got 1.0"),
    (dict(betas=(0.9, float("nan"))), ValueError,
     r"betas\[1\] \(beta2\) must be a finite number in \[0, 1\), got nan"),
    (dict(betas=0.9), ValueError, r"betas must be a pair \(beta1, beta2\), got 0.9"),
    (dict(weight_decay=-0.1), ValueError,
     "weight_decay must be a finite number >= 0, got -0.1"),
], ids=str)
def test_bad_hyperparameters_are_named(kwargs, error, message):
    with pytest.raises(error, match=f"^Lion: {message}"):
        Lion(make_params(), **kwargs)
