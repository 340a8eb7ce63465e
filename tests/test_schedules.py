import dataclasses
import io
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch.optim import lr_scheduler  # noqa: E402

from optimlab.plotting import plot_schedules  # noqa: E402
from optimlab.schedules import (  # noqa: E402
    Constant,
    Cosine,
    Exponential,
    InverseSqrt,
    InverseSqrtDecay,
    StepDecay,
    WarmupCosine,
)

SCHEDULES = [
    Constant(),
    StepDecay((50, 120, 200), 0.5),
    Exponential(0.99),
    Cosine(200, final=0.05),
    WarmupCosine(30, 250),
    InverseSqrt(40),
    InverseSqrtDecay(),
    InverseSqrtDecay(0.01),
]
every_schedule = pytest.mark.parametrize(
    "schedule", SCHEDULES, ids=repr)

COS_QUARTER = (1 + math.cos(math.pi / 4)) / 2        # 0.8535533905932737
COS_THREE_QUARTERS = (1 + math.cos(3 * math.pi / 4)) / 2  # 0.1464466094067262


def learning_rates(optimizer, scheduler, steps):
    """The lr of every param group used by each of ``steps`` updates."""
    rates = []
    for _ in range(steps):
        rates.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return np.array(rates)


def sgd(*base_lrs):
    """SGD with one parameter group per base lr, each with a fixed gradient."""
    groups = []
    for index, lr in enumerate(base_lrs):
        weight = torch.nn.Parameter(torch.zeros(3))
        weight.grad = torch.full((3,), index + 1.0)
        groups.append({"params": [weight], "lr": lr})
    return torch.optim.SGD(groups, momentum=0.9)


def torch_rates(make_scheduler, steps, base_lr=0.5):
    optimizer = sgd(base_lr)
    return learning_rates(optimizer, make_scheduler(optimizer), steps)[:, 0]


# --- values computed by hand from the formulas ------------------------------

@pytest.mark.parametrize("schedule, step, expected", [
    (Constant(), 0, 1.0),
    (Constant(), 10**6, 1.0),
    (StepDecay((2, 5), 0.5), 0, 1.0),
    (StepDecay((2, 5), 0.5), 1, 1.0),
    (StepDecay((2, 5), 0.5), 2, 0.5),
    (StepDecay((2, 5), 0.5), 4, 0.5),
    (StepDecay((2, 5), 0.5), 5, 0.25),
    (StepDecay((2, 5), 0.5), 1000, 0.25),
    (StepDecay(), 29, 1.0),
    (StepDecay(), 30, 0.1),
    (StepDecay(), 60, 0.01),
    (StepDecay(), 90, 0.001),
    (Exponential(0.5), 0, 1.0),
    (Exponential(0.5), 1, 0.5),
    (Exponential(0.5), 3, 0.125),
    (Exponential(1.0), 50, 1.0),
    (Cosine(4), 0, 1.0),
    (Cosine(4), 1, COS_QUARTER),
    (Cosine(4), 2, 0.5),
    (Cosine(4), 3, COS_THREE_QUARTERS),
    (Cosine(4), 4, 0.0),
    (Cosine(4), 10, 0.0),
    (Cosine(4, final=0.2), 2, 0.6),
    (Cosine(4, final=0.2), 4, 0.2),
    (Cosine(4, final=0.2), 9, 0.2),
    (WarmupCosine(4, 7), 0, 0.25),
    (WarmupCosine(4, 7), 1, 0.5),
    (WarmupCosine(4, 7), 2, 0.75),
    (WarmupCosine(4, 7), 3, 1.0),
    (WarmupCosine(4, 7), 4, COS_QUARTER),
    (WarmupCosine(4, 7), 5, 0.5),
    (WarmupCosine(4, 7), 6, COS_THREE_QUARTERS),
    (WarmupCosine(4, 7), 7, 0.0),
    (WarmupCosine(4, 7), 8, 0.0),
    (WarmupCosine(4, 7, final=0.2), 5, 0.6),
    (WarmupCosine(4, 7, final=0.2), 7, 0.2),
    (WarmupCosine(1, 4), 0, 1.0),
    (WarmupCosine(1, 4), 2, 0.5),
    (InverseSqrt(4), 0, 0.25),
    (InverseSqrt(4), 1, 0.5),
    (InverseSqrt(4), 3, 1.0),
    (InverseSqrt(4), 15, 0.5),
    (InverseSqrt(4), 99, 0.2),
    (InverseSqrtDecay(), 0, 1.0),
    (InverseSqrtDecay(), 3, 0.5),
    (InverseSqrtDecay(), 99, 0.1),
    (InverseSqrtDecay(0.01), 0, 1.0),
    (InverseSqrtDecay(0.01), 300, 0.5),
])
def test_hand_computed_values(schedule, step, expected):
    assert schedule(step) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert type(schedule(step)) is float


def test_warmup_of_one_step_is_plain_cosine():
    np.testing.assert_array_equal(WarmupCosine(1, 50, 0.1).factors(80),
                                  Cosine(50, 0.1).factors(80))


@pytest.mark.parametrize("schedule, label", [
    (Constant(), "constant"),
    (Cosine(100), "cosine (T=100)"),
    (Cosine(100, 0.1), "cosine (T=100, final=0.1)"),
    (InverseSqrt(4000), "inverse sqrt (W=4000)"),
])
def test_labels(schedule, label):
    assert schedule.label == label


def test_labels_tell_the_schedules_apart():
    assert len({s.label for s in SCHEDULES}) == len(SCHEDULES)


# --- agreement with torch's own schedulers ----------------------------------

def test_step_decay_matches_multistep_lr():
    ours = 0.5 * StepDecay((30, 60, 90), 0.1).factors(120)
    theirs = torch_rates(
        lambda opt: lr_scheduler.MultiStepLR(opt, [30, 60, 90], 0.1), 120)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def test_exponential_matches_exponential_lr():
    ours = 0.5 * Exponential(0.97).factors(300)
    theirs = torch_rates(lambda opt: lr_scheduler.ExponentialLR(opt, 0.97), 300)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


@pytest.mark.parametrize("total, final", [(10, 0.0), (100, 0.0), (1000, 0.1)])
def test_cosine_matches_cosine_annealing_lr(total, final):
    # torch's CosineAnnealingLR is recursive; its drift over 1000 steps stays
    # below 1e-15, so no extra tolerance is needed.  After T_max torch's
    # curve rises again (it is periodic), ours stays at `final`: compare
    # steps 0..total only.
    ours = 0.5 * Cosine(total, final).factors(total + 1)
    theirs = torch_rates(lambda opt: lr_scheduler.CosineAnnealingLR(
        opt, T_max=total, eta_min=final * 0.5), total + 1)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


@pytest.mark.parametrize("warmup, total, final",
                         [(2, 10, 0.0), (10, 100, 0.0), (25, 300, 0.2)])
def test_warmup_cosine_matches_linear_then_cosine(warmup, total, final):
    # LinearLR from 1/W to 1 over W - 1 steps gives (s + 1) / W; the cosine
    # takes over at its peak, step W - 1, and needs T - W + 1 steps to reach
    # `final` at step T.
    def make(opt):
        warm = lr_scheduler.LinearLR(opt, start_factor=1 / warmup,
                                     end_factor=1.0, total_iters=warmup - 1)
        decay = lr_scheduler.CosineAnnealingLR(
            opt, T_max=total - warmup + 1, eta_min=final * 0.5)
        return lr_scheduler.SequentialLR(opt, [warm, decay],
                                         milestones=[warmup - 1])

    ours = 0.5 * WarmupCosine(warmup, total, final).factors(total + 1)
    np.testing.assert_allclose(ours, torch_rates(make, total + 1),
                               rtol=0, atol=1e-12)


# --- the LambdaLR built by .scheduler() -------------------------------------

@every_schedule
def test_scheduler_scales_each_group_base_lr(schedule):
    optimizer = sgd(0.1, 0.03)
    rates = learning_rates(optimizer, schedule.scheduler(optimizer), 300)
    factors = schedule.factors(300)
    np.testing.assert_allclose(rates[:, 0], 0.1 * factors, rtol=1e-15, atol=0)
    np.testing.assert_allclose(rates[:, 1], 0.03 * factors, rtol=1e-15, atol=0)


def round_trip(state):
    """Through torch.save / torch.load, as a checkpoint would go."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@every_schedule
def test_resume_from_state_dicts_gives_the_uninterrupted_run(schedule):
    optimizer = sgd(0.1, 0.03)
    uninterrupted = learning_rates(optimizer, schedule.scheduler(optimizer), 100)
    final_weights = [g["params"][0].detach().clone() for g in optimizer.param_groups]

    first = sgd(0.1, 0.03)
    first_scheduler = schedule.scheduler(first)
    before = learning_rates(first, first_scheduler, 50)
    checkpoint = round_trip({"optimizer": first.state_dict(),
                             "scheduler": first_scheduler.state_dict()})

    # build both first, then load both: building a scheduler resets the lr
    second = sgd(0.1, 0.03)
    second_scheduler = schedule.scheduler(second)
    for fresh, old in zip(second.param_groups, first.param_groups):
        fresh["params"][0].data.copy_(old["params"][0])
    second.load_state_dict(checkpoint["optimizer"])
    second_scheduler.load_state_dict(checkpoint["scheduler"])
    after = learning_rates(second, second_scheduler, 50)

    np.testing.assert_array_equal(np.concatenate([before, after]), uninterrupted)
    for group, weight in zip(second.param_groups, final_weights):
        torch.testing.assert_close(group["params"][0].detach(), weight,
                                   rtol=0, atol=0)


def test_state_dict_saves_the_schedule_arguments():
    state = Cosine(100, 0.1).scheduler(sgd(0.1)).state_dict()
    assert state["lr_lambdas"] == [{"total": 100, "final": 0.1}]


def test_loading_another_schedule_leaves_the_original_unchanged():
    schedule = Cosine(50)
    scheduler = schedule.scheduler(sgd(1.0))
    scheduler.load_state_dict(Cosine(100).scheduler(sgd(1.0)).state_dict())
    # the saved schedule wins (LambdaLR's behaviour) ...
    assert scheduler.lr_lambdas[0](50) == pytest.approx(0.5)
    # ... but the frozen object the user holds is not modified
    assert schedule == Cosine(50)
    assert schedule(50) == 0.0


def test_schedules_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Cosine(100).total = 5


# --- factors() ---------------------------------------------------------------

@every_schedule
@pytest.mark.parametrize("steps", [0, 1, 257])
def test_factors_lists_the_first_steps(schedule, steps):
    factors = schedule.factors(steps)
    assert factors.shape == (steps,)
    assert factors.dtype == np.float64
    np.testing.assert_array_equal(factors, [schedule(i) for i in range(steps)])


# --- argument checks ---------------------------------------------------------

@pytest.mark.parametrize("make, name, shown", [
    (lambda: Cosine(0), "total", "0"),
    (lambda: Cosine(-5), "total", "-5"),
    (lambda: Cosine(100.0), "total", "100.0"),
    (lambda: Cosine(True), "total", "True"),
    (lambda: Cosine(10, final=1.0), "final", "1.0"),
    (lambda: Cosine(10, final=-0.1), "final", "-0.1"),
    (lambda: Cosine(10, final="0"), "final", "'0'"),
    (lambda: WarmupCosine(10, 10), "warmup", "10"),
    (lambda: WarmupCosine(20, 10), "warmup", "20"),
    (lambda: WarmupCosine(0, 10), "warmup", "0"),
    (lambda: WarmupCosine(-3, 10), "warmup", "-3"),
    (lambda: WarmupCosine(2.0, 10), "warmup", "2.0"),
    (lambda: WarmupCosine(2, 10.5), "total", "10.5"),
    (lambda: WarmupCosine(2, 10, final=1.5), "final", "1.5"),
    (lambda: Exponential(1.5), "gamma", "1.5"),
    (lambda: Exponential(0), "gamma", "0"),
    (lambda: Exponential(-0.5), "gamma", "-0.5"),
    (lambda: Exponential(float("nan")), "gamma", "nan"),
    (lambda: StepDecay(gamma=0.0), "gamma", "0.0"),
    (lambda: StepDecay(gamma=2.0), "gamma", "2.0"),
    (lambda: StepDecay((30, 30)), "milestones", "(30, 30)"),
    (lambda: StepDecay([60, 30]), "milestones", "(60, 30)"),
    (lambda: StepDecay((0, 30)), "milestones", "0"),
    (lambda: StepDecay((-10,)), "milestones", "-10"),
    (lambda: StepDecay((30.0, 60)), "milestones", "30.0"),
    (lambda: InverseSqrt(0), "warmup", "0"),
    (lambda: InverseSqrt(4.0), "warmup", "4.0"),
    (lambda: InverseSqrt(False), "warmup", "False"),
    (lambda: InverseSqrtDecay(0), "rate", "0"),
    (lambda: InverseSqrtDecay(-1.0), "rate", "-1.0"),
    (lambda: InverseSqrtDecay(float("inf")), "rate", "inf"),
    (lambda: Constant().factors(-1), "steps", "-1"),
    (lambda: Constant().factors(2.5), "steps", "2.5"),
    (lambda: Constant()(-1), "step", "-1"),
])
def test_bad_arguments_are_named_in_the_error(make, name, shown):
    with pytest.raises(ValueError) as error:
        make()
    message = str(error.value)
    assert name in message and shown in message, message


# --- plot_schedules ------------------------------------------------------------

@pytest.fixture
def close_figures():
    yield
    plt.close("all")


@pytest.mark.usefixtures("close_figures")
def test_plot_schedules_draws_base_lr_times_factors():
    schedules = [Cosine(40), WarmupCosine(5, 40, 0.1), StepDecay((10, 30), 0.5)]
    ax = plot_schedules(schedules, 50, base_lr=0.3, log_scale=True)
    lines = ax.get_lines()
    assert len(lines) == 3
    for line, schedule in zip(lines, schedules):
        np.testing.assert_array_equal(line.get_xdata(), np.arange(50))
        np.testing.assert_allclose(line.get_ydata(), 0.3 * schedule.factors(50),
                                   rtol=1e-15)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == \
        [s.label for s in schedules]
    assert ax.get_yscale() == "log"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("step", "learning rate")


@pytest.mark.usefixtures("close_figures")
def test_plot_schedules_takes_a_dict_and_an_axes():
    _, given = plt.subplots()
    ax = plot_schedules({"ours": InverseSqrt(10), "adopt": InverseSqrtDecay()},
                        30, ax=given)
    assert ax is given
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ours", "adopt"]
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(),
                                  InverseSqrtDecay().factors(30))
    assert ax.get_yscale() == "linear"
