import base64
import json
import math
import re
import struct

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from optimlab.animation import PathAnimation, animate_paths, frame_indices  # noqa: E402
from optimlab.landscapes import Quadratic, Saddle  # noqa: E402
from optimlab.trajectories import run_optimizer  # noqa: E402

VERTEX = re.compile(r"(-?\d+\.\d),(-?\d+\.\d)")


def runs(steps=(12, 7)):
    f = Quadratic.with_eigenvalues([1.0, 4.0])
    return f, {f"lr {lr}": run_optimizer(f, lambda p, lr=lr: torch.optim.SGD(p, lr=lr),
                                         [1.0, -1.0], n)
               for lr, n in zip((0.1, 0.3), steps)}


@pytest.fixture(scope="module")
def race():
    """Two SGD runs of 13 and 8 iterates in 5 frames, the animation and its HTML."""
    f, paths = runs()
    anim = animate_paths(f, paths, frames=5)
    return paths, anim, anim.to_html()


def player_data(html: str) -> dict:
    """The frames' data as the player's JavaScript reads it."""
    match = re.search(r'<script type="application/json" class="anim-data">(.*?)</script>',
                      html, re.S)
    assert match, "no data for the player"
    return json.loads(match.group(1))


def vertices(commands: list[str]) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in VERTEX.findall("".join(commands))]


def shown_lines(html: str, kind: str) -> list[str]:
    """The d attributes of the bold lines in the markup, before any script runs."""
    return re.findall(rf'<path class="anim-{kind}" d="([^"]*)"', html)


def png_size(html: str) -> tuple[int, int]:
    data = re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1)
    return struct.unpack(">II", base64.b64decode(data[:64])[16:24])


def test_frame_indices_spread_the_iterates_from_first_to_last():
    assert frame_indices(11, 3) == [0, 5, 10]
    assert frame_indices(4, 7) == [0, 1, 1, 2, 2, 3, 3]
    assert frame_indices(1, 2) == [0, 0]


def test_each_frame_reveals_each_path_up_to_its_iterate(race):
    paths, anim, html = race
    assert isinstance(anim, PathAnimation) and anim.frames == 5
    data = player_data(html)
    assert data["steps"] == frame_indices(12 + 1, 5)  # the longest path sets t
    for path, (label, run) in zip(data["paths"], paths.items()):
        assert path["label"] == label
        assert path["reveal"] == frame_indices(len(run), 5)
        assert len(path["d"]) == len(path["loss"]) == len(path["head"]) == len(run)
        for frame in range(5):
            i = path["reveal"][frame]
            # every iterate is inside the picture: one vertex per iterate shown
            assert len(vertices(path["d"][: i + 1])) == i + 1
            assert len(vertices(path["loss"][: i + 1])) == i + 1
            assert path["head"][i] == list(vertices(path["d"][: i + 1])[-1])
    assert [p["reveal"][-1] + 1 for p in data["paths"]] == [len(r) for r in paths.values()]


def test_points_land_where_the_axes_draw_them():
    """The SVG uses the figure's pixels from its top left: the corners of the
    landscape's window are the corners of the path panel's clip rectangle."""
    f = Quadratic.with_eigenvalues([1.0, 4.0])
    (x0, x1), (y0, y1) = f.bounds
    corners = torch.tensor([[x0, y0], [x1, y1]], dtype=torch.float64)
    anim = animate_paths(f, {"corners": corners}, frames=2, show_losses=False)
    (left, bottom), (right, top) = vertices(player_data(anim.to_html())["paths"][0]["d"])
    x, y, width, height = anim.clips[0]
    assert left == pytest.approx(x, abs=0.1) and right == pytest.approx(x + width, abs=0.1)
    assert top == pytest.approx(y, abs=0.1) and bottom == pytest.approx(y + height, abs=0.1)
    assert bottom > top                         # y grows downwards in SVG


def test_the_poster_is_the_last_frame_with_complete_paths(race):
    _, _, html = race
    data = player_data(html)
    assert shown_lines(html, "path") == ["".join(p["d"]) for p in data["paths"]]
    assert shown_lines(html, "loss") == ["".join(p["loss"]) for p in data["paths"]]
    heads = re.findall(r'<circle class="anim-head" cx="([^"]+)" cy="([^"]+)"', html)
    assert [[float(x), float(y)] for x, y in heads] == [p["head"][-1] for p in data["paths"]]
    assert 'max="4" value="4"' in html                     # the slider on the last frame
    assert '<span class="anim-step"' in html and "t = 12</span>" in html


def test_background_is_sharp_and_as_large_as_a_page_figure(race):
    _, anim, html = race
    width, height = anim.size
    assert width == pytest.approx(660)                     # PAGE_WIDTH at 96 px per inch
    natural_width, natural_height = png_size(html)
    assert natural_width >= 1.5 * width
    assert natural_height / natural_width == pytest.approx(height / width, rel=0.01)
    assert f'max-width:{width:.0f}px' in html and f'viewBox="0 0 {width:.1f} {height:.1f}"' \
        in html


def test_the_player_asks_nothing_of_another_host(race):
    _, _, html = race
    assert re.findall(r'src="([^"]{5})', html) == ["data:"]  # the one image is inline
    html = re.sub(r'src="data:image/png;base64,[^"]+"', "", html)
    assert "http" not in html and "//" not in html and "url(#" in html  # local refs only
    assert "<link" not in html and "<iframe" not in html and "@import" not in html
    for control in ("first", "previous", "play", "next", "last"):
        assert f'<button type="button" class="anim-{control}"' in html
    assert 'type="range" class="anim-slider"' in html


def test_the_html_is_the_same_every_time_and_ids_follow_the_content(race):
    paths, anim, html = race
    again = animate_paths(runs()[0], paths, frames=5)
    assert again.to_html() == html and again._repr_html_() == html
    assert repr(again) == "PathAnimation(2 paths, 5 frames)"
    other = animate_paths(runs()[0], paths, frames=4).to_html()
    ids = [re.search(r'class="optimlab-animation" id="([^"]+)"', h).group(1)
           for h in (html, other)]
    assert ids[0] != ids[1] and html.count(ids[0]) > 5  # clip paths, markers, script


def test_far_and_non_finite_points_are_cut_not_drawn():
    far = torch.tensor([[-1.0, 0.0], [1e12, 1e11], [math.nan, math.nan], [0.5, 0.5],
                        [0.6, 0.6]], dtype=torch.float64)
    anim = animate_paths(Saddle(), {"escapes": far}, frames=5, loss_scale="linear",
                         loss_limits=(-3.0, 3.0))
    path = player_data(anim.to_html())["paths"][0]
    width, height = anim.size
    assert path["d"][0].startswith("M") and path["d"][2] == ""
    assert path["d"][1].startswith("L")                 # toward the far point, cut short
    assert all(-width <= x <= 2 * width and -height <= y <= 2 * height
               for x, y in vertices(path["d"]))
    assert path["d"][3].startswith("M") and path["d"][4].startswith("L")  # starts again
    assert path["head"][1] is None and path["head"][2] is None


def test_plain_point_tensors_a_linear_loss_panel_and_no_loss_panel_work():
    points = torch.tensor([[-1.0, 0.1], [-0.5, 0.2], [0.0, 0.4]])
    anim = animate_paths(Saddle(), {"by hand": points}, frames=3, loss_scale="linear",
                         loss_limits=(-1.0, 1.5))
    assert len(vertices(player_data(anim.to_html())["paths"][0]["loss"])) == 3
    alone = animate_paths(Saddle(), {"by hand": points}, frames=3, show_losses=False)
    html = alone.to_html()
    assert len(alone.clips) == 1 and shown_lines(html, "loss") == []
    assert len(shown_lines(html, "path")) == 1


def test_a_label_cannot_close_the_script_early():
    points = torch.tensor([[-1.0, 0.1], [-0.5, 0.2]])
    html = animate_paths(Saddle(), {"a</script><b>": points}, frames=2).to_html()
    assert html.count("</script>") == 2                    # the data's and the player's
    assert player_data(html)["paths"][0]["label"] == "a</script><b>"


@pytest.mark.parametrize("kwargs, message", [
    (dict(frames=1), "frames"),
    (dict(frames=2.5), "frames"),
    (dict(interval=0), "interval"),
    (dict(loss_scale="symlog"), "loss_scale"),
    (dict(loss_limits=(1.0, 0.0)), "loss_limits"),
    (dict(height=0.2), "height"),
])
def test_bad_options_are_refused_by_name(kwargs, message):
    f, paths = runs()
    with pytest.raises(ValueError, match=message):
        animate_paths(f, paths, **kwargs)


def test_bad_trajectories_are_refused_by_name():
    f, _ = runs()
    with pytest.raises(ValueError, match="trajectories"):
        animate_paths(f, {})
    with pytest.raises(ValueError, match="trajectories"):
        animate_paths(f, {"3-D": torch.zeros(4, 3)})
    with pytest.raises(ValueError, match="trajectories"):
        animate_paths(f, {"list": [[0.0, 0.0]]})
    with pytest.raises(ValueError, match="landscape"):
        animate_paths(lambda theta: theta.sum(), {"a": torch.zeros(2, 2)})
