"""Adafactor: torch.optim.Adafactor's numbers over many steps, the paper's
conventions against pytorch-optimizer's AdaFactor, the differences between the
two measured, steps by hand, the memory of the factors, and bad input.

(The shared tests -- bad input, state dicts, groups, low precision -- list
Adafactor too.)"""

import math

import pytest
import pytorch_optimizer
import torch

import optimlab.optim as ours
from problems import (SHAPES, groups, make_params, max_relative_error, run,
                      set_gradients)

TOLERANCE = 1e-10
NEVER = 10**9  # skip_every=NEVER: every parameter gets a gradient at every step
#: SHAPES (a matrix, a vector, a 3-D tensor factored over its last two dims, a long
#: vector) and a matrix wider than tall.
TENSORS = SHAPES + [(3, 11)]

TORCH_CASES = [
    dict(),
    dict(weight_decay=0.1, d=2.0),
    dict(beta2_decay=-0.5, lr=0.05, eps=(1e-3, 1e-2)),
    dict(lr=1e-3, beta2_decay=0.0),   # ρ_t = η throughout; β̂2 = 0: no averaging
]


def case_id(kwargs):
    return "-".join(f"{k}={v}" for k, v in kwargs.items()) or "defaults"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("kwargs", TORCH_CASES, ids=case_id)
def test_equals_torch_optim_adafactor(kwargs, dtype):
    """100 steps, two groups, a parameter without gradient every 7th step."""
    mine = run(lambda p: ours.Adafactor(groups(p, lr=3e-3), **kwargs), dtype=dtype,
               shapes=TENSORS)
    for foreach in (False, True):
        theirs = run(lambda p: torch.optim.Adafactor(
            groups(p, lr=3e-3), foreach=foreach, **kwargs),
            dtype=dtype, shapes=TENSORS)
        if dtype == torch.float64:
            assert max_relative_error(mine, theirs) < TOLERANCE
        else:  # torch computes α_t and the clip in Python floats: other roundings
            for a, b in zip(mine, theirs):
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


# The paper's conventions, in pytorch-optimizer's AdaFactor --------------------
PAPER = dict(eps1_placement="squares")
THEIRS = dict(betas=(None, 0.999), momentum_dtype=torch.float64, foreach=False)
MOMENTUM = dict(betas=(0.9, 0.999), momentum_dtype=torch.float64, foreach=False)
PYTORCH_OPTIMIZER_CASES = {  # id: (our kwargs, their kwargs, skip_every, equal?)
    "paper": (PAPER, THEIRS, NEVER, True),
    "paper-with-momentum": ({**PAPER, "beta1": 0.9}, MOMENTUM, NEVER, True),
    "their-lr-is-ignored": (PAPER, {**THEIRS, "lr": 0.5}, NEVER, True),
    "our-lr-caps-rho": ({**PAPER, "lr": 0.5}, {**THEIRS, "lr": 0.5}, NEVER, False),
    "their-decay-is-alpha-lambda": ({**PAPER, "weight_decay": 0.1},
                                    {**THEIRS, "weight_decay": 0.1}, NEVER, False),
    "their-beta2-cap": (PAPER, {**THEIRS, "betas": (None, 0.5)}, NEVER, False),
    "their-step-count-per-group": (PAPER, THEIRS, 7, False),
}


@pytest.mark.parametrize("case", PYTORCH_OPTIMIZER_CASES)
def test_against_pytorch_optimizer(case, float64_default):
    mine_kwargs, theirs_kwargs, skip_every, equal = PYTORCH_OPTIMIZER_CASES[case]
    mine = run(lambda p: ours.Adafactor(p, **mine_kwargs), shapes=TENSORS,
               skip_every=skip_every)
    theirs = run(lambda p: pytorch_optimizer.AdaFactor(p, **theirs_kwargs),
                 shapes=TENSORS, skip_every=skip_every)
    assert (max_relative_error(mine, theirs) < TOLERANCE) == equal


# torch's ε1 against the paper's ----------------------------------------------
def step_size(make, scale, dtype, steps=5, shape=(16, 8)):
    """‖θ_5 - θ_0‖ with gradients of RMS ``scale``."""
    generator = torch.Generator().manual_seed(0)
    p = torch.randn(shape, generator=generator).to(dtype).requires_grad_()
    start = p.detach().float().clone()
    optimizer = make([p])
    for _ in range(steps):
        p.grad = (torch.randn(shape, generator=generator) * scale).to(dtype)
        optimizer.step()
    return (p.detach().float() - start).norm().item()


@pytest.mark.parametrize("scale, d, ratio", [(1.0, 1.0, 1.0), (1e-6, 1.0, 0.98),
                                             (1e-9, 1.0, 0.0085), (1e-4, None, 3.6),
                                             (1e-4, 1.0, 1.0)])
def test_torchs_eps1_changes_the_steps_of_small_gradients(scale, d, ratio):
    """The update G/sqrt(V̂) is scale-free, and so is the paper's (ε1 = 1e-30 in G²).
    torch bounds sqrt(V̂) by ε1 = 1.2e-7 (float32), so gradients of RMS 1e-9 take
    steps about 1e-9/1.2e-7 as large; it also bounds mean(R) by ε1, which
    divides V̂ by 12 for gradients of RMS 1e-4 (mean(R) = 1e-8): steps 3.6 times
    larger, unless the clip (d = 1) takes that factor out again."""
    def paper(scale):
        return step_size(lambda p: ours.Adafactor(p, d=d, **PAPER), scale,
                         torch.float32)

    clamp = step_size(lambda p: ours.Adafactor(p, d=d), scale, torch.float32)
    assert paper(scale) == pytest.approx(paper(1.0), rel=1e-6)
    assert clamp / paper(scale) == pytest.approx(ratio, rel=0.1)


@pytest.mark.parametrize("scale, ratio", [(1.0, 1.0), (1e-3, 0.108)])
def test_torch_takes_eps1_from_bfloat16_where_we_take_float32s(scale, ratio):
    """For bfloat16 parameters torch's ε1 is 2^-7 = 7.8e-3: gradients of RMS 1e-3
    take steps 10 times smaller than in float32.  Ours computes in float32."""
    def theirs(dtype):
        return step_size(lambda p: torch.optim.Adafactor(p), scale, dtype)

    mine = step_size(lambda p: ours.Adafactor(p), scale, torch.bfloat16)
    assert mine == pytest.approx(theirs(torch.float32), rel=1e-2)
    assert theirs(torch.bfloat16) / mine == pytest.approx(ratio, rel=0.1)


# By hand ---------------------------------------------------------------------
def test_one_step_of_a_matrix_by_hand():
    lr, eps2 = 1.0, 1e-3
    theta0 = torch.tensor([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]], dtype=torch.float64)
    g = torch.tensor([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]], dtype=torch.float64)
    theta = theta0.clone().requires_grad_()
    optimizer = ours.Adafactor([theta], lr=lr)
    theta.grad = g
    optimizer.step()
    row = (g**2).mean(1, keepdim=True)                      # R_1 (β̂2_1 = 0)
    col = (g**2).mean(0, keepdim=True)                      # C_1
    v_hat = row @ col / row.mean()                          # V̂_1 = R C / mean(R)
    u = g / v_hat.sqrt()                                    # U_1
    u_clipped = u / max(1.0, u.square().mean().sqrt().item())  # Û_1, d = 1
    alpha = max(eps2, theta0.square().mean().sqrt().item()) * min(lr, 1.0)  # α_1
    torch.testing.assert_close(theta.detach(), theta0 - alpha * u_clipped, rtol=0,
                               atol=1e-15)
    state = optimizer.state[theta]
    assert state["row"].shape == (2, 1) and state["col"].shape == (1, 3)


def test_a_rank_one_square_is_stored_exactly():
    """G² = a bᵀ (G = x yᵀ): the factors lose nothing, U_1 = sign(G) (RMS 1, no
    clip), and the step is α_1 sign(G) with α_1 = ε2 ρ_1 (θ = 0)."""
    theta = torch.zeros(4, 3, dtype=torch.float64, requires_grad=True)
    optimizer = ours.Adafactor([theta], lr=0.1, eps=(None, 0.5))
    theta.grad = torch.outer(torch.tensor([1.0, -2.0, 0.5, 3.0]),
                             torch.tensor([-1.0, 4.0, 0.25])).double()
    optimizer.step()
    expected = -0.5 * 0.1 * theta.grad.sign()
    torch.testing.assert_close(theta.detach(), expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("d", [1.0, 2.0, None])
def test_update_clipping_caps_the_rms_of_the_update_at_d(d):
    """After 20 steps, a gradient 1000 times larger: V̂_21 lags (1 - β̂2 = 21^-0.8),
    U has RMS 3.4, and Û has RMS d exactly (without clipping: 3.4)."""
    theta = torch.ones(10, dtype=torch.float64, requires_grad=True)
    optimizer = ours.Adafactor([theta], lr=1.0, eps=(None, 1e-3), d=d,
                               scale_parameter=False, relative_step=False)
    for scale in [1.0] * 20 + [1000.0]:
        before = theta.detach().clone()
        theta.grad = torch.linspace(0.5, 1.5, 10, dtype=torch.float64) * scale
        optimizer.step()
    rms = (before - theta.detach()).square().mean().sqrt().item()   # α = η = 1
    assert (rms == pytest.approx(d, rel=1e-12)) if d else rms > 3


def test_relative_step_and_parameter_scale():
    """ρ_t = min(η, 1/sqrt(t)), α_t = max(ε2, RMS(θ_{t-1})) ρ_t; a constant
    gradient of one sign gives U_t = sign(g) (RMS 1) at every step."""
    def trajectory(**kwargs):
        theta = torch.full((3,), 2.0, dtype=torch.float64, requires_grad=True)
        optimizer = ours.Adafactor([theta], lr=1.0, **kwargs)
        path = []
        for _ in range(3):
            theta.grad = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
            optimizer.step()
            path.append(theta[0].item())
        return path

    expected, theta = [], 2.0
    for t in (1, 2, 3):
        theta -= max(1e-3, abs(theta)) * min(1.0, 1 / math.sqrt(t))
        expected.append(theta)
    assert trajectory() == pytest.approx(expected, rel=1e-14)
    constant = trajectory(relative_step=False, scale_parameter=False)
    assert constant == pytest.approx([1.0, 0.0, -1.0], abs=1e-14)  # θ - η sign(g)


def test_momentum_averages_the_steps():
    """m_t = β1 m_{t-1} + (1-β1) α_t Û_t; with the same Û every step (a constant
    gradient) and α = η: θ_t = θ_0 - η Σ (1 - β1^s)."""
    theta = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    optimizer = ours.Adafactor([theta], lr=0.1, beta1=0.5, relative_step=False,
                               scale_parameter=False)
    for _ in range(3):
        theta.grad = torch.full((4,), 2.0, dtype=torch.float64)
        optimizer.step()
    assert theta[0].item() == pytest.approx(-0.1 * (0.5 + 0.75 + 0.875), rel=1e-14)


# Memory ----------------------------------------------------------------------
@pytest.mark.parametrize("shape, numbers, factored", [
    ((64, 32), 64 + 32, True),
    ((8, 4, 3, 3), 8 * 4 * (3 + 3), True),     # factored over the last two dims only
    ((100,), 100, True),
    ((64, 32), 64 * 32, False),
])
def test_the_second_moment_takes_rows_plus_columns(shape, numbers, factored):
    theta = torch.zeros(shape, requires_grad=True)
    optimizer = ours.Adafactor([theta], factored=factored)
    theta.grad = torch.ones(shape)
    optimizer.step()
    state = optimizer.state[theta]
    tensors = [v for v in state.values() if isinstance(v, torch.Tensor)]
    assert sum(v.numel() for v in tensors) == numbers


# Bad input and changes between steps -----------------------------------------
BAD = [  # (hyperparameter, value, error, message)
    ("eps", 1e-3, ValueError, r"eps must be a pair \(eps1, eps2\)"),
    ("eps", (0.0, 1e-3), ValueError, r"eps\[0\] \(eps1\) must be a finite .* > 0"),
    ("eps", (None, -1.0), ValueError, r"eps\[1\] \(eps2\) must be a finite .* >= 0"),
    ("eps", (None, float("inf")), ValueError, r"eps\[1\] \(eps2\) must be a finite"),
    ("beta2_decay", 0.8, ValueError,
     "beta2_decay must be a finite number <= 0, got 0.8"),
    ("d", 0.0, ValueError, "d must be a finite number > 0, got 0.0"),
    ("beta1", 1.0, ValueError,
     r"beta1 must be a finite number in \[0, 1\), got 1.0"),
    ("eps1_placement", "inside", ValueError, "eps1_placement must be one of"),
    ("factored", 1, TypeError, "factored must be True, False or None"),
    ("relative_step", "no", TypeError, "relative_step must be True, False or None"),
    ("scale_parameter", 0, TypeError, "scale_parameter must be True, False or None"),
]


@pytest.mark.parametrize("hyperparameter, value, error, message", BAD, ids=str)
def test_a_bad_hyperparameter_is_named(hyperparameter, value, error, message):
    with pytest.raises(error, match=f"^Adafactor: {message}"):
        ours.Adafactor([torch.zeros(3, requires_grad=True)],
                       **{hyperparameter: value})


def switched(changes, seed=3):
    """8 steps on the shared problem; ``changes`` in every group after 3."""
    params, generator = make_params(), torch.Generator().manual_seed(seed)
    optimizer = ours.Adafactor(params)
    for t in range(8):
        if t == 3:
            for group in optimizer.param_groups:
                group.update(changes)
        set_gradients(params, generator)
        optimizer.step()
    return params


def test_momentum_switched_on_starts_at_zero():
    """β1 = 0 switched on: m_t = α_t Û_t, the run without momentum."""
    assert max_relative_error(switched(dict(beta1=0.0)), switched({})) < 1e-12
    assert max_relative_error(switched(dict(beta1=0.9)), switched({})) > 1e-3
