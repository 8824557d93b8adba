"""Calibrating from a deployment log: what `hardware_bridge.py deploy` writes is replayable data."""

import json

import numpy as np
import pytest

from simreal import assets
from simreal.bridge import RobotClient
from simreal.bridge.process import served_target
from simreal.calibration import CalibrationDataError, calibrate, load_recording
from simreal.deploy import deploy
from simreal.learn.adapt import load_policy


@pytest.fixture(scope="module")
def weak_motors_log(tmp_path_factory):
    """Three episodes of the source policy on weak_motors, served in another process."""
    log = tmp_path_factory.mktemp("deploy") / "weak_motors.jsonl"
    policy = load_policy("panda_grasp")
    with served_target("weak_motors") as endpoint:
        client = RobotClient(endpoint, policy.spec, timeout=5.0)
        try:
            deploy(policy, client, 3, seed=0, log_path=log)
        finally:
            client.close()
    return log


def test_log_holds_each_episode_start_and_object_poses(weak_motors_log):
    lines = [json.loads(line) for line in weak_motors_log.read_text().splitlines()]
    assert lines[0]["kind"] == "header" and lines[0]["robot"] == "panda"
    resets = [line for line in lines if line["kind"] == "reset"]
    assert [r["episode"] for r in resets] == [0, 1, 2]
    recording = load_recording(weak_motors_log, assets.robot_spec("panda"))
    assert recording.control_period == pytest.approx(0.05)
    for reset, traj in zip(resets, recording.trajectories, strict=True):
        assert traj.placements == {k: tuple(v) for k, v in reset["placements"].items()}
        np.testing.assert_allclose(traj.joint_positions[0], reset["joint_positions"])
        assert traj.object_names == ("cube",) and traj.object_positions.shape == (len(traj) + 1, 1, 3)
    placed = [traj.placements["cube"][:2] for traj in recording.trajectories]
    assert not np.allclose(placed[0], placed[1])  # seeded placements differ per episode, and are kept


def test_actuator_gain_fitted_from_a_deploy_log(weak_motors_log):
    spec = assets.robot_spec("panda")
    recording = load_recording(weak_motors_log, spec)
    fit = calibrate(recording, ["actuator_gain"], spec, assets.scene_spec("tabletop"))
    truth = assets.target_profile("weak_motors").dynamics.actuator_gain
    assert abs(fit.dynamics.actuator_gain - truth) <= 0.1 * truth, fit.dynamics.actuator_gain
    assert fit.residual_after["object_rms_m"] < fit.residual_before["object_rms_m"]


def test_log_of_another_robot_or_unknown_line_is_a_clear_error(tmp_path, weak_motors_log):
    lines = weak_motors_log.read_text().splitlines()
    header = json.loads(lines[0])
    other = tmp_path / "other.jsonl"
    other.write_text("\n".join([json.dumps({**header, "robot": "xarm6"}), *lines[1:]]) + "\n")
    with pytest.raises(CalibrationDataError, match=r"other\.jsonl: field 'header\.robot' = 'xarm6'"):
        load_recording(other, assets.robot_spec("panda"))
    odd = tmp_path / "odd.jsonl"
    odd.write_text("\n".join([lines[0], json.dumps({"kind": "pause"}), *lines[1:]]) + "\n")
    with pytest.raises(CalibrationDataError, match=r"odd\.jsonl: field 'line 2\.kind' = 'pause'"):
        load_recording(odd, assets.robot_spec("panda"))
    broken = tmp_path / "broken.jsonl"
    reset = json.loads(lines[1])
    reset["objects"]["cube"]["position"] = [0.5, "x"]
    broken.write_text("\n".join([lines[0], json.dumps(reset), *lines[2:]]) + "\n")
    with pytest.raises(CalibrationDataError, match=r"broken\.jsonl: field 'episode 0\.objects'"):
        load_recording(broken, assets.robot_spec("panda"))
