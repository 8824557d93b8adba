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
from .engine import ENGINES, MujocoParams
from .fields import SpecError
from .robot import GripperSpec, JointSpec, RobotSpec, load_robot
from .scene import ObjectSpec, PhysicsSpec, SceneSpec, load_scene
from .unmodeled import UnmodeledEffects

__all__ = [
    "ENGINES",
    "PARAM_NAMES",
    "DynamicsParams",
    "GripperSpec",
    "JointSpec",
    "MujocoParams",
    "ObjectSpec",
    "PhysicsSpec",
    "RandomizationSpec",
    "RobotSpec",
    "SceneSpec",
    "SpecError",
    "TargetProfile",
    "UnmodeledEffects",
    "dynamics_from_mapping",
    "load_randomization",
    "load_robot",
    "load_scene",
    "load_target",
    "param_info",
]
