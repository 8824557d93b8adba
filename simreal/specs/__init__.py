"""Validated, frozen descriptions of robots, scenes, dynamics, targets and randomization."""

from .dynamics import (
    PARAM_NAMES,
    DynamicsParams,
    RandomizationSpec,
    TargetProfile,
    dynamics_from_mapping,
    load_randomization,
    load_target,
    param_info,
)
from .fields import SpecError
from .robot import GripperSpec, JointSpec, RobotSpec, load_robot
from .scene import ObjectSpec, PhysicsSpec, SceneSpec, load_scene

__all__ = [
    "PARAM_NAMES",
    "DynamicsParams",
    "GripperSpec",
    "JointSpec",
    "ObjectSpec",
    "PhysicsSpec",
    "RandomizationSpec",
    "RobotSpec",
    "SceneSpec",
    "SpecError",
    "TargetProfile",
    "dynamics_from_mapping",
    "load_randomization",
    "load_robot",
    "load_scene",
    "load_target",
    "param_info",
]
