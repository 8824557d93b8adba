"""Command delay and jitter, the reference-anchored low level, the predictive expert and the
observation blocks that make delay visible."""

from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest

from simreal import assets
from simreal.controllers import DifferentialIKController, ReferenceIKController
from simreal.envs import GraspEnv, grasp_layout, time_limited_grasp_env
from simreal.policy import ScriptedGraspExpert
from simreal.policy.head import ControlHead, HeadConfig, head_controller, head_layout
from simreal.sim import CommandDelay
from simreal.specs import DynamicsParams

from .conftest import rollout_joints


def released(delay: CommandDelay, pushes: int) -> list[int]:
    out = []
    for t in range(pushes):
        delay.push(t)
        out.append(delay.pop())
    return out


def test_delay_without_jitter_is_a_fifo():
    assert released(CommandDelay(3, -1), 8) == [-1, -1, -1, 0, 1, 2, 3, 4]
    assert released(CommandDelay(3, -1, jitter=0, rng=np.random.default_rng(0)), 8) == [-1, -1, -1, 0, 1, 2, 3, 4]


def test_jittered_commands_arrive_within_the_jitter_and_never_go_back_in_time():
    for seed in range(20):
        out = released(CommandDelay(2, -1, jitter=2, rng=np.random.default_rng(seed)), 40)
        for t, command in enumerate(out):
            if command >= 0:
                assert 2 <= t - command <= 4  # delay 2, plus 0-2 steps of jitter
        assert all(b >= a for a, b in pairwise(out))  # a newer command is never undone
    assert released(CommandDelay(2, -1, 2, np.random.default_rng(3)), 30) == \
        released(CommandDelay(2, -1, 2, np.random.default_rng(3)), 30)
    with pytest.raises(ValueError, match="random generator"):
        CommandDelay(1, 0, jitter=1)


def test_jittered_robot_is_reproducible_and_differs_from_the_fixed_delay(sim_robot):
    sim_robot.set_dynamics(DynamicsParams(latency_steps=1, latency_jitter=2))
    first, again = rollout_joints(sim_robot, 20, seed=4), rollout_joints(sim_robot, 20, seed=4)
    np.testing.assert_array_equal(first, again)
    sim_robot.set_dynamics(DynamicsParams(latency_steps=1))
    assert not np.allclose(first, rollout_joints(sim_robot, 20, seed=4))


def tcp_path(controller, latency: int, steps: int = 14) -> np.ndarray:
    env = GraspEnv(robot="panda", randomization=None, controller=controller)
    obs, _ = env.reset(seed=1, options={"dynamics": DynamicsParams(latency_steps=latency)})
    start, path = obs[:3].copy(), []
    for t in range(steps):
        obs, *_ = env.step(np.array([1.0, 0.0, -1.0, -1.0]) if t < 6 else np.array([0.0, 0.0, 0.0, -1.0]))
        path.append(obs[:3] - start)
    env.close()
    return np.array(path)


def test_reference_controller_turns_a_delay_into_a_pure_shift_and_measured_ik_does_not():
    reference = lambda spec, period: ReferenceIKController(spec, period)  # noqa: E731
    prompt, late = tcp_path(reference, 0), tcp_path(reference, 3)
    np.testing.assert_allclose(late[3:], prompt[:-3], atol=2e-3)  # the same path, three steps later
    measured = tcp_path(None, 3)
    assert np.linalg.norm(measured[8]) < 0.6 * np.linalg.norm(prompt[5])  # aimed from stale joints: slower


def test_observation_shows_the_motion_still_on_its_way_and_the_last_actions():
    env = GraspEnv(robot="panda", randomization=None, controller=lambda s, p: ReferenceIKController(s, p))
    layout = grasp_layout()
    obs, _ = env.reset(seed=0, options={"dynamics": DynamicsParams(latency_steps=2)})
    assert not layout.get(obs, "ee_reference_offset").any() and not layout.get(obs, "previous_actions").any()
    actions = [np.array([1.0, 0.0, 0.0, -1.0]), np.array([0.0, 0.5, 0.0, 1.0])]
    for action in actions:
        obs, *_ = env.step(action)
    offset = layout.get(obs, "ee_reference_offset")
    assert offset[0] > 0.02 and offset[1] > 0.01  # both commands are still on their way
    np.testing.assert_array_equal(layout.get(obs, "previous_actions")[:8], np.concatenate(actions[::-1]))
    env.close()


def test_predictive_expert_steers_from_the_reference_and_closes_only_on_arrival():
    layout, expert = grasp_layout(), ScriptedGraspExpert(predictive=True)
    obs = np.zeros(layout.size, np.float32)
    obs[layout.slice("gripper_width")] = 0.08
    obs[layout.slice("object_half_extents")] = 0.025
    obs[layout.slice("object_relative_position")] = (0.03, 0.0, 0.0)  # hand 3 cm short of the cube ...
    obs[layout.slice("ee_reference_offset")] = (0.03, 0.0, 0.0)  # ... but commanded onto it
    action = expert(obs)
    assert np.allclose(action[:3], 0.0) and action[3] < 0  # wait, open: the hand has not arrived
    obs[layout.slice("object_relative_position")] = (0.0, 0.0, 0.0)
    obs[layout.slice("ee_reference_offset")] = (0.0, 0.0, 0.0)
    assert expert(obs)[3] > 0  # there: close
    plain = ScriptedGraspExpert()
    obs[layout.slice("object_relative_position")] = (0.05, 0.0, 0.0)
    obs[layout.slice("ee_reference_offset")] = (0.05, 0.0, 0.0)
    assert plain(obs)[0] > 0.5  # the plain expert chases where the hand is


def test_reference_head_layout_and_zero_correction_is_the_reference_controller():
    config = HeadConfig(anchor="reference")
    layout = head_layout(7, config)
    assert layout.names[-2:] == ("reference_offset", "command") and layout.size == head_layout(7, HeadConfig()).size + 7
    head = ControlHead(7, config).zero_output_().eval()
    paths = []
    for controller in (head_controller(head), lambda s, p: ReferenceIKController(s, p)):
        paths.append(tcp_path(controller, 2, steps=8))
    np.testing.assert_allclose(paths[0], paths[1], atol=1e-9)
    with pytest.raises(ValueError, match="anchor"):
        HeadConfig(anchor="previous")


def test_predictive_expert_through_the_reference_survives_a_delay_the_plain_one_does_not():
    """A few seeded episodes at 150 ms: the teacher that DAgger needs there."""
    delayed = replace(DynamicsParams(), latency_steps=3)

    def success(expert, controller) -> int:
        env = time_limited_grasp_env(robot="panda", randomization=None, controller=controller)
        wins = 0
        for episode in range(3):
            obs, _ = env.reset(seed=10 + episode, options={"dynamics": delayed})
            done = False
            while not done:
                obs, _, terminated, truncated, info = env.step(expert(obs))
                done = terminated or truncated
            wins += info["is_success"]
        env.close()
        return wins

    reference = lambda spec, period: ReferenceIKController(spec, period)  # noqa: E731
    assert success(ScriptedGraspExpert(predictive=True), reference) == 3
    assert success(ScriptedGraspExpert(), lambda spec, period: DifferentialIKController(spec, period)) == 0


def test_latency_randomization_covers_zero_to_four_steps_with_jitter():
    spec = assets.randomization_spec("latency")
    assert spec.range_of("latency_steps") == (0, 4) and spec.range_of("latency_jitter") == (0, 1)
