import gc
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402

from optimlab.animation import animate_paths, frame_indices, to_jshtml  # noqa: E402
from optimlab.landscapes import Quadratic, Saddle  # noqa: E402
from optimlab.trajectories import run_optimizer  # noqa: E402

# Tests build animations without playing them; Matplotlib warns about that when
# they are deleted, so collect them here with the warning silenced.
pytestmark = pytest.mark.filterwarnings("ignore:Animation was deleted")


@pytest.fixture(autouse=True)
def collect_unplayed_animations():
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gc.collect()


def runs(steps=(12, 7)):
    f = Quadratic.with_eigenvalues([1.0, 4.0])
    return f, {f"lr {lr}": run_optimizer(f, lambda p, lr=lr: torch.optim.SGD(p, lr=lr),
                                         [1.0, -1.0], n)
               for lr, n in zip((0.1, 0.3), steps)}


def test_frame_indices_spread_the_iterates_from_first_to_last():
    assert frame_indices(11, 3) == [0, 5, 10]
    assert frame_indices(4, 7) == [0, 1, 1, 2, 2, 3, 3]
    assert frame_indices(1, 2) == [0, 0]


def test_the_animation_has_the_requested_number_of_frames():
    f, paths = runs()
    anim = animate_paths(f, paths, frames=9)
    assert isinstance(anim, FuncAnimation)
    assert len(list(anim.new_frame_seq())) == 9


def test_each_frame_draws_each_path_up_to_its_iterate():
    f, paths = runs()
    anim = animate_paths(f, paths, frames=5)
    for frame in range(5):
        anim._func(frame)
        for label, run in paths.items():
            i = frame_indices(len(run), 5)[frame]
            line = anim.paths[label]
            np.testing.assert_array_equal(line.get_xdata(), run.points[: i + 1, 0].numpy())
            np.testing.assert_array_equal(line.get_ydata(), run.points[: i + 1, 1].numpy())
    # the last frame shows the whole of every path
    assert {label: len(line.get_xdata()) for label, line in anim.paths.items()} == \
        {label: len(run) for label, run in paths.items()}


def test_plain_point_tensors_and_a_linear_loss_panel_work():
    points = torch.tensor([[-1.0, 0.1], [-0.5, 0.2], [0.0, 0.4]])
    anim = animate_paths(Saddle(), {"by hand": points}, frames=3, loss_scale="linear",
                         loss_limits=(-1.0, 1.5))
    anim._func(2)
    assert list(anim.paths["by hand"].get_xdata()) == [-1.0, -0.5, 0.0]


def test_jshtml_player_embeds_one_image_per_frame():
    f, paths = runs()
    html = to_jshtml(animate_paths(f, paths, frames=4), dpi=20)
    assert html.count("data:image/jpeg;base64") == 4
    assert "anim-buttons" in html or "anim-controls" in html


@pytest.mark.parametrize("kwargs, message", [
    (dict(frames=1), "frames"),
    (dict(frames=2.5), "frames"),
    (dict(interval=0), "interval"),
    (dict(loss_scale="symlog"), "loss_scale"),
    (dict(loss_limits=(1.0, 0.0)), "loss_limits"),
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


def test_to_jshtml_refuses_bad_arguments():
    f, paths = runs()
    anim = animate_paths(f, paths, frames=2)
    with pytest.raises(ValueError, match="dpi"):
        to_jshtml(anim, dpi=0)
    with pytest.raises(ValueError, match="frame_format"):
        to_jshtml(anim, frame_format="gif")
    with pytest.raises(ValueError, match="animation"):
        to_jshtml("not an animation")
