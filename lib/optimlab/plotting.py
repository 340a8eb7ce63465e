"""The book's figures: contours with optimizer paths, loss curves and learning-rate schedules.

Every function draws on a Matplotlib ``Axes`` (a new one when none is given)
and returns it, so a chapter can compose panels with ``plt.subplots``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .landscapes import Bounds, Landscape
from .schedules import Schedule
from .trajectories import Trajectory

#: The width of the book's text column in inches: 660 CSS pixels at 96 per inch.
#: A figure this wide is shown at its natural size, so its fonts keep their size.
PAGE_WIDTH = 6.875
#: Logical pixels per inch; figures are rendered at twice this ("retina") and shown
#: at this, so they stay sharp on high-density screens.
SCREEN_DPI = 96

#: The book's matplotlib settings (:func:`use_book_style` applies them).
BOOK_STYLE = {
    "figure.figsize": (PAGE_WIDTH, 3.8),
    "figure.dpi": SCREEN_DPI,
    "savefig.dpi": 2 * SCREEN_DPI,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "figure.titlesize": 11,
}


def use_book_style() -> None:
    """Apply the book's Matplotlib settings (call once per chapter).

    Figures are drawn :data:`PAGE_WIDTH` wide with fonts of at least 9 pt, and a
    notebook shows them as PNGs rendered at twice :data:`SCREEN_DPI` with their
    display width stored beside them, so they are sharp at the size they are shown.
    """
    plt.rcParams.update(BOOK_STYLE)
    try:
        from IPython import get_ipython
    except ImportError:                     # plain Python: nothing is displayed inline
        return
    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")


def book_figure(nrows: int = 1, ncols: int = 1, height: float | None = None, **options):
    """``plt.subplots`` at the page's width: at most two panels side by side.

    ``height`` in inches defaults to 3.8 per row of panels; more panels than two
    go into more rows, never more columns, so that their text stays readable.
    """
    if ncols not in (1, 2):
        raise ValueError(f"ncols must be 1 or 2 (panels beside each other at page width); "
                         f"got {ncols!r}: stack more panels in rows")
    if not isinstance(nrows, int) or nrows < 1:
        raise ValueError(f"nrows must be an int >= 1, got {nrows!r}")
    height = 3.8 * nrows if height is None else height
    return plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH, height), **options)


def _axes(ax):
    return ax if ax is not None else plt.subplots()[1]


def plot_landscape(landscape: Landscape, ax=None, bounds: Bounds | None = None,
                   levels: int = 25, log_scale: bool = False, resolution: int = 200,
                   show_minimizer: bool = True):
    """Contour lines of a 2-D landscape over ``bounds`` (default: its own)."""
    ax = _axes(ax)
    (x0, x1), (y0, y1) = bounds or landscape.bounds
    xs = torch.linspace(x0, x1, resolution, dtype=torch.float64)
    ys = torch.linspace(y0, y1, resolution, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
    with torch.no_grad():
        values = landscape(grid).numpy()
    if log_scale:
        values = np.log10(values - values.min() + 1e-3)
    ax.contour(xs.numpy(), ys.numpy(), values, levels=levels, cmap="viridis",
               linewidths=0.8, alpha=0.8)
    if show_minimizer and landscape.minimizer is not None:
        ax.plot(*landscape.minimizer.tolist(), marker="*", color="black",
                markersize=12, linestyle="none", label="minimum")
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel=r"$\theta_1$", ylabel=r"$\theta_2$")
    ax.set_aspect("equal", adjustable="box")
    return ax


def plot_path(trajectory: Trajectory | torch.Tensor, ax=None, label: str | None = None,
              color=None, markersize: float = 3.0):
    """An optimizer's path θ_0 → θ_T as a line with a dot per iterate."""
    ax = _axes(ax)
    points = trajectory.points if isinstance(trajectory, Trajectory) else trajectory
    points = points.detach().numpy()
    (line,) = ax.plot(points[:, 0], points[:, 1], marker="o", markersize=markersize,
                      linewidth=1.2, label=label, color=color)
    ax.plot(points[0, 0], points[0, 1], marker="s", color=line.get_color(), markersize=6)
    return ax


def plot_paths(landscape: Landscape, trajectories: Mapping[str, Trajectory], ax=None,
               title: str | None = None, markersize: float = 3.0, **contour_options):
    """Contours of ``landscape`` with several labelled optimizer paths on top."""
    ax = plot_landscape(landscape, ax=ax, **contour_options)
    for label, trajectory in trajectories.items():
        plot_path(trajectory, ax=ax, label=label, markersize=markersize)
    ax.legend(loc="upper left")
    if title:
        ax.set_title(title)
    return ax


def plot_losses(losses: Mapping[str, torch.Tensor | Trajectory], ax=None, log_scale: bool = True,
                xlabel: str = "step $t$", ylabel: str = r"$f(\theta_t) - f^\star$",
                offset: float = 0.0):
    """Loss curves, one per label; ``offset`` is subtracted (e.g. the optimal value)."""
    ax = _axes(ax)
    for label, curve in losses.items():
        values = curve.losses if isinstance(curve, Trajectory) else torch.as_tensor(curve)
        ax.plot((values - offset).detach().numpy(), label=label)
    if log_scale:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return ax


def plot_schedules(schedules: Sequence[Schedule] | Mapping[str, Schedule], steps: int,
                   ax=None, base_lr: float = 1.0, log_scale: bool = False):
    """Learning rate ``base_lr · schedule(s)`` for steps s = 0 … steps − 1, one line each.

    ``schedules`` is a list, labelled by each schedule's ``label``, or a dict
    label → schedule.
    """
    ax = _axes(ax)
    labelled = (schedules.items() if isinstance(schedules, Mapping)
                else [(schedule.label, schedule) for schedule in schedules])
    for label, schedule in labelled:
        ax.plot(np.arange(steps), base_lr * schedule.factors(steps), label=label)
    if log_scale:
        ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="learning rate")
    ax.legend()
    return ax
