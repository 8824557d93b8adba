"""Robot-side safety layer: every network command is bounded before it reaches the motors.

It lives on the robot's side of the bridge because the client (a policy, possibly
buggy, possibly on a lossy link) cannot be trusted to respect limits. The filter is a
pure function of the command, the measured state and the last target it let through,
which keeps it easy to reason about and to property-test.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..robot import JointCommand, RobotState
from ..specs import RobotSpec


class TcpModel(Protocol):
    """What the workspace check needs: forward kinematics (``simreal.kinematics.Kinematics``)."""

    def tcp_pose(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class SafetyLayer:
    """Clamps joint targets to limits and per-tick steps; keeps the TCP inside the workspace.

    Per tick and joint, a target may move at most ``min(max_step, velocity_limit *
    control_period)`` from the last target sent, and lead the measured position by at most
    the same amount (so a blocked or lagging arm cannot wind up a large target it would
    later jump to). The gripper is clamped to [0, max_width]. With ``kinematics``, a target
    whose TCP leaves the spec workspace box further than the previous target did is
    replaced by the previous target (moving back towards the box is always allowed).
    Every intervention is reported as a flag.
    """

    def __init__(self, spec: RobotSpec, control_period: float, max_step: float = 0.1,
                 kinematics: TcpModel | None = None, workspace_tolerance: float = 1e-6) -> None:
        if max_step <= 0 or control_period <= 0:
            raise ValueError(f"max_step ({max_step}) and control_period ({control_period}) must be positive")
        self.spec = spec
        self.lower = spec.lower
        self.upper = spec.upper
        self.max_width = float(spec.gripper.max_width)
        velocity_step = spec.velocity_limits * control_period
        self.step_bound = np.minimum(max_step, velocity_step)
        self._velocity_binds = velocity_step < max_step
        self.kinematics = kinematics
        self.workspace_low = np.asarray(spec.workspace_low, dtype=float)
        self.workspace_high = np.asarray(spec.workspace_high, dtype=float)
        self.workspace_tolerance = workspace_tolerance
        self.last_target: np.ndarray | None = None
        self.last_gripper: float | None = None

    def reset(self) -> None:
        """Forget the last target (after a robot reset the arm is somewhere new)."""
        self.last_target = None
        self.last_gripper = None

    def _reference(self, measured: np.ndarray) -> np.ndarray:
        if self.last_target is not None:
            return self.last_target
        return np.clip(measured, self.lower, self.upper)

    def _workspace_excess(self, q: np.ndarray) -> float:
        """How far (m) the TCP for joints ``q`` lies outside the workspace box; 0 inside."""
        assert self.kinematics is not None
        position = np.asarray(self.kinematics.tcp_pose(q)[0], dtype=float)
        outside = np.maximum(self.workspace_low - position, 0.0) + np.maximum(position - self.workspace_high, 0.0)
        return float(np.linalg.norm(outside))

    def _limit_step(self, target: np.ndarray, around: np.ndarray, flags: set[str]) -> np.ndarray:
        limited = np.clip(target, around - self.step_bound, around + self.step_bound)
        moved = limited != target
        if np.any(moved & self._velocity_binds):
            flags.add("clamped_velocity")
        if np.any(moved & ~self._velocity_binds):
            flags.add("clamped_step")
        return limited

    def filter(self, command: JointCommand, measured: RobotState) -> tuple[JointCommand, frozenset[str]]:
        """The command that may be sent to the robot this tick, and the flags explaining changes."""
        flags: set[str] = set()
        position = np.clip(np.asarray(measured.joint_positions, dtype=float), -1e3, 1e3)  # survive a wild sensor
        position = np.where(np.isfinite(position), position, self._reference(np.zeros_like(self.lower)))
        reference = self._reference(position)
        target = np.asarray(command.positions, dtype=float).reshape(-1)
        if target.shape != reference.shape:
            raise ValueError(f"command has {target.size} joint targets, the robot has {reference.size}")
        if not np.all(np.isfinite(target)):
            flags.add("nonfinite")
            target = np.where(np.isfinite(target), target, reference)
        clipped = np.clip(target, self.lower, self.upper)
        if np.any(clipped != target):
            flags.add("clamped_position")
        # measured window first, then the window around the last target: the last clip wins,
        # so the per-tick step bound holds even when the arm is far from its target
        target = self._limit_step(clipped, position, flags)
        target = self._limit_step(target, reference, flags)
        target = np.clip(target, self.lower, self.upper)  # stays within the step window: reference is inside
        if self.kinematics is not None:
            excess = self._workspace_excess(target)
            if excess > self.workspace_tolerance and excess > self._workspace_excess(reference) + 1e-9:
                flags.add("workspace")
                target = reference.copy()
        gripper = self._gripper(command.gripper, flags)
        self.last_target = target
        self.last_gripper = gripper
        return JointCommand(target, gripper), frozenset(flags)

    def _gripper(self, value: float, flags: set[str]) -> float:
        value = float(value)
        if not np.isfinite(value):
            flags.add("nonfinite")
            return self.last_gripper if self.last_gripper is not None else self.max_width
        clamped = min(max(value, 0.0), self.max_width)
        if clamped != value:
            flags.add("gripper_clamped")
        return clamped

    def hold(self, measured: RobotState) -> JointCommand:
        """A hold command at the measured position (clipped to limits), keeping the last gripper
        target so a watchdog or e-stop never drops a grasped object; becomes the last target."""
        position = np.asarray(measured.joint_positions, dtype=float)
        position = np.where(np.isfinite(position), position, self._reference(np.zeros_like(self.lower)))
        target = np.clip(position, self.lower, self.upper)
        gripper = self.last_gripper
        if gripper is None:
            width = float(measured.gripper_width)
            gripper = min(max(width, 0.0), self.max_width) if np.isfinite(width) else self.max_width
        self.last_target = target
        self.last_gripper = gripper
        return JointCommand(target.copy(), gripper)


__all__ = ["SafetyLayer", "TcpModel"]
