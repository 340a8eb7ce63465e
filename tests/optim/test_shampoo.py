"""Shampoo and the Kronecker-factor helpers it shares with SOAP: equal to
pytorch-optimizer's Shampoo over 100 float64 steps, the paper's equations by hand,
and the conventions in which the two differ, pinned; what both optimizers share.

Tolerance: pytorch-optimizer takes the inverse roots from an SVD, we from an
eigendecomposition (``eigh``).  Both are backward stable, so the roots differ
by rounding, amplified by the condition number of the statistics (their
eigenvalues run from ε = 1e-6 to about 1e2 here): measured 1e-13 relative
after 100 steps, asserted below 1e-10.
"""

import pytest
import pytorch_optimizer as po
import torch
from pytorch_optimizer.optimizer.utils.matrix import compute_power_svd
from pytorch_optimizer.optimizer.utils.shape import merge_small_dims

from kronecker_cases import NEVER, SHAPES, one_thread, relative_errors  # noqa: F401
from optimlab.optim import SOAP, Shampoo
from optimlab.optim.kronecker import (inverse_root, layout, merged_shape, mode_gram,
                                      mode_products)
from problems import groups, make_params, max_relative_error, run, set_gradients

pytestmark = pytest.mark.usefixtures("float64_default")

TOLERANCE = 1e-10
#: our name: pytorch-optimizer's
THEIR_NAMES = {"decoupled_weight_decay": "weight_decouple", "eps": "matrix_eps",
               "precondition_frequency": "preconditioning_compute_steps"}


def theirs(kwargs):
    return {THEIR_NAMES.get(key, key): value for key, value in kwargs.items()}


# Against pytorch-optimizer ---------------------------------------------------------
CASES = [
    dict(),
    dict(momentum=0.9),
    dict(weight_decay=0.1),
    dict(weight_decay=0.1, decoupled_weight_decay=True),
    dict(momentum=0.5, weight_decay=0.01, eps=1e-3),
]


@pytest.mark.parametrize("kwargs", CASES, ids=str)
def test_equals_pytorch_optimizer(kwargs):
    """100 steps, two groups (the second with its own lr and momentum), a parameter
    without gradient every 7th step (which only the step count would notice)."""
    second = dict(lr=2e-3, momentum=0.3)
    mine = run(lambda p: Shampoo(groups(p, **second), lr=3e-3, **kwargs),
               shapes=SHAPES)
    reference = run(lambda p: po.Shampoo(groups(p, **second), lr=3e-3,
                                         **theirs(kwargs)), shapes=SHAPES)
    assert max(relative_errors(mine, reference)) < TOLERANCE
    if kwargs:                                    # the options do change the run
        plain = run(lambda p: Shampoo(groups(p, **second), lr=3e-3), shapes=SHAPES)
        assert max_relative_error(mine, plain) > 1e-3


def theirs_with_roots_at_step_one(frequency, **kwargs):
    """pytorch-optimizer's Shampoo, whose roots are 0 until its first refresh at step
    f, with a refresh at step 1 as well (its attribute is 1 for the first step):
    then it refreshes at steps 1, f, 2f, ... as ours does."""
    def make(params):
        optimizer = po.Shampoo(params, **theirs(kwargs))
        original_step = optimizer.step

        def step(closure=None):
            first = "step" not in optimizer.param_groups[0]
            optimizer.preconditioning_compute_steps = 1 if first else frequency
            return original_step(closure)
        optimizer.step = step
        return optimizer
    return make


@pytest.mark.parametrize("frequency", [3, 5])
def test_roots_every_f_steps_equal_pytorch_optimizer_once_its_roots_exist(frequency):
    """ε = 0.1: the roots of step 1 have the eigenvalue ε^(-1/2k) in the
    directions G_1 does not span (all but one for a vector), which stale roots
    apply for f - 1 steps; with ε = 1e-6 the vector's first steps are 1000 times
    too large, and the runs, chaotic, part by 1e-9 to 1e5 relative."""
    kwargs = dict(lr=3e-3, momentum=0.5, eps=0.1)
    mine = run(lambda p: Shampoo(p, precondition_frequency=frequency, **kwargs),
               shapes=SHAPES, skip_every=NEVER)
    reference = run(theirs_with_roots_at_step_one(frequency, **kwargs),
                    shapes=SHAPES, skip_every=NEVER)
    assert max(relative_errors(mine, reference)) < TOLERANCE
    every_step = run(lambda p: Shampoo(p, **kwargs), shapes=SHAPES, skip_every=NEVER)
    assert max_relative_error(mine, every_step) > 1e-4   # stale roots do change it


def test_pytorch_optimizer_takes_no_step_before_its_first_root():
    tensors = SHAPES[:-1]                      # a scalar has no root: a plain step
    params, mine = make_params(shapes=tensors), make_params(shapes=tensors)
    before = [p.detach().clone() for p in params]
    optimizers = [po.Shampoo(params, preconditioning_compute_steps=4),
                  Shampoo(mine, precondition_frequency=4)]
    for t in range(1, 5):
        for optimizer, ps in zip(optimizers, (params, mine)):
            set_gradients(ps, torch.Generator().manual_seed(t))
            optimizer.step()
        assert all(torch.equal(p, b) for p, b in zip(params, before)) == (t < 4)
        assert not torch.equal(mine[0], before[0])


def test_pytorch_optimizer_counts_the_steps_of_a_group():
    """Its refreshes follow the group's count, which also runs while a parameter
    has no gradient; ours follow each parameter's own count."""
    kwargs = dict(lr=3e-3, eps=0.1)
    mine = run(lambda p: Shampoo(p, precondition_frequency=3, **kwargs),
               shapes=SHAPES)
    reference = run(theirs_with_roots_at_step_one(3, **kwargs), shapes=SHAPES)
    assert max_relative_error(mine, reference) > 1e-6


@pytest.mark.parametrize("kwargs", [dict(momentum=0.9), dict(weight_decay=0.1)],
                         ids=str)
def test_pytorch_optimizer_overwrites_the_gradient_and_we_do_not(kwargs):
    for make, kept in ((lambda p: po.Shampoo(p, **theirs(kwargs)), False),
                       (lambda p: Shampoo(p, **kwargs), True)):
        params = make_params(shapes=[(4, 3)])
        optimizer = make(params)
        for seed in range(2):
            set_gradients(params, torch.Generator().manual_seed(seed))
            gradient = params[0].grad.clone()
            optimizer.step()
        assert torch.equal(params[0].grad, gradient) == kept


def test_defaults_are_pytorch_optimizers():
    p = make_params(shapes=[(3,)])
    mine, reference = Shampoo(p).defaults, po.Shampoo(p).defaults
    for name in ("lr", "momentum", "weight_decay"):
        assert mine[name] == reference[name]
    assert mine["eps"] == reference["matrix_eps"] == 1e-6
    assert mine["precondition_frequency"] == \
        po.Shampoo(p).preconditioning_compute_steps == 1
    assert mine["max_precondition_dim"] is None and mine["merge_dims"] is False


# The paper's equations -------------------------------------------------------------
def stepped(shape, steps=1, **kwargs):
    """(W_0, gradients, W, state) after ``steps`` steps on one tensor, lr 0.1."""
    (p,) = make_params(shapes=[shape])
    generator, gradients = torch.Generator().manual_seed(5), []
    w0 = p.detach().clone()
    optimizer = Shampoo([p], lr=0.1, **kwargs)
    for _ in range(steps):
        set_gradients([p], generator)
        gradients.append(p.grad.clone())
        optimizer.step()
    return w0, gradients, p.detach(), optimizer.state[p]


def test_a_vector_takes_a_full_matrix_adagrad_step():
    """k = 1: W_1 = W_0 - η (εI + g gᵀ)^(-1/2) g = W_0 - η g / sqrt(ε + |g|²)."""
    w0, (g,), w1, _ = stepped((7,), eps=1e-3)
    torch.testing.assert_close(w1, w0 - 0.1 * g / (1e-3 + g.square().sum()).sqrt(),
                               rtol=1e-12, atol=1e-14)


def test_a_matrix_takes_algorithm_1s_steps():
    """W_t = W_{t-1} - η L_t^(-1/4) G_t R_t^(-1/4) with L_t = εI + Σ G Gᵀ and
    R_t = εI + Σ Gᵀ G, the roots checked by their definition: (L^(-1/4))⁴ L = I."""
    w0, gradients, w3, state = stepped((4, 3), steps=3)
    left, right, w = 1e-6 * torch.eye(4), 1e-6 * torch.eye(3), w0
    for g in gradients:
        left, right = left + g @ g.T, right + g.T @ g
        left_root = inverse_root(left, 4, 1e-6)
        right_root = inverse_root(right, 4, 1e-6)
        w = w - 0.1 * left_root @ g @ right_root
    torch.testing.assert_close(w3, w, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(state["statistic_0"], left, rtol=1e-14, atol=0)
    torch.testing.assert_close(state["statistic_1"], right, rtol=1e-14, atol=0)
    for root, statistic in ((left_root, left), (right_root, right)):
        torch.testing.assert_close(torch.linalg.matrix_power(root, 4) @ statistic,
                                   torch.eye(len(root)), rtol=0, atol=1e-9)


def test_an_order_3_tensor_uses_the_inverse_sixth_root_of_each_mode():
    w0, (g,), w1, _ = stepped((2, 3, 5))
    roots = [inverse_root(1e-6 * torch.eye(n) + mode_gram(g, i), 6, 1e-6)
             for i, n in enumerate(g.shape)]
    step = torch.einsum("abc,ai,bj,ck->ijk", g, *roots)   # G ×_i (H^i)^(-1/6)
    torch.testing.assert_close(w1, w0 - 0.1 * step, rtol=1e-12, atol=1e-14)


def test_roots_are_refreshed_at_the_first_step_and_every_f_steps():
    (p,) = make_params(shapes=[(4, 3)])
    optimizer, generator, roots = Shampoo([p], precondition_frequency=3), \
        torch.Generator().manual_seed(0), [torch.zeros(4, 4)]
    for _ in range(7):
        set_gradients([p], generator)
        optimizer.step()
        roots.append(optimizer.state[p]["root_0"].clone())
    changed = [not torch.equal(a, b) for a, b in zip(roots, roots[1:])]
    assert changed == [True, False, True, False, False, True, False]  # steps 1, 3, 6


def test_a_dimension_above_max_precondition_dim_is_left_alone():
    """(3, 50) with max 10: only L, and k counts it alone: L^(-1/2) G."""
    w0, (g,), w1, state = stepped((3, 50), max_precondition_dim=10)
    assert sorted(k for k in state if k != "step") == ["root_0", "statistic_0"]
    expected = w0 - 0.1 * inverse_root(1e-6 * torch.eye(3) + g @ g.T, 2, 1e-6) @ g
    torch.testing.assert_close(w1, expected, rtol=1e-12, atol=1e-14)
    w0, (g,), w1, state = stepped((50,), max_precondition_dim=10)
    assert list(state) == ["step"]                   # no matrix at all: plain SGD
    torch.testing.assert_close(w1, w0 - 0.1 * g, rtol=1e-15, atol=1e-15)


def test_merged_dimensions_are_shampoo_on_the_reshaped_tensor():
    (p,) = make_params(shapes=[(2, 3, 4, 5)])
    (q,) = [p.detach().reshape(6, 20).clone().requires_grad_()]
    merged = Shampoo([p], lr=0.1, max_precondition_dim=20, merge_dims=True)
    flat = Shampoo([q], lr=0.1, max_precondition_dim=20)
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        set_gradients([p], generator)
        q.grad = p.grad.reshape(6, 20)
        merged.step()
        flat.step()
    assert [s.shape for s in merged.state[p].values() if torch.is_tensor(s)] == \
        [(6, 6), (6, 6), (20, 20), (20, 20)]
    torch.testing.assert_close(p.detach().reshape(6, 20), q.detach(), rtol=1e-13,
                               atol=0)


def test_momentum_mixes_the_gradient_with_the_previous_step():
    """G̃_0 = G_1 (the first step is plain Shampoo); then G ← (1-μ) G + μ G̃_{t-1},
    so the statistics see the mixed gradient."""
    (p,) = make_params(shapes=[(5,)])
    optimizer = Shampoo([p], lr=0.1, momentum=0.75, eps=1e-3)
    w, statistic, previous = p.detach().clone(), 1e-3 * torch.eye(5), None
    for seed in range(3):
        set_gradients([p], torch.Generator().manual_seed(seed))
        g = p.grad if previous is None else 0.25 * p.grad + 0.75 * previous
        statistic = statistic + torch.outer(g, g)
        previous = inverse_root(statistic, 2, 1e-3) @ g
        w = w - 0.1 * previous
        optimizer.step()
        torch.testing.assert_close(p.detach(), w, rtol=1e-12, atol=1e-14)


# The Kronecker-factor helpers ------------------------------------------------------
def test_inverse_root_by_its_definition_and_floor():
    a = torch.randn(6, 6, generator=torch.Generator().manual_seed(0))
    a = a @ a.T + 0.1 * torch.eye(6)
    for r in (2, 4, 8):
        root = inverse_root(a, r, 1e-6)
        torch.testing.assert_close(torch.linalg.matrix_power(root, r) @ a,
                                   torch.eye(6), rtol=0, atol=1e-10)
        torch.testing.assert_close(root, compute_power_svd(a, r), rtol=1e-11, atol=0)
    singular = torch.diag(torch.tensor([4.0, 0.0, -1e-20]))  # rounding's eigenvalues
    torch.testing.assert_close(inverse_root(singular, 2, 1e-6),
                               torch.diag(torch.tensor([0.5, 1e3, 1e3])))
    assert inverse_root(torch.full((2, 2), float("nan")), 2, 1e-6).isnan().all()


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (6, 5, 3, 3), (7,)], ids=str)
def test_mode_products_and_gram_matrices_against_einsum(shape):
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(shape, generator=generator)
    letters = "abcd"[:len(shape)]
    matrices = [torch.randn(n, n, generator=generator) for n in shape]
    rows = ",".join(f"{c}{c.upper()}" for c in letters)        # Σ_a x_a M_aA: Mᵀx
    columns = ",".join(f"{c.upper()}{c}" for c in letters)     # Σ_a M_Aa x_a: M x
    for transposed, operands in ((True, rows), (False, columns)):
        expected = torch.einsum(f"{letters},{operands}->{letters.upper()}", x,
                                *matrices)
        torch.testing.assert_close(mode_products(x, matrices, transposed), expected)
    skipped = [None if i == 0 else m for i, m in enumerate(matrices)]
    identity = [torch.eye(shape[0])] + matrices[1:]
    torch.testing.assert_close(mode_products(x, skipped), mode_products(x, identity))
    for i in range(len(shape)):
        other_side = letters.replace(letters[i], "z")          # x_{..a..} x_{..z..}
        torch.testing.assert_close(mode_gram(x, i), torch.einsum(
            f"{letters},{other_side}->{letters[i]}z", x, x))


MERGED = [((512, 512, 3, 3), 10000), ((64, 3, 7, 7), 200), ((4, 3), 6),
          ((2, 3, 5), 6), ((3, 2, 2, 4), 6), ((100, 30, 3), 100), ((5, 5, 5, 5), 30)]


@pytest.mark.parametrize("shape, max_dim", MERGED, ids=str)
def test_merged_shape_is_pytorch_optimizers(shape, max_dim):
    assert list(merged_shape(shape, max_dim)) == merge_small_dims(shape, max_dim)


def test_merged_shape_keeps_a_tensor_whole_where_pytorch_optimizer_gives_1():
    assert merge_small_dims((4, 3), 100) == [1]            # then fails to reshape
    assert merged_shape((4, 3), 100) == (12,)
    assert merge_small_dims((1000, 30, 3), 100) == [1, 1000, 90]   # a leading 1 x 1
    assert merged_shape((1000, 30, 3), 100) == (1000, 90)
    merging = dict(max_precondition_dim=100, merge_dims=True)
    assert layout((4, 3), merging) == ((12,), [12])
    assert layout((700,), merging) == ((700,), [None])      # a vector is not merged
    assert layout((7,), merging, precondition_1d=False) == ((7,), [None])


# Hyperparameters and state ---------------------------------------------------------
BAD = [("momentum", 1.0, ValueError), ("momentum", -0.1, ValueError),
       ("eps", 0.0, ValueError), ("precondition_frequency", 0, ValueError),
       ("precondition_frequency", 2.0, TypeError),
       ("precondition_frequency", True, TypeError),
       ("max_precondition_dim", 0, ValueError),
       ("max_precondition_dim", 10.5, TypeError),
       ("merge_dims", "yes", TypeError), ("decoupled_weight_decay", 1, TypeError)]


@pytest.mark.parametrize("name, value, error", BAD, ids=str)
def test_a_bad_hyperparameter_is_named(name, value, error):
    with pytest.raises(error, match=fr"^Shampoo: {name} must .*{value!r}"):
        Shampoo(make_params(shapes=[(3,)]), **{name: value})


def test_merge_dims_needs_a_size_to_merge_up_to():
    with pytest.raises(ValueError, match="^Shampoo: merge_dims=True needs "
                                         "max_precondition_dim"):
        Shampoo(make_params(shapes=[(3,)]), merge_dims=True)


@pytest.mark.parametrize("change", [dict(max_precondition_dim=3),
                                    dict(max_precondition_dim=12, merge_dims=True)],
                         ids=str)
def test_the_layout_cannot_change_after_the_first_step(change):
    params = make_params(shapes=[(4, 3)])
    optimizer = Shampoo(params)
    set_gradients(params, torch.Generator().manual_seed(0))
    optimizer.step()
    optimizer.param_groups[0].update(change)
    before = params[0].detach().clone()
    message = r"parameter 0 of group 0 has the preconditioner matrices .* cannot"
    with pytest.raises(ValueError, match=message):
        optimizer.step()
    assert torch.equal(params[0], before)


def test_momentum_switched_on_later_starts_from_a_zero_step():
    (p,) = make_params(shapes=[(5,)])
    optimizer = Shampoo([p], lr=0.1)
    set_gradients([p], torch.Generator().manual_seed(0))
    optimizer.step()
    optimizer.param_groups[0]["momentum"] = 0.5
    w, statistic = p.detach().clone(), optimizer.state[p]["statistic_0"].clone()
    set_gradients([p], torch.Generator().manual_seed(1))
    g = 0.5 * p.grad                                       # (1-μ) g + μ·0
    optimizer.step()
    expected = w - 0.1 * inverse_root(statistic + torch.outer(g, g), 2, 1e-6) @ g
    torch.testing.assert_close(p.detach(), expected, rtol=1e-12, atol=1e-14)


def test_a_nan_gradient_poisons_the_parameter_without_an_error():
    params = make_params(shapes=[(4, 3)])
    optimizer = Shampoo(params)
    params[0].grad = torch.ones(4, 3)
    params[0].grad[1, 2] = float("nan")
    optimizer.step()
    assert params[0].isnan().all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_a_low_precision_step_is_the_float32_step_rounded_once(dtype):
    """The statistics and roots are kept in the parameter's dtype and widened to
    float32 for the step, as every optimizer's state (optimlab.optim.base)."""
    generator = torch.Generator().manual_seed(0)
    params = [torch.linspace(-1, 1, 12).reshape(4, 3).to(dtype).requires_grad_()]
    optimizer = Shampoo(params, lr=0.01, momentum=0.5)
    for t in range(4):
        params[0].grad = torch.randn(4, 3, generator=generator).to(dtype)
        if t == 3:
            wide = [params[0].detach().float().requires_grad_()]
            wide_optimizer = Shampoo(wide, lr=0.01, momentum=0.5)
            wide_optimizer.load_state_dict(optimizer.state_dict())  # widens state
            wide[0].grad = params[0].grad.float()
            wide_optimizer.step()
        optimizer.step()
    assert torch.equal(params[0], wide[0].detach().to(dtype))
    for key, value in optimizer.state[params[0]].items():
        wide_value = wide_optimizer.state[wide[0]][key]
        if torch.is_tensor(value):
            assert torch.equal(value, wide_value.to(dtype)), key
        else:
            assert value == wide_value


def test_float16_statistics_overflow_once_the_sums_pass_65504():
    """Sums of squared gradients only grow: kept in float16 they reach its largest
    number, and the roots become NaN (bfloat16 and float32 go far beyond)."""
    for dtype, finite in ((torch.float16, False), (torch.bfloat16, True)):
        params = [torch.ones(3, dtype=dtype, requires_grad=True)]
        optimizer = Shampoo(params)
        for _ in range(2):                  # the sum is stored after the first
            params[0].grad = torch.full((3,), 300.0, dtype=dtype)  # 300² = 90000
            optimizer.step()
        assert params[0].isfinite().all() == finite


@pytest.mark.parametrize("optimizer_class", [Shampoo, SOAP])
def test_a_parameter_without_gradient_gets_no_state_and_does_not_move(optimizer_class):
    params = make_params(shapes=SHAPES)
    frozen = params[1].detach().clone()
    optimizer = optimizer_class(params, precondition_frequency=2)
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        set_gradients(params, generator, skip=1)
        optimizer.step()
    assert torch.equal(params[1], frozen) and params[1] not in optimizer.state
    assert all(optimizer.state[p]["step"] == 5 for i, p in enumerate(params) if i != 1)
