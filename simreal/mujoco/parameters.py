"""A MuJoCo profile's parameters resolved against a robot and scene: numbers per joint.

``MujocoParams`` (a profile's ``mujoco:`` section) leaves fields "derived" where a good
value depends on the robot (servo stiffness from the torque limits) or the scene (the
table's and objects' frictions). :func:`resolve` turns it into plain arrays for one robot
and scene, and checks what only the pair can tell (the timestep divides the control
period).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..specs import RobotSpec, SceneSpec, SpecError
from ..specs.engine import MujocoParams
from ..specs.param_table import per_joint

SATURATION_ERROR = 0.02  # rad: a derived arm servo reaches its torque limit at this position error
ARM_DAMPING_TIME = 0.1  # s: derived arm servo kv = kp x this
GRIP_SATURATION = 0.01  # m: a derived finger servo reaches its force limit at this position error
GRIP_DAMPING_TIME = 0.01  # s: derived finger servo kv = kp x this


@dataclass(frozen=True)
class ResolvedMujoco:
    """Everything the model builder needs, per arm joint where per joint (SI units)."""

    params: MujocoParams
    substeps: int
    kp: np.ndarray
    kv: np.ndarray
    force: np.ndarray
    armature: np.ndarray
    damping: np.ndarray
    frictionloss: np.ndarray
    gripper_kp: float
    gripper_kv: float
    gripper_force: float
    table_friction: tuple[float, float, float]


def substeps_for(timestep: float, control_period: float, source: str) -> int:
    """Physics steps per control period; the timestep must divide the period."""
    steps = round(control_period / timestep)
    if steps < 1 or abs(steps * timestep - control_period) > 1e-9:
        raise SpecError(source, "mujoco.timestep", timestep,
                        f"a divisor of the scene's control period ({control_period} s)")
    return steps


def resolve(params: MujocoParams, robot: RobotSpec, scene: SceneSpec, source: str) -> ResolvedMujoco:
    """Per-joint arrays and derived defaults of ``params`` for ``robot`` in ``scene``."""
    dof = robot.dof
    force = per_joint(params.force_range, dof, [j.force for j in robot.arm])
    kp = per_joint(params.kp, dof, force / SATURATION_ERROR)
    kv = per_joint(params.kv, dof, kp * ARM_DAMPING_TIME)
    grip_force = params.gripper_force if params.gripper_force is not None else robot.gripper.force
    grip_kp = params.gripper_kp if params.gripper_kp is not None else grip_force / GRIP_SATURATION
    grip_kv = params.gripper_kv if params.gripper_kv is not None else grip_kp * GRIP_DAMPING_TIME
    table = params.table_friction or (scene.table_friction, 0.005, 0.0001)
    return ResolvedMujoco(
        params=params, substeps=substeps_for(params.timestep, scene.physics.control_period, source),
        kp=kp, kv=kv, force=force, armature=per_joint(params.armature, dof, 0.0),
        damping=per_joint(params.damping, dof, 0.0), frictionloss=per_joint(params.frictionloss, dof, 0.0),
        gripper_kp=float(grip_kp), gripper_kv=float(grip_kv), gripper_force=float(grip_force),
        table_friction=tuple(table))
