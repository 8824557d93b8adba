"""Build a MuJoCo model of the robot and its scene from the same files PyBullet uses.

The robot comes from the robot spec's URDF, compiled by MuJoCo's own URDF importer (so
the kinematic tree, joint axes, limits and inertias are the URDF's, read by another
parser than PyBullet's). Its ``package://`` mesh paths are resolved against the URDF's
folder as PyBullet does. On top of the compiled tree the builder adds, with the
``MjSpec`` editing API: the scene's table and objects (free bodies), one position servo
per arm joint and per gripper joint, MuJoCo's solver and contact settings from the
profile, and the engine-neutral ``DynamicsParams`` (masses, object size and friction).

Static links are kept as bodies (no fusing), so every URDF link name is a body name.
Robot links do not collide with each other (PyBullet's default for a loaded URDF), only
with the table and the objects.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from ..assets import urdf_path
from ..specs import DynamicsParams, RobotSpec, SceneSpec, SpecError
from .parameters import ResolvedMujoco

ROBOT_CONTYPE, ROBOT_CONAFFINITY = 2, 1  # robot geoms meet world geoms, never each other
WORLD_CONTYPE, WORLD_CONAFFINITY = 1, 3
_INTEGRATORS = {"Euler": mujoco.mjtIntegrator.mjINT_EULER, "RK4": mujoco.mjtIntegrator.mjINT_RK4,
                "implicit": mujoco.mjtIntegrator.mjINT_IMPLICIT,
                "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST}
_CONES = {"pyramidal": mujoco.mjtCone.mjCONE_PYRAMIDAL, "elliptic": mujoco.mjtCone.mjCONE_ELLIPTIC}


@dataclass(frozen=True)
class ModelIndex:
    """Addresses in the compiled model: arm and gripper joints, actuators, objects."""

    arm_qpos: np.ndarray
    arm_dof: np.ndarray
    arm_actuators: np.ndarray
    gripper_qpos: np.ndarray
    gripper_actuators: np.ndarray
    object_qpos: dict[str, int]  # start of each object's free joint (x y z, qw qx qy qz)
    object_dof: dict[str, int]
    half_extents: dict[str, np.ndarray]


def _resolve_meshes(urdf: Path, text: str, spec: RobotSpec) -> str:
    """The URDF text with each mesh file an absolute path (``package://`` as PyBullet reads it)."""

    def absolute(match: re.Match) -> str:
        name = match.group(2)
        relative = name[len("package://"):] if name.startswith("package://") else name
        candidates = [urdf.parent / relative, urdf.parent / Path(*Path(relative).parts[1:])]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise SpecError(spec.source, "urdf", spec.urdf, f"a URDF whose mesh '{name}' exists next to it")
        return f'{match.group(1)}"{found.resolve()}"'

    return re.sub(r'(filename\s*=\s*)"([^"]+)"', absolute, text)


def _load_urdf(spec: RobotSpec) -> mujoco.MjSpec:
    path = urdf_path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"URDF not found: {path}")
    model = mujoco.MjSpec.from_string(_resolve_meshes(path, path.read_text(encoding="utf-8"), spec))
    model.compiler.fusestatic = False
    model.compiler.discardvisual = True
    return model


def _joint(model: mujoco.MjSpec, spec: RobotSpec, name: str, field: str) -> mujoco.MjsJoint:
    joint = model.joint(name)
    if joint is None:
        names = ", ".join(j.name for j in model.joints)
        raise SpecError(spec.source, field, name, f"a joint of {spec.urdf} ({names})")
    return joint


def _set_first(element: object, name: str, value: float) -> None:
    """Set a scalar attribute, or the first coefficient where MuJoCo's version makes it a
    polynomial (newer releases turn joint damping into [linear, quadratic, ...])."""
    current = getattr(element, name)
    if isinstance(current, np.ndarray):
        coefficients = np.zeros_like(current)
        coefficients[0] = value
        setattr(element, name, coefficients)
    else:
        setattr(element, name, float(value))


def _set_robot(model: mujoco.MjSpec, spec: RobotSpec, resolved: ResolvedMujoco, dynamics: DynamicsParams) -> None:
    """Joint properties, link masses, contact classes and frictions of the robot's geoms."""
    params = resolved.params
    for i, joint_spec in enumerate(spec.arm):
        joint = _joint(model, spec, joint_spec.name, f"arm_joints[{i}].name")
        _set_first(joint, "armature", resolved.armature[i])
        _set_first(joint, "damping", resolved.damping[i])
        _set_first(joint, "frictionloss", resolved.frictionloss[i])
        joint.actfrclimited = mujoco.mjtLimited.mjLIMITED_FALSE  # the servo's own force range limits it
        body = joint.parent
        body.mass = body.mass * dynamics.link_mass_scale + (dynamics.payload_mass if i == spec.dof - 1 else 0.0)
    for body in model.bodies:  # compensated through the joints' actuators, as the arm's controller would
        body.gravcomp = params.gravity_compensation
    for joint in model.joints:
        joint.actgravcomp = True
    fingers = set()
    for name in spec.gripper.links:
        if model.body(name) is None:
            raise SpecError(spec.source, "gripper.links", name, f"a link of {spec.urdf}")
        fingers.add(name)
    for geom in model.geoms:
        geom.contype, geom.conaffinity = ROBOT_CONTYPE, ROBOT_CONAFFINITY
        geom.friction = params.finger_friction if geom.parent.name in fingers else params.arm_friction
    for body in model.worldbody.bodies:  # the robot's root link(s)
        body.pos = np.asarray(body.pos) + np.asarray(spec.base_position)


def _add_servos(model: mujoco.MjSpec, spec: RobotSpec, resolved: ResolvedMujoco) -> None:
    """A position servo per arm joint, then one per gripper joint (actuator order)."""
    servos = [(j.name, resolved.kp[i], resolved.kv[i], resolved.force[i]) for i, j in enumerate(spec.arm)]
    for k, name in enumerate(spec.gripper.joints):
        _joint(model, spec, name, "gripper.joints")
        servos.append((name, resolved.gripper_kp, resolved.gripper_kv, resolved.gripper_force * abs(
            spec.gripper.multipliers[k])))
    for name, kp, kv, force in servos:
        actuator = model.add_actuator()
        actuator.name = f"servo_{name}"
        actuator.trntype = mujoco.mjtTrn.mjTRN_JOINT
        actuator.target = name
        actuator.gaintype = mujoco.mjtGain.mjGAIN_FIXED
        actuator.gainprm[0] = float(kp)
        actuator.biastype = mujoco.mjtBias.mjBIAS_AFFINE
        actuator.biasprm[0:3] = [0.0, -float(kp), -float(kv)]
        actuator.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        actuator.forcerange = [-float(force), float(force)]


def _add_scene(model: mujoco.MjSpec, scene: SceneSpec, resolved: ResolvedMujoco, dynamics: DynamicsParams) -> None:
    """The table (a static box whose top is at ``table_height``) and one free body per object."""
    half = [v / 2 for v in scene.table_size]
    table = model.worldbody.add_geom()
    table.name, table.type, table.size = "table", mujoco.mjtGeom.mjGEOM_BOX, half
    table.pos = [scene.table_center[0], scene.table_center[1], scene.table_height - half[2]]
    table.friction = resolved.table_friction
    table.contype, table.conaffinity = WORLD_CONTYPE, WORLD_CONAFFINITY
    for obj in scene.objects:
        body = model.worldbody.add_body()
        body.name = obj.name
        body.pos = [0.0, 0.0, -10.0]
        joint = body.add_freejoint()
        joint.name = obj.name
        geom = body.add_geom()
        geom.name = obj.name
        size = [v * dynamics.object_size_scale for v in obj.size]
        if obj.shape == "box":
            geom.type, geom.size = mujoco.mjtGeom.mjGEOM_BOX, [v / 2 for v in size]
        elif obj.shape == "cylinder":
            geom.type, geom.size = mujoco.mjtGeom.mjGEOM_CYLINDER, [size[0], size[1] / 2, 0.0]
        else:
            geom.type, geom.size = mujoco.mjtGeom.mjGEOM_SPHERE, [size[0], 0.0, 0.0]
        geom.mass = obj.mass * dynamics.object_mass_scale
        sliding, torsional, rolling = resolved.params.object_friction or (
            obj.friction, obj.spinning_friction, obj.rolling_friction)
        geom.friction = [sliding * dynamics.object_friction_scale, torsional, rolling]
        geom.contype, geom.conaffinity = WORLD_CONTYPE, WORLD_CONAFFINITY


def _set_options(model: mujoco.MjSpec, scene: SceneSpec, resolved: ResolvedMujoco) -> None:
    p = resolved.params
    model.option.timestep = p.timestep
    model.option.integrator = _INTEGRATORS[p.integrator]
    model.option.cone = _CONES[p.cone]
    model.option.impratio = p.impratio
    model.option.iterations = p.iterations
    model.option.noslip_iterations = p.noslip_iterations
    model.option.gravity = [0.0, 0.0, scene.physics.gravity]
    for geom in model.geoms:
        geom.condim, geom.solref, geom.solimp = p.condim, list(p.solref), list(p.solimp)


def _index(model: mujoco.MjModel, spec: RobotSpec, scene: SceneSpec, dynamics: DynamicsParams) -> ModelIndex:
    joint = model.joint

    def actuator(name: str) -> int:
        return model.actuator(f"servo_{name}").id

    objects = {o.name: joint(o.name) for o in scene.objects}
    return ModelIndex(
        arm_qpos=np.array([joint(n).qposadr[0] for n in spec.joint_names]),
        arm_dof=np.array([joint(n).dofadr[0] for n in spec.joint_names]),
        arm_actuators=np.array([actuator(n) for n in spec.joint_names]),
        gripper_qpos=np.array([joint(n).qposadr[0] for n in spec.gripper.joints]),
        gripper_actuators=np.array([actuator(n) for n in spec.gripper.joints]),
        object_qpos={name: int(j.qposadr[0]) for name, j in objects.items()},
        object_dof={name: int(j.dofadr[0]) for name, j in objects.items()},
        half_extents={o.name: np.array(o.half_extents) * dynamics.object_size_scale for o in scene.objects},
    )


def build_model(spec: RobotSpec, scene: SceneSpec, resolved: ResolvedMujoco,
                dynamics: DynamicsParams) -> tuple[mujoco.MjModel, ModelIndex]:
    """Compile the robot (from its URDF), the scene and the servos into one MuJoCo model."""
    model = _load_urdf(spec)
    _set_robot(model, spec, resolved, dynamics)
    _add_servos(model, spec, resolved)
    _add_scene(model, scene, resolved, dynamics)
    _set_options(model, scene, resolved)
    compiled = model.compile()
    return compiled, _index(compiled, spec, scene, dynamics)


def yaw_quaternion(yaw: float) -> np.ndarray:
    """MuJoCo quaternion (w, x, y, z) of a rotation by ``yaw`` about the vertical axis."""
    return np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])
