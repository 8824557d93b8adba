"""Unmodeled effects: what each one does to commands, that each changes a fixed command
sequence's trajectory on every engine, seeding, validation and the honesty rule."""

import dataclasses

import numpy as np
import pytest
import yaml

from simreal import assets
from simreal.robot import JointCommand, ResetRequest, RobotState
from simreal.sim.friction import JointFriction
from simreal.sim.unmodeled import CommandPath
from simreal.specs import DynamicsParams, SpecError, TargetProfile, load_target
from simreal.specs.engine import MujocoParams
from simreal.specs.unmodeled import UnmodeledEffects
from simreal.targets import PerturbedTarget, open_target

SPEC = assets.robot_spec("panda")
HOME = np.asarray(SPEC.home)


class Recorder:
    """A stand-in robot that records the joint targets it is given each step."""

    def __init__(self) -> None:
        self.spec, self.control_period, self.targets, self._last = SPEC, 0.05, [], None

    def reset(self, request=None, *, seed=None) -> RobotState:
        self.targets = []
        return RobotState(0.0, HOME.copy(), np.zeros(SPEC.dof), SPEC.gripper.max_width)

    def apply(self, command: JointCommand) -> None:
        self._last = command

    def step(self) -> RobotState:
        self.targets.append(self._last.positions.copy())
        return RobotState(0.0, self._last.positions, np.zeros(SPEC.dof), self._last.gripper)

    def close(self) -> None:
        pass


def targets_for(effects: UnmodeledEffects, commands, seed: int = 0) -> np.ndarray:
    """Joint 0's targets as the robot receives them, for joint-0 commands (offsets from home)."""
    path, recorder = None, Recorder()
    path = CommandPath(recorder, effects)
    path.reset(seed=seed)
    for c in commands:
        q = HOME.copy()
        q[0] += c
        path.apply(JointCommand(q, 0.08))
        path.step()
    return np.array(recorder.targets)[:, 0] - HOME[0]


def test_backlash_is_a_play_operator():
    up, down = list(np.arange(1, 11) * 0.01), list(np.arange(9, -1, -1) * 0.01)
    got = targets_for(UnmodeledEffects(backlash=(0.04,)), up + down)
    expected = [max(c - 0.02, 0.0) for c in up]  # the play is taken up first, then it trails by half of it
    gear = expected[-1]
    for c in down:  # reversed: nothing moves until the command has crossed the play
        gear = min(gear, c + 0.02)
        expected.append(gear)
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_deadband_ignores_small_changes_and_quantization_rounds():
    got = targets_for(UnmodeledEffects(deadband=(0.01,)), [0.004, 0.008, 0.012, 0.015, 0.03])
    np.testing.assert_allclose(got, [0.0, 0.0, 0.012, 0.012, 0.03], atol=1e-12)
    rounded = targets_for(UnmodeledEffects(quantization=(0.01,)), [0.004, 0.006, 0.0149, 0.031])
    np.testing.assert_allclose(rounded + HOME[0], np.round((np.array([0.004, 0.006, 0.0149, 0.031]) + HOME[0])
                                                          / 0.01) * 0.01, atol=1e-12)


def test_jitter_delays_within_its_bound_and_never_reorders():
    commands = list(np.arange(1, 201) * 0.001)
    got = targets_for(UnmodeledEffects(latency_jitter=3), commands, seed=4)
    sent_index = np.rint(got / 0.001).astype(int)  # which command is active at each step (0: the hold)
    assert np.all(np.diff(sent_index) >= 0)  # a late command never overrides a newer one
    steps = np.arange(1, 201)
    assert np.all(steps - sent_index <= 3) and np.all(sent_index <= steps)
    assert (steps - sent_index > 0).mean() > 0.3  # the delay really varies


def test_dropped_commands_keep_the_last_target():
    commands = list(np.arange(1, 401) * 0.001)
    got = targets_for(UnmodeledEffects(drop_rate=0.25), commands, seed=1)
    lost = np.isclose(got, np.r_[0.0, got[:-1]])
    assert 0.15 < lost.mean() < 0.35
    assert set(np.rint(got / 0.001).astype(int)) <= set(range(401))


def test_link_draws_are_seeded_by_the_reset_seed():
    effects = UnmodeledEffects(latency_jitter=2, drop_rate=0.2)
    commands = list(np.linspace(0.0, 0.2, 100))
    np.testing.assert_array_equal(targets_for(effects, commands, 3), targets_for(effects, commands, 3))
    assert not np.array_equal(targets_for(effects, commands, 3), targets_for(effects, commands, 4))


def test_stribeck_friction_falls_from_static_to_coulomb_and_opposes_motion():
    friction = JointFriction(UnmodeledEffects(coulomb_friction=(1.0,), static_friction=(3.0,),
                                              stribeck_velocity=0.05), SPEC.dof)
    assert friction.magnitude(np.zeros(7)) == pytest.approx([3.0] * 7)
    assert friction.magnitude(np.full(7, 1.0)) == pytest.approx([1.0] * 7)
    v = np.array([-1.0, -0.01, 0.0, 0.01, 1.0, 0.2, -0.2])
    assert np.all(np.sign(friction.torques(v)) == -np.sign(v))


# --- on the engines -------------------------------------------------------------------

EFFECTS = {
    "backlash": {"backlash": (0.02,)},
    "deadband": {"deadband": (0.01,)},
    "quantization": {"quantization": (0.01,)},
    "stiction": {"coulomb_friction": (4.0,), "static_friction": (8.0,)},
    "latency_jitter": {"latency_jitter": 2},
    "drop_rate": {"drop_rate": 0.3},
}


def profile(engine: str, **effects) -> TargetProfile:
    return TargetProfile("test", "test", "panda", DynamicsParams(), "<test>", engine,
                         MujocoParams() if engine == "mujoco" else None, UnmodeledEffects(**effects))


def swing(robot, seed: int = 1) -> np.ndarray:
    """A fixed command sequence: a slow swing of J1-J4 with a reversal, small steps per period."""
    robot.reset(ResetRequest({"cube": (0.5, 0.0, 0.0)}), seed=seed)
    trace = []
    for k in range(60):
        q = HOME.copy()
        q[:4] += 0.1 * np.sin(k / 12)
        robot.apply(JointCommand(q, 0.08))
        trace.append(robot.step().joint_positions)
    robot.close()
    return np.array(trace)


@pytest.mark.parametrize("engine", ["pybullet", "mujoco"])
@pytest.mark.parametrize("effect", list(EFFECTS))
def test_each_effect_changes_the_trajectory_of_a_fixed_command_sequence(engine, effect):
    plain = swing(open_target(profile(engine)))
    changed = swing(open_target(profile(engine, **EFFECTS[effect])))
    assert np.abs(changed - plain).max() > 1e-3, effect  # rad
    np.testing.assert_array_equal(changed, swing(open_target(profile(engine, **EFFECTS[effect]))))


def test_stiction_holds_a_joint_until_its_drive_breaks_away_on_mujoco():
    servo = MujocoParams(kp=(500.0,), kv=(50.0,), gravity_compensation=1.0)
    sticky = dataclasses.replace(profile("mujoco", coulomb_friction=(1.0,), static_friction=(3.0,)), mujoco=servo)
    free = dataclasses.replace(profile("mujoco"), mujoco=servo)

    def moved(target: TargetProfile, offset: float) -> float:
        robot = open_target(target)
        robot.reset(seed=0)
        q = HOME.copy()
        q[0] += offset
        for _ in range(20):
            robot.apply(JointCommand(q, 0.08))
            state = robot.step()
        robot.close()
        return abs(state.joint_positions[0] - HOME[0])

    assert moved(free, 0.003) > 0.0025
    assert moved(sticky, 0.003) < 0.0005  # 1.5 N m of drive is below the 3 N m breakaway torque
    assert moved(sticky, 0.03) > 0.02


# --- profiles: validation and honesty ------------------------------------------------


@pytest.fixture
def write_profile(tmp_path):
    def write(**sections):
        data = {"name": "x", "robot": "panda", "description": "y", **sections}
        path = tmp_path / "profile.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return path

    return write


@pytest.mark.parametrize(("sections", "field", "expected"), [
    ({"unmodeled": {"backlash": 0.01, "slop": 1}}, "unmodeled.slop", "no such field"),
    ({"unmodeled": {"backlash": -0.1}}, "unmodeled.backlash", "[0.0, 0.2]"),
    ({"unmodeled": {"coulomb_friction": 2.0, "static_friction": 1.0}}, "unmodeled.static_friction", "at least"),
    ({"unmodeled": {"latency_jitter": 1.5}}, "unmodeled.latency_jitter", "an integer"),
    ({"engine": "bullet3"}, "engine", "one of"),
    ({"mujoco": {"kp": 100}}, "mujoco", "engine: mujoco"),
    ({"engine": "mujoco", "mujoco": {"integrator": "leapfrog"}}, "mujoco.integrator", "one of"),
    ({"engine": "mujoco", "mujoco": {"stiffness": 1}}, "mujoco.stiffness", "no such field"),
    ({"engine": "mujoco", "mujoco": {"solimp": [0.9, 0.95]}}, "mujoco.solimp", "a list of 5 numbers"),
    ({"engine": "mujoco", "dynamics": {"actuator_gain": 0.5}}, "dynamics.actuator_gain", "engine-neutral"),
])
def test_bad_profiles_name_file_field_and_expectation(write_profile, sections, field, expected):
    path = write_profile(**sections)
    with pytest.raises(SpecError) as info:
        load_target(path)
    assert info.value.source == str(path) and info.value.field == field
    assert expected in info.value.expected


def test_per_joint_lengths_and_the_timestep_are_checked_against_robot_and_scene(write_profile):
    profile_path = write_profile(unmodeled={"backlash": [0.01, 0.02]})
    with pytest.raises(SpecError, match=r"unmodeled\.backlash"):
        open_target(profile_path)
    with pytest.raises(SpecError, match=r"mujoco\.timestep"):
        open_target(write_profile(engine="mujoco", mujoco={"timestep": 0.003}))


@pytest.mark.parametrize("name", ["mujoco_panda", "mujoco_panda_worn", "worn_gearbox"])
def test_shipped_unmodelable_targets_hide_their_parameters(name):
    assert not assets.target_profile(name).in_model_class
    target = PerturbedTarget(name)
    try:
        public = {k: v for k, v in vars(target).items() if not k.startswith("_")}
        assert set(public) == {"name", "description", "spec", "control_period"}
        for attribute in ("model", "data", "dynamics", "world", "robot"):
            assert not hasattr(target, attribute)
    finally:
        target.close()
