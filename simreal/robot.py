"""The Robot protocol: what sim robots, perturbed targets and bridge clients all are.

Envs, data collection, adaptation, evaluation and deployment only use this interface,
so swapping a simulated robot for a perturbed "real" model or hardware changes nothing
else. Everything a Robot reports is what a real robot could report: measured joints
(with whatever bias and noise the robot has), the gripper opening and perceived object
poses. True dynamics parameters are never part of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from .specs import RobotSpec


@dataclass(frozen=True)
class JointCommand:
    """Targets for one control period: arm joint positions (rad), gripper opening (m)."""

    positions: np.ndarray
    gripper: float


@dataclass(frozen=True)
class ObjectPose:
    """Perceived object in the world frame: position (m), quaternion (x, y, z, w), and the
    half extents (m) of its bounding box."""

    position: np.ndarray
    orientation: np.ndarray
    half_extents: np.ndarray


@dataclass(frozen=True)
class RobotState:
    """What the robot reports after a control period.

    ``time`` is seconds since reset; joint values are as measured (rad, rad/s);
    ``gripper_width`` is the finger opening in m; ``objects`` maps object names to
    perceived poses (empty when the robot side has no perception). ``joint_torques``
    are the arm joints' measured torques (N m), as a torque-sensing arm reports them
    (the Panda's tau_J), or None when the robot has no torque sensing; calibration
    weighs a held object with them (``calibration.weighing``).
    """

    time: float
    joint_positions: np.ndarray
    joint_velocities: np.ndarray
    gripper_width: float
    objects: Mapping[str, ObjectPose] = field(default_factory=dict)
    joint_torques: np.ndarray | None = None


@dataclass(frozen=True)
class ResetRequest:
    """What an episode start asks of the robot: where objects should be (x, y, yaw)."""

    object_placements: Mapping[str, tuple[float, float, float]] = field(default_factory=dict)


class RequestError(ValueError):
    """A request the robot cannot honour as asked (e.g. an object it does not know); raised
    before anything moves, so the robot is as it was. The bridge reports it as ``bad_field``."""


@runtime_checkable
class Robot(Protocol):
    """A robot arm with a gripper, driven at a fixed control period.

    ``apply`` sets the targets used during the next ``step``; ``step`` advances one
    control period and returns the new state.
    """

    spec: RobotSpec
    control_period: float

    def reset(self, request: ResetRequest | None = None, *, seed: int | None = None) -> RobotState:
        """Go to the home pose, place objects, and return the first state; raise
        ``RequestError`` (before moving) for placements of objects the robot does not know."""
        ...

    def apply(self, command: JointCommand) -> None:
        """Set the targets for the next control period."""
        ...

    def step(self) -> RobotState:
        """Advance one control period and return the state after it."""
        ...

    def close(self) -> None:
        """Release the robot's resources."""
        ...
