"""Animated optimizer paths: the classic "race" of optimizers on a 2-D landscape.

:func:`animate_paths` draws the contours once, at the page's width, with every path
and loss curve faint, and returns a :class:`PathAnimation`: that picture as a sharp
PNG, with bold lines on top (SVG) that a few lines of inline JavaScript extend frame
by frame.  No library, no request to another host: a static page keeps it and it
works offline.  It opens on the last frame, the complete paths, and shrinks with the
column to fit a phone; its HTML is the same every time it is built::

    anim = animate_paths(Saddle(), {"SGD": run_sgd, "Adam": run_adam}, frames=40)
    anim                      # the last line of a cell; or HTML(anim.to_html())
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D

from .landscapes import Landscape
from .plotting import BOOK_STYLE, PAGE_WIDTH, SCREEN_DPI, plot_landscape
from .trajectories import Trajectory

#: The scales of the loss panel that :func:`animate_paths` accepts.
LOSS_SCALES = ("log", "linear")
#: Natural pixels of the background image per displayed pixel ("retina").
SHARPNESS = 2
#: Opacity of the complete paths drawn faintly in the background image.
FAINT = 0.3
#: Width of the bold animated lines, in CSS pixels at full size.
PATH_WIDTH = 2.0


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


class PathAnimation:
    """A player for optimizer paths: a background image and bold lines on top.

    ``paths`` is a list of dicts, one per label: its ``color``, ``reveal`` (the
    last iterate shown in each frame), and ``d``, ``loss`` and ``head``, one
    entry per iterate: the SVG path commands that draw up to that iterate, and
    the head marker there (``None`` far outside the picture).
    """

    def __init__(self, background: bytes, size: tuple[float, float], clips: list,
                 paths: list[dict], steps: list[int], interval: float, title: str):
        self.background, self.size, self.clips = background, size, clips
        self.paths, self.steps, self.interval, self.title = paths, steps, interval, title

    @property
    def frames(self) -> int:
        """The number of frames (one per entry of ``steps``)."""
        return len(self.steps)

    def __repr__(self) -> str:
        return f"PathAnimation({len(self.paths)} paths, {self.frames} frames)"

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_html(self) -> str:
        """The player as one self-contained piece of HTML (no external requests)."""
        data = {"steps": self.steps, "interval": self.interval,
                "paths": [{key: p[key] for key in ("label", "reveal", "d", "loss", "head")}
                          for p in self.paths]}
        # "<" escaped, so that no label can close the <script> element early
        payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
        image = base64.b64encode(self.background).decode("ascii")
        uid = "anim-" + hashlib.sha1((image + payload).encode()).hexdigest()[:12]
        width, height = self.size
        labels = ", ".join(path["label"] for path in self.paths)
        alt = html.escape(f"{self.title or 'optimizer paths'}: {labels}", quote=True)
        last = self.frames - 1
        buttons = "".join(
            f'<button type="button" class="anim-{name}" title="{tip}" aria-label="{tip}" '
            f'style="min-width:2.4em;padding:.15em .5em;line-height:1">{_icon(name)}'
            f'{_icon("pause", hidden=True) if name == "play" else ""}</button>'
            for name, tip in BUTTONS.items())
        return (
            f'<div class="optimlab-animation" id="{uid}" style="width:100%;'
            f'max-width:{width:.0f}px;margin:0 0 1em 0">'
            f'<div style="position:relative;width:100%">'
            f'<img src="data:image/png;base64,{image}" alt="{alt}" width="{width:.0f}" '
            f'height="{height:.0f}" style="display:block;width:100%;height:auto;'
            f'max-width:100%;margin:0">{self._svg(uid)}</div>'
            f'<div class="anim-controls" style="display:flex;flex-wrap:wrap;'
            f'align-items:center;gap:.3em;margin-top:.3em">{buttons}'
            f'<input type="range" class="anim-slider" min="0" max="{last}" '
            f'value="{last}" step="1" aria-label="Frame" '
            f'style="flex:1 1 6em;min-width:5em;margin:0 .3em">'
            f'<span class="anim-step" style="min-width:4.5em;'
            f'font-variant-numeric:tabular-nums">t = {self.steps[last]}</span></div>'
            f'<script type="application/json" class="anim-data">{payload}</script>'
            f'<script>{PLAYER_JS.replace("UID", uid)}</script></div>')

    def _svg(self, uid: str) -> str:
        """The bold lines as they stand in the last frame, over the whole image."""
        width, height = self.size
        defs = [f'<clipPath id="{uid}-c{k}"><rect x="{x:.1f}" y="{y:.1f}" '
                f'width="{w:.1f}" height="{h:.1f}"/></clipPath>'
                for k, (x, y, w, h) in enumerate(self.clips)]
        defs += [f'<marker id="{uid}-m{k}" viewBox="-3 -3 6 6" markerWidth="2" '
                 f'markerHeight="2"><circle r="3" fill="{path["color"]}"/></marker>'
                 for k, path in enumerate(self.paths)]
        groups = []
        for clip, kind in enumerate(["path", "loss"][: len(self.clips)]):
            lines = []
            for k, path in enumerate(self.paths):          # the last frame: all of it
                commands = "".join(path["d" if kind == "path" else "loss"])
                dots = f' marker-mid="url(#{uid}-m{k})" marker-end="url(#{uid}-m{k})"'
                lines.append(f'<path class="anim-{kind}" d="{commands}" '
                             f'stroke="{path["color"]}" stroke-width="{PATH_WIDTH}"'
                             f'{dots if kind == "path" else ""}/>')
            for path in self.paths if kind == "path" else []:
                head = path["head"][-1]
                (x, y), hide = head or (0, 0), "" if head else ' display="none"'
                lines.append(f'<circle class="anim-head" cx="{x}" cy="{y}" r="4.5" '
                             f'fill="{path["color"]}" stroke="white" stroke-width="1"'
                             f'{hide}/>')
            groups.append(f'<g clip-path="url(#{uid}-c{clip})" fill="none" '
                          f'stroke-linejoin="round" stroke-linecap="round">'
                          + "".join(lines) + "</g>")
        return (f'<svg class="anim-lines" viewBox="0 0 {width:.1f} {height:.1f}" '
                f'preserveAspectRatio="none" aria-hidden="true" style="position:absolute;'
                f'left:0;top:0;width:100%;height:100%;overflow:hidden">'
                f'<defs>{"".join(defs)}</defs>{"".join(groups)}</svg>')


#: The player's buttons, in order, and the tooltip of each.
BUTTONS = {"first": "First frame", "previous": "Previous frame", "play": "Play",
           "next": "Next frame", "last": "Last frame"}
#: Their icons, SVG shapes in a 16 × 16 box (``pause`` replaces ``play`` while
#: playing): no icon font, no glyph that a reader's fonts lack.
ICONS = {"first": '<rect x="2" y="3" width="2" height="10"/><path d="M14 3V13L5 8Z"/>',
         "previous": '<path d="M12 3V13L4 8Z"/>', "play": '<path d="M4 2V14L13 8Z"/>',
         "pause": '<rect x="3" y="3" width="3.5" height="10"/>'
                  '<rect x="9.5" y="3" width="3.5" height="10"/>',
         "next": '<path d="M4 3V13L12 8Z"/>',
         "last": '<path d="M2 3V13L11 8Z"/><rect x="12" y="3" width="2" height="10"/>'}


def _icon(name: str, hidden: bool = False) -> str:
    return (f'<svg class="anim-icon-{name}" viewBox="0 0 16 16" width="1em" height="1em" '
            f'fill="currentColor" aria-hidden="true" style="vertical-align:-.125em'
            f'{";display:none" if hidden else ""}">{ICONS[name]}</svg>')


#: The player's script: it shows frame k by cutting each path's list of commands
#: after its iterate of frame k, and starts on the last frame, which the markup
#: already shows.
PLAYER_JS = """(function () {
var s = document.currentScript;
var root = (s && s.closest('.optimlab-animation')) || document.getElementById('UID');
if (!root || root.getAttribute('data-ready')) return;
root.setAttribute('data-ready', '1');
var one = root.querySelector.bind(root), all = root.querySelectorAll.bind(root);
var data = JSON.parse(one('script.anim-data').textContent);
var paths = all('path.anim-path'), losses = all('path.anim-loss');
var heads = all('circle.anim-head'), slider = one('input.anim-slider');
var step = one('.anim-step'), play = one('.anim-play');
var last = data.steps.length - 1, frame = last, timer = null;
function show(k) {
  frame = Math.max(0, Math.min(last, k));
  data.paths.forEach(function (p, j) {
    var i = p.reveal[frame], head = p.head[i], dot = heads[j];
    paths[j].setAttribute('d', p.d.slice(0, i + 1).join(''));
    if (losses[j]) losses[j].setAttribute('d', p.loss.slice(0, i + 1).join(''));
    if (head) { dot.setAttribute('cx', head[0]); dot.setAttribute('cy', head[1]); }
    if (head) dot.removeAttribute('display'); else dot.setAttribute('display', 'none');
  });
  slider.value = frame;
  step.textContent = 't = ' + data.steps[frame];
}
function label(name) {
  play.title = name; play.setAttribute('aria-label', name);
  play.querySelector('.anim-icon-play').style.display = name == 'Play' ? '' : 'none';
  play.querySelector('.anim-icon-pause').style.display = name == 'Play' ? 'none' : '';
}
function stop() { if (timer) clearInterval(timer); timer = null; label('Play'); }
function start() {
  if (frame >= last) show(0);
  timer = setInterval(function () { if (frame >= last) stop(); else show(frame + 1); },
                      data.interval);
  label('Pause');
}
play.onclick = function () { if (timer) stop(); else start(); };
function jump(name, target) {
  one('.anim-' + name).onclick = function () { stop(); show(target()); };
}
jump('first', function () { return 0; });
jump('previous', function () { return frame - 1; });
jump('next', function () { return frame + 1; });
jump('last', function () { return last; });
slider.oninput = function () { stop(); show(Number(slider.value)); };
show(last);
})();"""


def animate_paths(landscape: Landscape,
                  trajectories: Mapping[str, Trajectory | torch.Tensor], frames: int = 40,
                  interval: int = 150, show_losses: bool = True, loss_scale: str = "log",
                  loss_limits: tuple[float, float] | None = None, title: str | None = None,
                  height: float | None = None, **contour_options) -> PathAnimation:
    """Animate optimizer paths on the contours of ``landscape``.

    ``trajectories`` maps a label to a :class:`~optimlab.trajectories.Trajectory`
    (or a tensor of points ``[T+1, 2]``).  Each path is revealed over ``frames``
    frames shown ``interval`` milliseconds apart; with ``show_losses`` a second
    panel, beside the first, draws f(θ_t) up to the same step (``loss_scale``
    "log" or "linear"; ``loss_limits`` fixes its y-range, e.g. for a loss
    unbounded below).  The figure is :data:`~optimlab.plotting.PAGE_WIDTH` wide
    and ``height`` inches high (by default from the landscape's aspect), with the
    legend below the panels.  Remaining keywords go to
    :func:`~optimlab.plotting.plot_landscape` (``levels``, ``log_scale``, ``bounds``).
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
    if height is not None and not (isinstance(height, (int, float)) and 1 <= height <= 10):
        raise ValueError(f"height must be a number of inches from 1 to 10, got {height!r}")
    data = {label: _points_and_losses(landscape, label, run)
            for label, run in trajectories.items()}
    longest = max(len(points) for points, _ in data.values())
    steps = frame_indices(longest, frames)
    if height is None:
        (x0, x1), (y0, y1) = contour_options.get("bounds") or landscape.bounds
        panel = (PAGE_WIDTH / 2 if show_losses else PAGE_WIDTH / 1.6) - 0.6
        height = float(np.clip(panel * (y1 - y0) / (x1 - x0) + 1.3, 2.6, 4.8))
    height = round(height * SCREEN_DPI) / SCREEN_DPI     # whole pixels, image and SVG

    with plt.rc_context({**BOOK_STYLE, "savefig.bbox": "standard"}):
        fig, axes = plt.subplots(1, 2 if show_losses else 1, squeeze=False,
                                 figsize=(PAGE_WIDTH, height), dpi=SCREEN_DPI,
                                 layout="constrained")
        try:
            colors = _draw(fig, axes[0], landscape, data, longest, loss_scale,
                           loss_limits, title, contour_options)
            background = _png(fig)
        finally:
            plt.close(fig)
    fig.set_layout_engine("none")               # keep the axes where the image has them
    size = (float(fig.bbox.width), float(fig.bbox.height))  # CSS px: dpi 96
    clips = [(ax.bbox.x0, size[1] - ax.bbox.y1, ax.bbox.width, ax.bbox.height)
             for ax in axes[0]]
    box = (-size[0], -size[1], 2 * size[0], 2 * size[1])  # what lies beyond: cut off
    paths = []
    for label, (points, losses) in data.items():
        xy = _display(axes[0, 0], points, size[1])
        curve = np.stack([np.arange(len(losses)), losses], axis=1)
        paths.append({
            "label": label, "color": colors[label],
            "reveal": frame_indices(len(points), frames), "d": _commands(xy, box),
            "head": [[round(x, 1), round(y, 1)] if _inside(x, y, box) else None
                     for x, y in xy],
            "loss": _commands(_display(axes[0, 1], curve, size[1]), box)
            if show_losses else []})
    return PathAnimation(background, size, clips, paths, steps, float(interval),
                         title or "")


def _draw(fig, axes, landscape, data, longest, loss_scale, loss_limits, title,
          contour_options) -> dict[str, str]:
    """Contours, the faint paths and loss curves, and a legend below; the colours."""
    path_ax = axes[0]
    plot_landscape(landscape, ax=path_ax, **contour_options)
    handles, _ = path_ax.get_legend_handles_labels()          # the minimum, if any
    colors = {}
    for label, (points, losses) in data.items():
        (line,) = path_ax.plot(points[:, 0], points[:, 1], marker="o", markersize=2,
                               linewidth=1.2, alpha=FAINT)
        colors[label] = to_hex(line.get_color())
        path_ax.plot(points[0, 0], points[0, 1], marker="s", color=colors[label],
                     markersize=5)
        handles.append(Line2D([], [], color=colors[label], linewidth=PATH_WIDTH,
                              marker="o", markersize=3, label=label))
    handles.append(Line2D([], [], color="grey", marker="s", markersize=5,
                          linestyle="none", label="start"))
    if title:
        path_ax.set_title(title)
    if len(axes) > 1:
        loss_ax = axes[1]
        for label, (_, losses) in data.items():
            loss_ax.plot(np.arange(len(losses)), losses, color=colors[label], alpha=FAINT)
        _set_loss_limits(loss_ax, [losses for _, losses in data.values()], longest,
                         loss_scale)
        if loss_limits is not None:
            loss_ax.set_ylim(*loss_limits)
        loss_ax.set(xlabel="step $t$", ylabel=r"$f(\theta_t)$", title="loss")
    fig.legend(handles=handles, loc="outside lower center",
               ncols=min(len(handles), 5 if len(axes) > 1 else 4))
    return colors


def _png(fig) -> bytes:
    """The figure at :data:`SHARPNESS` times its size, in 256 colours (a third of the
    bytes, no visible difference on lines and contours), without metadata."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=SHARPNESS * SCREEN_DPI, bbox_inches=None)
    image = Image.open(buffer).convert("RGB").quantize(
        256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    image.save(buffer, format="png", optimize=True)
    return buffer.getvalue()


def _display(ax, points: np.ndarray, figure_height: float) -> np.ndarray:
    """Data coordinates → pixels of the figure from its top left corner (SVG's)."""
    with np.errstate(all="ignore"):
        xy = ax.transData.transform(points)
    xy[:, 1] = figure_height - xy[:, 1]
    return xy


def _inside(x: float, y: float, box) -> bool:
    return bool(np.isfinite(x) and np.isfinite(y) and box[0] <= x <= box[2]
                and box[1] <= y <= box[3])


def _clip(p, q, box):
    """Liang–Barsky: the part of the segment p → q inside ``box`` as (t0, a, b)."""
    t0, t1 = 0.0, 1.0
    dx, dy = q[0] - p[0], q[1] - p[1]
    for step, room in ((-dx, p[0] - box[0]), (dx, box[2] - p[0]),
                       (-dy, p[1] - box[1]), (dy, box[3] - p[1])):
        if step == 0:
            if room < 0:
                return None
        elif step < 0:
            t0 = max(t0, room / step)
        else:
            t1 = min(t1, room / step)
        if t0 > t1:
            return None
    return t0, (p[0] + t0 * dx, p[1] + t0 * dy), (p[0] + t1 * dx, p[1] + t1 * dy)


def _commands(xy: np.ndarray, box) -> list[str]:
    """For each iterate, the SVG path commands that draw the line up to it.

    Segments are cut to ``box`` (the picture and a margin around it), so that a
    diverging path keeps its direction without coordinates in the billions; a
    non-finite point draws nothing and the line starts again after it.
    """
    def point(p):
        return f"{p[0]:.1f},{p[1]:.1f}"

    commands, previous = [], None
    for x, y in xy:
        current = (x, y) if np.isfinite(x) and np.isfinite(y) else None
        if current is None:
            commands.append("")
        elif previous is None:
            commands.append("M" + point(current) if _inside(x, y, box) else "")
        else:
            part = _clip(previous, current, box)
            if part is None:
                commands.append("")
            else:
                t0, a, b = part
                commands.append(("L" if t0 == 0 else "M" + point(a) + "L") + point(b))
        previous = current
    return commands


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
