import math

import pytest
import torch

from optimlab.online import CyclicProblem, StochasticProblem, simulate
from optimlab.optim import SGD, Adam
from optimlab.schedules import InverseSqrtDecay


def test_cyclic_gradients_follow_the_period():
    problem = CyclicProblem(3.0)
    values = [problem.gradients(t, (1,))[0].item() for t in range(1, 7)]
    assert values == [3.0, -1.0, -1.0, 3.0, -1.0, -1.0]
    assert problem.mean_gradient == pytest.approx(1 / 3) and problem.minimizer == -1.0


def test_stochastic_problem_has_the_papers_probability_and_mean():
    problem = StochasticProblem(20.0, 1.0)
    assert problem.p == pytest.approx(2 / 21)
    g = problem.gradients(1, (200_000,), torch.Generator().manual_seed(0))
    assert set(g.unique().tolist()) == {-1.0, 20.0}
    assert g.mean().item() == pytest.approx(problem.mean_gradient, abs=0.05)


def test_sgd_matches_a_hand_written_projected_loop_and_its_regret():
    problem, lr, steps = CyclicProblem(3.0), 0.1, 40
    theta = torch.zeros(2)
    run = simulate(problem, SGD([theta], lr=lr), steps, schedule=InverseSqrtDecay())
    x, losses, slopes = 0.0, 0.0, 0.0
    for t in range(1, steps + 1):
        c = 3.0 if t % 3 == 1 else -1.0
        losses, slopes = losses + c * x, slopes + c
        x = min(1.0, max(-1.0, x - lr / math.sqrt(t) * c))
    assert run.final[0].tolist() == pytest.approx([x, x])
    assert run.regret[-1, 0, 0].item() == pytest.approx(losses + abs(slopes))
    assert run.thetas.shape == (steps + 1, 1, 2) and theta.tolist() == pytest.approx([x, x])


def test_groups_are_independent_runs_and_the_learning_rate_is_restored():
    a, b = (torch.zeros(3, dtype=torch.float64) for _ in range(2))
    optimizer = Adam([{"params": [a], "betas": (0.0, 0.1)},
                      {"params": [b], "betas": (0.0, 0.999)}], lr=0.1)
    run = simulate(CyclicProblem(3.0), optimizer, 600, schedule=InverseSqrtDecay(),
                   record_every=100)
    assert run.steps.tolist() == [0, 100, 200, 300, 400, 500, 600]
    assert run.final[0].tolist() == pytest.approx([1.0] * 3)        # Adam fails
    assert run.final[1].max().item() < -0.5                          # and converges
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.1]
    assert run.average_regret.shape == (6, 2, 3)


def test_stochastic_runs_differ_but_are_reproducible():
    def final(seed):
        theta = torch.zeros(4)
        return simulate(StochasticProblem(20.0, 1.0), SGD([theta], lr=0.05), 50,
                        seed=seed).final
    assert torch.equal(final(1), final(1))
    assert not torch.equal(final(1), final(2))
    assert len(set(final(1)[0].tolist())) > 1


@pytest.mark.parametrize("make, name", [
    (lambda: CyclicProblem(2.0), "C"),
    (lambda: CyclicProblem(5.0, period=1), "period"),
    (lambda: StochasticProblem(-1.0, 0.5), "C"),
    (lambda: StochasticProblem(5.0, 0.0), "delta"),
    (lambda: StochasticProblem(5.0, 6.0), "delta"),
])
def test_bad_problems_are_refused(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_bad_simulation_arguments_are_refused():
    theta = torch.zeros(2)
    optimizer = SGD([theta], lr=0.1)
    with pytest.raises(ValueError, match="steps"):
        simulate(CyclicProblem(3.0), optimizer, 0)
    with pytest.raises(ValueError, match="record_every"):
        simulate(CyclicProblem(3.0), optimizer, 5, record_every=0)
    with pytest.raises(ValueError, match="schedule"):
        simulate(CyclicProblem(3.0), optimizer, 5, schedule=0.5)
    with pytest.raises(ValueError, match="1-D"):
        simulate(CyclicProblem(3.0), SGD([torch.zeros(2, 2)], lr=0.1), 5)
    with pytest.raises(ValueError, match="1-D"):
        simulate(CyclicProblem(3.0), SGD([torch.zeros(2), torch.zeros(3)], lr=0.1), 5)
