"""Which physics engine stands in for the real arm, and the MuJoCo engine's own parameters.

A target profile says ``engine: pybullet`` (the training simulator itself, perturbed by
``DynamicsParams``) or ``engine: mujoco`` (a second engine with its own contacts,
actuators and integrator). A MuJoCo profile's ``mujoco:`` section holds that engine's
parameters; they have no counterpart in ``DynamicsParams``, which is the point: a fit of
``DynamicsParams`` cannot reproduce them exactly, as it could not reproduce a real arm.
"""

from __future__ import annotations

from dataclasses import dataclass

from .fields import SpecError
from .param_table import param, read_section

ENGINES = ("pybullet", "mujoco")

# DynamicsParams fields that mean the same on any engine: the command link, the sensors,
# the objects and the arm's masses. The others describe PyBullet's motors and contacts;
# a MuJoCo profile sets its own servos and contacts in its ``mujoco:`` section instead.
ENGINE_NEUTRAL_DYNAMICS = frozenset({
    "latency_steps", "position_noise", "velocity_noise", "joint_offset", "object_mass_scale",
    "object_size_scale", "object_friction_scale", "object_position_noise", "payload_mass", "link_mass_scale",
})

_FRICTION = ((0.0, 0.0, 0.0), (10.0, 1.0, 1.0))


@dataclass(frozen=True)
class MujocoParams:
    """The MuJoCo engine of a target: its timestep, solver, position servos and contacts.

    Per-joint fields take one number for every arm joint or one per joint. Fields shown
    as "derived" default from the robot spec (its torque and grip-force limits) or the
    scene (table and object frictions); see each field's doc.
    """

    timestep: float = param(0.002, "s", "physics timestep; must divide the scene's control period", 1e-4, 0.02)
    integrator: str = param("implicitfast", "", "MuJoCo integrator", kind="choice",
                            choices=("Euler", "RK4", "implicit", "implicitfast"))
    cone: str = param("pyramidal", "", "friction cone", kind="choice", choices=("pyramidal", "elliptic"))
    impratio: float = param(1.0, "ratio", "frictional-to-normal constraint impedance ratio", 1.0, 100.0)
    iterations: int = param(100, "iterations", "constraint solver iterations", 1, 1000, kind="integer")
    noslip_iterations: int = param(0, "iterations", "no-slip solver iterations (0: off)", 0, 1000, kind="integer")
    kp: tuple[float, ...] = param((), "N*m/rad", "arm position-servo stiffness; derived: the joint's torque limit "
                                  "over 0.02 rad", 0.0, 1e6, kind="per_joint")
    kv: tuple[float, ...] = param((), "N*m*s/rad", "arm position-servo damping; derived: kp x 0.1 s", 0.0, 1e5,
                                  kind="per_joint")
    force_range: tuple[float, ...] = param((), "N*m", "arm servo torque limit (symmetric); derived: the robot "
                                           "spec's joint force", 0.01, 1e4, kind="per_joint")
    armature: tuple[float, ...] = param((0.0,), "kg*m^2", "rotor inertia added to each arm joint", 0.0, 100.0,
                                        kind="per_joint")
    damping: tuple[float, ...] = param((0.0,), "N*m*s/rad", "passive viscous damping of each arm joint", 0.0,
                                       1000.0, kind="per_joint")
    frictionloss: tuple[float, ...] = param((0.0,), "N*m", "dry friction of each arm joint (MuJoCo's own, "
                                            "constraint-based)", 0.0, 1000.0, kind="per_joint")
    gravity_compensation: float = param(0.0, "fraction", "share of each arm link's weight the arm's controller "
                                        "cancels, through the joint actuators (so it counts in the measured torques "
                                        "and their limits), as a torque-controlled arm does", 0.0, 1.0)
    gripper_kp: float | None = param(None, "N/m", "finger position-servo stiffness; derived: the grip force over "
                                     "0.01 m", 0.0, 1e6)
    gripper_kv: float | None = param(None, "N*s/m", "finger position-servo damping; derived: gripper_kp x 0.01 s",
                                     0.0, 1e5)
    gripper_force: float | None = param(None, "N", "force limit of each finger servo; derived: the robot spec's "
                                        "gripper force", 0.01, 1e4)
    solref: tuple[float, ...] = param((0.02, 1.0), "s, ratio", "contact solref [timeconst, dampratio] of every geom",
                                      (0.0005, 0.05), (1.0, 10.0), kind="vector", length=2)
    solimp: tuple[float, ...] = param((0.9, 0.95, 0.001, 0.5, 2.0), "", "contact solimp [dmin, dmax, width, "
                                      "midpoint, power] of every geom", (0.0001, 0.0001, 0.0, 0.0001, 1.0),
                                      (0.9999, 0.9999, 0.1, 0.9999, 10.0), kind="vector", length=5)
    condim: int = param(3, "", "contact dimensionality of every geom (1 frictionless, 3 sliding, 4 + torsional, "
                        "6 + rolling)", 1, 6, kind="integer")
    finger_friction: tuple[float, ...] = param((1.0, 0.005, 0.0001), "coefficient", "friction [sliding, torsional, "
                                               "rolling] of the gripper links", *_FRICTION, kind="vector", length=3)
    arm_friction: tuple[float, ...] = param((1.0, 0.005, 0.0001), "coefficient", "friction [sliding, torsional, "
                                            "rolling] of the other robot links", *_FRICTION, kind="vector", length=3)
    table_friction: tuple[float, ...] = param((), "coefficient", "friction triplet of the table; derived: the scene's "
                                              "friction, 0.005, 0.0001", *_FRICTION, kind="vector", length=3)
    object_friction: tuple[float, ...] = param((), "coefficient", "friction triplet of every object (sliding scaled "
                                               "by object_friction_scale); derived: the scene's friction, spinning "
                                               "and rolling friction", *_FRICTION, kind="vector", length=3)


def mujoco_from_mapping(data: object, source: str, prefix: str = "mujoco") -> MujocoParams:
    """MujocoParams with the fields given in ``data``; unknown keys are errors."""
    params = read_section(MujocoParams, data, source, prefix)
    if params.condim not in (1, 3, 4, 6):
        raise SpecError(source, f"{prefix}.condim", params.condim, "one of 1, 3, 4, 6")
    return params


__all__ = ["ENGINES", "ENGINE_NEUTRAL_DYNAMICS", "MujocoParams", "mujoco_from_mapping"]
