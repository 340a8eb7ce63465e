"""LAMB, LARS, Lookahead and SAM: against pytorch-optimizer, by hand, on resume.

pytorch-optimizer is the reference; where it follows another convention than the
papers, a test pins the difference (it differs as it is, agrees once adjusted).
"""

import io
import math

import pytest
import pytorch_optimizer as po
import torch
from pytorch_optimizer.optimizer import sam as their_sam

from optimlab.optim import Adam
from optimlab.optim.layerwise import LAMB, LARS
from optimlab.optim.wrappers import SAM, Lookahead
from problems import (SHAPES, groups, make_params, max_relative_error, run, run_closure,
                      set_gradients, train)

pytestmark = [pytest.mark.usefixtures("float64_default"),
              pytest.mark.filterwarnings("ignore:.*is_compiling.*:UserWarning")]

TOLERANCE = 1e-10
NEVER = 10**9  # skip_every=NEVER: every parameter gets a gradient at every step
MATRICES = [(4, 3), (2, 3, 5), (1, 7), (30, 101)]  # no 1-D tensor (see LARS)


def agree(mine, theirs) -> bool:
    return max_relative_error(mine, theirs) < TOLERANCE


# LAMB ------------------------------------------------------------------------
TINY_EPS = dict(eps=1e-30)
THEIRS_ADJUSTED = dict(eps=1e-30, adam_debias=True, weight_decouple=False)
LAMB_CASES = {  # id: (our kwargs, their kwargs, equal?)
    "adjusted": (TINY_EPS, THEIRS_ADJUSTED, True),
    "their-step-divided-by-1-beta1^t": (TINY_EPS, dict(eps=1e-30), False),
    "eps-in-norm-and-no-bias-correction": (dict(eps=1e-6), {**THEIRS_ADJUSTED, "eps": 1e-6},
                                           False),
    "bias-correction-weighs-decay": (dict(eps=1e-30, weight_decay=0.01),
                                     {**THEIRS_ADJUSTED, "weight_decay": 0.01}, False),
    "their-decoupled-decay": (dict(eps=1e-30, weight_decay=0.01),
                              dict(eps=1e-30, adam_debias=True, weight_decay=0.01), False),
    "our-phi-without-clamp": (dict(eps=1e-30, max_weight_norm=None), THEIRS_ADJUSTED, False),
}


@pytest.mark.parametrize("case", LAMB_CASES, ids=str)
def test_lamb_against_pytorch_optimizer(case):
    ours, theirs, equal = LAMB_CASES[case]
    second = dict(lr=2e-2, betas=(0.8, 0.99))
    mine = run(lambda p: LAMB(groups(p, **second), lr=1e-2, **ours))
    for foreach in (False, True):
        reference = run(lambda p: po.Lamb(groups(p, **second), lr=1e-2, foreach=foreach,
                                          **theirs))
        assert agree(mine, reference) == equal


# LARS ------------------------------------------------------------------------
def decaying_lr(optimizer):
    """After each step, multiply every group's learning rate by 0.97."""
    def decay(optimizer, args, kwargs):
        for group in optimizer.param_groups:
            group["lr"] *= 0.97

    optimizer.register_step_post_hook(decay)
    return optimizer


LARS_CASES = {  # id: (shapes, with a decaying lr?, equal?)
    "tensors-of-2-or-more-dims": (MATRICES, False, True),
    "their-1d-tensors-are-plain-sgd": (SHAPES, False, False),
    "their-lr-rescales-the-buffer": (MATRICES, True, False),
}


@pytest.mark.parametrize("case", LARS_CASES, ids=str)
def test_lars_against_pytorch_optimizer(case):
    shapes, decaying, equal = LARS_CASES[case]
    schedule = decaying_lr if decaying else (lambda optimizer: optimizer)
    kwargs = dict(lr=0.3, momentum=0.8, weight_decay=1e-3, trust_coefficient=0.02)
    second = dict(lr=0.7, momentum=0.9, weight_decay=0.01)
    mine = run(lambda p: schedule(LARS(groups(p, **second), **kwargs)), shapes=shapes)
    for foreach in (False, True):
        reference = run(lambda p: schedule(po.LARS(groups(p, **second), foreach=foreach,
                                                   **kwargs)), shapes=shapes)
        assert agree(mine, reference) == equal


def test_defaults_against_pytorch_optimizer():
    """Equal, except LARS's lr: γ is of order 1 since the trust ratio sets the scale."""
    p = make_params()
    for name in ("lr", "betas", "eps", "weight_decay"):
        assert LAMB(p).defaults[name] == po.Lamb(p).defaults[name]
    assert po.Lamb.clamp == LAMB(p).defaults["max_weight_norm"]
    for name in ("momentum", "weight_decay", "trust_coefficient"):
        assert LARS(p).defaults[name] == po.LARS(p).defaults[name]
    assert (LARS(p).defaults["lr"], po.LARS(p).defaults["lr"]) == (1.0, 1e-3)
    lookahead, theirs = Lookahead(Adam(p)), po.Lookahead(Adam(p))
    assert (lookahead.k, lookahead.alpha) == (theirs.k, theirs.alpha) == (5, 0.5)
    assert SAM(p, Adam).rho == po.SAM(p, Adam).defaults["rho"] == 0.05


# Lookahead and SAM ---------------------------------------------------------------
INNER = {  # id: (ours wraps, pytorch-optimizer wraps, their kwargs)
    "optimlab-Adam": (Adam, torch.optim.Adam, dict(lr=1e-2)),
    "torch-SGD": (torch.optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
}


@pytest.mark.parametrize("skip_every", [NEVER, 7], ids=["all-grads", "missing-grads"])
@pytest.mark.parametrize("inner", INNER, ids=str)
def test_lookahead_against_pytorch_optimizer(inner, skip_every):
    """Equal, unless a parameter misses its gradient at a synchronisation (t = 28,
    56): pytorch-optimizer then leaves it alone; we synchronise it, as the paper."""
    our_class, their_class, kwargs = INNER[inner]
    mine = run(lambda p: Lookahead(our_class(groups(p, lr=2e-2), **kwargs), k=4, alpha=0.6),
               skip_every=skip_every)
    reference = run(lambda p: po.Lookahead(their_class(groups(p, lr=2e-2), **kwargs),
                                           k=4, alpha=0.6), skip_every=skip_every)
    assert agree(mine, reference) == (skip_every == NEVER)


def squared_norm_in_float64(param_groups, device=None, *, weight_adaptive=False):
    """pytorch-optimizer's get_global_gradient_norm, without its cast to float32."""
    total = torch.zeros(1, dtype=torch.float64)
    for group in param_groups:
        adaptive = weight_adaptive and group.get("adaptive", False)
        for p in group["params"]:
            if p.grad is not None:
                g = p.grad * p.abs() if adaptive else p.grad
                total += g.square().sum()
    return total


@pytest.fixture
def their_sam_in_float64(monkeypatch):
    monkeypatch.setattr(their_sam, "get_global_gradient_norm", squared_norm_in_float64)


@pytest.mark.parametrize("adaptive", [False, True], ids=["SAM", "ASAM"])
@pytest.mark.parametrize("inner", INNER, ids=str)
def test_sam_against_pytorch_optimizer(inner, adaptive, their_sam_in_float64):
    our_class, their_class, kwargs = INNER[inner]
    rho = 0.5 if adaptive else 0.05
    mine = run_closure(lambda p: SAM(groups(p, lr=2e-2), our_class, rho, adaptive,
                                     **kwargs))
    reference = run_closure(lambda p: po.SAM(groups(p, lr=2e-2), their_class, rho=rho,
                                             adaptive=adaptive, **kwargs))
    assert agree(mine, reference)


@pytest.mark.parametrize("in_float64", [False, True], ids=["theirs", "theirs-patched"])
def test_pytorch_optimizer_sam_norm_is_float32(in_float64, monkeypatch):
    """The perturbation has norm ρ: to 1e-13 here, to float32's 1e-7 in theirs."""
    if in_float64:
        monkeypatch.setattr(their_sam, "get_global_gradient_norm", squared_norm_in_float64)
    for make, accurate in ((SAM, True), (po.SAM, in_float64)):
        params = make_params()
        set_gradients(params, torch.Generator().manual_seed(1))
        before = [p.detach().clone() for p in params]
        make(params, torch.optim.SGD, rho=0.05, lr=0.1).first_step()
        moved = math.sqrt(sum((p - b).square().sum().item() for p, b in zip(params, before)))
        assert (abs(moved / 0.05 - 1) < 1e-13) == accurate


# By hand: plain-Python trajectories on f(θ) = ½ Σ c_i θ_i² -------------------------
CURVATURE = (1.0, 4.0)
START = (1.5, -2.0)


def gradient(theta):
    return [c * x for c, x in zip(CURVATURE, theta)]


def our_path(make_optimizer, steps, closure=False):
    p = torch.tensor(START, requires_grad=True)
    optimizer, path = make_optimizer([p]), []

    def set_gradient():
        p.grad = torch.tensor(CURVATURE) * p.detach()

    for _ in range(steps):
        set_gradient()
        optimizer.step(set_gradient) if closure else optimizer.step()
        path.append(p.tolist())
    return path


def same_path(mine, by_hand) -> bool:
    return sum(mine, []) == pytest.approx(sum(by_hand, []), rel=1e-12, abs=0)


def test_lamb_by_hand():
    lr, beta1, beta2, eps, decay, clamp = 0.1, 0.9, 0.99, 0.1, 0.05, 2.0
    theta, m, v, path = list(START), [0.0, 0.0], [0.0, 0.0], []
    for t in range(1, 6):
        g = gradient(theta)
        m = [beta1 * a + (1 - beta1) * b for a, b in zip(m, g)]
        v = [beta2 * a + (1 - beta2) * b * b for a, b in zip(v, g)]
        r = [(a / (1 - beta1**t)) / (math.sqrt(b / (1 - beta2**t)) + eps)
             for a, b in zip(m, v)]
        u = [a + decay * x for a, x in zip(r, theta)]
        ratio = min(math.hypot(*theta), clamp) / math.hypot(*u)
        theta = [x - lr * ratio * a for x, a in zip(theta, u)]
        path.append(theta)
    mine = our_path(lambda p: LAMB(p, lr, (beta1, beta2), eps, decay, clamp), 5)
    assert same_path(mine, path)


def test_lars_by_hand():
    lr, momentum, beta, eta = 0.8, 0.9, 0.1, 0.1
    w, velocity, path = list(START), [0.0, 0.0], []
    for _ in range(5):
        g = gradient(w)
        local_lr = eta * math.hypot(*w) / (math.hypot(*g) + beta * math.hypot(*w))
        velocity = [momentum * a + lr * local_lr * (b + beta * x)
                    for a, b, x in zip(velocity, g, w)]
        w = [x - a for x, a in zip(w, velocity)]
        path.append(w)
    mine = our_path(lambda p: LARS(p, lr, momentum, beta, eta), 5)
    assert same_path(mine, path)


def test_lookahead_by_hand():
    lr, k, alpha = 0.1, 2, 0.6
    fast, slow, path = list(START), list(START), []
    for t in range(1, 6):
        fast = [x - lr * g for x, g in zip(fast, gradient(fast))]
        if t % k == 0:
            slow = [s + alpha * (x - s) for s, x in zip(slow, fast)]
            fast = list(slow)
        path.append(fast)
    mine = our_path(lambda p: Lookahead(torch.optim.SGD(p, lr=lr), k, alpha), 5)
    assert same_path(mine, path)


@pytest.mark.parametrize("adaptive", [False, True], ids=["SAM", "ASAM"])
def test_sam_by_hand(adaptive):
    lr, rho = 0.1, 0.3
    w, path = list(START), []
    for _ in range(4):
        t_w = [abs(x) if adaptive else 1.0 for x in w]
        t_g = [a * g for a, g in zip(t_w, gradient(w))]
        scale = rho / (math.hypot(*t_g) + 1e-12)
        perturbed = [x + scale * a * b for x, a, b in zip(w, t_w, t_g)]
        w = [x - lr * g for x, g in zip(w, gradient(perturbed))]
        path.append(w)
    mine = our_path(lambda p: SAM(p, torch.optim.SGD, rho, adaptive, lr=lr), 4, True)
    assert same_path(mine, path)


# Stop and resume -----------------------------------------------------------------
RESUMABLE = {  # id: (make_optimizer, needs a closure?)
    "LAMB": (lambda p: LAMB(groups(p, lr=2e-2), weight_decay=0.01), False),
    "LARS": (lambda p: LARS(groups(p, lr=0.5), weight_decay=0.01), False),
    "Lookahead": (lambda p: Lookahead(Adam(groups(p, lr=2e-2)), k=7, alpha=0.6), False),
    "SAM": (lambda p: SAM(groups(p, lr=2e-2), Adam, rho=0.1), True),
}


@pytest.mark.parametrize("name", RESUMABLE, ids=str)
def test_stop_and_resume_equals_an_uninterrupted_run(name):
    make, closure = RESUMABLE[name]
    params, generator = make_params(), torch.Generator().manual_seed(1)
    train(make(params), params, generator, range(1, 61), closure)

    stopped, resumed_generator = make_params(), torch.Generator().manual_seed(1)
    optimizer = make(stopped)
    train(optimizer, stopped, resumed_generator, range(1, 31), closure)
    checkpoint = io.BytesIO()
    torch.save(optimizer.state_dict(), checkpoint)
    checkpoint.seek(0)
    resumed = [p.detach().clone().requires_grad_() for p in stopped]
    optimizer = make(resumed)
    optimizer.load_state_dict(torch.load(checkpoint, weights_only=True))
    train(optimizer, resumed, resumed_generator, range(31, 61), closure)
    assert all(torch.equal(a, b) for a, b in zip(resumed, params))


def test_lookahead_refuses_slow_weights_of_other_shapes():
    saved = Lookahead(Adam(make_params(shapes=[(2, 2)]))).state_dict()
    with pytest.raises(ValueError, match=r"\(2, 2\).*\(3,\)"):
        Lookahead(Adam(make_params(shapes=[(3,)]))).load_state_dict(saved)


# The wrappers share the inner optimizer's groups -----------------------------------
def test_wrappers_share_param_groups_with_a_scheduler_and_a_new_group():
    params = make_params()
    inner = Adam(params[:2], lr=0.1)
    lookahead = Lookahead(inner)
    scheduler = torch.optim.lr_scheduler.StepLR(lookahead, step_size=1, gamma=0.5)
    lookahead.step()
    scheduler.step()
    assert inner.param_groups[0]["lr"] == 0.05
    inner.load_state_dict(inner.state_dict())  # replaces inner's list of groups
    lookahead.add_param_group({"params": params[2:]})
    assert lookahead.param_groups is inner.param_groups and len(inner.param_groups) == 2
    assert torch.equal(lookahead.state[params[3]]["slow_weights"], params[3])
    sam = SAM(params, torch.optim.SGD, lr=0.1)
    assert sam.param_groups is sam.base_optimizer.param_groups


def test_sam_step_is_first_step_closure_second_step_and_returns_the_loss():
    results = []
    for by_parts in (False, True):
        p = torch.tensor(START, requires_grad=True)
        sam = SAM([p], torch.optim.SGD, rho=0.3, lr=0.1)

        def closure():
            p.grad = None
            loss = (torch.tensor(CURVATURE) * p**2).sum() / 2
            loss.backward()
            return loss

        closure()
        if by_parts:
            sam.first_step(zero_grad=True)
            loss = closure()
            sam.second_step()
        else:
            loss = sam.step(closure)
        results.append((p.tolist(), loss.item()))
    assert results[0] == results[1]
    assert results[0][1] > 0.5 * sum(c * x * x for c, x in zip(CURVATURE, START))


# Bad inputs ------------------------------------------------------------------------
P = [torch.zeros(2, requires_grad=True)]
BAD = [  # (build, error, optimizer, hyperparameter, bad value)
    (lambda: LAMB(P, lr=-1.0), ValueError, "LAMB", "lr", "-1.0"),
    (lambda: LAMB(P, betas=(1.0, 0.9)), ValueError, "LAMB", "beta1", "1.0"),
    (lambda: LAMB(P, betas=(0.9, -0.1)), ValueError, "LAMB", "beta2", "-0.1"),
    (lambda: LAMB(P, eps=0.0), ValueError, "LAMB", "eps", "0.0"),
    (lambda: LAMB(P, weight_decay=-0.1), ValueError, "LAMB", "weight_decay", "-0.1"),
    (lambda: LAMB(P, max_weight_norm=0), ValueError, "LAMB", "max_weight_norm", "0"),
    (lambda: LARS(P, lr=-2.0), ValueError, "LARS", "lr", "-2.0"),
    (lambda: LARS(P, momentum=1.0), ValueError, "LARS", "momentum", "1.0"),
    (lambda: LARS(P, weight_decay=-1e-4), ValueError, "LARS", "weight_decay", "-0.0001"),
    (lambda: LARS(P, trust_coefficient=0.0), ValueError, "LARS", "trust_coefficient", "0.0"),
    (lambda: Lookahead(Adam(P), k=0), ValueError, "Lookahead", "k", "0"),
    (lambda: Lookahead(Adam(P), k=2.5), TypeError, "Lookahead", "k", "2.5"),
    (lambda: Lookahead(Adam(P), alpha=0), ValueError, "Lookahead", "alpha", "0"),
    (lambda: Lookahead(Adam(P), alpha=1.5), ValueError, "Lookahead", "alpha", "1.5"),
    (lambda: Lookahead(Adam), TypeError, "Lookahead", "optimizer", "Adam"),
    (lambda: SAM(P, Adam, rho=0.0), ValueError, "SAM", "rho", "0.0"),
    (lambda: SAM(P, Adam, rho=-0.05), ValueError, "SAM", "rho", "-0.05"),
    (lambda: SAM(P, Adam(P)), TypeError, "SAM", "base_optimizer", "Adam"),
    (lambda: SAM(P, Adam).step(), TypeError, "SAM", "closure", "None"),
]


@pytest.mark.parametrize("build, error, optimizer, name, value", BAD,
                         ids=[f"{o}-{n}={v}" for _, _, o, n, v in BAD])
def test_bad_input_names_the_hyperparameter_and_value(build, error, optimizer, name, value):
    with pytest.raises(error) as raised:
        build()
    assert all(word in str(raised.value) for word in (optimizer, name, value))


# NaN gradients ---------------------------------------------------------------------
def nan_pattern(make_optimizer, closure=False):
    """Which entries are NaN after 3 steps, the second with one NaN gradient entry."""
    params = make_params(shapes=MATRICES)
    optimizer = make_optimizer(params)
    for t in range(3):
        def gradients():
            for i, p in enumerate(params):
                p.grad = (0.5 + 0.1 * i) * p.detach() + 1
            if t == 1:
                params[0].grad[0, 0] = math.nan

        gradients()
        optimizer.step(gradients) if closure else optimizer.step()
    return [torch.isnan(p).tolist() for p in params]


def nan_flags(where):
    """NaN at [0, 0] of the first tensor ("entry"), in all of it ("tensor"), or everywhere."""
    flags = [torch.full(shape, where == "everywhere") for shape in MATRICES]
    flags[0].fill_(where != "entry")
    flags[0][0, 0] = True
    return [f.tolist() for f in flags]


NAN_CASES = {  # id: (ours, theirs, closure?, NaN where in ours, in theirs)
    "LAMB": (LAMB, po.Lamb, False, "tensor", "tensor"),
    "LARS-theirs-ratio-1": (LARS, po.LARS, False, "tensor", "entry"),
    "Lookahead": (lambda p: Lookahead(torch.optim.Adam(p), k=2),
                  lambda p: po.Lookahead(torch.optim.Adam(p), k=2), False, "entry", "entry"),
    "SAM": (lambda p: SAM(p, torch.optim.SGD, lr=0.1),
            lambda p: po.SAM(p, torch.optim.SGD, lr=0.1), True, "everywhere", "everywhere"),
}


@pytest.mark.parametrize("case", NAN_CASES, ids=str)
def test_nan_gradient_spreads_as_in_pytorch_optimizer(case):
    """Except LARS: its NaN trust ratio counts as 0 there (ratio 1, the NaN stays in
    its entry); ours is NaN, as is LAMB's in both, and spoils the whole tensor."""
    ours, theirs, closure, where_ours, where_theirs = NAN_CASES[case]
    assert nan_pattern(ours, closure) == nan_flags(where_ours)
    assert nan_pattern(theirs, closure) == nan_flags(where_theirs)
