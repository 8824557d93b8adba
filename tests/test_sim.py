import dataclasses

import numpy as np
import pytest

from simreal import assets
from simreal.envs import GraspEnv
from simreal.policy import ScriptedGraspExpert
from simreal.robot import JointCommand, ResetRequest, Robot
from simreal.sim import CommandDelay, DomainRandomizer, SimRobot
from simreal.specs import DynamicsParams, RandomizationSpec, SpecError
from simreal.targets import PerturbedTarget

from .conftest import rollout_joints


def test_sim_robot_and_target_satisfy_the_robot_protocol(sim_robot):
    target = PerturbedTarget("laggy")
    try:
        assert isinstance(sim_robot, Robot)
        assert isinstance(target, Robot)
    finally:
        target.close()


def test_same_seed_same_trajectory_with_noise(panda_spec, scene_spec):
    noisy = DynamicsParams(position_noise=0.01, velocity_noise=0.05, object_position_noise=0.01)
    runs = []
    for _ in range(2):
        robot = SimRobot(panda_spec, scene_spec, noisy)
        runs.append(rollout_joints(robot, seed=7))
        robot.close()
    np.testing.assert_array_equal(runs[0], runs[1])
    other = SimRobot(panda_spec, scene_spec, noisy)
    assert not np.array_equal(runs[0], rollout_joints(other, seed=8))
    other.close()


def test_robot_follows_joint_targets(sim_robot):
    trace = rollout_joints(sim_robot, steps=40)
    target = np.asarray(sim_robot.spec.home) + np.array([0.6, 0.5, -0.4, 0.5, 0, 0, 0])
    assert np.abs(trace[-1, :7] - target).max() < 0.02
    assert trace[-1, 7] < 0.01  # gripper closed on nothing


def _replay(actions, seed: int, **env_kwargs) -> np.ndarray:
    env = GraspEnv(randomization=None, **env_kwargs)
    obs, _ = env.reset(seed=seed)
    trace = [obs]
    for action in actions:
        obs, *_ = env.step(action)
        trace.append(obs)
    env.close()
    return np.array(trace)


@pytest.fixture(scope="module")
def expert_actions():
    """The expert's actions on one nominal episode, to replay open loop elsewhere."""
    env, expert = GraspEnv(randomization=None), ScriptedGraspExpert()
    obs, _ = env.reset(seed=3)
    actions = []
    for _ in range(40):
        actions.append(expert(obs))
        obs, *_ = env.step(actions[-1])
    env.close()
    return actions


def test_replay_on_nominal_is_exact(expert_actions):
    np.testing.assert_array_equal(_replay(expert_actions, 3), _replay(expert_actions, 3))


@pytest.mark.parametrize("name", assets.available("target"))
def test_each_target_profile_changes_the_dynamics(name, expert_actions):
    nominal = _replay(expert_actions, 3)
    perturbed = _replay(expert_actions, 3, target=name)
    # the same command sequence gives a measurably different trajectory (m, m/s)
    assert np.abs(perturbed - nominal).max() > 0.01, name


def test_target_hides_its_dynamics():
    target = PerturbedTarget("weak_motors")
    try:
        public = {k: v for k, v in vars(target).items() if not k.startswith("_")}
        assert not any(isinstance(v, DynamicsParams | SimRobot) for v in public.values())
        assert not hasattr(target, "dynamics")
        assert not hasattr(target, "world")
    finally:
        target.close()


def test_latency_delays_commands_by_whole_steps():
    delay = CommandDelay(2, "hold")
    released = []
    for command in ("a", "b", "c", "d"):
        delay.push(command)
        released.append(delay.pop())
    assert released == ["hold", "hold", "a", "b"]


def test_latency_push_twice_in_one_period_keeps_the_latest():
    delay = CommandDelay(0, "hold")
    delay.push("a")
    delay.push("b")
    assert delay.pop() == "b"
    assert delay.pop() == "b"  # nothing new: keep the active command


def test_latency_shows_in_the_response(panda_spec, scene_spec):
    def first_motion(latency: int) -> int:
        robot = SimRobot(panda_spec, scene_spec, DynamicsParams(latency_steps=latency))
        state = robot.reset()
        start = state.joint_positions.copy()
        for step in range(10):
            robot.apply(JointCommand(start + 0.3, 0.08))
            state = robot.step()
            if np.abs(state.joint_positions - start).max() > 1e-3:
                robot.close()
                return step
        robot.close()
        return -1

    assert first_motion(2) - first_motion(0) == 2


def test_randomizer_is_seeded_and_within_ranges():
    spec = assets.randomization_spec("default")
    randomizer = DomainRandomizer(spec, dof=7)
    a = randomizer.sample(np.random.default_rng(3))
    b = randomizer.sample(np.random.default_rng(3))
    c = randomizer.sample(np.random.default_rng(4))
    assert a == b and a != c
    for _ in range(50):
        params = randomizer.sample(np.random.default_rng(_))
        for name, low, high in spec.ranges:
            values = np.atleast_1d(getattr(params, name))
            assert np.all((values >= low) & (values <= high)), name
        assert len(params.joint_offset) == 7
        assert isinstance(params.latency_steps, int)


def test_randomizer_draws_each_joint_from_its_own_pair():
    low, high = (0.09,) * 4 + (0.9,) * 3, (0.11,) * 4 + (1.1,) * 3
    spec = RandomizationSpec("per_joint", (("joint_gain_scale", low, high),), "test")
    for seed in range(20):
        gains = np.array(DomainRandomizer(spec, dof=7).sample(np.random.default_rng(seed)).joint_gain_scale)
        assert np.all((gains >= low) & (gains <= high))
    with pytest.raises(SpecError, match="joint_gain_scale"):
        DomainRandomizer(spec, dof=6)


def test_object_dynamics_apply(panda_spec, scene_spec):
    robot = SimRobot(panda_spec, scene_spec, DynamicsParams(object_size_scale=1.2))
    state = robot.reset(ResetRequest({"cube": (0.5, 0.0, 0.0)}))
    cube = state.objects["cube"]
    np.testing.assert_allclose(cube.half_extents, [0.03, 0.03, 0.03])
    assert cube.position[2] == pytest.approx(0.03, abs=1e-3)  # resting on the table top
    robot.set_dynamics(dataclasses.replace(DynamicsParams(), object_size_scale=0.9))
    state = robot.reset(ResetRequest({"cube": (0.5, 0.0, 0.0)}))
    np.testing.assert_allclose(state.objects["cube"].half_extents, [0.0225] * 3)
    robot.close()


def test_joint_offset_biases_measurements_not_motion(panda_spec, scene_spec):
    offset = (0.05, 0, 0, 0, 0, 0, 0)
    biased = SimRobot(panda_spec, scene_spec, DynamicsParams(joint_offset=offset))
    state = biased.reset()
    # the robot believes it is at home; its true joint 1 is 0.05 rad away
    np.testing.assert_allclose(state.joint_positions, panda_spec.home, atol=1e-9)
    biased.close()
    with pytest.raises(ValueError, match="joint_offset"):
        SimRobot(panda_spec, scene_spec).set_dynamics(DynamicsParams(joint_offset=(0.1, 0.2)))


def test_joint_gain_scale_slows_only_the_named_joints(panda_spec, scene_spec):
    def progress(dynamics: DynamicsParams) -> np.ndarray:
        robot = SimRobot(panda_spec, scene_spec, dynamics)
        start = robot.reset().joint_positions
        target = start + 0.1
        robot.apply(JointCommand(target, panda_spec.gripper.max_width))
        moved = robot.step().joint_positions - start
        robot.close()
        return moved / 0.1

    nominal = progress(DynamicsParams())
    soft_first = progress(DynamicsParams(joint_gain_scale=(0.1, 1, 1, 1, 1, 1, 1)))
    assert soft_first[0] < 0.5 * nominal[0]  # joint 1 covers much less of the step in one period
    # the wrist keeps its gains (its motion still couples to the arm's, so not identical)
    assert np.all(soft_first[4:] > 0.6 * nominal[4:])
    with pytest.raises(ValueError, match="joint_gain_scale"):
        SimRobot(panda_spec, scene_spec).set_dynamics(DynamicsParams(joint_gain_scale=(0.1,)))

