"""Hindsight relabeling and the supervised fit: horizon credit, exploration within the
head's range, early stopping on held-out loss."""

import numpy as np
import pytest
import torch

from simreal import assets
from simreal.controllers import DifferentialIKController
from simreal.kinematics import Kinematics
from simreal.learn.exploration import ExplorationConfig, NoisyController, collect_grasp_trajectories
from simreal.learn.relabel import FitConfig, fit_head, relabel
from simreal.policy.head import ControlHead, HeadConfig
from simreal.sim import SimRobot


@pytest.fixture(scope="module")
def recorded():
    spec, scene = assets.robot_spec("panda"), assets.scene_spec("tabletop")
    robot = SimRobot(spec, scene)
    trajectories = collect_grasp_trajectories(robot, 3, seed=5, config=ExplorationConfig(joint_noise=(0.0, 0.02)))
    robot.close()
    return spec, trajectories


def test_horizon_credits_the_motion_over_h_steps(recorded):
    spec, trajectories = recorded
    config = HeadConfig()
    one = relabel(trajectories, spec, config)
    three = relabel(trajectories, spec, config, horizon=3)
    assert len(one) == sum(len(t) for t in trajectories)
    assert len(three) == len(one) - 2 * len(trajectories)  # the last h - 1 steps have no label
    first = trajectories[0]
    kinematics = Kinematics(spec)
    ee = [kinematics.tcp_pose(s.joint_positions)[0] for s in first.states[:4]]
    command = slice(-4, -1)  # the hindsight TCP displacement, before the gripper command
    np.testing.assert_allclose(three.inputs[0, command], (ee[3] - ee[0]) / config.max_displacement, atol=1e-5)
    np.testing.assert_allclose(one.inputs[0, command], (ee[1] - ee[0]) / config.max_displacement, atol=1e-5)
    np.testing.assert_array_equal(three.targets[0], one.targets[0])  # same targets, other credit
    with pytest.raises(ValueError, match="horizon"):
        relabel(trajectories, spec, config, horizon=0)


def test_exploration_offsets_stay_within_the_heads_range():
    spec = assets.robot_spec("panda")
    robot = SimRobot(spec, assets.scene_spec("tabletop"))
    state = robot.reset()
    base = DifferentialIKController(spec, robot.control_period)
    base.reset(state)
    noisy = NoisyController(base, spec, np.random.default_rng(0), sigma=0.5, gain=3.0, max_offset=0.15)
    offsets = np.array([noisy(state, np.array([0.03, 0.03, -0.03]), 0.08).positions - state.joint_positions
                        for _ in range(50)])
    robot.close()
    assert np.abs(offsets).max() <= 0.15 + 1e-12
    assert np.abs(offsets).max() > 0.14  # the noise really was large enough to need the clip


def test_best_epoch_returns_the_lowest_held_out_loss(recorded):
    spec, trajectories = recorded
    data = relabel(trajectories, spec, HeadConfig())

    def fit(best: bool) -> float:
        torch.manual_seed(0)
        head = ControlHead(spec.dof, HeadConfig())
        start = fit_head(head, data, FitConfig(epochs=0), seed=1)["validation_loss"]
        torch.manual_seed(0)
        head = ControlHead(spec.dof, HeadConfig())
        # a learning rate this high diverges: the last epoch is not the best one
        result = fit_head(head, data, FitConfig(epochs=8, learning_rate=0.5, best_epoch=best), seed=1)
        return result["validation_loss"], start, result["epoch"]

    last, start, last_epoch = fit(False)
    best, _, best_epoch = fit(True)
    assert last_epoch == 8 and best_epoch < 8
    assert best < last and best <= start
