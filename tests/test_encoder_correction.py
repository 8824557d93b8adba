"""Deploying a calibration: fitted encoder offsets corrected in the driver, not the policy."""

from pathlib import Path

import numpy as np
import pybullet
import pytest

from simreal import assets
from simreal.calibration.correction import EncoderCorrection, encoder_offsets_from
from simreal.cli import main
from simreal.envs import time_limited_grasp_env
from simreal.evaluation import evaluate
from simreal.learn.adapt import load_policy
from simreal.policy.head import head_controller
from simreal.robot import JointCommand, ResetRequest
from simreal.sim import SimRobot
from simreal.specs import SpecError
from simreal.targets import PerturbedTarget

TRUTH = Path(assets.find("target", "miscalibrated"))


def _success(robot, episodes: int = 20):
    policy = load_policy("panda_grasp")
    env = time_limited_grasp_env(robot=robot, controller=head_controller(policy.head), randomization=None)
    try:
        return evaluate(env, policy.act, episodes, 3_000_000)
    finally:
        env.close()


def _true_joints(robot: SimRobot) -> np.ndarray:
    states = pybullet.getJointStates(robot._body.uid, robot._body.arm, physicsClientId=robot.world.id)
    return np.array([s[0] for s in states])


def test_corrected_robot_reads_and_reaches_the_true_angles():
    """With its offsets taken out, a miscalibrated robot's true joints reach the commanded
    angles and its readings are the true angles (up to encoder noise); uncorrected, both
    are off by the offsets."""
    spec, scene = assets.robot_spec("panda"), assets.scene_spec("tabletop")
    profile = assets.target_profile(TRUTH)
    offsets = encoder_offsets_from(TRUTH, "panda", spec.dof)
    raw, inner = SimRobot(spec, scene, profile.dynamics), SimRobot(spec, scene, profile.dynamics)
    corrected = EncoderCorrection(inner, offsets)
    target = np.asarray(spec.home) + np.array([0.2, 0.1, -0.1, -0.2, 0.1, 0.2, -0.1])
    try:
        for robot in (raw, corrected):
            robot.reset(ResetRequest({"cube": (0.5, 0.0, 0.0)}), seed=0)
            for _ in range(40):
                robot.apply(JointCommand(target, 0.04))
                state = robot.step()
            true = _true_joints(raw if robot is raw else inner)
            if robot is corrected:
                assert np.max(np.abs(true - target)) < 0.005, true - target
                assert np.max(np.abs(state.joint_positions - true)) < 0.01
            else:
                assert np.max(np.abs(true - target)) > 0.03
    finally:
        raw.close()
        corrected.close()


def test_corrected_offsets_turn_a_failing_policy_into_a_working_one():
    """The source policy fails on miscalibrated (its high level steers by the biased joints);
    through the correction it grasps as in simulation."""
    spec = assets.robot_spec("panda")
    before = _success(PerturbedTarget("miscalibrated"))
    offsets = encoder_offsets_from(TRUTH, "panda", spec.dof)
    after = _success(EncoderCorrection(PerturbedTarget("miscalibrated"), offsets))
    assert before.success_rate <= 0.1 and after.success_rate >= 0.9, (before.describe(), after.describe())


def test_bad_offsets_are_clear_errors(tmp_path, capsys):
    robot = PerturbedTarget("miscalibrated")
    try:
        with pytest.raises(ValueError, match="7 finite values"):
            EncoderCorrection(robot, [0.01, 0.02])
        with pytest.raises(ValueError, match="7 finite values"):
            EncoderCorrection(robot, [np.nan] * 7)
    finally:
        robot.close()
    with pytest.raises(SpecError, match=r"dynamics\.joint_offset"):
        encoder_offsets_from(assets.find("target", "weak_motors"), "panda", 7)
    short = tmp_path / "short.yaml"
    short.write_text("name: short\ndescription: two offsets\nrobot: panda\ndynamics:\n  joint_offset: [0.01, 0.02]\n")
    with pytest.raises(SpecError, match="joint_offset"):
        encoder_offsets_from(short, "panda", 7)
    assert main(["evaluate", "--encoder-offsets", str(TRUTH), "--episodes", "1"]) == 2
    assert "--target" in capsys.readouterr().out
    assert main(["evaluate", "--target", "miscalibrated", "--encoder-offsets", str(tmp_path / "nope.yaml"),
                 "--episodes", "1"]) == 2
