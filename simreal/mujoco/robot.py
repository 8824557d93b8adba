"""MujocoRobot: a Robot on MuJoCo, the second engine that stands in for a real arm.

It keeps ``SimRobot``'s contract exactly, so envs, policies, recording, deployment and
the bridge server run on it unchanged: the same joint order (the robot spec's), units
(rad, rad/s, m, N m), encoder frame (readings and commands carry ``joint_offset``),
gripper width (from the finger joints through the spec's drive mapping), perceived object
poses (x, y, z and quaternion x, y, z, w, with ``object_position_noise``), measured joint
torques (what the joint actuators apply, gravity compensation included), reset semantics
(home pose, open hand, objects where the ``ResetRequest`` puts them, the seed fixing the
sensor noise) and command latency (``latency_steps``).

What differs is everything an engine decides: MuJoCo's soft contacts and friction cones,
its integrator and timestep, and position servos with finite stiffness and damping in
place of PyBullet's stiff velocity-constraint motors. The engine's own parameters come
from a profile's ``mujoco:`` section (``MujocoParams``).
"""

from __future__ import annotations

import mujoco
import numpy as np

from ..placement import placements
from ..robot import JointCommand, ObjectPose, ResetRequest, RobotState
from ..sim.friction import JointFriction
from ..sim.latency import CommandDelay
from ..specs import DynamicsParams, RobotSpec, SceneSpec
from ..specs.engine import ENGINE_NEUTRAL_DYNAMICS, MujocoParams
from .model import build_model, yaw_quaternion
from .parameters import resolve


def sticking_solref(timestep: float) -> list[float]:
    """Joint-friction constraint reference under stiction: as stiff as MuJoCo allows (two
    timesteps, critically damped), so a joint held below its breakaway torque stays put."""
    return [2.0 * timestep, 1.0]


STICKING_SOLIMP = [0.99, 0.999, 0.001, 0.5, 2.0]  # near-hard impedance for the same reason


class MujocoRobot:
    """An arm in the table-top scene, simulated by MuJoCo. Implements the Robot protocol.

    ``dynamics`` may set only the engine-neutral fields (``ENGINE_NEUTRAL_DYNAMICS``:
    latency, sensor noise and bias, object and link masses); ``friction`` adds joint
    friction with stiction (``JointFriction``). Everything is fixed at construction.
    """

    def __init__(self, spec: RobotSpec, scene: SceneSpec, params: MujocoParams | None = None,
                 dynamics: DynamicsParams | None = None, friction: JointFriction | None = None,
                 source: str = "<mujoco>") -> None:
        dynamics = dynamics or DynamicsParams()
        nominal = DynamicsParams()
        unsupported = sorted(n for n in nominal.__dataclass_fields__
                             if n not in ENGINE_NEUTRAL_DYNAMICS and getattr(dynamics, n) != getattr(nominal, n))
        if unsupported:
            raise ValueError(f"MujocoRobot takes only engine-neutral dynamics fields; got {', '.join(unsupported)}")
        self.spec = spec
        self.scene = scene
        self._resolved = resolve(params or MujocoParams(), spec, scene, source)
        self.model, self._index = build_model(spec, scene, self._resolved, dynamics)
        self.data = mujoco.MjData(self.model)
        self.control_period = scene.physics.control_period
        self._dynamics = dynamics
        self._friction = friction
        if friction is not None:  # MuJoCo's default friction constraint is soft and lets a held joint creep
            self.model.dof_solref[self._index.arm_dof] = sticking_solref(self._resolved.params.timestep)
            self.model.dof_solimp[self._index.arm_dof] = STICKING_SOLIMP
        self._offsets = np.asarray(dynamics.offsets(spec.dof), dtype=float)
        self._lower, self._upper = spec.lower, spec.upper
        self._rng = np.random.default_rng()
        self._time = 0.0
        self._delay: CommandDelay[JointCommand] = CommandDelay(0, JointCommand(np.asarray(spec.home), 0.0))

    # --- Robot protocol ---------------------------------------------------------------

    def reset(self, request: ResetRequest | None = None, *, seed: int | None = None) -> RobotState:
        """Home pose (in encoder frame), open gripper, objects placed, all at rest."""
        where = placements(self.scene, request)  # refuses unknown objects before anything moves
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        model, data, index = self.model, self.data, self._index
        mujoco.mj_resetData(model, data)  # also clears the solver's warm start: every episode starts alike
        home = np.asarray(self.spec.home, dtype=float)
        data.qpos[index.arm_qpos] = np.clip(home - self._offsets, self._lower, self._upper)
        data.qpos[index.gripper_qpos] = self._gripper_targets(self.spec.gripper.max_width)
        self._place_objects(where)
        open_cmd = JointCommand(home, self.spec.gripper.max_width)
        self._delay = CommandDelay(self._dynamics.latency_steps, open_cmd)
        self._drive(open_cmd)
        mujoco.mj_forward(model, data)
        self._time = 0.0
        return self._read_state()

    def apply(self, command: JointCommand) -> None:
        self._delay.push(command)

    def step(self) -> RobotState:
        self._drive(self._delay.pop())
        model, data = self.model, self.data
        if self._friction is None:
            mujoco.mj_step(model, data, nstep=self._resolved.substeps)
        else:
            dofs, base = self._index.arm_dof, self._resolved.frictionloss
            for _ in range(self._resolved.substeps):
                model.dof_frictionloss[dofs] = base + self._friction.magnitude(data.qvel[dofs])
                mujoco.mj_step(model, data)
        self._time += self.control_period
        return self._read_state()

    def close(self) -> None:
        """Nothing to release (MuJoCo's model and data are freed with the object)."""

    # --- internals ----------------------------------------------------------------------

    def _place_objects(self, where: dict[str, tuple[float, float, float]]) -> None:
        s, index, qpos = self.scene, self._index, self.data.qpos
        for obj in s.objects:
            x, y, yaw = where[obj.name]
            z = s.table_height + index.half_extents[obj.name][2]
            start = index.object_qpos[obj.name]
            qpos[start:start + 3] = (x, y, z)
            qpos[start + 3:start + 7] = yaw_quaternion(yaw)

    def _gripper_targets(self, width: float) -> np.ndarray:
        drive = self.spec.gripper.drive_value(width)
        return np.array([drive * m for m in self.spec.gripper.multipliers])

    def _drive(self, command: JointCommand) -> None:
        ctrl, index = self.data.ctrl, self._index
        ctrl[index.arm_actuators] = np.clip(np.asarray(command.positions) - self._offsets, self._lower, self._upper)
        ctrl[index.gripper_actuators] = self._gripper_targets(command.gripper)

    def _read_state(self) -> RobotState:
        data, index, d, dof = self.data, self._index, self._dynamics, self.spec.dof
        q = data.qpos[index.arm_qpos] + self._offsets
        dq = data.qvel[index.arm_dof].copy()
        if d.position_noise:
            q += self._rng.normal(0.0, d.position_noise, dof)
        if d.velocity_noise:
            dq += self._rng.normal(0.0, d.velocity_noise, dof)
        gripper = self.spec.gripper
        drive = float(np.mean(data.qpos[index.gripper_qpos] / np.asarray(gripper.multipliers)))
        torques = data.qfrc_actuator[index.arm_dof].copy()
        return RobotState(self._time, q, dq, float(gripper.width(drive)), self._object_poses(), torques)

    def _object_poses(self) -> dict[str, ObjectPose]:
        qpos, noise, index = self.data.qpos, self._dynamics.object_position_noise, self._index
        poses = {}
        for name, start in index.object_qpos.items():
            position = qpos[start:start + 3].copy()
            if noise:
                position += self._rng.normal(0.0, noise, 3)
            w, x, y, z = qpos[start + 3:start + 7]
            poses[name] = ObjectPose(position, np.array([x, y, z, w]), index.half_extents[name].copy())
        return poses
