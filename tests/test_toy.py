"""The vectorised toy experiment equals the optimizers of optimlab.optim, step by step."""

import math

import numpy as np
import pytest
import torch

import optimlab.optim as optim
from optimlab.toy import (RULES, ToyProblem, linear_scan, project, simulate,
                          toy_learning_rate)

STEPS = 300


def torch_path(make, k, seed, beta2, uses_g0, steps=STEPS):
    """θ_1..θ_T of a torch optimizer on the toy problem: same draws, same projection."""
    rng = np.random.default_rng(seed)
    problem = ToyProblem(k)
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = make([theta], beta2)
    g0 = problem.gradients(rng, 1)                       # drawn for every method
    if uses_g0:                                  # ADOPT: the call that sets v_0 = g_0²
        theta.grad = torch.tensor(g0, dtype=torch.float64)
        optimizer.step()
        assert theta.item() == 0.0
    path = []
    for t in range(1, steps + 1):
        theta.grad = torch.tensor(problem.gradients(rng, 1), dtype=torch.float64)
        optimizer.param_groups[0]["lr"] = float(toy_learning_rate(t))
        optimizer.step()
        with torch.no_grad():
            theta.clamp_(-1.0, 1.0)
        path.append(theta.item())
    return np.array(path)


REFERENCES = {
    "Adam": lambda p, b2: optim.Adam(p, betas=(0.9, b2)),
    "AMSGrad": lambda p, b2: optim.AMSGrad(p, betas=(0.9, b2)),
    "ADOPT (Alg. 1)": lambda p, b2: optim.ADOPT(p, betas=(0.9, b2), clip_lambda=None),
    "ADOPT (Alg. 2)": lambda p, b2: optim.ADOPT(p, betas=(0.9, b2)),
}


@pytest.mark.parametrize("k", [10, 50])
@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_rules_equal_optimlab_optimizers_step_by_step(name, k):
    beta2s, seeds = (0.1, 0.999), (0, 3)
    every = np.arange(1, STEPS + 1)
    run = simulate(k, STEPS, methods=[name], beta2s=beta2s, seeds=seeds, record=every,
                   block=37)                     # block boundaries inside the prefix
    for beta2 in beta2s:
        for i, seed in enumerate(seeds):
            expected = torch_path(REFERENCES[name], k, seed, beta2, RULES[name].uses_g0)
            got = run.thetas[(name, beta2)][i, 1:]
            assert np.abs(got - expected).max() < 1e-10, (name, k, beta2, seed)
            assert np.ptp(expected) > 0.01               # the path does move


def ablation_path(k, seed, beta2, shift, reorder, steps=STEPS, eps=1e-6, beta1=0.9):
    """A scalar loop written from the definitions of the two ablations."""
    rng = np.random.default_rng(seed)
    problem = ToyProblem(k)
    v = problem.gradients(rng, 1)[0] ** 2               # v_0 = g_0²
    m, theta, path = 0.0, 0.0, []
    for t in range(1, steps + 1):
        g = problem.gradients(rng, 1)[0]
        v_new = beta2 * v + (1 - beta2) * g * g
        scale = max(math.sqrt(v if shift else v_new), eps)
        if reorder:
            m = beta1 * m + (1 - beta1) * g / scale
            step = m
        else:
            m = beta1 * m + (1 - beta1) * g
            step = m / scale
        theta = min(max(theta - float(toy_learning_rate(t)) * step, -1.0), 1.0)
        v = v_new
        path.append(theta)
    return np.array(path)


@pytest.mark.parametrize("name, shift, reorder", [("Alg. 1 without shift", False, True),
                                                  ("Alg. 1 without reorder", True, False)])
def test_ablations_follow_their_definitions(name, shift, reorder):
    run = simulate(10, STEPS, methods=[name], beta2s=(0.5,), seeds=(1,),
                   record=np.arange(1, STEPS + 1), block=64)
    expected = ablation_path(10, 1, 0.5, shift, reorder)
    assert np.abs(run.thetas[(name, 0.5)][0, 1:] - expected).max() < 1e-10


def test_ablations_differ_from_adopt():
    run = simulate(10, STEPS, beta2s=(0.5,), seeds=(1,), record=[STEPS])
    final = {name: run.final(name, 0.5)[0] for name in RULES}
    for name in ("Alg. 1 without shift", "Alg. 1 without reorder"):
        assert abs(final[name] - final["ADOPT (Alg. 1)"]) > 1e-3


def test_results_do_not_depend_on_the_block_size():
    a = simulate(50, 5000, seeds=(0, 1), block=4096, record=50)
    b = simulate(50, 5000, seeds=(0, 1), block=333, record=50)
    for key in a.thetas:
        assert np.abs(a.thetas[key] - b.thetas[key]).max() < 1e-12


@pytest.mark.parametrize("k", [2, 10, 50])
def test_gradient_distribution(k):
    problem = ToyProblem(k)
    n = 200_000
    g = problem.gradients(np.random.default_rng(7), n)
    assert set(np.unique(g)) == {k ** 2, -k}
    p = 1 / k
    frequency = np.mean(g == k ** 2)
    assert abs(frequency - p) < 5 * math.sqrt(p * (1 - p) / n)    # binomial, 5 sigma
    assert abs(g.mean() - problem.mean_gradient) < 5 * g.std() / math.sqrt(n)
    assert problem.minimizer == -1.0


def test_projection_and_clamp_tree():
    projected = ToyProblem.project(np.array([-3.0, -0.5, 0.2, 7.0]))
    assert list(projected) == [-1.0, -0.5, 0.2, 1.0]
    rng = np.random.default_rng(0)
    steps = rng.normal(size=(3, 777)) * 0.4
    theta0 = np.array([0.0, 1.0, -0.3])
    at = np.array([0, 1, 2, 5, 64, 100, 511, 776, 777])
    got, end = project(theta0, steps, at)
    theta, expected = theta0.copy(), {0: theta0.copy()}
    for t in range(steps.shape[1]):
        theta = np.clip(theta - steps[:, t], -1.0, 1.0)
        expected[t + 1] = theta.copy()
    for i, c in enumerate(at):
        assert np.abs(got[:, i] - expected[c]).max() < 1e-12
    assert np.abs(end - expected[777]).max() < 1e-12
    assert np.all(np.abs(got) <= 1.0)


@pytest.mark.parametrize("a", [0.0, 0.1, 0.5, 0.9, 0.999, 0.9999])
def test_linear_scan_equals_the_recurrence(a):
    rng = np.random.default_rng(1)
    u, y0 = rng.normal(size=(2, 1000)), rng.normal(size=2)
    expected, y = np.empty_like(u), y0.copy()
    for t in range(u.shape[1]):
        y = a * y + u[:, t]
        expected[:, t] = y
    assert np.abs(linear_scan(u, a, y0) - expected).max() < 1e-12


def test_the_paper_learning_rate():
    assert toy_learning_rate(0) == pytest.approx(0.01)
    assert toy_learning_rate(300) == pytest.approx(0.005)


@pytest.mark.parametrize("kwargs, name", [
    (dict(k=1), "k"), (dict(k="10"), "k"), (dict(steps=0), "steps"),
    (dict(methods=["SGD"]), "methods"), (dict(beta2s=(1.0,)), "beta2s"),
    (dict(beta1=1.0), "beta1"), (dict(record=0), "record"), (dict(record=[5, 2]), "record"),
    (dict(record=[10**6]), "record"), (dict(block=0), "block"),
    (dict(theta0=2.0), "theta0"),
])
def test_bad_input_names_the_argument(kwargs, name):
    arguments = dict(k=10, steps=100) | kwargs
    with pytest.raises(ValueError, match=name):
        simulate(**arguments)


def test_linear_scan_rejects_an_unstable_factor():
    with pytest.raises(ValueError, match="a must be"):
        linear_scan(np.ones(3), 1.0, 0.0)
