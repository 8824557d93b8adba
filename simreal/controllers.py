"""Low-level controllers: end-effector command + measured state -> joint targets.

The grasp env takes any :class:`Controller`; the analytic one here is the reference,
the learned control head (policy/) implements the same protocol.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import pybullet

from .kinematics import Kinematics
from .robot import JointCommand, RobotState
from .specs import RobotSpec


class Controller(Protocol):
    """Maps a Cartesian command to joint targets for one control period."""

    def reset(self, state: RobotState) -> None: ...

    def __call__(self, state: RobotState, displacement: np.ndarray, gripper_width: float) -> JointCommand:
        """``displacement``: desired TCP motion (m, world frame) over the next period;
        ``gripper_width``: desired finger opening (m)."""
        ...


_ORIGIN = (0.0, 0.0, 0.0)

def orientation_error(current: Sequence[float], desired: Sequence[float]) -> np.ndarray:
    """Rotation vector (rad, world frame) that turns ``current`` into ``desired`` (quaternions
    x, y, z, w)."""
    return np.array(_rotation_vector(current, desired))


def _rotation_vector(current: Sequence[float], desired: Sequence[float]) -> tuple[float, float, float]:
    # PyBullet parses Python floats several times faster than the elements of an array
    if isinstance(current, np.ndarray):
        current = current.tolist()
    if isinstance(desired, np.ndarray):
        desired = desired.tolist()
    inv = pybullet.invertTransform(_ORIGIN, current)[1]
    x, y, z, w = pybullet.multiplyTransforms(_ORIGIN, desired, _ORIGIN, inv)[1]
    if w < 0:
        x, y, z, w = -x, -y, -z, -w
    sin_half = math.sqrt(x * x + y * y + z * z)  # correctly rounded, as np.sqrt
    if sin_half < 1e-9:
        return 0.0, 0.0, 0.0
    scale = 2.0 * np.arctan2(sin_half, w) / sin_half
    return x * scale, y * scale, z * scale


class DifferentialIKController:
    """Damped-least-squares differential IK holding the spec's grasp orientation.

    One DLS step per control period from the measured joints: cheap (tens of
    microseconds) and, closed around the measured state, accurate enough for the small
    per-period displacements the grasp task commands. Joint motion per period is capped
    by each joint's velocity limit.
    """

    def __init__(self, spec: RobotSpec, control_period: float, *, damping: float = 0.05,
                 orientation_gain: float = 0.5, kinematics: Kinematics | None = None) -> None:
        self.spec = spec
        self.kinematics = kinematics or Kinematics(spec)
        self._orientation_gain = orientation_gain
        self._max_step = spec.velocity_limits * control_period
        self._min_step = -self._max_step
        self._desired = tuple(float(v) for v in spec.grasp_orientation)
        self._low = np.asarray(spec.workspace_low)
        self._high = np.asarray(spec.workspace_high)
        self._lower, self._upper = spec.lower, spec.upper
        self._damping_eye = damping**2 * np.eye(6)

    def reset(self, state: RobotState) -> None:
        """Stateless; present for the Controller protocol."""

    def step_from(self, q: np.ndarray, displacement: np.ndarray) -> np.ndarray:
        """Joint positions one DLS step from ``q`` toward the TCP displaced by ``displacement`` (m)."""
        pos, orn = self.kinematics.tcp_pose_view(q)
        target = np.minimum(np.maximum(pos + displacement, self._low), self._high)
        dx, dy, dz = (target - pos).tolist()
        rx, ry, rz = _rotation_vector(orn, self._desired)
        gain = self._orientation_gain
        error = np.array((dx, dy, dz, gain * rx, gain * ry, gain * rz))
        jac = self.kinematics.jacobian(q)
        dq = jac.T @ np.linalg.solve(jac @ jac.T + self._damping_eye, error)
        dq = np.minimum(np.maximum(dq, self._min_step), self._max_step)
        return np.minimum(np.maximum(q + dq, self._lower), self._upper)

    def __call__(self, state: RobotState, displacement: np.ndarray, gripper_width: float) -> JointCommand:
        return JointCommand(self.step_from(state.joint_positions, displacement), float(gripper_width))


@runtime_checkable
class CommandReference(Protocol):
    """A controller that may integrate its commands into a joint reference: where it has
    told the arm to be once every command sent so far has taken effect (rad, encoder
    frame), or None when it keeps none (its last targets are then the best guess)."""

    @property
    def reference(self) -> np.ndarray | None: ...


class ReferenceIKController(DifferentialIKController):
    """Differential IK anchored on its own last command instead of the measured joints.

    Each period moves a joint *reference* one DLS step along the commanded displacement
    and sends it as the target. A command that reaches the motors late therefore still
    continues the path of the commands before it; anchoring on the measured joints would
    instead aim every late command from where the arm was when it was sent, and pull the
    arm back by the motion made meanwhile (with d steps of delay the arm then moves
    1 / (d + 1) as fast). A weak drive that lags its targets keeps being driven toward
    the same path until it gets there. The reference stays within ``max_lead`` rad of the
    measured joints, so a blocked arm does not wind it up without bound.
    """

    def __init__(self, spec: RobotSpec, control_period: float, *, max_lead: float = 1.0,
                 **kwargs: object) -> None:
        super().__init__(spec, control_period, **kwargs)
        self.max_lead = max_lead
        self._reference = np.asarray(spec.home, dtype=float)

    @property
    def reference(self) -> np.ndarray:
        return self._reference.copy()

    def reset(self, state: RobotState) -> None:
        self._reference = np.asarray(state.joint_positions, dtype=float).copy()

    def advance(self, state: RobotState, displacement: np.ndarray) -> np.ndarray:
        """The reference after this period's displacement (not yet committed)."""
        q = np.asarray(state.joint_positions, dtype=float)
        moved = self.step_from(self._reference, displacement)
        return np.minimum(np.maximum(moved, q - self.max_lead), q + self.max_lead)

    def commit(self, reference: np.ndarray) -> None:
        self._reference = np.asarray(reference, dtype=float).copy()

    def __call__(self, state: RobotState, displacement: np.ndarray, gripper_width: float) -> JointCommand:
        reference = self.advance(state, displacement)
        self.commit(reference)
        return JointCommand(reference, float(gripper_width))
