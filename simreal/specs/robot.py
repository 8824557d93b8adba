"""RobotSpec: what a robot is (joints, limits, end effector, gripper), loaded from YAML."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .fields import FieldReader, SpecError, load_yaml, non_negative, positive, real, text, vector


@dataclass(frozen=True)
class JointSpec:
    """One actuated arm joint. Units: rad, rad/s, N*m."""

    name: str
    lower: float
    upper: float
    velocity: float
    force: float


@dataclass(frozen=True)
class GripperSpec:
    """A gripper driven by one scalar; every listed joint follows it times its multiplier.

    The opening width (m, between the fingers) maps linearly onto the drive value:
    ``open_position`` gives ``max_width``, ``closed_position`` gives zero.
    """

    joints: tuple[str, ...]
    multipliers: tuple[float, ...]
    open_position: float
    closed_position: float
    max_width: float
    force: float
    links: tuple[str, ...]

    def drive_value(self, width: float) -> float:
        """Drive-joint value for an opening width in metres (clipped to the range)."""
        fraction = min(max(width / self.max_width, 0.0), 1.0)
        return self.closed_position + fraction * (self.open_position - self.closed_position)

    def width(self, drive_value: float) -> float:
        """Opening width in metres for a drive-joint value."""
        span = self.open_position - self.closed_position
        return (drive_value - self.closed_position) / span * self.max_width


@dataclass(frozen=True)
class RobotSpec:
    """Everything the toolkit needs to know about an arm; identical for sim and hardware.

    ``urdf`` is either ``pybullet_data://<path>`` or a path relative to the YAML file.
    ``grasp_orientation`` is the fixed world orientation (x, y, z, w) of the end effector
    during top-down grasping; ``workspace_low/high`` bound the end-effector position (m).
    """

    name: str
    urdf: str
    source: str
    base_position: tuple[float, float, float]
    arm: tuple[JointSpec, ...]
    ee_link: str
    tcp_offset: tuple[float, float, float]
    grasp_orientation: tuple[float, float, float, float]
    home: tuple[float, ...]
    position_gain: float
    velocity_gain: float
    gripper: GripperSpec
    workspace_low: tuple[float, float, float]
    workspace_high: tuple[float, float, float]

    @property
    def dof(self) -> int:
        return len(self.arm)

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.arm)

    @property
    def lower(self) -> np.ndarray:
        return np.array([j.lower for j in self.arm])

    @property
    def upper(self) -> np.ndarray:
        return np.array([j.upper for j in self.arm])

    @property
    def velocity_limits(self) -> np.ndarray:
        return np.array([j.velocity for j in self.arm])

    def fingerprint(self) -> str:
        """Short stable hash of the spec contents (not of where it was loaded from)."""
        data = asdict(self)
        data.pop("source")
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _joint(fields: FieldReader) -> JointSpec:
    joint = JointSpec(
        name=fields.take("name", text),
        lower=fields.take("lower", real),
        upper=fields.take("upper", real),
        velocity=fields.take("velocity", positive),
        force=fields.take("force", positive),
    )
    fields.finish()
    if joint.lower >= joint.upper:
        raise fields.fail("upper", joint.upper, f"a limit above lower ({joint.lower})")
    return joint


def _gripper(fields: FieldReader) -> GripperSpec:
    joints = fields.take("joints", vector(item=text))
    if not joints:
        raise fields.fail("joints", joints, "at least one gripper joint")
    multipliers = fields.take("multipliers", vector(len(joints)), (1.0,) * len(joints))
    gripper = GripperSpec(
        joints=joints,
        multipliers=multipliers,
        open_position=fields.take("open_position", real),
        closed_position=fields.take("closed_position", real),
        max_width=fields.take("max_width", positive),
        force=fields.take("force", positive),
        links=fields.take("links", vector(item=text)),
    )
    fields.finish()
    if gripper.open_position == gripper.closed_position:
        raise fields.fail("open_position", gripper.open_position, "a value unlike closed_position")
    return gripper


def robot_from_mapping(data: object, source: str) -> RobotSpec:
    """Validate a parsed YAML mapping into a RobotSpec; ``source`` names it in errors."""
    fields = FieldReader(data, source)
    arm = tuple(_joint(item) for item in fields.items("arm_joints"))
    if not arm:
        raise fields.fail("arm_joints", [], "at least one arm joint")
    gains = fields.reader("gains")
    position_gain = gains.take("position", positive)
    velocity_gain = gains.take("velocity", non_negative)
    gains.finish()
    workspace = fields.reader("workspace")
    low = workspace.take("low", vector(3))
    high = workspace.take("high", vector(3))
    workspace.finish()
    spec = RobotSpec(
        name=fields.take("name", text),
        urdf=fields.take("urdf", text),
        source=source,
        base_position=fields.take("base_position", vector(3), (0.0, 0.0, 0.0)),
        arm=arm,
        ee_link=fields.take("ee_link", text),
        tcp_offset=fields.take("tcp_offset", vector(3), (0.0, 0.0, 0.0)),
        grasp_orientation=fields.take("grasp_orientation", vector(4)),
        home=fields.take("home", vector(len(arm))),
        position_gain=position_gain,
        velocity_gain=velocity_gain,
        gripper=_gripper(fields.reader("gripper")),
        workspace_low=low,
        workspace_high=high,
    )
    fields.finish()
    _check_consistency(spec, fields)
    return spec


def _check_consistency(spec: RobotSpec, fields: FieldReader) -> None:
    for joint, q in zip(spec.arm, spec.home, strict=True):
        if not joint.lower <= q <= joint.upper:
            raise fields.fail("home", spec.home, f"{joint.name} within [{joint.lower}, {joint.upper}]")
    if any(lo >= hi for lo, hi in zip(spec.workspace_low, spec.workspace_high, strict=True)):
        raise fields.fail("workspace.high", spec.workspace_high, "each value above workspace.low")
    if abs(float(np.linalg.norm(spec.grasp_orientation)) - 1.0) > 1e-3:
        raise fields.fail("grasp_orientation", spec.grasp_orientation, "a unit quaternion (x, y, z, w)")
    names = spec.joint_names + spec.gripper.joints
    if len(set(names)) != len(names):
        raise fields.fail("arm_joints", list(names), "each joint named once")


def load_robot(path: str | Path) -> RobotSpec:
    """Load and validate a robot YAML file."""
    path = Path(path)
    return robot_from_mapping(load_yaml(path), str(path))


__all__ = ["GripperSpec", "JointSpec", "RobotSpec", "SpecError", "load_robot", "robot_from_mapping"]
