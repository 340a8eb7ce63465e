"""Schedule-Free SGD and AdamW against the authors' schedulefree (the reference), by
hand from the paper's three sequences, on every path, with train() and eval();
where the reference's conventions differ, a test pins the difference.

Their bad input, state dicts, groups and low precision are also tested with every
optimizer (test_bad_input.py, test_state_dicts.py, ...).
"""

import copy
import math

import pytest
import schedulefree
import torch

from optimlab.optim import AdamWScheduleFree, SGDScheduleFree
from problems import (groups, make_params, max_relative_error, run, set_gradients,
                      train)
from test_bad_input import assert_same_non_finite_behaviour, poisoned_run
from test_hand_computed import G, THETA0, assert_path
from test_state_dicts import equal

pytestmark = pytest.mark.usefixtures("float64_default")

TOLERANCE = 1e-10
NEVER = 10**9  # skip_every=NEVER: every parameter gets a gradient at every step
OURS = {"SGDScheduleFree": SGDScheduleFree, "AdamWScheduleFree": AdamWScheduleFree}
PATHS = {"auto": dict(), "per-tensor": dict(foreach=False),
         "multi-tensor": dict(foreach=True), "compiled": dict(compiled=True)}


def reference(name, *args, **kwargs):
    """schedulefree's optimizer, put in train mode (it starts in eval mode)."""
    optimizer = getattr(schedulefree, name)(*args, **kwargs)
    optimizer.train()
    return optimizer


CASES = [
    ("SGDScheduleFree", dict(lr=0.1)),
    ("SGDScheduleFree", dict(lr=0.1, momentum=0.5, weight_decay=0.1)),
    ("SGDScheduleFree", dict(lr=0.1, warmup_steps=10, r=1.0)),
    ("SGDScheduleFree", dict(lr=0.1, warmup_steps=10, weight_lr_power=0.0)),
    ("AdamWScheduleFree", dict()),
    ("AdamWScheduleFree", dict(betas=(0.5, 0.99), eps=1e-6, weight_decay=0.1)),
    ("AdamWScheduleFree", dict(lr=0.01, warmup_steps=10, r=0.5,
                               weight_lr_power=1.0)),
]


def case_id(case):
    return case[0] + "".join(f"-{k}={v}" for k, v in case[1].items())


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_equals_schedulefree(case, path):
    """100 steps, two groups (the second with its own lr), four shapes."""
    name, kwargs = case
    mine = run(lambda p: OURS[name](groups(p, lr=3e-3), **kwargs, **PATHS[path]),
               skip_every=NEVER)
    theirs = run(lambda p: reference(name, groups(p, lr=3e-3), **kwargs),
                 skip_every=NEVER)
    assert max_relative_error(mine, theirs) < TOLERANCE


def switching_run(make_optimizer):
    """Steps with eval() and train() between them; the parameters after each
    eval()."""
    params, generator = make_params(), torch.Generator().manual_seed(1)
    optimizer = make_optimizer(params)
    seen = []
    for steps in (range(1, 31), range(31, 41), range(41, 46)):
        train(optimizer, params, generator, steps, skip_every=NEVER)
        optimizer.eval()
        optimizer.eval()                                   # a second one: no change
        seen.append([p.detach().clone() for p in params])
        optimizer.train()
        optimizer.train()
    return seen


@pytest.mark.parametrize("name", OURS)
def test_eval_and_train_move_the_parameters_as_the_reference(name):
    mine = switching_run(lambda p: OURS[name](groups(p, lr=3e-3), lr=0.05))
    theirs = switching_run(lambda p: reference(name, groups(p, lr=3e-3), lr=0.05))
    for at_x, their_x in zip(mine, theirs):
        assert max_relative_error(at_x, their_x) < TOLERANCE


# By hand: the paper's x, y and z ---------------------------------------------------
LR, WARMUP, LOWERED_AT = 0.2, 3, 6


def lr_factor(t):
    """A hand-made schedule on top of the warmup: the lr quartered from step 6."""
    return 0.25 if t >= LOWERED_AT else 1.0


def by_hand(beta, direction, weight_lr="max", r=0.0, power=2.0):
    """(y_2, ..., y_{T+1}, x_{T+1}) from the paper's sequences, for one number and
    the gradients G; ``direction(g, y, t)`` is u_t; the weights use η_max (the
    reference) or η_t (the paper)."""
    x = z = THETA0
    lr_max = weight_sum = 0.0
    path = []
    for t, g in enumerate(G, start=1):
        y = (1 - beta) * z + beta * x                     # y_t
        lr = LR * lr_factor(t) * min(1.0, t / WARMUP)     # η_t, with warmup
        lr_max = max(lr_max, lr)
        weight = t**r * (lr_max if weight_lr == "max" else lr) ** power   # w_t
        weight_sum += weight
        z = z - lr * direction(g, y, t)                   # z_{t+1} = z_t - η_t u_t
        c = weight / weight_sum                           # c_{t+1}
        x = (1 - c) * x + c * z                           # x_{t+1}
        path.append((1 - beta) * z + beta * x)            # y_{t+1}
    return path + [x]


def trajectory(optimizer_class, **kwargs):
    """Our (y_2, ..., y_{T+1}, x_{T+1}) on the same problem."""
    theta = torch.tensor([THETA0], dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_class([theta], lr=LR, warmup_steps=WARMUP, **kwargs)
    path = []
    for t, g in enumerate(G, start=1):
        optimizer.param_groups[0]["lr"] = LR * lr_factor(t)
        theta.grad = torch.tensor([g], dtype=torch.float64)
        optimizer.step()
        path.append(theta.item())
    optimizer.eval()
    return path + [theta.item()]


@pytest.mark.parametrize("r, power", [(0.0, 2.0), (1.0, 2.0), (0.5, 0.0)])
def test_sgd_by_hand(r, power):
    beta, decay = 0.8, 0.3
    expected = by_hand(beta, lambda g, y, t: g + decay * y, r=r, power=power)  # u_t
    actual = trajectory(SGDScheduleFree, momentum=beta, weight_decay=decay, r=r,
                        weight_lr_power=power)
    assert_path(actual, expected)


def test_adamw_by_hand():
    beta1, beta2, eps, decay, v = 0.8, 0.9, 1e-8, 0.3, [0.0]

    def direction(g, y, t):
        v[0] = beta2 * v[0] + (1 - beta2) * g * g        # v_t
        v_hat = v[0] / (1 - beta2**t)
        return g / (math.sqrt(v_hat) + eps) + decay * y   # u_t
    expected = by_hand(beta1, direction)
    actual = trajectory(AdamWScheduleFree, betas=(beta1, beta2), eps=eps,
                        weight_decay=decay)
    assert_path(actual, expected)


def test_the_weights_use_the_largest_lr_so_far_not_the_current_one():
    """The paper weighs z_{t+1} by η_t², the reference by max_i η_i²: the same
    until the lr is lowered (here at step 6), then x moves less with the paper."""
    beta = 0.8
    reference_weights = by_hand(beta, lambda g, y, t: g)
    paper_weights = by_hand(beta, lambda g, y, t: g, weight_lr="current")
    assert reference_weights[:LOWERED_AT - 1] == paper_weights[:LOWERED_AT - 1]
    assert abs(reference_weights[-1] - paper_weights[-1]) > 1e-2
    assert_path(trajectory(SGDScheduleFree, momentum=beta), reference_weights)


def test_with_a_constant_lr_x_is_the_plain_average_of_z():
    """c_{t+1} = 1/t: x_{T+1} = (z_2 + ... + z_{T+1}) / T, z_{t+1} = z_t - η g_t."""
    theta = torch.tensor([THETA0], dtype=torch.float64, requires_grad=True)
    optimizer = SGDScheduleFree([theta], lr=0.1)
    for g in G:
        theta.grad = torch.tensor([g], dtype=torch.float64)
        optimizer.step()
    optimizer.eval()
    zs = [THETA0 - 0.1 * sum(G[:t]) for t in range(1, len(G) + 1)]
    assert theta.item() == pytest.approx(sum(zs) / len(zs), rel=1e-12)


# train() and eval() ----------------------------------------------------------------
def stepped(name, steps=5):
    """An optimizer (two groups) and its parameters after ``steps`` steps."""
    params, generator = make_params(), torch.Generator().manual_seed(1)
    optimizer = OURS[name](groups(params, lr=3e-3), lr=0.05)
    train(optimizer, params, generator, range(1, steps + 1))
    return optimizer, params


def snapshot(optimizer, params):
    return ([p.detach().clone() for p in params],
            {id(p): {k: v.clone() if isinstance(v, torch.Tensor) else v
                     for k, v in s.items()} for p, s in optimizer.state.items()},
            [g["train_mode"] for g in optimizer.param_groups])


@pytest.mark.parametrize("name", OURS)
def test_a_step_in_eval_mode_is_refused_and_changes_nothing(name):
    optimizer, params = stepped(name)
    y = params[0].detach().clone()
    optimizer.eval()
    before = snapshot(optimizer, params)
    calls = []
    with pytest.raises(RuntimeError, match=fr"^{name}.step: parameter group 0 is in "
                                           r"eval mode: .*call optimizer.train\(\)"):
        optimizer.step(lambda: calls.append(1))
    assert equal(snapshot(optimizer, params), before) and not calls
    optimizer.train()
    optimizer.step()                                         # now it steps
    assert not torch.allclose(params[0], y)


@pytest.mark.parametrize("name", OURS)
def test_a_new_optimizer_steps_where_the_reference_waits_for_train(name):
    """schedulefree starts in eval mode and refuses steps until train(); here x = y
    before the first step, so a new optimizer is in train mode."""
    def first_step(optimizer_class):
        p = torch.ones(3, requires_grad=True)
        optimizer = optimizer_class([p])
        p.grad = torch.ones(3)
        optimizer.step()
        return p

    assert (first_step(OURS[name]) < 1).all()
    with pytest.raises(Exception, match="not in train mode"):
        first_step(getattr(schedulefree, name))


@pytest.mark.parametrize("name", OURS)
def test_eval_then_train_returns_to_y_up_to_rounding(name):
    optimizer, params = stepped(name, steps=20)
    y = [p.detach().clone() for p in params]
    z = [optimizer.state[p]["z"] for p in params]
    optimizer.eval()
    beta = optimizer.interpolation(optimizer.param_groups[0])
    x = params[0].detach().clone()
    torch.testing.assert_close(x, (y[0] - (1 - beta) * z[0]) / beta)
    assert not torch.allclose(x, y[0], rtol=1e-3)
    optimizer.train()
    for p, before in zip(params, y):
        torch.testing.assert_close(p.detach(), before, rtol=1e-14, atol=1e-15)


def test_eval_leaves_parameters_without_state_as_they_are():
    stepped_param = torch.ones(3, requires_grad=True)
    fresh = torch.ones(2, requires_grad=True)
    optimizer = SGDScheduleFree([stepped_param, fresh], lr=0.1)
    optimizer.eval()                                        # before any step: x = y
    assert torch.equal(stepped_param, torch.ones(3))
    optimizer.train()
    stepped_param.grad = torch.ones(3)
    optimizer.step()
    optimizer.eval()
    assert torch.equal(fresh, torch.ones(2)) and fresh not in optimizer.state
    assert not torch.equal(stepped_param, torch.ones(3))


def test_a_group_added_in_eval_mode_waits_for_train():
    optimizer, params = stepped("SGDScheduleFree")
    optimizer.eval()
    new = torch.ones(2, requires_grad=True)
    optimizer.add_param_group({"params": [new]})
    assert [g["train_mode"] for g in optimizer.param_groups] == [False, False, True]
    with pytest.raises(RuntimeError, match="parameter group 0 is in eval mode"):
        optimizer.step()
    optimizer.train()
    new.grad = torch.ones(2)
    optimizer.step()
    assert (new < 1).all()


@pytest.mark.parametrize("switch", ["eval", "train"])
def test_a_switch_with_a_spoiled_hyperparameter_is_refused(switch):
    optimizer, params = stepped("AdamWScheduleFree")
    if switch == "train":
        optimizer.eval()
    optimizer.param_groups[1]["betas"] = (0.0, 0.999)      # eval() would divide by 0
    before = snapshot(optimizer, params)
    with pytest.raises(ValueError, match=fr"^AdamWScheduleFree.{switch}: parameter "
                                         r"group 1: betas\[0\] \(beta1\) must be a "
                                         r"finite number > 0, got 0.0"):
        getattr(optimizer, switch)()
    assert equal(snapshot(optimizer, params), before)


@pytest.mark.parametrize("name", OURS)
def test_a_checkpoint_saved_in_eval_mode_resumes_exactly(name):
    """As the reference advises: eval(), save the model (x) and the optimizer; a
    fresh model and optimizer load both, train() and go on as the original."""
    def steps(optimizer, params, generator, count):
        train(optimizer, params, generator, range(1, count + 1), skip_every=NEVER)

    optimizer, params = stepped(name, steps=10)
    generator = torch.Generator().manual_seed(5)
    optimizer.eval()
    saved = copy.deepcopy(optimizer.state_dict())
    weights, rng = [p.detach().clone() for p in params], generator.get_state()
    optimizer.train()
    steps(optimizer, params, generator, 10)

    resumed = [w.clone().requires_grad_() for w in weights]
    twin = OURS[name](groups(resumed, lr=1.0), lr=1.0)   # lr: from the state
    twin.load_state_dict(saved)
    assert [g["train_mode"] for g in twin.param_groups] == [False, False]
    twin.train()
    generator.set_state(rng)
    steps(twin, resumed, generator, 10)
    assert all(torch.equal(a, b) for a, b in zip(params, resumed))


# Where the reference's conventions differ ------------------------------------------
@pytest.mark.parametrize("name", OURS)
def test_a_parameter_counts_only_its_own_steps(name):
    """Ours: a parameter that misses steps ends as if they had not happened (its
    steps alone give the same numbers). The reference counts the group's steps."""
    skipped = {3, 4, 9}

    def final(make, alone):
        params = make_params(shapes=[(5,), (4,)])
        generator = torch.Generator().manual_seed(2)
        optimizer = make(params[1:] if alone else params)
        for t in range(1, 16):
            set_gradients(params, generator, skip=1 if t in skipped else None)
            if not (alone and t in skipped):
                optimizer.step()
        return params[1].detach()

    kwargs = dict(lr=0.05, warmup_steps=4)
    assert torch.equal(final(lambda p: OURS[name](p, **kwargs), alone=False),
                       final(lambda p: OURS[name](p, **kwargs), alone=True))
    theirs = final(lambda p: reference(name, p, **kwargs), alone=False)
    theirs_alone = final(lambda p: reference(name, p, **kwargs), alone=True)
    assert max_relative_error([theirs], [theirs_alone]) > 1e-2
    assert max_relative_error([final(lambda p: OURS[name](p, **kwargs), alone=True)],
                              [theirs_alone]) < TOLERANCE


@pytest.mark.parametrize("name", OURS)
def test_the_gradients_are_left_as_they_are(name):
    """The reference overwrites p.grad with u_t (for SGD only with weight decay)."""
    def gradient_after_step(make):
        p = torch.linspace(-1, 1, 5).requires_grad_()
        p.grad = torch.full((5,), 0.5)
        make([p]).step()
        return p.grad

    given = torch.full((5,), 0.5)
    mine = gradient_after_step(lambda p: OURS[name](p, weight_decay=0.1))
    assert torch.equal(mine, given)
    theirs = gradient_after_step(lambda p: reference(name, p, weight_decay=0.1))
    assert not torch.equal(theirs, given)


def loss_at_x(make_optimizer, steps):
    """The problem's expected loss ½ Σ c_i θ_i² (problems.set_gradients) at x."""
    params, generator = make_params(), torch.Generator().manual_seed(1)
    optimizer = make_optimizer(params)
    train(optimizer, params, generator, range(1, steps + 1), skip_every=NEVER)
    optimizer.eval()
    return sum(0.5 * (0.5 + 0.1 * i) * (p.detach() ** 2).sum().item()
               for i, p in enumerate(params))


def test_the_papers_bias_correction_weighs_the_first_steps_less():
    """AdamWScheduleFreePaper puts sqrt(1 - β2^t) into η_t and so into the weights:
    x follows z sooner (lower loss after 100 steps: 115 against 204 from 1200), and
    averages fewer late steps (higher loss after 1000: 9.6 against 7.6)."""
    ours = {steps: loss_at_x(lambda p: AdamWScheduleFree(p, lr=0.03), steps)
            for steps in (100, 1000)}
    paper = {steps: loss_at_x(lambda p: reference("AdamWScheduleFreePaper", p,
                                                  lr=0.03), steps)
             for steps in (100, 1000)}
    default = loss_at_x(lambda p: reference("AdamWScheduleFree", p, lr=0.03), 1000)
    assert ours[1000] == pytest.approx(default, rel=1e-9)
    assert ours[100] == pytest.approx(204, abs=1)
    assert paper[100] == pytest.approx(115, abs=1)
    assert ours[1000] == pytest.approx(7.6, abs=0.1)
    assert paper[1000] == pytest.approx(9.6, abs=0.1)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", OURS)
def test_nan_and_inf_gradients_behave_like_the_reference(name, path):
    mine = poisoned_run(lambda p: OURS[name](p, lr=0.1, **PATHS[path]))
    theirs = poisoned_run(lambda p: reference(name, p, lr=0.1))
    assert_same_non_finite_behaviour(mine, theirs)
    assert not torch.isfinite(mine).all()


@pytest.mark.parametrize("name", OURS)
def test_a_schedule_on_top_equals_the_reference(name):
    """A scheduler's lr: 0 for two steps (every weight 0, so c = 0), then falling."""
    def scheduled(make):
        params, generator = make_params(), torch.Generator().manual_seed(1)
        optimizer = make(params)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda t: 0.0 if t < 2 else 1 / t)
        for _ in range(30):
            set_gradients(params, generator)
            optimizer.step()
            scheduler.step()
        return [p.detach() for p in params]

    mine = scheduled(lambda p: OURS[name](p, lr=0.05, warmup_steps=4))
    theirs = scheduled(lambda p: reference(name, p, lr=0.05, warmup_steps=4))
    assert max_relative_error(mine, theirs) < TOLERANCE


# Bad input -------------------------------------------------------------------------
BAD = [  # (optimizer, kwargs, error, message)
    ("SGDScheduleFree", dict(momentum=0.0), ValueError,
     "momentum must be a finite number > 0, got 0.0"),
    ("SGDScheduleFree", dict(momentum=1.0), ValueError,
     r"momentum must be a finite number in \[0, 1\), got 1.0"),
    ("AdamWScheduleFree", dict(betas=(0.0, 0.999)), ValueError,
     r"betas\[0\] \(beta1\) must be a finite number > 0, got 0.0"),
    ("AdamWScheduleFree", dict(warmup_steps=-1), ValueError,
     "warmup_steps must be >= 0, got -1"),
    ("SGDScheduleFree", dict(warmup_steps=2.5), TypeError,
     "warmup_steps must be an int, got 2.5"),
    ("SGDScheduleFree", dict(warmup_steps=True), TypeError,
     "warmup_steps must be an int, got True"),
    ("SGDScheduleFree", dict(r=-1.0), ValueError,
     "r must be a finite number >= 0, got -1.0"),
    ("AdamWScheduleFree", dict(weight_lr_power=-2), ValueError,
     "weight_lr_power must be a finite number >= 0, got -2"),
]


@pytest.mark.parametrize("name, kwargs, error, message", BAD, ids=str)
def test_bad_hyperparameters_are_named(name, kwargs, error, message):
    with pytest.raises(error, match=f"^{name}: {message}"):
        OURS[name](make_params(), **kwargs)


@pytest.mark.parametrize("name", OURS)
def test_train_mode_is_a_flag(name):
    with pytest.raises(TypeError, match=f"^{name}: train_mode must be True or "
                                        f"False"):
        OURS[name]([{"params": make_params(), "train_mode": "yes"}])
