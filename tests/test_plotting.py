import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

from optimlab.landscapes import Quadratic, Rosenbrock  # noqa: E402
from optimlab.plotting import plot_losses, plot_paths  # noqa: E402
from optimlab.trajectories import run_optimizer  # noqa: E402


def test_plot_paths_draws_every_iterate_and_the_minimum():
    f = Quadratic.with_eigenvalues([1.0, 3.0])
    run = run_optimizer(f, lambda p: torch.optim.SGD(p, lr=0.1), [1.0, 1.0], 7)
    ax = plot_paths(f, {"gd": run})
    path = [line for line in ax.get_lines() if line.get_label() == "gd"][0]
    assert len(path.get_xdata()) == 8
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["minimum", "gd"]


def test_plot_losses_subtracts_the_offset():
    ax = plot_losses({"a": torch.tensor([3.0, 2.0, 1.5])}, offset=1.0, log_scale=False)
    assert list(ax.get_lines()[0].get_ydata()) == [2.0, 1.0, 0.5]


def test_log_contours_work_on_a_landscape_with_a_zero_minimum():
    ax = plot_paths(Rosenbrock(), {}, log_scale=True)
    assert ax.get_xlim() == Rosenbrock.bounds[0]
