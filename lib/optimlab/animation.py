"""Animated optimizer paths: the classic "race" of optimizers on a 2-D landscape.

:func:`animate_paths` draws the contours of a landscape once and then, frame by
frame, extends one path per optimizer (and, optionally, its loss curve in a
second panel).  :func:`to_jshtml` turns the animation into a self-contained
HTML player (frames embedded as images, no JavaScript library needed), which
a notebook shows with ``IPython.display.HTML`` and a static HTML book keeps::

    anim = animate_paths(Saddle(), {"SGD": run_sgd, "Adam": run_adam}, frames=40)
    HTML(to_jshtml(anim))

The figure is closed after it is built, so a notebook shows only the player,
not an extra static image.
"""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.animation import FuncAnimation

from .landscapes import Landscape
from .plotting import plot_landscape
from .trajectories import Trajectory

LOSS_SCALES = ("log", "linear")


def frame_indices(length: int, frames: int) -> list[int]:
    """Which iterate is the last one shown in each of ``frames`` frames.

    The ``length`` iterates θ_0 … θ_{length−1} are spread evenly over the frames:
    the first frame shows θ_0 only, the last one the whole path.
    """
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    if not isinstance(frames, int) or frames < 2:
        raise ValueError(f"frames must be an integer >= 2, got {frames!r}")
    half = (frames - 1) // 2  # integer rounding, halves rounded up
    return [(k * (length - 1) + half) // (frames - 1) for k in range(frames)]


def _points_and_losses(landscape: Landscape, label: str, trajectory) -> tuple:
    """The [T+1, 2] points and [T+1] losses of one path, as NumPy arrays."""
    if isinstance(trajectory, Trajectory):
        points, losses = trajectory.points, trajectory.losses
    elif isinstance(trajectory, torch.Tensor):
        points, losses = trajectory, None
    else:
        raise ValueError(f"trajectories[{label!r}] must be a Trajectory or a tensor of "
                         f"points, got {type(trajectory).__name__}")
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 1:
        raise ValueError(f"trajectories[{label!r}] must hold 2-D points (shape [T+1, 2]), "
                         f"got shape {tuple(points.shape)}")
    if losses is None:
        with torch.no_grad():
            losses = landscape(points.double())
    return points.detach().double().numpy(), losses.detach().double().numpy()


def animate_paths(landscape: Landscape,
                  trajectories: Mapping[str, Trajectory | torch.Tensor], frames: int = 40, interval: int = 150, show_losses: bool = True,
                  loss_scale: str = "log", figsize=(7.0, 2.8), dpi: int = 72,
                  loss_limits: tuple[float, float] | None = None, title: str | None = None,
                  **contour_options) -> FuncAnimation:
    """Animate optimizer paths on the contours of ``landscape``.

    ``trajectories`` maps a label to a :class:`~optimlab.trajectories.Trajectory`
    (or a tensor of points ``[T+1, 2]``).  Each path is revealed over ``frames``
    frames shown ``interval`` milliseconds apart; with ``show_losses`` a second
    panel draws f(θ_t) up to the same step (``loss_scale`` "log" or "linear";
    ``loss_limits`` fixes its y-range, e.g. for a loss unbounded below).
    Remaining keywords go to :func:`~optimlab.plotting.plot_landscape`
    (``levels``, ``log_scale``, ``bounds``).  The returned animation has a
    ``paths`` attribute (label → the path's ``Line2D``) for inspection.
    """
    if not isinstance(landscape, Landscape):
        raise ValueError(f"landscape must be an optimlab Landscape, got "
                         f"{type(landscape).__name__}")
    if not isinstance(trajectories, Mapping) or not trajectories:
        raise ValueError("trajectories must be a non-empty dict label -> Trajectory")
    if not isinstance(interval, (int, float)) or interval <= 0:
        raise ValueError(f"interval must be a positive number of milliseconds, "
                         f"got {interval!r}")
    if loss_limits is not None and (len(loss_limits) != 2 or
                                    not loss_limits[0] < loss_limits[1]):
        raise ValueError(f"loss_limits must be (low, high) with low < high, "
                         f"got {loss_limits!r}")
    if loss_scale not in LOSS_SCALES:
        raise ValueError(f"loss_scale must be one of {LOSS_SCALES}, got {loss_scale!r}")
    data = {label: _points_and_losses(landscape, label, run)
            for label, run in trajectories.items()}
    longest = max(len(points) for points, _ in data.values())
    indices = {label: frame_indices(len(points), frames)
               for label, (points, _) in data.items()}
    steps = frame_indices(longest, frames)

    fig, axes = plt.subplots(1, 2 if show_losses else 1, figsize=figsize, dpi=dpi,
                             squeeze=False)
    path_ax = axes[0, 0]
    plot_landscape(landscape, ax=path_ax, **contour_options)
    paths, heads, curves = {}, {}, {}
    for label, (points, losses) in data.items():
        (paths[label],) = path_ax.plot([], [], marker="o", markersize=2, linewidth=1.2,
                                       label=label)
        color = paths[label].get_color()
        path_ax.plot(points[0, 0], points[0, 1], marker="s", color=color, markersize=5)
        (heads[label],) = path_ax.plot([], [], marker="o", markersize=7, color=color,
                                       linestyle="none")
    if title:
        path_ax.set_title(title, fontsize=10)
    if show_losses:
        loss_ax = axes[0, 1]
        for label, (_, losses) in data.items():
            (curves[label],) = loss_ax.plot([], [], color=paths[label].get_color(),
                                            label=label)
        _set_loss_limits(loss_ax, [losses for _, losses in data.values()], longest,
                         loss_scale)
        if loss_limits is not None:
            loss_ax.set_ylim(*loss_limits)
        loss_ax.set(xlabel="step $t$", ylabel=r"$f(\theta_t)$")
        loss_ax.legend(fontsize=7, loc="best")
    else:
        path_ax.legend(fontsize=7, loc="upper left")
    counter = path_ax.text(0.98, 0.02, "", transform=path_ax.transAxes, ha="right",
                           fontsize=8)
    fig.tight_layout()

    def update(frame: int):
        for label, (points, losses) in data.items():
            i = indices[label][frame]
            paths[label].set_data(points[: i + 1, 0], points[: i + 1, 1])
            heads[label].set_data(points[i : i + 1, 0], points[i : i + 1, 1])
            if show_losses:
                curves[label].set_data(np.arange(i + 1), losses[: i + 1])
        counter.set_text(f"t = {steps[frame]}")
        return [*paths.values(), *heads.values(), *curves.values(), counter]

    animation = FuncAnimation(fig, update, frames=frames, interval=interval, blit=False)
    animation.paths = paths
    update(frames - 1)  # a complete picture if the figure is saved as a still image
    plt.close(fig)
    return animation


def _set_loss_limits(ax, curves, longest: int, loss_scale: str) -> None:
    """Fixed axis limits that fit every finite loss (curves grow inside them)."""
    values = np.concatenate([c[np.isfinite(c)] for c in curves])
    ax.set_xlim(0, max(longest - 1, 1))
    if loss_scale == "log":
        ax.set_yscale("log")
        positive = values[values > 0]
        if positive.size:
            ax.set_ylim(positive.min() / 2, positive.max() * 2)
    elif values.size:
        low, high = values.min(), values.max()
        margin = 0.05 * (high - low) if high > low else 1.0
        ax.set_ylim(low - margin, high + margin)


FRAME_FORMATS = ("jpeg", "png")


def to_jshtml(animation: FuncAnimation, dpi: int = 60, frame_format: str = "jpeg",
              fps: float | None = None) -> str:
    """The animation as a self-contained HTML player, frames rendered at ``dpi``.

    ``FuncAnimation.to_jshtml`` renders at ``savefig.dpi``, which the book's
    style sets high for still figures, and embeds PNG frames; a small ``dpi``
    and JPEG frames keep a notebook with two animations around a megabyte.
    """
    if not isinstance(animation, FuncAnimation):
        raise ValueError(f"animation must be a FuncAnimation, "
                         f"got {type(animation).__name__}")
    if not isinstance(dpi, (int, float)) or dpi <= 0:
        raise ValueError(f"dpi must be a positive number, got {dpi!r}")
    if frame_format not in FRAME_FORMATS:
        raise ValueError(f"frame_format must be one of {FRAME_FORMATS}, "
                         f"got {frame_format!r}")
    with plt.rc_context({"savefig.dpi": dpi, "animation.frame_format": frame_format}):
        return animation.to_jshtml(fps=fps, default_mode="once")
