"""Property tests of the robot-side SafetyLayer: what reaches the motors, and what the arm then does."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simreal import assets
from simreal.bridge.safety import GuardedRobot, SafetyConfig, SafetyLayer, braking_speed
from simreal.kinematics import Kinematics
from simreal.robot import JointCommand, RobotState
from simreal.sim import SimRobot

SPEC = assets.robot_spec("panda")
PERIOD = 0.05
POSITION_TOLERANCE = 0.005  # rad past a joint limit a reported position may be (docs/bridge_protocol.md)
SPEED_TOLERANCE = 1.05  # x velocity limit, the smooth settings on a stiff arm (docs/bridge_protocol.md)
wild = st.floats(allow_nan=True, allow_infinity=True, width=64)
targets = st.lists(st.lists(wild, min_size=SPEC.dof, max_size=SPEC.dof), min_size=1, max_size=25)
hostile = st.one_of(st.floats(-6, 6), st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e9, -1e9]))
sequences = st.lists(st.lists(hostile, min_size=SPEC.dof, max_size=SPEC.dof), min_size=5, max_size=30)


def _state(q, v=None) -> RobotState:
    return RobotState(0.0, np.asarray(q, dtype=float), np.zeros(SPEC.dof) if v is None else np.asarray(v), 0.04)


class BoxKinematics:
    """Stand-in FK: TCP = first three joints, so the workspace check is easy to reason about."""

    def tcp_pose(self, q):
        return np.asarray(q[:3], dtype=float), np.array([0.0, 0.0, 0.0, 1.0])


@settings(max_examples=150, deadline=None)
@given(commands=targets, grippers=st.lists(wild, min_size=25, max_size=25),
       max_step=st.floats(0.001, 1.0), lag=st.floats(0.0, 1.0))
def test_targets_stay_within_limits_and_step_bound(commands, grippers, max_step, lag):
    """Whatever is sent and however the arm lags (a soft arm), targets stay in the limits and
    move at most the step bound per tick."""
    layer = SafetyLayer(SPEC, PERIOD, SafetyConfig(max_step=max_step))
    bound = np.minimum(max_step, SPEC.velocity_limits * PERIOD)
    measured = np.asarray(SPEC.home, dtype=float)
    previous = None
    for raw, gripper in zip(commands, grippers, strict=False):
        out, flags = layer.filter(JointCommand(np.array(raw), gripper), _state(measured))
        q = out.positions
        assert np.all(np.isfinite(q)) and np.all(q >= SPEC.lower) and np.all(q <= SPEC.upper)
        reference = previous if previous is not None else measured
        assert np.all(np.abs(q - reference) <= bound + 1e-12)
        assert 0.0 <= out.gripper <= SPEC.gripper.max_width
        if not np.all(np.isfinite(raw)):
            assert "nonfinite" in flags
        measured = measured + (q - measured) * (1.0 - lag)  # the arm follows, maybe lagging
        previous = q


@given(gripper=st.floats(-10, 10))
def test_gripper_is_clamped_and_flagged(gripper):
    layer = SafetyLayer(SPEC, PERIOD)
    out, flags = layer.filter(JointCommand(np.array(SPEC.home), gripper), _state(SPEC.home))
    assert out.gripper == min(max(gripper, 0.0), SPEC.gripper.max_width)
    assert ("gripper_clamped" in flags) == (out.gripper != gripper)


def test_each_clamp_is_flagged():
    layer = SafetyLayer(SPEC, PERIOD, SafetyConfig(max_step=1.0))  # the velocity bound (~0.11 rad) binds
    far = np.array(SPEC.upper) + 1.0
    _, flags = layer.filter(JointCommand(far, 0.04), _state(SPEC.home))
    assert {"clamped_position", "clamped_velocity"} <= flags
    layer = SafetyLayer(SPEC, PERIOD, SafetyConfig(max_step=0.01))
    _, flags = layer.filter(JointCommand(np.array(SPEC.home) + 0.05, 0.04), _state(SPEC.home))
    assert flags == {"clamped_step"}
    _, flags = layer.filter(JointCommand(np.array(SPEC.home), 0.04), _state(SPEC.home))
    assert flags == frozenset()


def test_workspace_holds_targets_leaving_the_box_but_allows_return():
    spec = _unlimited_spec()
    layer = SafetyLayer(spec, PERIOD, SafetyConfig(max_step=1.0), kinematics=BoxKinematics())
    inside = np.zeros(spec.dof)
    inside[:3] = (0.5, 0.0, 0.1)
    layer.filter(JointCommand(inside, 0.04), _state(inside))
    outside = inside.copy()
    outside[0] = spec.workspace_high[0] + 0.01  # within the step bound, but beyond the box
    out, flags = layer.filter(JointCommand(outside, 0.04), _state(inside))
    assert "workspace" in flags and np.allclose(out.positions, inside)
    layer = SafetyLayer(spec, PERIOD, SafetyConfig(max_step=1.0), kinematics=BoxKinematics())
    layer.filter(JointCommand(outside, 0.04), _state(outside))  # a target already outside...
    back = outside.copy()
    back[0] -= 0.005
    out, flags = layer.filter(JointCommand(back, 0.04), _state(outside))  # ...may move back towards the box
    assert "workspace" not in flags and np.allclose(out.positions, back)


def _unlimited_spec():
    """The Panda with wide limits and fast joints, so only the workspace check binds."""
    from dataclasses import replace

    arm = tuple(replace(j, lower=-5.0, upper=5.0, velocity=100.0) for j in SPEC.arm)
    return replace(SPEC, arm=arm)


def test_hold_keeps_gripper_and_measured_position():
    layer = SafetyLayer(SPEC, PERIOD)
    layer.filter(JointCommand(np.array(SPEC.home), 0.01), _state(SPEC.home))
    held = layer.hold(_state(np.array(SPEC.home) + 0.02))
    assert held.gripper == 0.01 and np.allclose(held.positions, np.array(SPEC.home) + 0.02)


@given(distance=st.floats(0.0, 3.0), acceleration=st.floats(0.5, 50.0))
def test_braking_speed_stops_exactly_at_the_limit(distance, acceleration):
    u = braking_speed(np.array(distance), np.array(acceleration), PERIOD)
    assert u >= 0 and u * PERIOD + u * u / (2 * acceleration) == pytest.approx(distance, abs=1e-9)


def test_a_target_racing_to_a_limit_brakes_before_it():
    """A joint commanded past its upper limit decelerates in time: each tick's target speed is
    one it can still stop from before the limit, and the target reaches the limit at rest."""
    layer = SafetyLayer(SPEC, PERIOD)
    decel = layer.deceleration[0]
    q = np.array(SPEC.home, dtype=float)
    speeds, braked = [], False
    for _ in range(200):
        out, flags = layer.filter(JointCommand(np.array(SPEC.upper) + 1.0, 0.04), _state(q))
        speeds.append((out.positions[0] - q[0]) / PERIOD)
        braked |= "braking" in flags
        room = SPEC.upper[0] - out.positions[0]
        assert speeds[-1] ** 2 / (2 * decel) <= room + speeds[-1] * PERIOD + 1e-9
        q = out.positions  # a kinematic arm: it is where it was told
    assert braked and q[0] == pytest.approx(SPEC.upper[0]) and speeds[-1] == pytest.approx(0.0, abs=1e-9)
    assert max(speeds) == pytest.approx(SPEC.velocity_limits[0])  # full speed far from the limit


def test_acceleration_limits_how_fast_the_target_speed_changes():
    config = SafetyConfig.smooth(SPEC, ramp_time=0.5, speed_fraction=1.0)
    layer = SafetyLayer(SPEC, PERIOD, config)
    q, velocity = np.array(SPEC.home, dtype=float), np.zeros(SPEC.dof)
    for t in range(30):
        far = np.array(SPEC.upper if t < 15 else SPEC.lower, dtype=float)  # full reversal halfway
        out, _ = layer.filter(JointCommand(far, 0.04), _state(q))
        new_velocity = (out.positions - q) / PERIOD
        assert np.all(np.abs(new_velocity - velocity) <= SPEC.velocity_limits / 0.5 * PERIOD + 1e-9)
        q, velocity = out.positions, new_velocity


@pytest.mark.parametrize("action", ["hold", "estop"])
def test_measured_overspeed_holds_at_the_measured_position(action):
    layer = SafetyLayer(SPEC, PERIOD, SafetyConfig(overspeed_action=action))
    fast = np.zeros(SPEC.dof)
    fast[4] = 1.01 * SPEC.velocity_limits[4]
    measured = np.array(SPEC.home) + 0.01
    out, flags = layer.filter(JointCommand(np.array(SPEC.upper), 0.04), _state(measured, fast))
    assert flags == {"overspeed"} and np.allclose(out.positions, measured)
    _, flags = layer.filter(JointCommand(np.array(SPEC.home), 0.04), _state(measured, np.full(SPEC.dof, np.nan)))
    assert "overspeed" in flags  # a velocity it cannot read counts as too fast
    _, flags = layer.filter(JointCommand(np.array(SPEC.home), 0.04), _state(measured, fast * 0.98))
    assert "overspeed" not in flags


@pytest.fixture(scope="module")
def stiff_arm():
    """The simulated Panda at nominal gains on its table: its servo reaches a target within a tick."""
    robot = SimRobot(SPEC, assets.scene_spec("tabletop"))
    kinematics = Kinematics(SPEC)
    yield robot, kinematics
    kinematics.close()
    robot.close()


@pytest.fixture(scope="module")
def stiff_arm_in_free_space():
    """The same arm with the table far below: nothing but its own servo moves it."""
    from dataclasses import replace

    robot = SimRobot(SPEC, replace(assets.scene_spec("tabletop"), table_height=-1.5))
    kinematics = Kinematics(SPEC)
    yield robot, kinematics
    kinematics.close()
    robot.close()


def _run_hostile(robot: GuardedRobot, commands, seed: int) -> list[tuple[RobotState, frozenset]]:
    """Each command held for two ticks; the states the arm reported, with the flags of the command
    that produced them."""
    state = robot.reset(seed=seed)
    out = []
    for command in commands:
        for _ in range(2):
            robot.apply(JointCommand(np.array(command), 0.04))
            flags = robot.flags
            state = robot.step()
            out.append((state, flags))
    return out


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(commands=sequences, seed=st.integers(0, 1000))
def test_stiff_arm_stays_within_its_limits_and_every_overspeed_is_answered(stiff_arm, commands, seed):
    """Default settings: the reported positions stay within the joint limits; a joint measured
    over its velocity limit makes the next command a hold at the measured position."""
    sim, kinematics = stiff_arm
    robot = GuardedRobot(sim, SafetyConfig(), kinematics)
    run = _run_hostile(robot, commands, seed)
    for state, _ in run:
        q = state.joint_positions
        assert np.all(q >= SPEC.lower - POSITION_TOLERANCE) and np.all(q <= SPEC.upper + POSITION_TOLERANCE)
    layer = SafetyLayer(SPEC, sim.control_period, SafetyConfig())
    for state, _ in run:
        if np.any(np.abs(state.joint_velocities) > SPEC.velocity_limits):
            held, flags = layer.filter(JointCommand(np.array(SPEC.upper), 0.04), state)
            assert "overspeed" in flags and np.allclose(held.positions, np.clip(state.joint_positions,
                                                                                SPEC.lower, SPEC.upper))


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(commands=sequences, seed=st.integers(0, 1000))
def test_stiff_arm_with_smooth_targets_stays_within_its_velocity_limits(stiff_arm_in_free_space, commands, seed):
    """With the smooth settings (acceleration-limited targets), the *measured* speeds stay
    within the velocity limits too, and the positions within the joint limits. In free space:
    a collision (with the table, say) moves an arm in ways no target filter controls."""
    sim, kinematics = stiff_arm_in_free_space
    robot = GuardedRobot(sim, SafetyConfig.smooth(SPEC), kinematics)
    for state, _ in _run_hostile(robot, commands, seed):
        q, v = state.joint_positions, state.joint_velocities
        assert np.all(q >= SPEC.lower - POSITION_TOLERANCE) and np.all(q <= SPEC.upper + POSITION_TOLERANCE)
        assert np.all(np.abs(v) <= SPEED_TOLERANCE * SPEC.velocity_limits)


def test_bad_settings_are_refused_with_the_setting_named():
    for options, name in (({"max_step": 0.0}, "max_step"), ({"speed_fraction": 1.5}, "speed_fraction"),
                          ({"acceleration": -1.0}, "acceleration"), ({"overspeed_action": "pray"}, "overspeed")):
        with pytest.raises(ValueError, match=name):
            SafetyConfig(**options)
