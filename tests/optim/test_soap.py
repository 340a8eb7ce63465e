"""SOAP: equal to pytorch-optimizer's SOAP over 100 float64 steps, the paper's
equations by hand, and the conventions in which the two differ, pinned.

Tolerance: both compute the same eigendecompositions and QR decompositions of the
same matrices, but not with the same operations (a moving average by ``lerp``
there, by multiply-add here; the first moment rotated at every step there, kept
rotated here), so the bases differ by rounding, and SOAP's update depends on them
continuously: measured 1e-13 relative after 100 steps, asserted below 1e-10.
pytorch-optimizer computes its QR in float32 even for float64 parameters; the
equality tests give it a float64 QR (``float64_qr``), and a test measures what
its float32 QR costs.
"""

import types

import pytest
import pytorch_optimizer as po
import torch
from pytorch_optimizer.optimizer import soap as their_soap

from kronecker_cases import NEVER, SHAPES, one_thread, relative_errors  # noqa: F401
from optimlab.optim import SOAP
from optimlab.optim.kronecker import mode_gram
from problems import groups, make_params, max_relative_error, run, set_gradients

pytestmark = pytest.mark.usefixtures("float64_default")

TOLERANCE = 1e-10


class _Float64Instead(types.ModuleType):
    """``torch`` as pytorch-optimizer's soap module sees it, with float64 for its
    one use of float32 (the cast before QR)."""

    def __getattr__(self, name):
        return torch.float64 if name == "float32" else getattr(torch, name)


@pytest.fixture
def float64_qr(monkeypatch):
    monkeypatch.setattr(their_soap, "torch", _Float64Instead("torch"))


def ours(kwargs, shapes=SHAPES, skip_every=NEVER, second=None):
    """Our SOAP after 100 steps of problems.run, lr 3e-3 (the second group's
    hyperparameters ``second``)."""
    return run(lambda p: SOAP(groups(p, **second or {}), lr=3e-3, **kwargs),
               shapes=shapes, skip_every=skip_every)


def theirs(kwargs, shapes=SHAPES, skip_every=NEVER, second=None):
    """pytorch-optimizer's SOAP, as ``ours``."""
    return run(lambda p: po.SOAP(groups(p, **second or {}), lr=3e-3, **kwargs),
               shapes=shapes, skip_every=skip_every)


# Against pytorch-optimizer ---------------------------------------------------------
CASES = [
    dict(),
    dict(precondition_1d=True),
    dict(betas=(0.9, 0.99), shampoo_beta=0.8, precondition_frequency=3,
         weight_decay=0.1),
    dict(precondition_frequency=1, eps=1e-4, weight_decay=0.0),
    dict(max_precondition_dim=5, precondition_1d=True),
    dict(correct_bias=False),
]
SECOND = dict(lr=1e-2, betas=(0.8, 0.9), precondition_frequency=4)


@pytest.mark.parametrize("kwargs", CASES, ids=str)
def test_equals_pytorch_optimizer(kwargs, float64_qr):
    """Two groups, the second with its own lr, betas and refresh frequency."""
    mine = ours(kwargs, second=SECOND)
    assert max(relative_errors(mine, theirs(kwargs, second=SECOND))) < TOLERANCE
    unrotated = ours({**kwargs, "max_precondition_dim": 1}, second=SECOND)
    assert max_relative_error(mine, unrotated) > 1e-3      # the rotation does matter


def test_merged_dimensions_equal_pytorch_optimizer(float64_qr):
    """Shapes whose dimensions do not all merge into one, and no vector: there
    pytorch-optimizer fails (see the next test)."""
    shapes, kwargs = [(4, 3), (2, 3, 5), (3, 2, 2, 4)], dict(max_precondition_dim=6)
    mine = ours({**kwargs, "merge_dims": True}, shapes)
    reference = theirs({**kwargs, "merge_dims": True}, shapes)
    assert max(relative_errors(mine, reference)) < TOLERANCE
    assert max_relative_error(mine, ours(kwargs, shapes)) > 1e-3


@pytest.mark.parametrize("shape", [(7,), (2, 3)], ids=str)
def test_pytorch_optimizer_cannot_merge_a_tensor_into_one_dimension(shape):
    def steps(optimizer_class):
        params = make_params(shapes=[shape])
        optimizer = optimizer_class(params, merge_dims=True, precondition_1d=True,
                                    max_precondition_dim=100)
        for seed in range(3):
            set_gradients(params, torch.Generator().manual_seed(seed))
            optimizer.step()
        return optimizer.state[params[0]]

    with pytest.raises(RuntimeError, match=r"shape '\[1\]' is invalid"):
        steps(po.SOAP)
    size = 7 if shape == (7,) else 6                       # a vector is not merged
    assert steps(SOAP)["basis_0"].shape == (size, size)


def test_pytorch_optimizer_computes_its_qr_in_float32():
    errors = relative_errors(ours({}), theirs({}))
    assert 1e-9 < max(errors) < 1e-4                             # 7.5e-6 measured
    assert errors[1] < TOLERANCE and errors[-1] < TOLERANCE      # unrotated ones


def test_pytorch_optimizer_counts_the_steps_of_a_group(float64_qr):
    """A parameter without a gradient still advances its group's count there (its
    bias correction and refreshes follow it), and one whose first gradient comes
    late steps at once; here each parameter counts its own steps."""
    skipping = dict(skip_every=7)
    assert max_relative_error(ours({}, **skipping), theirs({}, **skipping)) > 1e-3
    for optimizer_class, moves in ((SOAP, False), (po.SOAP, True)):
        params = make_params(shapes=[(4, 3), (3, 2)])
        optimizer = optimizer_class(params)
        for t in range(3):                # parameter 1: its first gradient at t = 2
            generator = torch.Generator().manual_seed(t)
            set_gradients(params, generator, skip=1 if t < 2 else None)
            before = params[1].detach().clone()
            optimizer.step()
        assert (not torch.equal(params[1], before)) == moves


def test_defaults_are_pytorch_optimizers():
    p = make_params(shapes=[(3,)])
    mine, reference = SOAP(p).defaults, po.SOAP(p).defaults
    for name in ("lr", "betas", "shampoo_beta", "eps", "weight_decay",
                 "precondition_frequency", "max_precondition_dim", "merge_dims",
                 "precondition_1d", "correct_bias"):
        assert mine[name] == reference[name], name


# The paper's equations -------------------------------------------------------------
def stepped(shape, steps, **kwargs):
    """(W_0, gradients, W, state) after ``steps`` steps on one tensor."""
    (p,) = make_params(shapes=[shape])
    generator, gradients = torch.Generator().manual_seed(3), []
    w0, optimizer = p.detach().clone(), SOAP([p], **kwargs)
    for _ in range(steps):
        set_gradients([p], generator)
        gradients.append(p.grad.clone())
        optimizer.step()
    return w0, gradients, p.detach(), optimizer.state[p]


def test_the_first_step_only_sets_the_statistics_and_their_eigenvectors():
    w0, (g,), w1, state = stepped((4, 3), 1, shampoo_beta=0.9)
    assert torch.equal(w0, w1)                           # no step, no weight decay
    for dim, gram in enumerate((g @ g.T, g.T @ g)):
        statistic, basis = state[f"statistic_{dim}"], state[f"basis_{dim}"]
        torch.testing.assert_close(statistic, 0.1 * gram)       # (1 - β_s) G Gᵀ
        torch.testing.assert_close(basis.T @ basis, torch.eye(len(basis)))
        diagonal = basis.T @ statistic @ basis                   # Qᵀ L Q = Λ
        torch.testing.assert_close(diagonal, torch.diag(diagonal.diagonal()),
                                   atol=1e-14, rtol=0)
        assert (diagonal.diagonal().diff() <= 1e-15).all()      # decreasing


def test_a_matrix_takes_algorithm_3s_steps():
    """Steps 2 and 3 written out: G' = Q_Lᵀ G Q_R, the moments, the bias-corrected
    step rotated back, the weight decay after it, then L and R."""
    lr, beta1, beta2, beta_s, eps, decay = 0.1, 0.8, 0.9, 0.7, 1e-3, 0.05
    w0, gradients, w3, state = stepped((4, 3), 3, lr=lr, betas=(beta1, beta2),
                                       shampoo_beta=beta_s, eps=eps,
                                       weight_decay=decay)
    first = gradients[0]
    left, right = (1 - beta_s) * first @ first.T, (1 - beta_s) * first.T @ first
    q_left, q_right = (torch.linalg.eigh(a).eigenvectors.flip(1)
                       for a in (left, right))
    w, m, v = w0, torch.zeros(4, 3), torch.zeros(4, 3)
    for s, g in enumerate(gradients[1:], start=1):
        rotated = q_left.T @ g @ q_right                     # G'
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * rotated**2
        m_rotated = q_left.T @ m @ q_right                   # M'
        direction = q_left @ (m_rotated / (v.sqrt() + eps)) @ q_right.T
        step_size = lr * (1 - beta2**s) ** 0.5 / (1 - beta1**s)
        w = (1 - lr * decay) * (w - step_size * direction)
        left = beta_s * left + (1 - beta_s) * g @ g.T
        right = beta_s * right + (1 - beta_s) * g.T @ g
    torch.testing.assert_close(w3, w, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(state["m"], m_rotated, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(state["statistic_0"], left, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(state["statistic_1"], right, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("correct_bias", [True, False])
def test_a_vector_without_a_matrix_takes_adams_steps_from_the_second(correct_bias):
    """Adam with ε added to sqrt(v_s) before the bias correction, s = t - 1."""
    lr, beta1, beta2, eps = 0.1, 0.8, 0.9, 1e-2
    w0, gradients, w4, _ = stepped((5,), 4, lr=lr, betas=(beta1, beta2), eps=eps,
                                   weight_decay=0.0, correct_bias=correct_bias)
    w, m, v = w0, 0.0, 0.0
    for s, g in enumerate(gradients[1:], start=1):
        m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g**2
        step_size = lr * (1 - beta2**s) ** 0.5 / (1 - beta1**s)
        step_size = step_size if correct_bias else lr
        w = w - step_size * m / (v.sqrt() + eps)
    torch.testing.assert_close(w4, w, rtol=1e-12, atol=1e-14)


def test_the_basis_is_refreshed_by_one_power_iteration_every_f_updates():
    """At update s = f = 3 (step 4): V, M' and L are updated in the old bases, then
    Q ← QR(L Q) with the columns sorted by the estimates qᵀLq (decreasing), V's
    entries permuted with them and M' turned into the new bases; the bases do
    not change in between."""
    (p,) = make_params(shapes=[(4, 3)])
    optimizer = SOAP([p], betas=(0.9, 0.8), precondition_frequency=3)
    generator, bases, old = torch.Generator().manual_seed(3), [], {}
    for _ in range(4):
        set_gradients([p], generator)
        old = {key: value.clone() for key, value in optimizer.state[p].items()
               if torch.is_tensor(value)}
        optimizer.step()
        bases.append(optimizer.state[p]["basis_0"].clone())
    state, g = optimizer.state[p], p.grad
    assert torch.equal(bases[0], bases[1]) and torch.equal(bases[1], bases[2])
    rotated = old["basis_0"].T @ g @ old["basis_1"]              # G' (old bases)
    v = 0.8 * old["v"] + 0.2 * rotated**2
    m = old["basis_0"] @ (0.9 * old["m"] + 0.1 * rotated) @ old["basis_1"].T  # M_s
    orders = []
    for dim, gram in enumerate((g @ g.T, g.T @ g)):
        statistic = 0.8 * old[f"statistic_{dim}"] + 0.2 * gram
        product = statistic @ old[f"basis_{dim}"]
        estimates = (old[f"basis_{dim}"] * product).sum(0)       # qᵀ L q
        orders.append(torch.argsort(estimates, descending=True))
        torch.testing.assert_close(state[f"basis_{dim}"],
                                   torch.linalg.qr(product[:, orders[-1]]).Q)
        v = v.index_select(dim, orders[-1])
    torch.testing.assert_close(state["v"], v, rtol=1e-12, atol=0)
    torch.testing.assert_close(state["m"], state["basis_0"].T @ m @ state["basis_1"],
                               rtol=1e-12, atol=1e-14)          # M' in the new bases
    assert any(not torch.equal(order, torch.arange(len(order))) for order in orders)


def test_the_statistics_of_an_order_4_tensor_are_its_mode_gram_matrices():
    _, (g,), _, state = stepped((3, 2, 2, 4), 1, shampoo_beta=0.5)
    for dim in range(4):
        torch.testing.assert_close(state[f"statistic_{dim}"],
                                   0.5 * mode_gram(g, dim))


# Hyperparameters and state ---------------------------------------------------------
BAD = [("shampoo_beta", 1.0, ValueError), ("shampoo_beta", -0.5, ValueError),
       ("precondition_frequency", 0, ValueError),
       ("precondition_frequency", 2.5, TypeError),
       ("max_precondition_dim", -1, ValueError),
       ("max_precondition_dim", "10", TypeError),
       ("precondition_1d", "no", TypeError), ("correct_bias", 0, TypeError),
       ("merge_dims", 1, TypeError)]


@pytest.mark.parametrize("name, value, error", BAD, ids=str)
def test_a_bad_hyperparameter_is_named(name, value, error):
    with pytest.raises(error, match=fr"^SOAP: {name} must .*{value!r}"):
        SOAP(make_params(shapes=[(3,)]), **{name: value})


LAYOUT_CHANGES = [dict(max_precondition_dim=3), dict(precondition_1d=True),
                  dict(max_precondition_dim=12, merge_dims=True)]


@pytest.mark.parametrize("change", LAYOUT_CHANGES, ids=str)
def test_the_layout_cannot_change_after_the_first_step(change):
    params = make_params(shapes=[(4, 3), (5,)])
    optimizer = SOAP(params)
    set_gradients(params, torch.Generator().manual_seed(0))
    optimizer.step()
    optimizer.param_groups[0].update(change)
    before = [p.detach().clone() for p in params]
    message = r"^SOAP: parameter \d of group 0 has the preconditioner matrices"
    with pytest.raises(ValueError, match=message):
        optimizer.step()
    assert all(torch.equal(p, b) for p, b in zip(params, before))


@pytest.mark.parametrize("poisoned_step", [0, 1, 2])
def test_a_nan_gradient_poisons_the_parameter_without_an_error(poisoned_step):
    """At the first step (the eigendecomposition), at an update, or just before a
    refresh (the QR): no error in the middle of a step, a NaN parameter."""
    params = make_params(shapes=[(4, 3)])
    optimizer = SOAP(params, precondition_frequency=2)
    for t in range(4):
        params[0].grad = torch.ones(4, 3) + torch.eye(4, 3) * t
        params[0].grad[1, 2] = float("nan") if t == poisoned_step else 1.0
        optimizer.step()
    assert params[0].isnan().all()
