"""Pictures of what a robot reports, and clips of them."""

import numpy as np
import pytest

from simreal import assets
from simreal.render import SceneView
from simreal.robot import ObjectPose, RobotState
from simreal.video import side_by_side, write_video

SPEC = assets.robot_spec("panda")


def _state(q, cube_xy=(0.5, 0.0)) -> RobotState:
    cube = ObjectPose(np.array([*cube_xy, 0.02]), np.array([0, 0, 0, 1.0]), np.full(3, 0.02))
    return RobotState(0.0, np.asarray(q, float), np.zeros(SPEC.dof), 0.08, {"cube": cube})


@pytest.fixture(scope="module")
def view():
    v = SceneView(SPEC, assets.scene_spec("tabletop"), width=96, height=72)
    yield v
    v.close()


def test_frames_show_the_measured_arm_and_the_perceived_objects(view):
    home = view.frame(_state(SPEC.home))
    assert home.shape == (72, 96, 3) and home.dtype == np.uint8 and home.std() > 10
    assert np.array_equal(home, view.frame(_state(SPEC.home)))  # the same state, the same picture
    moved = np.array(SPEC.home)
    moved[0] += 0.8
    assert np.abs(view.frame(_state(moved)).astype(int) - home).sum() > 1000  # the arm turned
    assert np.abs(view.frame(_state(SPEC.home, (0.4, 0.2))).astype(int) - home).sum() > 100  # the cube moved


def test_clips_are_written_as_gif_and_mp4_and_bad_names_are_refused(tmp_path):
    frames = [np.full((32, 48, 3), 20 * i, np.uint8) for i in range(6)]
    joined = side_by_side(frames, frames[:3], ("zero-shot", "adapted"))
    assert len(joined) == 6 and joined[0].shape == (32, 96, 3)
    for name in ("clip.gif", "clip.mp4"):
        assert write_video(joined, tmp_path / name).stat().st_size > 0
    with pytest.raises(ValueError, match=r"clip\.avi"):
        write_video(frames, tmp_path / "clip.avi")
    with pytest.raises(ValueError, match="no frames"):
        write_video([], tmp_path / "empty.gif")
