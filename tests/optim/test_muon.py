"""Muon: torch.optim.Muon's numbers over many steps, the Newton–Schulz iteration
measured on singular values, steps by hand, the conventions of other
implementations (pinned), bad input, state dicts, and muon_with_adamw."""

import copy
import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import optimlab.optim as ours
from optimlab.optim.muon import (CUBIC_COEFFICIENTS, JORDAN_COEFFICIENTS,
                                 MuonWithAdamW, lr_scale, newton_schulz)
from kronecker_cases import one_thread  # noqa: F401 - tiny products: one thread
from problems import groups, make_params, max_relative_error, run, set_gradients
from test_state_dicts import FAULTS, equal, snapshot, through_json

TOLERANCE = 1e-10
#: Wide, tall, square-ish, a row, and one large enough to take some time.
MATRICES = [(4, 3), (5, 7), (1, 9), (40, 17), (32, 48)]
EXACT = dict(ns_coefficients=CUBIC_COEFFICIENTS, ns_steps=40, ns_dtype="float64")


def case_id(kwargs):
    return "-".join(f"{k}={v}" for k, v in kwargs.items()) or "defaults"


# torch.optim.Muon -----------------------------------------------------------------
TORCH_CASES = [
    dict(),
    dict(weight_decay=0.1, nesterov=False),
    dict(momentum=0.5, ns_steps=3, adjust_lr_fn="match_rms_adamw",
         weight_decay=0.01),
    dict(adjust_lr_fn="spectral_unclamped", eps=1e-3,
         ns_coefficients=(2.0, -1.5, 0.5)),
    dict(momentum=0.0),
]


def torch_muon(params, lr=0.02, weight_decay=0.0, **kwargs):
    """torch.optim.Muon with our defaults for the two it sets otherwise."""
    return torch.optim.Muon(params, lr=lr, weight_decay=weight_decay, **kwargs)


@pytest.mark.parametrize("kwargs, dtype",
                         [(kwargs, torch.float64) for kwargs in TORCH_CASES]
                         + [(kwargs, torch.float32) for kwargs in TORCH_CASES[:2]],
                         ids=lambda x: case_id(x) if isinstance(x, dict) else str(x))
def test_equals_torch_optim_muon(kwargs, dtype):
    """100 steps, two groups, a parameter without gradient every 7th step."""
    mine = run(lambda p: ours.Muon(groups(p, lr=3e-3), **kwargs), dtype=dtype,
               shapes=MATRICES)
    theirs = run(lambda p: torch_muon(groups(p, lr=3e-3), **kwargs), dtype=dtype,
                 shapes=MATRICES)
    assert max_relative_error(mine, theirs) < TOLERANCE


def test_defaults_are_jordans_not_torchs():
    """torch.optim.Muon's defaults are lr=1e-3, weight_decay=0.1; ours the blog's."""
    mine = run(lambda p: ours.Muon(p), shapes=MATRICES, steps=20)
    assert max_relative_error(mine, run(lambda p: torch_muon(p), shapes=MATRICES,
                                        steps=20)) < TOLERANCE
    torch_defaults = run(lambda p: torch.optim.Muon(p), shapes=MATRICES, steps=20)
    assert max_relative_error(mine, torch_defaults) > 1e-2


def test_torch_normalises_its_bfloat16_momentum_in_place():
    """torch.optim.Muon with bfloat16 matrices and nesterov=False orthogonalises
    ``grad.bfloat16()``, which is the buffer itself: the buffer is divided by its
    norm at every step.  Ours keeps B_1 = (1 - μ) g_1."""
    def buffer_after_one_step(make, key):
        p = torch.randn(8, 4, dtype=torch.bfloat16, requires_grad=True)
        optimizer = make([p])
        p.grad = torch.full_like(p, 3.0)
        optimizer.step()
        return optimizer.state[p][key].float()

    theirs = buffer_after_one_step(lambda p: torch_muon(p, nesterov=False),
                                   "momentum_buffer")
    mine = buffer_after_one_step(lambda p: ours.Muon(p, nesterov=False), "b")
    assert torch.equal(mine, torch.full((8, 4), 0.05 * 3.0).bfloat16().float())
    assert theirs.norm().item() == pytest.approx(1.0, rel=1e-2)   # not 0.15·sqrt(32)


# newton_schulz --------------------------------------------------------------------
def polynomial(sigma, coefficients, steps):
    a, b, c = coefficients
    for _ in range(steps):
        sigma = a * sigma + b * sigma**3 + c * sigma**5   # p(σ) = aσ + bσ³ + cσ⁵
    return sigma


def random_matrix(shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


@pytest.mark.parametrize("steps", [0, 1, 2, 5])
@pytest.mark.parametrize("coefficients", [JORDAN_COEFFICIENTS, CUBIC_COEFFICIENTS],
                         ids=["jordan", "cubic"])
@pytest.mark.parametrize("shape", [(6, 10), (10, 6)], ids=str)
def test_each_step_maps_the_singular_values_by_the_polynomial(shape, coefficients,
                                                              steps):
    """NS_k(G) = U p^k(Σ/‖G‖_F) Vᵀ: the singular vectors stay, the values move."""
    g = random_matrix(shape)
    u, sigma, vh = torch.linalg.svd(g, full_matrices=False)
    expected = u @ torch.diag(polynomial(sigma / g.norm(), coefficients, steps)) @ vh
    actual = newton_schulz(g, steps, coefficients, dtype=None)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-12)


def test_the_cubic_iteration_converges_to_the_orthogonal_factor():
    g = random_matrix((12, 5))
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    def error(steps):
        o = newton_schulz(g, steps, CUBIC_COEFFICIENTS, dtype=torch.float64)
        return (o - u @ vh).norm().item()

    assert error(5) > 1e-2 and error(30) < 1e-12     # slow start from small σ


def test_jordans_quintic_puts_the_singular_values_near_one_in_bfloat16():
    """5 steps: singular values in [0.68, 1.13] exactly, [0.67, 1.14] in bfloat16,
    whose rounding moves O by 1-2% (relative Frobenius norm)."""
    g = random_matrix((32, 48))
    exact = newton_schulz(g, dtype=torch.float64)
    rounded = newton_schulz(g)
    assert rounded.dtype == torch.bfloat16
    for o, (low, high) in [(exact, (0.68, 1.13)), (rounded.double(), (0.67, 1.14))]:
        sigma = torch.linalg.svdvals(o)
        assert low < sigma.min() and sigma.max() < high
    assert 1e-2 < (rounded.double() - exact).norm() / exact.norm() < 2e-2


@pytest.mark.parametrize("coefficients", [JORDAN_COEFFICIENTS, CUBIC_COEFFICIENTS],
                         ids=["quintic", "cubic"])
@pytest.mark.parametrize("shape", [(6, 10), (10, 6)], ids=str)
def test_multiply_adds_per_step(shape, coefficients):
    """The smaller Gram matrix (m = min, n = max): m²n for X Xᵀ, m³ for its
    square, m²n for the product with X; 2m²n without the square (c = 0)."""
    m, n = min(shape), max(shape)
    per_step = 2 * m * m * n + (m**3 if coefficients[2] else 0)
    counter = FlopCounterMode(display=False)
    with counter:
        newton_schulz(random_matrix(shape), 5, coefficients, dtype=None)
    assert counter.get_total_flops() == 2 * 5 * per_step   # a multiply-add: 2 flops


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32], ids=str)
def test_the_input_is_left_unchanged(dtype):
    g = random_matrix((5, 3)).to(dtype)
    before = g.clone()
    out = newton_schulz(g, dtype=dtype)
    assert torch.equal(g, before) and out.dtype == dtype and out.shape == (5, 3)


def test_a_matrix_smaller_than_eps_is_divided_by_eps():
    """max(‖G‖_F, ε): a zero momentum gives a zero step, not NaN, and a matrix of
    norm below ε is not normalised (Jordan's ‖G‖_F + ε halves one of norm ε)."""
    zero = torch.zeros(3, 4)
    assert torch.equal(newton_schulz(zero), zero.bfloat16())
    tiny = random_matrix((3, 4)) * 1e-9
    x0 = newton_schulz(tiny, steps=0, dtype=None)
    assert x0.norm().item() == pytest.approx(tiny.norm().item() / 1e-7, rel=1e-12)


BAD_ITERATION = [
    (dict(matrix=torch.zeros(2, 3, 4)), ValueError,
     r"matrix must be a 2-D tensor, got shape \(2, 3, 4\)"),
    (dict(matrix=[[1.0]]), ValueError, "matrix must be a 2-D tensor, got list"),
    (dict(steps=-1), ValueError, "steps must be an int >= 0, got -1"),
    (dict(steps=2.0), ValueError, "steps must be an int >= 0, got 2.0"),
    (dict(coefficients=(1.0, 2.0)), ValueError,
     "coefficients must be three numbers"),
    (dict(coefficients=(1.0, float("nan"), 0.0)), ValueError,
     r"coefficients \(b\) must be a finite number, got nan"),
    (dict(eps=0.0), ValueError, "eps must be a finite number > 0, got 0.0"),
    (dict(dtype=torch.int32), TypeError, "dtype must be a floating-point"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD_ITERATION, ids=str)
def test_newton_schulz_names_a_bad_argument(kwargs, error, message):
    arguments = {"matrix": torch.ones(2, 3), **kwargs}
    with pytest.raises(error, match=f"^newton_schulz: {message}"):
        newton_schulz(**arguments)


# Steps by hand ---------------------------------------------------------------
def orthogonal_factor(matrix):
    u, _, vh = torch.linalg.svd(matrix, full_matrices=False)
    return u @ vh                                         # U Vᵀ


@pytest.mark.parametrize("adjust_lr_fn", ["original", "match_rms_adamw",
                                          "spectral_unclamped"])
@pytest.mark.parametrize("nesterov", [True, False])
def test_two_steps_by_hand(nesterov, adjust_lr_fn):
    lr, mu, decay, shape = 0.1, 0.9, 0.5, (6, 4)
    theta = random_matrix(shape, seed=1).requires_grad_()
    gradients = [random_matrix(shape, seed=2), random_matrix(shape, seed=3)]
    optimizer = ours.Muon([theta], lr=lr, momentum=mu, nesterov=nesterov,
                          weight_decay=decay, adjust_lr_fn=adjust_lr_fn, **EXACT)
    expected, b = theta.detach().clone(), torch.zeros(shape, dtype=torch.float64)
    s = {"original": math.sqrt(6 / 4), "match_rms_adamw": 0.2 * math.sqrt(6),
         "spectral_unclamped": math.sqrt(6 / 4)}[adjust_lr_fn]
    for g in gradients:
        b = mu * b + (1 - mu) * g                          # B_t
        direction = (1 - mu) * g + mu * b if nesterov else b
        o = orthogonal_factor(direction)                  # U Vᵀ of B̃_t
        expected = (1 - lr * decay) * expected - lr * s * o
        theta.grad = g
        optimizer.step()
        torch.testing.assert_close(theta.detach(), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(5, 7), (40, 17), (1, 9)], ids=str)
def test_match_rms_adamw_gives_steps_of_rms_one_fifth_of_lr(shape):
    theta = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    optimizer = ours.Muon([theta], lr=0.1, adjust_lr_fn="match_rms_adamw", **EXACT)
    theta.grad = random_matrix(shape)
    optimizer.step()
    step_rms = theta.detach().square().mean().sqrt().item()
    assert step_rms == pytest.approx(0.2 * 0.1, rel=1e-10)


@pytest.mark.parametrize("shape, scales", [
    ((8, 2), (2.0, 0.2 * math.sqrt(8), 2.0)),
    ((2, 8), (1.0, 0.2 * math.sqrt(8), 0.5)),
], ids=str)
def test_lr_scale(shape, scales):
    assert tuple(lr_scale(name, shape) for name in ("original", "match_rms_adamw",
                                                    "spectral_unclamped")) == scales


# Conventions of other implementations ----------------------------------------
def blog_muon(params, lr, mu, ns_dtype):
    """The blog's first version: PyTorch's SGD buffer B = μB + g, Nesterov g + μB."""
    buffers = {}

    class BlogMuon:
        @torch.no_grad()
        def step(self):
            for p in params:
                if p.grad is None:
                    continue
                b = buffers.setdefault(p, torch.zeros_like(p)).mul_(mu).add_(p.grad)
                o = newton_schulz(p.grad + mu * b, dtype=ns_dtype)
                p.add_(o, alpha=-lr * lr_scale("original", p.shape))

    return BlogMuon()


@pytest.mark.parametrize("ns_dtype, low, high", [("float64", 0, 1e-12),
                                                  ("bfloat16", 1e-4, 1e-2)])
def test_the_blogs_sgd_momentum_gives_the_same_updates_up_to_rounding(ns_dtype, low,
                                                                      high):
    """Its momentum is ours divided by 1 - μ, a factor NS removes: in float64 the
    runs agree; in bfloat16 the two inputs round differently, and after 100 steps
    the parameters differ by up to 1% of each tensor's largest entry."""
    mine = run(lambda p: ours.Muon(p, ns_dtype=ns_dtype), shapes=MATRICES)
    blog = run(lambda p: blog_muon(p, 0.02, 0.95, ours.muon.NS_DTYPES[ns_dtype]),
               shapes=MATRICES)
    drift = max(((a - b).abs().max() / b.abs().max()).item()
                for a, b in zip(mine, blog))
    assert low <= drift < high


# Bad input -------------------------------------------------------------------
INF, NAN = float("inf"), float("nan")
BAD = [  # (hyperparameter, value, error, message)
    ("lr", -0.1, ValueError, "lr must be a finite number >= 0, got -0.1"),
    ("lr", INF, ValueError, "lr must be a finite number >= 0, got inf"),
    ("momentum", 1.0, ValueError,
     r"momentum must be a finite number in \[0, 1\), got 1.0"),
    ("momentum", NAN, ValueError, "momentum must be a finite number"),
    ("weight_decay", -1e-4, ValueError, "weight_decay must be a finite number >= 0"),
    ("eps", 0.0, ValueError, "eps must be a finite number > 0, got 0.0"),
    ("ns_steps", 0, ValueError, "ns_steps must be >= 1, got 0"),
    ("ns_steps", 2.5, TypeError, "ns_steps must be an int, got 2.5"),
    ("ns_coefficients", (3.0, -4.0), ValueError,
     "ns_coefficients must be three numbers"),
    ("ns_coefficients", (3.0, -4.0, INF), ValueError,
     r"ns_coefficients \(c\) must be a finite number, got inf"),
    ("adjust_lr_fn", "moonlight", ValueError, "adjust_lr_fn must be one of"),
    ("ns_dtype", "float16", ValueError, "ns_dtype must be one of"),
    ("nesterov", "yes", TypeError, "nesterov must be True, False or None"),
]


def matrix(*shape):
    return torch.zeros(shape or (3, 2), requires_grad=True)


@pytest.mark.parametrize("hyperparameter, value, error, message", BAD, ids=str)
def test_a_bad_hyperparameter_is_named(hyperparameter, value, error, message):
    with pytest.raises(error, match=f"^Muon: {message}"):
        ours.Muon([matrix()], **{hyperparameter: value})
    with pytest.raises(error, match=f"^Muon: {message}"):   # in an added group
        ours.Muon([matrix()]).add_param_group({"params": [matrix()],
                                               hyperparameter: value})


@pytest.mark.parametrize("params, message", [
    (lambda: [matrix(), matrix(7)], r"parameter 1 of group 0 has shape \(7,\)"),
    (lambda: [{"params": [matrix()]}, {"params": [matrix(2, 3, 5)]}],
     r"parameter 0 of group 1 has shape \(2, 3, 5\)"),
], ids=["vector", "3-D in group 1"])
def test_a_parameter_that_is_not_a_matrix_is_refused(params, message):
    with pytest.raises(ValueError, match=f"^Muon: {message}: Muon updates 2-D "
                                         f"weight matrices only.*muon_with_adamw"):
        ours.Muon(params())


def test_a_refused_group_leaves_the_optimizer_as_it_was():
    optimizer = ours.Muon([matrix()])
    with pytest.raises(ValueError, match=r"parameter 0 of group 1 has shape \(4,\)"):
        optimizer.add_param_group({"params": [matrix(4)]})
    assert len(optimizer.param_groups) == 1
    optimizer.add_param_group({"params": [matrix(4, 1)]})
    assert len(optimizer.param_groups) == 2


@pytest.mark.parametrize("hyperparameter, value", [("lr", INF), ("ns_steps", 0),
                                                   ("adjust_lr_fn", None),
                                                   ("ns_coefficients", (1.0,))])
def test_a_hyperparameter_spoiled_between_steps_is_refused(hyperparameter, value):
    params = make_params(shapes=[(3, 2), (2, 4)])
    optimizer = ours.Muon(params)
    set_gradients(params, torch.Generator().manual_seed(0))
    optimizer.step()
    before = [p.detach().clone() for p in params]
    optimizer.param_groups[0][hyperparameter] = value
    with pytest.raises(ValueError,
                       match=f"^Muon: parameter group 0: {hyperparameter}"):
        optimizer.step()
    assert all(torch.equal(p, b) for p, b in zip(params, before))


# State dicts -----------------------------------------------------------------
SHAPES = [(4, 3), (7, 2), (2, 5)]   # group 0: two matrices, group 1: one


def trained(steps=4, seed=1, lr=2e-2):
    params = make_params(shapes=SHAPES)
    generator = torch.Generator().manual_seed(seed)
    optimizer = ours.Muon(groups(params, lr=lr), momentum=0.9, weight_decay=0.01)
    train(optimizer, params, generator, steps)
    return optimizer, params, generator


def train(optimizer, params, generator, steps):
    for _ in range(steps):
        set_gradients(params, generator)
        optimizer.step()


@pytest.mark.parametrize("how", ["fresh optimizer", "through JSON", "deep copy"])
def test_a_resumed_run_equals_the_uninterrupted_one(how):
    optimizer, params, generator = trained(steps=10)
    resumed_optimizer, resumed, resumed_generator = trained(steps=5)
    if how == "deep copy":
        resumed_optimizer, resumed = copy.deepcopy((resumed_optimizer, resumed))
    else:
        saved = resumed_optimizer.state_dict()
        saved = through_json(saved) if how == "through JSON" else saved
        resumed = [p.detach().clone().requires_grad_() for p in resumed]
        resumed_optimizer = ours.Muon(groups(resumed, lr=0.5))   # lr from the state
        resumed_optimizer.load_state_dict(saved)
    train(resumed_optimizer, resumed, resumed_generator, 5)
    assert all(torch.equal(a, b) for a, b in zip(params, resumed))


@pytest.mark.parametrize("fault", FAULTS)
def test_an_unusable_state_dict_is_refused_and_changes_nothing(fault):
    optimizer, params, generator = trained()
    bad, error, message = FAULTS[fault]
    state_dict = bad(optimizer)
    before = snapshot(optimizer)
    with pytest.raises(error, match=fr"^Muon.load_state_dict: .*{message}"):
        optimizer.load_state_dict(state_dict)
    assert equal(snapshot(optimizer), before)


# muon_with_adamw -------------------------------------------------------------
class TinyTransformer(torch.nn.Module):
    """Embedding, a block (two matrices, a norm), an output layer; ``tied`` shares
    the output layer's weight with the embedding."""

    def __init__(self, tied=False):
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(11, 8)
        self.up = torch.nn.Linear(8, 16)
        self.down = torch.nn.Linear(16, 8, bias=False)
        self.norm = torch.nn.LayerNorm(8)
        self.head = torch.nn.Linear(8, 11, bias=False)
        if tied:
            self.head.weight = self.embed.weight

    def forward(self, tokens):
        x = self.embed(tokens)
        x = x + self.down(torch.relu(self.up(self.norm(x))))
        return self.head(x)


def loss(model, seed):
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 11, (4, 5), generator=generator)
    return torch.nn.functional.cross_entropy(model(tokens).flatten(0, 1),
                                             tokens.roll(1, dims=1).flatten())


def split(optimizer):
    return [[p for g in o.param_groups for p in g["params"]]
            for o in (optimizer.muon, optimizer.adamw)]


def test_the_hidden_matrices_go_to_muon_the_rest_to_adamw():
    model = TinyTransformer()
    hidden, rest = split(ours.muon_with_adamw(model))
    assert hidden == [model.up.weight, model.down.weight]
    assert rest == [model.embed.weight, model.up.bias, model.norm.weight,
                    model.norm.bias, model.head.weight]


def test_a_tied_output_layer_goes_to_adamw_once():
    model = TinyTransformer(tied=True)
    hidden, rest = split(ours.muon_with_adamw(model))
    assert hidden == [model.up.weight, model.down.weight]
    assert [p is model.embed.weight for p in rest].count(True) == 1


def test_conv_filters_go_to_adamw_and_the_head_can_be_named():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(),
                                torch.nn.Linear(4, 6), torch.nn.Linear(6, 2))
    hidden, rest = split(ours.muon_with_adamw(model))
    assert hidden == [model[2].weight] and model[0].weight in rest
    hidden, _ = split(ours.muon_with_adamw(model, head=[model[0]]))  # no head
    assert hidden == [model[2].weight, model[3].weight]


def test_the_combination_steps_as_its_two_optimizers():
    options = dict(muon=dict(lr=0.05, weight_decay=0.01), adamw=dict(lr=3e-3))
    model, twin = TinyTransformer(), TinyTransformer()
    combined = ours.muon_with_adamw(model, **options)
    hidden, rest = split(ours.muon_with_adamw(twin))
    separate = [ours.Muon(hidden, **options["muon"]),
                ours.AdamW(rest, **options["adamw"])]
    for seed in range(10):
        combined.zero_grad()
        loss(model, seed).backward()
        combined.step()
        twin.zero_grad()
        loss(twin, seed).backward()
        for optimizer in separate:
            optimizer.step()
    assert all(torch.equal(a, b)
               for a, b in zip(model.parameters(), twin.parameters()))
    assert loss(model, 0) < loss(TinyTransformer(), 0)


def test_state_and_zero_grad_cover_both_optimizers():
    model = TinyTransformer()
    combined = ours.muon_with_adamw(model)
    loss(model, 0).backward()
    combined.step()
    assert set(combined.state) == set(model.parameters())
    assert combined.state[model.up.weight] is combined.muon.state[model.up.weight]
    combined.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_a_scheduler_drives_both_learning_rates():
    combined = ours.muon_with_adamw(TinyTransformer())
    scheduler = torch.optim.lr_scheduler.LambdaLR(combined, lambda t: 0.5**t)
    for _ in range(3):
        combined.step()
        scheduler.step()
    assert [g["lr"] for g in combined.param_groups] == [0.02 / 8, 1e-3 / 8]


def test_a_bad_step_of_either_optimizer_moves_nothing():
    model = TinyTransformer()
    combined = ours.muon_with_adamw(model)
    loss(model, 0).backward()
    combined.adamw.param_groups[0]["lr"] = -1.0
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="^AdamW: parameter group 0: lr must be"):
        combined.step()
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before))


def trained_combination(steps):
    model = TinyTransformer()
    combined = ours.muon_with_adamw(model)
    for seed in range(steps):
        combined.zero_grad()
        loss(model, seed).backward()
        combined.step()
    return model, combined


@pytest.mark.parametrize("how", ["state dict", "deep copy"])
def test_the_combination_resumes_exactly(how):
    model, combined = trained_combination(6)
    resumed_model, resumed = trained_combination(3)
    if how == "deep copy":
        resumed_model, resumed = copy.deepcopy((resumed_model, resumed))
    else:
        saved = resumed.state_dict()
        resumed_model = copy.deepcopy(resumed_model)
        resumed = ours.muon_with_adamw(resumed_model)
        resumed.load_state_dict(saved)
    for seed in range(3, 6):
        resumed.zero_grad()
        loss(resumed_model, seed).backward()
        resumed.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(),
                                                 resumed_model.parameters()))


def inner_lr(state_dict, lr):
    state_dict["adamw"]["param_groups"][0]["lr"] = lr
    return state_dict


@pytest.mark.parametrize("saved, message", [
    (lambda c: c.muon.state_dict(), "the state_dict was saved by Muon, not by "
                                    "MuonWithAdamW"),
    (lambda c: {**c.state_dict(), "adamw": None},
     "the state_dict has no dict 'adamw'"),
    (lambda c: inner_lr(c.state_dict(), -1.0),
     r"AdamW.load_state_dict \(adamw\): parameter group 0 of the state_dict: lr"),
], ids=["Muon's", "no AdamW part", "AdamW's lr negative"])
def test_the_combination_refuses_an_unusable_state_dict(saved, message):
    _, combined = trained_combination(2)
    state_dict = saved(combined)
    before = (snapshot(combined.muon), snapshot(combined.adamw))
    with pytest.raises(ValueError,
                       match=f"^MuonWithAdamW.load_state_dict: {message}"):
        combined.load_state_dict(state_dict)
    assert equal((snapshot(combined.muon), snapshot(combined.adamw)), before)


@pytest.mark.parametrize("call, error, message", [
    (lambda: ours.muon_with_adamw([torch.zeros(2, 2)]), TypeError,
     "model must be a torch.nn.Module"),
    (lambda: ours.muon_with_adamw(torch.nn.Linear(3, 2)), ValueError,
     "no parameter for Muon"),
    (lambda: ours.muon_with_adamw(TinyTransformer()).add_param_group({"params": []}),
     TypeError, r"\.muon\.add_param_group"),
    (lambda: MuonWithAdamW(ours.Muon([matrix()]), torch.optim.AdamW([matrix()])),
     TypeError, "an optimlab optimizer"),
], ids=["not a model", "no hidden matrix", "add_param_group", "torch's AdamW"])
def test_the_combinations_misuse_is_explained(call, error, message):
    with pytest.raises(error, match=message):
        call()
