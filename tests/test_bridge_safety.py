"""Property tests of the robot-side SafetyLayer: nothing out of bounds ever reaches the motors."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simreal import assets
from simreal.bridge.safety import SafetyLayer
from simreal.robot import JointCommand, RobotState

SPEC = assets.robot_spec("panda")
PERIOD = 0.05
wild = st.floats(allow_nan=True, allow_infinity=True, width=64)
targets = st.lists(st.lists(wild, min_size=SPEC.dof, max_size=SPEC.dof), min_size=1, max_size=25)


def _state(q) -> RobotState:
    return RobotState(0.0, np.asarray(q, dtype=float), np.zeros(SPEC.dof), 0.04)


class BoxKinematics:
    """Stand-in FK: TCP = first three joints, so the workspace check is easy to reason about."""

    def tcp_pose(self, q):
        return np.asarray(q[:3], dtype=float), np.array([0.0, 0.0, 0.0, 1.0])


@settings(max_examples=150, deadline=None)
@given(commands=targets, grippers=st.lists(wild, min_size=25, max_size=25),
       max_step=st.floats(0.001, 1.0), lag=st.floats(0.0, 1.0))
def test_targets_stay_within_limits_and_step_bound(commands, grippers, max_step, lag):
    layer = SafetyLayer(SPEC, PERIOD, max_step=max_step)
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
    layer = SafetyLayer(SPEC, PERIOD, max_step=1.0)  # the velocity bound (~0.11 rad) binds
    far = np.array(SPEC.upper) + 1.0
    _, flags = layer.filter(JointCommand(far, 0.04), _state(SPEC.home))
    assert {"clamped_position", "clamped_velocity"} <= flags
    layer = SafetyLayer(SPEC, PERIOD, max_step=0.01)
    _, flags = layer.filter(JointCommand(np.array(SPEC.home) + 0.05, 0.04), _state(SPEC.home))
    assert flags == {"clamped_step"}
    _, flags = layer.filter(JointCommand(np.array(SPEC.home), 0.04), _state(SPEC.home))
    assert flags == frozenset()


def test_workspace_holds_targets_leaving_the_box_but_allows_return():
    layer = SafetyLayer(SPEC, PERIOD, max_step=0.05, kinematics=BoxKinematics())
    inside = np.zeros(SPEC.dof)
    inside[:3] = (0.5, 0.0, 0.1)
    layer.last_target = inside.copy()
    outside = inside.copy()
    outside[0] = SPEC.workspace_high[0] + 0.01  # within the step bound, but beyond the box
    layer.step_bound = np.full(SPEC.dof, 1.0)
    layer.lower, layer.upper = np.full(SPEC.dof, -5.0), np.full(SPEC.dof, 5.0)
    out, flags = layer.filter(JointCommand(outside, 0.04), _state(inside))
    assert "workspace" in flags and np.allclose(out.positions, inside)
    # a target already outside may move back towards the box
    layer.last_target = outside.copy()
    back = outside.copy()
    back[0] -= 0.005
    out, flags = layer.filter(JointCommand(back, 0.04), _state(outside))
    assert "workspace" not in flags and np.allclose(out.positions, back)


def test_hold_keeps_gripper_and_measured_position():
    layer = SafetyLayer(SPEC, PERIOD)
    layer.filter(JointCommand(np.array(SPEC.home), 0.01), _state(SPEC.home))
    held = layer.hold(_state(np.array(SPEC.home) + 0.02))
    assert held.gripper == 0.01 and np.allclose(held.positions, np.array(SPEC.home) + 0.02)
