"""The excitation's driver: rate- and limit-safe commands, joint moves, IK and guarded descents.

Every command moves each joint by at most ``SPEED_FRACTION`` of its velocity limit per
control period and stays ``SAFE_MARGIN`` inside the joint limits, whatever a routine
asks: the routines are meant to run on hardware. Commands are planned on the nominal
kinematics from the *commanded* joints (open loop), except that guarded descents stop on
contact. The driver also carries what the routines plan with: the hand's and the
object's geometry (``hand``), the table, and notes kept across episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from ...controllers import orientation_error
from ...kinematics import Kinematics
from ...robot import JointCommand, Robot, RobotState
from ...specs import SceneSpec
from .hand import HandGeometry, ObjectGeometry, hand_geometry, object_geometry

LIMIT_MARGIN = 0.25  # rad kept from every joint limit by planned postures
SAFE_MARGIN = 0.05  # rad kept from every joint limit by any command
SPEED_FRACTION = 0.8  # of each joint's velocity limit: the fastest any command moves
MIN_JERK_PEAK = 1.875  # peak / mean speed of a minimum-jerk move
PROBE_PRESS = 0.01  # m, commanded-below-measured TCP depth at which a guarded descent waits for the hand ...
CATCH_UP = 6  # ... this many control steps at most: a hand that has not come down is blocked
ARRIVED = 0.004  # m between the measured and the commanded TCP: the hand is where it was sent
UP = np.array([0.0, 0.0, 1.0])


class Spent(Exception):
    """The trajectory's step budget is used up."""


@dataclass(frozen=True)
class Setting:
    """What a routine plans with: the scene, the hand and the handled object (nominal size)."""

    scene: SceneSpec
    hand: HandGeometry
    obj: ObjectGeometry

    @classmethod
    def of(cls, spec: object, scene: SceneSpec) -> Setting:
        obj = object_geometry(scene)
        return cls(scene, hand_geometry(spec, obj.height), obj)


class Driver:
    """Sends commands one control period at a time and tracks the commanded pose.

    A robot driven through encoder offsets (``EncoderCorrection``) has the limits and the
    starting command of the robot's own frame, shifted into the corrected one."""

    def __init__(self, robot: Robot, kin: Kinematics, state: RobotState, steps: int, setting: Setting,
                 notes: dict | None = None) -> None:
        self.robot, self.kin, self.spec, self.setting = robot, kin, robot.spec, setting
        self.notes = {} if notes is None else notes  # what a routine learnt of the robot, for its next episodes
        self.state = state
        self.placed = np.zeros(3)  # where the episode placed the handled object (m): a fallback to perceiving it
        shift = np.asarray(getattr(robot, "offsets", np.zeros(self.spec.dof)), dtype=float)
        self.q = np.asarray(self.spec.home, dtype=float) - shift
        self.grip = self.spec.gripper.max_width
        self.left = steps
        self.low = self.spec.lower + LIMIT_MARGIN - shift
        self.high = self.spec.upper - LIMIT_MARGIN - shift
        self.safe = (self.spec.lower + SAFE_MARGIN - shift, self.spec.upper - SAFE_MARGIN - shift)
        self.max_step = SPEED_FRACTION * self.spec.velocity_limits * robot.control_period

    @property
    def hand(self) -> HandGeometry:
        return self.setting.hand

    @property
    def obj(self) -> ObjectGeometry:
        return self.setting.obj

    def step(self, q: np.ndarray | None = None, grip: float | None = None) -> RobotState:
        if self.left <= 0:
            raise Spent
        if q is not None:
            q = np.clip(q, *self.safe)
            self.q = self.q + np.clip(q - self.q, -self.max_step, self.max_step)
        if grip is not None:
            self.grip = grip
        self.robot.apply(JointCommand(self.q.copy(), float(self.grip)))
        self.state = self.robot.step()
        self.left -= 1
        return self.state

    def move(self, target: np.ndarray, steps: int, grip: float | None = None, speed: float = 1.0) -> None:
        """Minimum-jerk joint move over at least ``steps`` periods, stretched as needed so the
        peak joint speed stays at ``speed`` x the allowed one."""
        start = self.q.copy()
        needed = MIN_JERK_PEAK * np.max(np.abs(target - start) / self.max_step) / max(speed, 1e-3)
        steps = max(steps, int(np.ceil(needed)), 1)
        for k in range(1, steps + 1):
            self.step(start + (target - start) * _min_jerk(k / steps), grip)

    def hold(self, steps: int, grip: float | None = None) -> None:
        for _ in range(steps):
            self.step(None, grip)

    def arrive(self, tolerance: float = ARRIVED, most: int = CATCH_UP) -> None:
        """Hold the command until the measured TCP is within ``tolerance`` (m) of the commanded one,
        at most ``most`` steps: a slow or late drive gets there before the fingers act."""
        for _ in range(most):
            here = self.kin.tcp_pose(self.state.joint_positions)[0]
            if np.linalg.norm(here - self.kin.tcp_pose(self.q)[0]) <= tolerance:
                return
            self.step()

    def pose(self, pos: np.ndarray, desired: np.ndarray, iterations: int = 60,
             bounds: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Joints (from the commanded ones) putting the TCP at ``pos`` with orientation ``desired``
        (x, y, z, w), within ``bounds`` (the planned-posture margins by default)."""
        low, high = bounds if bounds is not None else (self.low, self.high)
        q = self.q.copy()
        for _ in range(iterations):
            p, o = self.kin.tcp_pose(q)
            err = np.concatenate((np.asarray(pos, dtype=float) - p, orientation_error(o, desired)))
            if np.linalg.norm(err) < 1e-5:
                break
            jac = self.kin.jacobian(q)
            q = np.clip(q + jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), err), low, high)
        return q

    def down(self, yaw: float = 0.0, roll: float = 0.0, pitch: float = 0.0) -> np.ndarray:
        """The fingers-down orientation turned by ``yaw`` about z, tilted by ``roll`` and ``pitch``."""
        return tilted(yaw, roll, pitch, np.asarray(self.spec.grasp_orientation, dtype=float))

    def ik(self, pos: np.ndarray, yaw: float = 0.0, iterations: int = 60) -> np.ndarray:
        """Joints putting the TCP at ``pos``, fingers down, rotated by ``yaw`` (joint-limit bounds)."""
        return self.pose(pos, self.down(yaw), iterations, (self.spec.lower, self.spec.upper))

    def move_tcp(self, pos: np.ndarray, steps: int, grip: float | None = None, yaw: float = 0.0) -> None:
        self.move(self.ik(np.asarray(pos, dtype=float), yaw), steps, grip)

    def guarded(self, xy: np.ndarray, desired: np.ndarray, z_top: float, z_bottom: float,
                speed: float = 0.1, settle: int = 4, hold: int = 2) -> float:
        """Descend at orientation ``desired`` until the hand is blocked, then hold; returns the
        measured TCP height at contact, in the believed (encoder) frame. Once the measured TCP is
        ``PROBE_PRESS`` above the commanded one (after ``settle`` steps), the command waits up to
        ``CATCH_UP`` steps: a slow or late drive comes down to it, a blocked hand does not."""
        z, measured, steps = z_top, z_top, 0
        while z > z_bottom:
            z -= speed * self.robot.control_period
            self.step(self.pose(np.array([xy[0], xy[1], z]), desired, iterations=8))
            steps += 1
            measured = self.kin.tcp_pose(self.state.joint_positions)[0][2]
            if steps > settle and measured - z > PROBE_PRESS and self._blocked(z):
                break
        self.hold(hold)
        return self.kin.tcp_pose(self.state.joint_positions)[0][2]

    def _blocked(self, z: float) -> bool:
        """Hold the command at height ``z`` until the measured TCP comes within half ``PROBE_PRESS``
        of it (False: it was only lagging) or ``CATCH_UP`` steps pass (True: blocked)."""
        for _ in range(CATCH_UP):
            self.step()
            if self.kin.tcp_pose(self.state.joint_positions)[0][2] - z <= PROBE_PRESS / 2:
                return False
        return True

    def descend(self, xy: np.ndarray, z_top: float, z_bottom: float, speed: float = 0.08) -> float:
        """A fingers-down guarded descent, then 1 cm back up; the measured TCP height at contact."""
        measured = self.guarded(xy, self.down(), z_top, z_bottom, speed, settle=6, hold=2)
        self.move_tcp([xy[0], xy[1], measured + 0.01], 2)  # let go of the press
        return measured

    def facing(self, angle: float) -> float:
        """The yaw equal to ``angle`` up to half a turn (closed fingers look the same turned by
        pi) that is closest to the hand's commanded yaw: no needless wrist turn between pushes."""
        _, orientation = self.kin.tcp_pose(self.q)
        relative = Rotation.from_quat(orientation) * Rotation.from_quat(self.spec.grasp_orientation).inv()
        matrix = relative.as_matrix()
        current = float(np.arctan2(matrix[1, 0], matrix[0, 0]))
        return current + half_turn(angle - current)

    def object_position(self, fallback: np.ndarray) -> np.ndarray:
        """The handled object's perceived position, or ``fallback`` when the robot perceives none."""
        objects = self.state.objects
        pose = objects.get(self.obj.name) if objects else None
        return np.asarray(pose.position, dtype=float) if pose is not None else np.asarray(fallback, dtype=float)

    def object_yaw(self) -> float:
        """The perceived object's yaw folded into [-pi/4, pi/4] (a cube looks the same every quarter turn)."""
        pose = (self.state.objects or {}).get(self.obj.name)
        if pose is None:
            return 0.0
        x, y, z, w = pose.orientation
        yaw = float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))
        return (yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4

    def table_touch(self, xy: np.ndarray) -> float:
        """One guarded touch at ``xy``: the table's height as the robot believes it (m)."""
        self.move_tcp([*xy, self.setting.scene.table_height + 0.06], 6, grip=0.0)
        top = self.setting.scene.table_height
        return self.descend(xy, top + 0.04, top - 0.06) - self.hand.tip_below


def _min_jerk(s: float) -> float:
    """Minimum-jerk blend: 0 -> 1 with zero speed and acceleration at both ends."""
    return s**3 * (10 - 15 * s + 6 * s**2)


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array([aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz])


def tilted(yaw: float, roll: float, pitch: float, base: np.ndarray) -> np.ndarray:
    """``base`` turned by ``yaw`` about z, then tilted by ``roll`` about x and ``pitch`` about y."""
    out = quat_mul(np.array([0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)]), base)
    out = quat_mul(np.array([np.sin(roll / 2), 0.0, 0.0, np.cos(roll / 2)]), out)
    return quat_mul(np.array([0.0, np.sin(pitch / 2), 0.0, np.cos(pitch / 2)]), out)


def half_turn(angle: float) -> float:
    """``angle`` folded into [-pi/2, pi/2): closed fingers look the same turned by half a turn."""
    return float((angle + np.pi / 2) % np.pi - np.pi / 2)
