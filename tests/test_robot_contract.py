"""The Robot contract, asserted the same way on every engine: PyBullet's SimRobot and MuJoCo's
MujocoRobot (built from the same robot YAML, URDF and scene) must agree on joint order,
units, encoder frame, object poses, torques, reset semantics and seeding."""

import math

import gymnasium as gym
import numpy as np
import pytest

from simreal import assets
from simreal.envs import GraspEnv
from simreal.mujoco import MujocoRobot
from simreal.policy import ScriptedGraspExpert
from simreal.robot import JointCommand, ResetRequest, Robot
from simreal.sim import SimRobot
from simreal.specs import DynamicsParams
from simreal.specs.engine import MujocoParams

from .conftest import rollout_joints

ENGINES = ("pybullet", "mujoco")
NOISY = DynamicsParams(position_noise=0.01, velocity_noise=0.05, object_position_noise=0.01)


def make_spec():
    return assets.robot_spec("panda")


def make_robot(engine: str, dynamics: DynamicsParams | None = None, soft: bool = False) -> Robot:
    """The engine's robot; ``soft`` drives (each engine's own way) track over several periods."""
    spec, scene = make_spec(), assets.scene_spec("tabletop")
    if engine == "mujoco":
        params = MujocoParams(kp=(300.0,), kv=(30.0,), gravity_compensation=1.0) if soft else None
        return MujocoRobot(spec, scene, params, dynamics=dynamics)
    return SimRobot(spec, scene, DynamicsParams(actuator_gain=0.03) if soft else dynamics)


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.param


@pytest.fixture
def robot(engine):
    built = make_robot(engine)
    yield built
    built.close()


def hold(robot: Robot, positions: np.ndarray, width: float, steps: int):
    state = None
    for _ in range(steps):
        robot.apply(JointCommand(positions, width))
        state = robot.step()
    return state


def test_is_a_robot_with_the_spec_and_the_scenes_control_period(robot):
    assert isinstance(robot, Robot)
    assert robot.spec.name == "panda"
    assert robot.control_period == pytest.approx(assets.scene_spec("tabletop").physics.control_period)


def test_reset_is_home_open_and_at_rest(robot):
    state = robot.reset(seed=0)
    assert state.time == 0.0
    np.testing.assert_allclose(state.joint_positions, robot.spec.home, atol=1e-9)
    np.testing.assert_allclose(state.joint_velocities, 0.0, atol=1e-9)
    assert state.gripper_width == pytest.approx(robot.spec.gripper.max_width, abs=1e-6)
    assert state.joint_torques is not None and state.joint_torques.shape == (robot.spec.dof,)


def test_same_seed_same_trajectory_other_seed_other(engine):
    runs = []
    for seed in (7, 7, 8):
        robot = make_robot(engine, NOISY)
        runs.append(rollout_joints(robot, seed=seed))
        robot.close()
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_reset_restarts_the_episode_exactly(robot):
    first = rollout_joints(robot, seed=3)
    hold(robot, np.asarray(robot.spec.home) + 0.3, 0.0, 10)  # leave the robot somewhere else
    np.testing.assert_array_equal(rollout_joints(robot, seed=3), first)


def test_joints_are_in_the_specs_order(robot):
    home = np.asarray(robot.spec.home)
    for joint in range(robot.spec.dof):
        robot.reset(seed=0)
        target = home.copy()
        target[joint] += 0.2
        state = hold(robot, target, robot.spec.gripper.max_width, 10)
        moved = np.abs(state.joint_positions - home)
        assert int(np.argmax(moved)) == joint, (joint, moved)


def test_units_radians_per_second_metres_and_seconds(engine):
    robot = make_robot(engine)
    home = np.asarray(robot.spec.home)
    offset = np.array([0.3, 0.2, -0.2, 0.3, 0.2, -0.2, 0.3])
    robot.reset(seed=0)
    state = hold(robot, home + offset, 0.0, 40)
    np.testing.assert_allclose(state.joint_positions, home + offset, atol=0.02)  # rad: the arm reaches its targets
    assert state.gripper_width < 0.005  # m: closed on nothing
    robot.close()
    soft = make_robot(engine, soft=True)  # joints that move smoothly through a period on both engines
    try:
        soft.reset(seed=0)
        positions, velocities, times = [], [], []
        for k in range(40):
            state = hold(soft, home + offset * math.sin(2 * k * soft.control_period), 0.0, 1)
            positions.append(state.joint_positions)
            velocities.append(state.joint_velocities)
            times.append(state.time)
    finally:
        soft.close()
    np.testing.assert_allclose(np.diff(times), robot.control_period, rtol=1e-9)
    finite = np.diff(np.array(positions), axis=0) / robot.control_period
    mean = (np.array(velocities)[1:] + np.array(velocities)[:-1]) / 2
    assert np.abs(finite - mean).max() < 0.25 * np.abs(finite).max()  # rad/s, not rad per step or per substep


def test_encoder_offsets_bias_readings_and_commands(engine):
    offsets = (0.05, -0.04, 0.03, 0.05, -0.03, 0.04, 0.02)
    plain, biased = make_robot(engine), make_robot(engine, DynamicsParams(joint_offset=offsets))
    try:
        np.testing.assert_allclose(biased.reset(seed=0).joint_positions, biased.spec.home, atol=1e-9)
        plain.reset(seed=0)
        target = np.asarray(plain.spec.home) + 0.1
        true_plain = hold(plain, target, 0.08, 40).joint_positions
        read_biased = hold(biased, target + np.array(offsets), 0.08, 40).joint_positions
        np.testing.assert_allclose(read_biased - np.array(offsets), true_plain, atol=2e-3)
    finally:
        plain.close()
        biased.close()


def test_latency_delays_commands_by_whole_control_steps(engine):
    home = np.asarray(make_spec().home)
    commands = [home + 0.05 * k for k in range(1, 6)]
    delayed, prompt = make_robot(engine, DynamicsParams(latency_steps=2)), make_robot(engine)
    try:
        delayed.reset(seed=0)
        prompt.reset(seed=0)
        late = [hold(delayed, c, 0.08, 1).joint_positions for c in commands]
        early = [hold(prompt, c, 0.08, 1).joint_positions for c in [home, home, *commands[:3]]]
        np.testing.assert_allclose(late, early, atol=1e-9)  # the same motion, two periods later
    finally:
        delayed.close()
        prompt.close()


def yaw_of(quaternion: np.ndarray) -> float:
    x, y, z, w = quaternion
    return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def test_placements_are_honoured_and_poses_are_xyzw(robot):
    scene = assets.scene_spec("tabletop")
    cube = scene.objects[0]
    state = robot.reset(ResetRequest({cube.name: (0.55, -0.1, 0.3)}), seed=0)
    pose = state.objects[cube.name]
    np.testing.assert_allclose(pose.position, (0.55, -0.1, scene.table_height + cube.half_extents[2]), atol=1e-6)
    assert yaw_of(pose.orientation) == pytest.approx(0.3, abs=1e-6)
    assert np.linalg.norm(pose.orientation) == pytest.approx(1.0)
    np.testing.assert_allclose(pose.half_extents, cube.half_extents)
    resting = hold(robot, np.asarray(robot.spec.home), 0.08, 10).objects[cube.name]
    np.testing.assert_allclose(resting.position, pose.position, atol=2e-3)  # it rests on the table top
    default = robot.reset(seed=0).objects[cube.name]  # no placement asked: the spawn region's centre
    centre = [(lo + hi) / 2 for lo, hi in zip(scene.spawn_low, scene.spawn_high, strict=True)]
    np.testing.assert_allclose(default.position[:2], centre, atol=1e-6)


def test_placements_of_unknown_objects_are_refused_before_anything_moves(robot):
    from simreal.robot import RequestError

    robot.reset(seed=0)
    robot.apply(JointCommand(np.asarray(robot.spec.home) + 0.05, 0.04))
    before = robot.step()
    with pytest.raises(RequestError, match="mug"):
        robot.reset(ResetRequest({"mug": (0.5, 0.0, 0.0)}), seed=0)
    after = robot.step()  # the episode goes on from where it was
    assert after.time == pytest.approx(before.time + robot.control_period)


def test_torques_are_the_holding_torques_of_the_same_urdf(robot):
    """At rest the motors carry the arm's weight: both engines report PyBullet's inverse
    dynamics of the measured posture (the URDF's masses, N m)."""
    robot.reset(seed=0)
    target = np.asarray(robot.spec.home) + np.array([0.3, 0.4, -0.2, 0.3, 0.2, -0.3, 0.1])
    state = hold(robot, target, 0.08, 60)
    reference = SimRobot(robot.spec, assets.scene_spec("tabletop"))
    try:
        reference.reset(seed=0)
        expected = reference.holding_torques(state.joint_positions, state.gripper_width)
    finally:
        reference.close()
    np.testing.assert_allclose(state.joint_torques, expected, atol=0.2)
    assert np.abs(expected).max() > 10.0  # the test would see a missing or mis-scaled torque


def test_grasp_env_runs_and_replays_exactly(engine):
    def episode() -> np.ndarray:
        env = GraspEnv(robot=make_robot(engine), randomization=None)
        obs, _ = env.reset(seed=5)
        trace = [obs]
        expert = ScriptedGraspExpert()
        for _ in range(15):
            obs, *_ = env.step(expert(obs))
            trace.append(obs)
        env.close()
        return np.array(trace)

    first = episode()
    np.testing.assert_array_equal(first, episode())
    assert first[-1][2] < first[0][2] - 0.05  # the expert brought the hand down towards the cube


def test_grasp_env_passes_gymnasiums_checker_on_mujoco():
    from gymnasium.utils.env_checker import check_env

    env = GraspEnv(robot=make_robot("mujoco"), randomization=None)
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()


@pytest.mark.slow
def test_scripted_expert_solves_the_task_on_mujoco_panda():
    """Proof the grasp task is solvable on the second engine: >= 90 % of 100 seeded episodes."""
    from simreal.envs import time_limited_grasp_env
    from simreal.evaluation import evaluate

    env = time_limited_grasp_env(randomization=None, target="mujoco_panda")
    try:
        result = evaluate(env, ScriptedGraspExpert(), 100, 1000)
    finally:
        env.close()
    assert result.success_rate >= 0.9, result.describe()


def test_registered_env_runs_on_a_mujoco_target():
    env = gym.make("simreal/PandaGrasp-v0", randomization=None, target="mujoco_panda")
    try:
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs)
    finally:
        env.close()


def test_mujoco_reads_the_urdfs_kinematics_as_pybullet_does():
    """MuJoCo's URDF importer and PyBullet's give the same TCP pose for any posture."""
    import mujoco

    from simreal.kinematics import Kinematics

    spec = make_spec()
    robot, kinematics = make_robot("mujoco"), Kinematics(spec)
    tcp = robot.model.body(spec.ee_link).id
    rng = np.random.default_rng(0)
    try:
        for _ in range(20):
            q = rng.uniform(spec.lower, spec.upper)
            robot.data.qpos[[robot.model.joint(n).qposadr[0] for n in spec.joint_names]] = q
            mujoco.mj_kinematics(robot.model, robot.data)
            position, orientation = kinematics.tcp_pose(q)
            np.testing.assert_allclose(robot.data.xpos[tcp], position, atol=1e-6)
            w, x, y, z = robot.data.xquat[tcp]
            xyzw = np.array([x, y, z, w])
            assert min(np.abs(xyzw - orientation).max(), np.abs(xyzw + orientation).max()) < 1e-6
    finally:
        robot.close()
        kinematics.close()
