"""SimRobot: a Robot backed by a PyBullet world whose dynamics can be set per episode."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pybullet

from ..assets import urdf_path
from ..placement import placements
from ..robot import JointCommand, ObjectPose, ResetRequest, RobotState
from ..specs import DynamicsParams, RobotSpec, SceneSpec, SpecError
from ..specs.dynamics import PER_JOINT_PARAMS
from .friction import JointFriction
from .latency import CommandDelay
from .world import World


FINGER_POSITION_GAIN = 0.1
FINGER_VELOCITY_GAIN = 1.0
"""PyBullet's default motor gains (``setJointMotorControlArray`` without gains), which the
fingers run with: the spec gives gains for the arm only."""


@dataclass
class _Body:
    """PyBullet indices of the robot: arm joints, gripper joints and links."""

    uid: int
    arm: list[int]
    gripper: list[int]
    gripper_links: list[int]
    ee_link: int
    link_masses: dict[int, float]
    movable: list[int]  # every non-fixed joint, in index order: the degrees of freedom of inverse dynamics
    joints: list[int] = field(init=False)  # the joints a state reads: the arm's, then the gripper's

    def __post_init__(self) -> None:
        self.joints = self.arm + self.gripper


def _index_robot(world: World, spec: RobotSpec) -> _Body:
    uid = world.load_urdf(urdf_path(spec), spec.base_position)
    client = world.client
    joints, links, movable = {}, {}, []
    for j in range(client.getNumJoints(uid)):
        info = client.getJointInfo(uid, j)
        joints[info[1].decode()] = j
        links[info[12].decode()] = j
        if info[2] != pybullet.JOINT_FIXED:
            movable.append(j)

    def lookup(table: dict[str, int], name: str, field: str) -> int:
        if name not in table:
            raise SpecError(spec.source, field, name, f"a name in {spec.urdf} ({', '.join(table)})")
        return table[name]

    arm = [lookup(joints, j.name, f"arm_joints[{i}].name") for i, j in enumerate(spec.arm)]
    gripper = [lookup(joints, n, "gripper.joints") for n in spec.gripper.joints]
    gripper_links = [lookup(links, n, "gripper.links") for n in spec.gripper.links]
    masses = {link: client.getDynamicsInfo(uid, link)[0] for link in range(-1, len(joints))}
    return _Body(uid, arm, gripper, gripper_links, lookup(links, spec.ee_link, "ee_link"), masses, movable)


class SimRobot:
    """A simulated arm in a table-top scene. Implements the Robot protocol.

    Dynamics (``DynamicsParams``) take effect at the next :meth:`reset`. Joint readings
    carry the encoder offset and noise of those dynamics; commands are read in the same
    (biased) encoder frame, as on a real arm with mis-calibrated encoders. ``friction``
    (joint friction with stiction, which no ``DynamicsParams`` field models) is applied
    as a joint torque at every physics step.
    """

    def __init__(self, spec: RobotSpec, scene: SceneSpec,
                 dynamics: DynamicsParams | None = None, friction: JointFriction | None = None) -> None:
        self.spec = spec
        self.scene = scene
        self.world = World(scene)
        self.control_period = self.world.control_period
        self._body = _index_robot(self.world, spec)
        self._objects: dict[str, int] = {}
        self._half_extents: dict[str, np.ndarray] = {}
        self._rng = np.random.default_rng()
        self._time = 0.0
        self._pending = dynamics or DynamicsParams()
        self._friction = friction
        self.dynamics = self._pending
        self._apply_dynamics(self._pending)

    # --- dynamics -----------------------------------------------------------------

    def set_dynamics(self, dynamics: DynamicsParams) -> None:
        """Use these dynamics from the next reset on."""
        for name in sorted(PER_JOINT_PARAMS):
            values = getattr(dynamics, name)
            if values and len(values) != self.spec.dof:
                raise ValueError(f"{name} has {len(values)} values, {self.spec.name} has {self.spec.dof} joints")
        self._pending = dynamics

    def _apply_dynamics(self, d: DynamicsParams) -> None:
        client, body = self.world.client, self._body
        for link in body.arm:
            mass = body.link_masses[link] * d.link_mass_scale
            if link == body.arm[-1]:
                mass += d.payload_mass
            client.changeDynamics(body.uid, link, mass=mass, jointDamping=d.joint_damping)
        for link in body.gripper_links:
            client.changeDynamics(body.uid, link, lateralFriction=d.finger_friction)
        # lists, not arrays: PyBullet parses Python floats much faster
        self._gains = [self.spec.position_gain * g for g in d.gain_scales(self.spec.dof)]
        self._vgains = [self.spec.velocity_gain] * self.spec.dof
        self._forces = [j.force * d.force_limit for j in self.spec.arm]
        fingers = len(body.gripper)
        # one motor command drives arm and fingers; the fingers get PyBullet's default gains
        self._motor_gains = self._gains + [FINGER_POSITION_GAIN] * fingers
        self._motor_vgains = self._vgains + [FINGER_VELOCITY_GAIN] * fingers
        self._motor_forces = self._forces + [self.spec.gripper.force * d.gripper_force] * fingers
        self._offsets = np.asarray(d.offsets(self.spec.dof))
        self._lower, self._upper = self.spec.lower, self.spec.upper
        self.dynamics = d

    def _make_objects(self, d: DynamicsParams) -> None:
        """Build fresh object bodies (fresh bodies carry no contact history: see reset)."""
        client = self.world.client
        for uid in self._objects.values():
            client.removeBody(uid)
        self._objects = {
            obj.name: self.world.make_object(obj, d.object_size_scale, obj.mass * d.object_mass_scale,
                                             obj.friction * d.object_friction_scale)
            for obj in self.scene.objects
        }
        self._half_extents = {
            o.name: np.array(o.half_extents) * d.object_size_scale for o in self.scene.objects
        }

    # --- Robot protocol ---------------------------------------------------------------

    def reset(self, request: ResetRequest | None = None, *, seed: int | None = None) -> RobotState:
        """Home pose (in encoder frame), open gripper, objects placed, dynamics applied."""
        where = placements(self.scene, request)  # refuses unknown objects before anything moves
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        if self._pending is not self.dynamics:
            self._apply_dynamics(self._pending)
        # Bullet keeps contact manifolds (and their warm-start impulses) across teleports;
        # new object bodies make every episode start from the same physics state.
        self._make_objects(self.dynamics)
        self._place_objects(where)
        home = np.asarray(self.spec.home, dtype=float)
        true_home = np.clip(home - self._offsets, self.spec.lower, self.spec.upper)
        client, body = self.world.client, self._body
        client.resetJointStatesMultiDof(body.uid, body.arm, [[q] for q in true_home], [[0.0]] * len(body.arm))
        open_cmd = JointCommand(home, self.spec.gripper.max_width)
        for joint, value in zip(body.gripper, self._gripper_targets(open_cmd.gripper), strict=True):
            client.resetJointState(body.uid, joint, value, 0.0)
        self._delay: CommandDelay[JointCommand] = CommandDelay(self.dynamics.latency_steps, open_cmd,
                                                               self.dynamics.latency_jitter, self._rng)
        self._time = 0.0
        self._gripper_target = None
        self._drive(open_cmd)
        return self._read_state()

    def apply(self, command: JointCommand) -> None:
        self._delay.push(command)

    def step(self) -> RobotState:
        self._drive(self._delay.pop())
        if self._friction is None:
            self.world.step()
        else:
            self._step_with_friction(self._friction)
        self._time += self.control_period
        return self._read_state()

    def close(self) -> None:
        self.world.close()

    # --- mid-episode state (calibration replays) -----------------------------------------

    def set_state(self, joint_positions: np.ndarray, joint_velocities: np.ndarray, gripper_width: float | None,
                  pending: Sequence[JointCommand] = (),
                  objects: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None) -> RobotState:
        """Teleport the robot mid-episode to a measured state (multiple-shooting replays).

        ``joint_positions`` (rad) are in the encoder frame, as read: the current
        dynamics' offsets are removed to get the true angles; ``joint_velocities`` in
        rad/s; the fingers are put at rest at ``gripper_width`` (m; None leaves them as
        simulated, e.g. squeezing an off-centre object). ``pending`` are the
        commands sent in the last ``latency_steps`` periods that have not reached the
        motors yet, oldest first (missing ones are taken as the oldest given). Objects
        named in ``objects`` get (position, quaternion x y z w, linear velocity), the
        others stay where they are. Dynamics and episode time are unchanged; call
        after :meth:`reset`. Returns the state as read.
        """
        client, body = self.world.client, self._body
        true_q = np.clip(np.asarray(joint_positions, dtype=float) - self._offsets, self._lower, self._upper)
        client.resetJointStatesMultiDof(body.uid, body.arm, [[q] for q in true_q],
                                        [[float(v)] for v in joint_velocities])
        if gripper_width is not None:
            for joint, value in zip(body.gripper, self._gripper_targets(gripper_width), strict=True):
                client.resetJointState(body.uid, joint, value, 0.0)
        for name, (position, orientation, velocity) in (objects or {}).items():
            uid = self._objects[name]
            client.resetBasePositionAndOrientation(uid, [float(v) for v in position], [float(v) for v in orientation])
            client.resetBaseVelocity(uid, [float(v) for v in velocity], (0.0, 0.0, 0.0))
        steps = self.dynamics.latency_steps
        queued = list(pending)[-steps:] if steps else []
        if steps and not queued:
            raise ValueError(f"latency_steps = {steps}: pass the commands still on their way in 'pending'")
        if queued:
            queued = [queued[0]] * (steps - len(queued)) + queued
        width = self._read_state().gripper_width if gripper_width is None else gripper_width
        self._delay = CommandDelay(steps, queued[0] if queued else JointCommand(np.asarray(joint_positions), width))
        for command in queued:  # shift the initial hold commands out, one period each
            self._delay.push(command)
            self._delay.pop()
        self._gripper_target = None  # recompute the finger targets with the next command
        return self._read_state()

    def holding_torques(self, joint_positions: np.ndarray, gripper_width: float) -> np.ndarray:
        """The arm's motor torques (N m) that hold it still at ``joint_positions`` (encoder
        frame, as read) against gravity, with the fingers at ``gripper_width`` (m) and
        nothing in hand: the model's inverse dynamics at rest, under the current dynamics.

        A torque-sensing arm held still reads these; where they differ, the model's
        joint angles or masses are off (``calibration.gravity``)."""
        client, body = self.world.client, self._body
        true_q = np.asarray(joint_positions, dtype=float) - self._offsets
        fingers = dict(zip(body.gripper, self._gripper_targets(gripper_width), strict=True))
        arm = dict(zip(body.arm, true_q.tolist(), strict=True))
        positions = [arm.get(j, fingers.get(j, 0.0)) for j in body.movable]
        zeros = [0.0] * len(body.movable)
        torques = client.calculateInverseDynamics(body.uid, positions, zeros, zeros)
        return np.array([torques[body.movable.index(j)] for j in body.arm])

    # --- internals ----------------------------------------------------------------------

    def _step_with_friction(self, friction: JointFriction) -> None:
        """One control period with the friction torque of the current joint velocities
        added before each physics step (PyBullet clears applied torques after a step)."""
        cid, body = self.world.id, self._body
        for _ in range(self.world.substeps):
            velocities = [s[1] for s in pybullet.getJointStates(body.uid, body.arm, physicsClientId=cid)]
            pybullet.setJointMotorControlArray(body.uid, body.arm, pybullet.TORQUE_CONTROL,
                                               forces=friction.torques(velocities).tolist(), physicsClientId=cid)
            pybullet.stepSimulation(physicsClientId=cid)

    def _place_objects(self, where: dict[str, tuple[float, float, float]]) -> None:
        s = self.scene
        for obj in s.objects:
            x, y, yaw = where[obj.name]
            z = s.table_height + self._half_extents[obj.name][2]
            self.world.place(self._objects[obj.name], x, y, z, yaw)

    def _gripper_targets(self, width: float) -> list[float]:
        drive = self.spec.gripper.drive_value(width)
        return [drive * m for m in self.spec.gripper.multipliers]

    def _drive(self, command: JointCommand) -> None:
        targets = np.minimum(np.maximum(np.asarray(command.positions) - self._offsets, self._lower), self._upper)
        if command.gripper != self._gripper_target:
            self._gripper_target = command.gripper
            self._finger_targets = self._gripper_targets(command.gripper)
        body = self._body
        pybullet.setJointMotorControlArray(
            body.uid, body.joints, pybullet.POSITION_CONTROL, targetPositions=targets.tolist() + self._finger_targets,
            positionGains=self._motor_gains, velocityGains=self._motor_vgains, forces=self._motor_forces,
            physicsClientId=self.world.id)

    def _read_state(self) -> RobotState:
        cid, body, d = self.world.id, self._body, self.dynamics
        states = pybullet.getJointStates(body.uid, body.joints, physicsClientId=cid)
        positions, velocities, _, motor_torques = zip(*states, strict=True)  # one tuple per field, arm first
        dof = len(body.arm)
        q = np.array(positions[:dof]) + self._offsets
        dq = np.array(velocities[:dof])
        if d.position_noise:
            q += self._rng.normal(0.0, d.position_noise, dof)
        if d.velocity_noise:
            dq += self._rng.normal(0.0, d.velocity_noise, dof)
        gripper = self.spec.gripper
        fingers = positions[dof:]
        drive = sum(p / m for p, m in zip(fingers, gripper.multipliers, strict=True)) / len(fingers)
        torques = np.array(motor_torques[:dof])  # the motors' torques over the last substep
        return RobotState(self._time, q, dq, float(gripper.width(drive)), self._object_poses(), torques)

    def _object_poses(self) -> dict[str, ObjectPose]:
        cid, noise = self.world.id, self.dynamics.object_position_noise
        poses = {}
        for name, uid in self._objects.items():
            pos, orn = pybullet.getBasePositionAndOrientation(uid, physicsClientId=cid)
            pos = np.array(pos)
            if noise:
                pos += self._rng.normal(0.0, noise, 3)
            poses[name] = ObjectPose(pos, np.array(orn), self._half_extents[name])
        return poses
