"""Pictures of what a robot reports, clips of them, envs that render and evaluate --video."""

import math

import gymnasium as gym
import numpy as np
import pytest

from simreal import assets
from simreal.envs import GraspEnv, time_limited_grasp_env
from simreal.evaluation import evaluate
from simreal.policy import ScriptedGraspExpert
from simreal.render import SceneView
from simreal.robot import ObjectPose, RobotState
from simreal.video import FrameRecorder, side_by_side, write_video

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


def test_grasp_env_renders_what_the_robot_reports_and_the_picture_follows_the_arm():
    env = gym.make("simreal/PandaGrasp-v0", randomization=None, render_mode="rgb_array", render_width=64,
                   render_height=48)
    env.reset(seed=0)
    first = env.render()
    assert first.shape == (48, 64, 3) and first.dtype == np.uint8
    for _ in range(5):
        env.step(np.array([0.0, 0.0, 1.0, -1.0], np.float32))  # up, hand open
    assert np.abs(env.render().astype(int) - first).sum() > 500  # the arm moved, so did the picture
    assert env.metadata["render_fps"] == pytest.approx(1.0 / env.unwrapped.robot.control_period)
    env.close()
    plain = gym.make("simreal/PandaGrasp-v0", randomization=None)
    plain.reset(seed=0)
    assert plain.render() is None
    plain.close()
    with pytest.raises(ValueError, match="render_mode"):
        GraspEnv(randomization=None, render_mode="human")


def test_recording_frames_leaves_the_rollout_unchanged():
    rendered = time_limited_grasp_env(randomization=None, render_mode="rgb_array", render_width=32, render_height=24)
    plain = time_limited_grasp_env(randomization=None)
    recorder = FrameRecorder(rendered, episodes=1, every=1)
    seen = evaluate(rendered, ScriptedGraspExpert(), 2, seed=5, observe=recorder)
    assert seen == evaluate(plain, ScriptedGraspExpert(), 2, seed=5)
    first_length = evaluate(plain, ScriptedGraspExpert(), 1, seed=5).mean_length
    assert len(recorder.frames) == first_length + 1  # the reset and every step of the first episode only
    rendered.close()
    plain.close()
    with pytest.raises(ValueError, match="render_mode"):
        FrameRecorder(plain)


@pytest.mark.parametrize(("name", "every"), [("clip.gif", 1), ("clip.mp4", 2)])
def test_evaluate_video_writes_a_readable_clip_of_the_first_episode(tmp_path, capsys, name, every):
    import imageio.v3 as iio

    from simreal.cli import main

    path = tmp_path / name
    assert main(["evaluate", "--episodes", "1", "--randomization", "none", "--video", str(path),
                 "--video-every", str(every)]) == 0
    steps = float(capsys.readouterr().out.split("mean steps ")[1].split()[0])
    frames = iio.imread(path)
    assert frames.shape[0] == math.ceil((steps + 1) / every) and frames.shape[-1] == 3
    assert main(["evaluate", "--episodes", "1", "--video", str(tmp_path / "clip.avi")]) == 2
    assert "clip.avi" in capsys.readouterr().out
