"""Every bad argument of a schedule gets an error that names it and says why.

Each case below once escaped as a bare ``TypeError`` / ``AttributeError`` /
``KeyError`` / ``OverflowError`` from inside Python, numpy or torch, or was
accepted silently; each must now raise ``ValueError`` (``TypeError`` for an
unknown keyword or too many arguments) whose message names the argument and
shows the value.
"""

import dataclasses
import itertools
import math
from decimal import Decimal

import numpy as np
import pytest
import torch

from optimlab.schedules import (
    Constant,
    Cosine,
    Exponential,
    InverseSqrt,
    InverseSqrtDecay,
    Schedule,
    StepDecay,
    WarmupCosine,
)

NAN, INF = math.nan, math.inf


def sgd():
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)


# --- numbers of the wrong type or value, per constructor argument ---------------

NOT_A_NUMBER = [None, "0.5", b"1", [0.5], (0.5,), {0.5}, 1j, Decimal("0.5"),
                torch.tensor(0.5), np.array([0.5]), True]
NOT_FINITE = [NAN, INF, -INF, 10**400, -10**400]
NOT_AN_INT = [None, "10", 10.5, 10.0, NAN, INF, 1j, [10], (10,), True, False,
              np.float64(10.0), torch.tensor(10.0)]


def _cases(make, name, values):
    return [pytest.param(make, name, value, id=f"{name}={value!r}") for value in values]


CONSTRUCTOR_CASES = [
    *_cases(lambda v: StepDecay(gamma=v), "gamma", NOT_A_NUMBER + NOT_FINITE + [0, 1.5, -0.1]),
    *_cases(lambda v: Exponential(v), "gamma", NOT_A_NUMBER + NOT_FINITE + [0, 1.01, -1]),
    *_cases(lambda v: Cosine(v), "total", NOT_AN_INT + [0, -1]),
    *_cases(lambda v: Cosine(10, final=v), "final", NOT_A_NUMBER + NOT_FINITE + [1.0, -0.5]),
    *_cases(lambda v: WarmupCosine(v, 100), "warmup", NOT_AN_INT + [0, -3, 100, 200]),
    *_cases(lambda v: WarmupCosine(5, v), "total", NOT_AN_INT + [1, 5, 3]),
    *_cases(lambda v: WarmupCosine(5, 100, v), "final",
            NOT_A_NUMBER + NOT_FINITE + [1.0, 2.0, -0.1]),
    *_cases(lambda v: InverseSqrt(v), "warmup", NOT_AN_INT + [0, -40]),
    *_cases(lambda v: InverseSqrtDecay(v), "rate", NOT_A_NUMBER + NOT_FINITE + [0, -1.0]),
    *_cases(lambda v: StepDecay(milestones=v), "milestones",
            [None, 30, 30.5, "30", "30,60", b"30", {30, 60}, {30: 1, 60: 2}, True,
             iter([30, 60]), itertools.count(30)]),
    *_cases(lambda v: StepDecay(milestones=[10, v]), "milestones[1]",
            [None, "60", 60.0, NAN, INF, [60], True, 0, -60]),
    *_cases(lambda v: StepDecay(milestones=v), "milestones",
            [(30, 30), (60, 30), np.array([60, 30]), range(10, 0, -1)]),
]


@pytest.mark.parametrize("make, name, value", CONSTRUCTOR_CASES)
def test_bad_constructor_argument_is_named(make, name, value):
    with pytest.raises(ValueError) as error:
        make(value)
    message = str(error.value)
    assert message.startswith(f"{name} must be") or f"{name}=" in message, message


# --- signature errors list the real arguments -----------------------------------

@pytest.mark.parametrize("make, wrong, arguments", [
    (lambda: Cosine(total_steps=10), "total_steps", "total, final"),
    (lambda: Cosine(10, eta_min=0.1), "eta_min", "total, final"),
    (lambda: StepDecay(milestone=(3,)), "milestone", "milestones, gamma"),
    (lambda: Exponential(decay=0.9), "decay", "gamma"),
    (lambda: WarmupCosine(warmup_steps=5, total=10), "warmup_steps", "warmup, total, final"),
    (lambda: InverseSqrt(warmup_steps=4000), "warmup_steps", "warmup"),
    (lambda: InverseSqrtDecay(gamma=0.5), "gamma", "rate"),
    (lambda: Constant(gamma=1.0), "gamma", "none"),
])
def test_unknown_keyword_lists_the_arguments(make, wrong, arguments):
    with pytest.raises(TypeError) as error:
        make()
    message = str(error.value)
    assert repr(wrong) in message and f"its arguments are: {arguments}" in message, message


@pytest.mark.parametrize("make, at_most", [
    (lambda: Constant(5), 0),
    (lambda: Cosine(10, 0.1, 5), 2),
    (lambda: Exponential(0.9, 0.1), 1),
    (lambda: WarmupCosine(1, 10, 0.0, 3), 3),
])
def test_too_many_arguments_says_how_many(make, at_most):
    with pytest.raises(TypeError, match=f"takes at most {at_most} argument"):
        make()


# --- calls: the step, factors(steps), scheduler(optimizer, last_epoch) -----------

EVERY_CLASS = [Constant(), StepDecay((3, 6), 0.5), Exponential(0.9), Cosine(10),
               WarmupCosine(2, 10), InverseSqrt(4), InverseSqrtDecay()]
every_class = pytest.mark.parametrize("schedule", EVERY_CLASS, ids=repr)


@every_class
@pytest.mark.parametrize("step", [2.5, 2.0, "3", None, True, -1, NAN, [3],
                                  np.float64(2), torch.tensor(2.0)], ids=repr)
def test_bad_step_is_named(schedule, step):
    with pytest.raises(ValueError, match=r"^step must be an int >= 0"):
        schedule(step)


@every_class
@pytest.mark.parametrize("steps", [2.5, "3", None, True, -1, INF], ids=repr)
def test_bad_number_of_steps_is_named(schedule, steps):
    with pytest.raises(ValueError, match=r"^steps must be an int >= 0"):
        schedule.factors(steps)


@every_class
@pytest.mark.parametrize("optimizer", ["sgd", None, 0.1, torch.nn.Linear(2, 2),
                                       [torch.zeros(2)], torch.optim.SGD], ids=repr)
def test_scheduler_needs_an_optimizer(schedule, optimizer):
    with pytest.raises(ValueError, match=r"^optimizer must be a torch.optim.Optimizer"):
        schedule.scheduler(optimizer)


@every_class
@pytest.mark.parametrize("last_epoch", [1.5, "0", None, -2, True, NAN], ids=repr)
def test_bad_last_epoch_is_named(schedule, last_epoch):
    with pytest.raises(ValueError, match=r"^last_epoch must be an int >= -1"):
        schedule.scheduler(sgd(), last_epoch)


@every_class
def test_resuming_without_initial_lr_says_how_to_resume(schedule):
    with pytest.raises(ValueError, match=r"last_epoch=5 .* 'initial_lr' .* state dict"):
        schedule.scheduler(sgd(), last_epoch=5)


# --- loading a scheduler state dict checks the saved arguments --------------------

@pytest.mark.parametrize("state, says", [
    ({"lr_lambdas": [{"milestones": (3, 6), "gamma": 0.5}]}, "has no argument 'milestones'"),
    ({"lr_lambdas": [{"total": 0, "final": 0.0}]}, "total must be an int >= 1, got 0"),
    ({"lr_lambdas": [{"total": 10, "final": NAN}]}, "final must be a finite number"),
    ({"lr_lambdas": [{"total": "10", "final": 0.0}]}, "total must be an int"),
    ({"lr_lambdas": ["Cosine(10)"]}, "must be a dict of Cosine's arguments"),
    ({"lr_lambdas": []}, "a list of 1 entries"),
    ({"last_epoch": 3}, "'lr_lambdas'"),
    (None, "state_dict must be a scheduler state dict"),
])
def test_loading_a_bad_state_dict_is_refused(state, says):
    schedule = Cosine(10)
    scheduler = schedule.scheduler(sgd())
    with pytest.raises(ValueError) as error:
        scheduler.load_state_dict(state)
    assert says in str(error.value), str(error.value)
    assert scheduler.lr_lambdas[0] == schedule  # nothing was loaded


def test_another_schedule_state_dict_is_refused():
    scheduler = StepDecay((3, 6), 0.5).scheduler(sgd())
    with pytest.raises(ValueError, match=r"StepDecay arguments: .*no argument 'total'"):
        scheduler.load_state_dict(Cosine(10).scheduler(sgd()).state_dict())


# --- a subclass whose factor is not a learning-rate factor ------------------------

@pytest.mark.parametrize("returned", [NAN, INF, -0.5, None, "1", True, 1j, 10**400,
                                      np.float64("nan"), torch.tensor(0.5)])
def test_a_bad_factor_of_a_subclass_is_caught(returned):
    @dataclasses.dataclass(frozen=True)
    class Broken(Schedule):
        def factor(self, step):
            return returned

    with pytest.raises(ValueError, match=r"Broken.factor\(3\) returned .* finite number >= 0"):
        Broken()(3)


# --- integer and real types other than int and float are fine -----------------------

@pytest.mark.parametrize("make, equal", [
    (lambda: Cosine(np.int64(10), np.float64(0.1)), Cosine(10, 0.1)),
    (lambda: Cosine(torch.tensor(10)), Cosine(10)),
    (lambda: WarmupCosine(np.int32(2), np.int16(10)), WarmupCosine(2, 10)),
    (lambda: StepDecay(np.array([30, 60]), np.float64(0.5)), StepDecay((30, 60), 0.5)),
    (lambda: StepDecay([30, 60], 0.5), StepDecay((30, 60), 0.5)),
    (lambda: StepDecay(range(30, 90, 30), 0.5), StepDecay((30, 60), 0.5)),
    (lambda: InverseSqrt(np.uint8(4)), InverseSqrt(4)),
    (lambda: InverseSqrtDecay(np.float32(0.5)), InverseSqrtDecay(0.5)),
])
def test_numpy_and_torch_numbers_are_accepted_as_ints_and_floats(make, equal):
    schedule = make()
    assert schedule == equal
    for field in dataclasses.fields(schedule):
        value = getattr(schedule, field.name)
        assert isinstance(value, (int, float, tuple)), (field.name, type(value))
    np.testing.assert_array_equal(schedule.factors(100), equal.factors(100))


@pytest.mark.parametrize("step", [np.int64(7), torch.tensor(7), 7])
def test_integer_steps_of_any_integer_type_work(step):
    assert Cosine(10)(step) == Cosine(10)(7)
