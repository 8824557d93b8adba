"""Excitation: short, seeded motions that make a robot's dynamics show in what it reports.

Free-space motion alone hides much of what calibration needs: a stiff position
controller tracks its targets whatever the link masses, and an encoder bias moves
commands and readings together. So the routine mixes four kinds of trajectory:

- ``swing``: windowed multi-sine sweeps (own frequencies per joint), minimum-jerk moves
  at varied speeds and holds at varied postures near home, so gains (tracking lag, per
  joint), force saturation, inertia, gravity load and latency show;
- ``grasp``: a guarded touch of the table (its height is known), a slow sideways push
  that lines the cube up with the closed fingers (robust to centimetres of encoder
  bias), then grasp, lift, vertical shakes of growing amplitude (in-hand slip) and wrist
  rotations: the perceived cube is an external reference for the hand's true pose;
- ``touch``: guarded table touches at several postures, then a fast flick that sends the
  cube sliding on its own (its deceleration is the object-table friction).

An opt-in second routine, ``offsets`` (``excite(..., routine="offsets")``, ``simreal record
--routine offsets``), is for encoder offsets instead. It starts with three ``gravity``
trajectories (free postures held still, hand open and empty: the torques holding them
read every offset gravity turns, see ``calibration.gravity``); from there on the robot is
driven through those offsets (``early_offsets``), so the contacts land where planned.
Then come ``push`` (slow flat pushes of the cube with the closed fingers, across the
arm's reach and back: where the cube comes to rest reads the base joint's offset, which
gravity cannot feel) and ``twist`` (slow pushes along the reach with one open finger, then
the other: they read the flange's offset, which nothing else recorded feels).
``--routine gravity`` records only the still postures, touching nothing. For an arm that
reports no torques, ``--routine contacts`` cycles ``cube`` (the hand's bias measured with
a guarded table touch and two flat pushes, kept across episodes; then a grasp of the
cube and a carry through hand poses spread in yaw, roll and pitch: the perceived cube
turns with the true hand) and ``table`` (guarded table touches at well-spread spots with
the hand yawed, rolled and pitched differently each time). The default ``dynamics``
routine is unchanged.
A third, ``object`` (``--routine object``), is for the cube and the grip: ``slide``
(closed-finger pushes square on a face that stop dead, so the cube slides free: its
stopping distance is the table friction) and ``grip`` (squeeze on the table, a gentle
lift, then vertical shakes of growing acceleration until the cube slips: friction x
force / mass). Its grip trajectories show that only force / mass acts on the cube
(``symmetry``); fitted whole, its data do worse than the default routine's so far (the
near-threshold slips make the replay cost jagged). ``weighed`` (``--routine weighed``, picked
when the object's mass and the grip force are both fitted) cycles ``grasp``, ``lift`` (the
cube squeezed on the table, lifted a few centimetres at graded speeds, held still and set
down, up to twice a trajectory: how far it sinks in the hand reads the grip, ``sinking``),
``touch`` and ``weigh`` (a slow lift held still, then the same pose empty: the torques'
difference weighs the cube, ``weighing``).

Commands are planned on the nominal kinematics from the *commanded* joints (open loop),
except that guarded descents stop on contact; everything is deterministic given a seed.
Every command is rate limited to ``SPEED_FRACTION`` of the joints' velocity limits and
kept ``SAFE_MARGIN`` inside the joint limits (``_Driver.step``), so the routine is meant
to be safe on hardware; free-space postures keep the TCP ``MIN_TCP_HEIGHT`` above the table.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import assets
from ..controllers import orientation_error
from ..kinematics import Kinematics
from ..recording import RecordingRobot
from ..robot import JointCommand, ResetRequest, Robot, RobotState
from ..specs import SceneSpec
from .correction import EncoderCorrection
from .early_offsets import early_offsets
from .trajectory_file import Recording, from_trajectories

KINDS = ("grasp", "swing", "touch", "swing")
LIMIT_MARGIN = 0.25  # rad kept from every joint limit by planned postures
SAFE_MARGIN = 0.05  # rad kept from every joint limit by any command
SPEED_FRACTION = 0.8  # of each joint's velocity limit: the fastest any command moves
MIN_JERK_PEAK = 1.875  # peak / mean speed of a minimum-jerk move
MIN_TCP_HEIGHT = 0.15  # m above the table for free-space postures
CUBE_HALF = 0.025  # m; replaced by the scene's first object when the robot reports it
POSTURE_SPREAD = (0.9, 0.5, 0.8, 0.6, 1.0, 0.6, 1.2)  # rad around home: far from self-collision
FINGER_HALF = 0.03  # m, closed fingers' half thickness along the closing axis (Panda hand)
TIP_BELOW_TCP = 0.002  # m, fingertips below the TCP (Panda hand, measured by touching)
PROBE_PRESS = 0.01  # m, commanded-below-measured TCP depth ending an ``offsets`` probe's descent
PROBE_REACH = 0.07  # m of hand bias (along a push) an ``offsets`` flat push still lines the cube up over
FACE_AHEAD = FINGER_HALF / 2  # m, closed fingers' broad face ahead of the TCP along the hand's x axis
PUSH_STEPS = 18  # control steps of an ``offsets`` flat push: slow enough that the cube stays flush
GRASP_HEIGHT = 0.015  # m, the TCP above the table when the ``offsets`` grasp closes
GRASP_STEPS = 6  # control steps the ``offsets`` grasp closes the fingers for
CARRY_SPEED = 0.5  # of the allowed joint speed: the carried cube must not slip
CARRY_HOLD = 3  # control steps held at each carried pose
UP = np.array([0.0, 0.0, 1.0])
OBJECT_KINDS = ("slide", "grip")  # the opt-in ``object`` routine's trajectories
OBJECT_CENTRE = np.array([0.45, 0.0])  # m, where ``object`` slides send the cube back towards
OBJECT_PUSH = 0.01  # m, a slide push stops with the TCP this far past the cube's near face (as the flick)
SLIDE_SPEEDS = (0.3, 0.5)  # m/s, range of the fingers' speed when a slide push stops
CLEAR_HEIGHT = 0.08  # m above the push height: the hand passes over the cube between pushes
SLIDE_SETTLE = 5  # control steps held after a slide push (the cube stops within ~0.2 s)
WEIGH_HOLD = 16  # control steps a ``weigh`` pose is held (the first few settle)
WEIGH_SPEED = 0.1  # of the allowed joint speed: a ``weigh`` lift the slippery grip survives
LIFT_SPEED = 0.15  # of the allowed joint speed: a gentle lift
SQUEEZE_STEPS = 6  # control steps the closed fingers squeeze the cube on the table
GRAVITY_HOLD = 20  # control steps a ``gravity`` posture is held (``still.SETTLE`` of them settle)
GRAVITY_SPEED = 0.5  # of the allowed joint speed: the command leads the arm less than a bridge's safety layer allows
WORKSPACE_MARGIN = 0.03  # m kept inside the declared workspace box by ``gravity`` postures
SLOW_PUSH = 0.06  # m/s, the fingers' speed in a ``push`` trajectory's push: the cube stops with them
SLOW_REACH = 0.02  # m of bias along the push a ``push`` push lines the cube up over, once measured
TIP_ASIDE = 0.053  # m from the hand's axis to an open finger's middle, along the closing axis (Panda hand)
TIP_AHEAD = 0.011  # m, an open finger's side ahead of the TCP along a push across the closing axis (Panda hand)
TIP_HOLD = 30  # control steps held after a finger push: the far finger reads 2-3 mm of encoder noise a step
TIP_BACK = 0.01  # m a finger backs off a pushed cube before the hand moves across to the other finger
TIP_HEIGHT = 0.017  # m, fingertips above the table in a finger push: the hand's underside clears the cube's top
FIRST_REACH = 0.04  # m, as much for the first push on corrected kinematics (the base's turn at full reach)
SLOW_SETTLE = 12  # control steps held at the end of a slow push: the cube at rest against the fingers, read ~10 times
LIFT_SPEEDS = (0.15, 0.2)  # of the allowed joint speed: ``lift`` lifts, brisker than a ``weigh``'s
LIFT_HOLD = 14  # control steps a lifted cube is held still (``still.SETTLE`` of them settle)
SHAKES = ((0.005, 8), (0.01, 8), (0.01, 6), (0.02, 6), (0.02, 4))  # (m, steps): ~1 to 20 m/s^2 peaks


class _Spent(Exception):
    """The trajectory's step budget is used up."""


class _Driver:
    """Sends commands one control period at a time and tracks the commanded pose.

    Every command moves each joint by at most ``SPEED_FRACTION`` of its velocity limit
    times the control period from the previous one and stays ``SAFE_MARGIN`` inside the
    joint limits, whatever a routine asks: the routines are meant to run on hardware.
    A robot driven through encoder offsets (``EncoderCorrection``) has the limits and the
    starting command of the robot's own frame, shifted into the corrected one.
    """

    def __init__(self, robot: Robot, kin: Kinematics, state: RobotState, steps: int,
                 notes: dict | None = None) -> None:
        self.robot, self.kin, self.spec = robot, kin, robot.spec
        self.notes = {} if notes is None else notes  # what a routine learnt of the robot, for its next episodes
        self.state = state
        shift = np.asarray(getattr(robot, "offsets", np.zeros(self.spec.dof)), dtype=float)
        self.q = np.asarray(self.spec.home, dtype=float) - shift
        self.grip = self.spec.gripper.max_width
        self.left = steps
        self.low = self.spec.lower + LIMIT_MARGIN - shift
        self.high = self.spec.upper - LIMIT_MARGIN - shift
        self.safe = (self.spec.lower + SAFE_MARGIN - shift, self.spec.upper - SAFE_MARGIN - shift)
        self.max_step = SPEED_FRACTION * self.spec.velocity_limits * robot.control_period

    def step(self, q: np.ndarray | None = None, grip: float | None = None) -> RobotState:
        if self.left <= 0:
            raise _Spent
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
        """Minimum-jerk joint move over at least ``steps`` periods.

        Stretched as needed so the peak joint speed stays at ``speed`` x the allowed one."""
        start = self.q.copy()
        needed = MIN_JERK_PEAK * np.max(np.abs(target - start) / self.max_step) / max(speed, 1e-3)
        steps = max(steps, int(np.ceil(needed)), 1)
        for k in range(1, steps + 1):
            self.step(start + (target - start) * _min_jerk(k / steps), grip)

    def hold(self, steps: int, grip: float | None = None) -> None:
        for _ in range(steps):
            self.step(None, grip)

    def ik(self, pos: np.ndarray, yaw: float = 0.0, iterations: int = 60) -> np.ndarray:
        """Joints (from the commanded ones) putting the TCP at ``pos``, fingers down, rotated by ``yaw``."""
        half = yaw / 2
        base = np.asarray(self.spec.grasp_orientation, dtype=float)
        desired = _quat_mul(np.array([0.0, 0.0, np.sin(half), np.cos(half)]), base)
        return _ik_pose(self, pos, desired, iterations, (self.spec.lower, self.spec.upper))

    def move_tcp(self, pos: np.ndarray, steps: int, grip: float | None = None, yaw: float = 0.0) -> None:
        self.move(self.ik(np.asarray(pos, dtype=float), yaw), steps, grip)

    def descend(self, xy: np.ndarray, z_top: float, z_bottom: float, speed: float = 0.08) -> float:
        """Guarded descent: go down until the measured TCP lags the commanded one (contact).

        Returns the measured TCP height at contact: where the table (or object) really
        is, in the robot's believed (encoder) frame."""
        z, moving, measured = z_top, 0, z_top
        while z > z_bottom:
            z -= speed * self.robot.control_period
            self.step(self.ik(np.array([xy[0], xy[1], z]), iterations=8))
            moving += 1
            measured = self.kin.tcp_pose(self.state.joint_positions)[0][2]
            if moving > 6 and measured - z > 0.01:
                break
        self.hold(2)
        self.move_tcp([xy[0], xy[1], measured + 0.01], 2)  # let go of the press
        return measured


def _min_jerk(s: float) -> float:
    """Minimum-jerk blend: 0 -> 1 with zero speed and acceleration at both ends."""
    return s**3 * (10 - 15 * s + 6 * s**2)


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array([aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz])


def _random_posture(d: _Driver, rng: np.random.Generator, reach: float) -> np.ndarray:
    """A joint posture around home within the margins, TCP clear of the table."""
    home = np.asarray(d.spec.home, dtype=float)
    spread = np.resize(POSTURE_SPREAD, d.spec.dof) * reach
    for _ in range(50):
        q = np.clip(home + rng.uniform(-spread, spread), d.low, d.high)
        if _clear(d, q):
            return q
    return home


def _clear(d: _Driver, q: np.ndarray) -> bool:
    pos = d.kin.tcp_pose(q)[0]
    return bool(pos[2] > MIN_TCP_HEIGHT and np.hypot(pos[0], pos[1]) > 0.3)


def _multisine(d: _Driver, rng: np.random.Generator, centre: np.ndarray, steps: int) -> np.ndarray:
    """Joint paths (steps, dof): a sum of three sines per joint around ``centre``.

    Each joint gets its own frequencies, so the joints' responses are told apart;
    amplitudes are cut so the peak speed stays within the allowed one, and the whole
    sum fits the posture spread. A Hann window starts and ends the path at rest at
    ``centre``."""
    dof, period = d.spec.dof, d.robot.control_period
    freq = rng.uniform(0.15, 1.2, (3, dof))  # Hz
    amp = rng.uniform(0.3, 1.0, (3, dof)) * np.resize(POSTURE_SPREAD, dof) / 3
    allowed = rng.uniform(0.3, 1.0) * d.max_step / period  # rad/s
    duration = (steps + 1) * period
    peak = np.sum(amp * (2 * np.pi * freq + np.pi / duration), axis=0)  # bounds the windowed sum's speed
    amp *= np.minimum(1.0, allowed / peak)
    time = np.arange(1, steps + 1)[:, None] * period
    window = np.sin(np.pi * time / duration) ** 2  # starts and ends at rest
    return centre + window * np.sum(amp * np.sin(2 * np.pi * freq * time[:, None]), axis=1)


def _swing(d: _Driver, rng: np.random.Generator, cube: np.ndarray) -> None:
    """Multi-sine sweeps, point-to-point moves at varied speeds and holds at varied postures.

    Sweeps show tracking lag per joint (gains, latency); fast moves and the stops after
    them show inertia and force limits; holds at different postures show the gravity
    load each joint carries (masses, payload), which soft drives reveal as sag."""
    while True:
        centre = _random_posture(d, rng, reach=rng.uniform(0.3, 0.7))
        d.move(centre, 4, speed=rng.uniform(0.3, 1.0))
        d.hold(int(rng.integers(3, 10)), grip=float(rng.choice([0.0, d.spec.gripper.max_width])))
        path = _multisine(d, rng, centre, int(rng.integers(20, 50)))
        if all(_clear(d, q) for q in path[::4]):
            for q in path:
                d.step(q)
        target = _random_posture(d, rng, reach=rng.uniform(0.5, 1.0))
        d.move(target, 2, speed=rng.uniform(0.5, 1.0))
        d.hold(int(rng.integers(4, 12)))


def _push(d: _Driver, start: np.ndarray, direction: np.ndarray, travel: float, low: float, steps: int) -> np.ndarray:
    """Closed fingers from ``start`` along ``direction`` at height ``low``, then up; returns the end point."""
    end = start + direction * travel
    d.move_tcp([*start, low + 0.06], 6, grip=0.0)
    d.move_tcp([*start, low], 3)
    d.move_tcp([*end, low], steps)
    d.move_tcp([*end, low + 0.06], 3)
    return end


def _grasp(d: _Driver, rng: np.random.Generator, cube: np.ndarray) -> None:
    """Touch, push the cube flush with the fingers along x then y, grasp, lift, shake, turn the wrist.

    The pushes overshoot the nominal contact by 6 cm, so the cube ends flush with the
    fingers even when the encoder bias puts the hand centimetres from where it thinks.
    """
    reach, ex, ey = 0.06, np.array([1.0, 0.0]), np.array([0.0, 1.0])
    behind = cube[:2] - ex * (CUBE_HALF + FINGER_HALF / 2 + reach + 0.01)
    d.move_tcp([*behind, 0.12], 6, grip=0.0)
    low = d.descend(behind, 0.08, -0.06) + 0.01  # fingertips 1 cm above the touched table
    end = _push(d, behind, ex, 2 * reach + 0.01, low, 14)
    centre_x = end[0] + FINGER_HALF / 2 + CUBE_HALF
    side = np.array([centre_x, cube[1] - CUBE_HALF - FINGER_HALF - reach])
    end = _push(d, side, ey, 2 * reach, low, 14)
    above = end + ey * (FINGER_HALF + CUBE_HALF)
    d.move_tcp([*above, low + 0.06], 4, grip=d.spec.gripper.max_width)
    d.move_tcp([*above, low + CUBE_HALF - 0.005], 4)
    d.hold(5, grip=0.0)
    lift = np.array([*above, low + 0.2])
    d.move_tcp(lift, 8)
    for amplitude in (0.01, 0.02, 0.03, 0.04):  # vertical shakes: growing acceleration
        for k in range(1, 7):
            d.step(d.ik(lift + np.array([0, 0, amplitude * np.sin(2 * np.pi * k / 6)]), iterations=10))
    home = d.q.copy()
    while True:
        wrist = home.copy()
        wrist[-3:] += rng.uniform(-0.6, 0.6, 3)
        wrist[1] += rng.uniform(-0.2, 0.2)
        d.move(np.clip(wrist, d.low, d.high), 6)
        d.hold(4)


def _touch(d: _Driver, rng: np.random.Generator, cube: np.ndarray) -> None:
    """Guarded table touches at random spots, a cube flick, then more touches."""
    tip = TIP_BELOW_TCP
    behind = cube[:2] - np.array([CUBE_HALF + FINGER_HALF + 0.05, 0.0])
    d.move_tcp([*behind, 0.12], 8, grip=0.0)
    table = d.descend(behind, 0.08, -0.06) - tip
    low = table + tip + 0.012
    d.move_tcp([*behind, low], 3)
    flick = behind + np.array([0.09, 0.0])
    d.move_tcp([*flick, low], 3)  # fast flick, then an abrupt stop: the cube slides on alone
    d.hold(4)
    d.move_tcp([*flick, low + 0.1], 4)
    while True:
        spot = np.array([rng.uniform(0.3, 0.6), rng.uniform(-0.3, 0.3)])
        if np.linalg.norm(spot - cube[:2]) < 0.12:
            continue
        d.move_tcp([*spot, 0.12], 6, yaw=rng.uniform(-0.5, 0.5))
        d.descend(spot, 0.08, -0.06)
        d.move_tcp([*spot, 0.12], 4)


def _tilted(yaw: float, roll: float, pitch: float, base: np.ndarray) -> np.ndarray:
    """``base`` (fingers down) turned by ``yaw`` about z, then tilted by ``roll`` about x and ``pitch`` about y."""
    out = _quat_mul(np.array([0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)]), base)
    out = _quat_mul(np.array([np.sin(roll / 2), 0.0, 0.0, np.cos(roll / 2)]), out)
    return _quat_mul(np.array([0.0, np.sin(pitch / 2), 0.0, np.cos(pitch / 2)]), out)


def _ik_pose(d: _Driver, pos: np.ndarray, desired: np.ndarray, iterations: int = 60,
             bounds: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Joints (from the commanded ones) putting the TCP at ``pos`` with orientation ``desired``,
    within ``bounds`` (the driver's safe margins by default)."""
    low, high = bounds if bounds is not None else (d.low, d.high)
    q = d.q.copy()
    for _ in range(iterations):
        p, o = d.kin.tcp_pose(q)
        err = np.concatenate((pos - p, orientation_error(o, desired)))
        if np.linalg.norm(err) < 1e-5:
            break
        jac = d.kin.jacobian(q)
        q = np.clip(q + jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), err), low, high)
    return q


def _probe_descent(d: _Driver, xy: np.ndarray, desired: np.ndarray, z_top: float, z_bottom: float,
                   speed: float = 0.08) -> float:
    """Guarded vertical descent at orientation ``desired``: down until the measured TCP lags
    the commanded one by ``PROBE_PRESS`` (whatever part of the hand touched), back up.
    (A 3 cm press made the replay cost smoother far from the truth but much less
    reproducible near it: 1 cm, as in the dynamics routines.)

    Returns the measured TCP height at contact (in the believed, encoder frame)."""
    measured = _guarded(d, xy, desired, z_top, z_bottom, speed, settle=6, hold=3)
    d.move(_ik_pose(d, np.array([xy[0], xy[1], measured + 0.06]), desired), 4)
    return measured


def _probe_table(d: _Driver, rng: np.random.Generator, cube: np.ndarray) -> None:
    """Guarded table touches at well-spread spots, reaches and hand tilts (opt-in ``offsets`` routine).

    Each touch stops where the table (known height) really is: with the hand yawed,
    rolled and pitched differently every time, each joint's encoder offset moves the
    contact moment observably. The cube is avoided."""
    base = np.asarray(d.spec.grasp_orientation, dtype=float)
    while True:
        spot = np.array([rng.uniform(0.3, 0.68), rng.uniform(-0.35, 0.35)])
        if np.linalg.norm(spot - cube[:2]) < 0.15:
            continue
        desired = _tilted(rng.uniform(-1.2, 1.2), rng.uniform(-0.45, 0.45), rng.uniform(-0.45, 0.45), base)
        grip = float(rng.choice([0.0, d.spec.gripper.max_width]))
        d.move(_ik_pose(d, np.array([*spot, 0.14]), desired), 5, grip=grip)
        _probe_descent(d, spot, desired, 0.12, -0.08)


def _cube_position(d: _Driver, cube: np.ndarray) -> np.ndarray:
    objects = d.state.objects
    return np.asarray(next(iter(objects.values())).position, dtype=float) if objects else cube


def _flat_push(d: _Driver, c: np.ndarray, angle: float, low: float, from_here: bool = False) -> float | None:
    """Push the cube along ``angle`` with the closed fingers' broad face square to the push.

    ``c`` is the perceived cube centre shifted into the believed frame as far as the bias
    is known; the push starts and ends ``PROBE_REACH`` farther out than the nominal contact,
    so a bias that large along it still lines the cube up. The cube ends against the face,
    so its perceived centre says where the true fingers are along the push (its yaw does
    not follow the face: in simulation it ends 0.1-0.6 rad askew). Returns that bias (true - believed, m), or None when
    the cube did not move along the push. (Pushed by the face's edge it may slide along
    the fingers' side instead: the grasp then misses, and no bias is kept.)"""
    base = np.asarray(d.spec.grasp_orientation, dtype=float)
    u = np.array([np.cos(angle), np.sin(angle)])
    desired = _tilted(_half_turn(angle), 0.0, 0.0, base)  # the closed fingers look the same turned by pi
    flush = CUBE_HALF + FACE_AHEAD
    start = c[:2] - u * (flush + PROBE_REACH + 0.02)
    end = c[:2] - u * flush + u * PROBE_REACH
    before = _cube_position(d, c)
    if not from_here:
        d.move(_ik_pose(d, np.array([*start, low + CLEAR_HEIGHT]), desired), 4, grip=0.0)
    d.move(_ik_pose(d, np.array([*start, low]), desired), 3, grip=0.0)
    d.move(_ik_pose(d, np.array([*end, low]), desired), PUSH_STEPS)
    after = _cube_position(d, c)
    d.move(_ik_pose(d, np.array([*end, low + CLEAR_HEIGHT]), desired), 3)
    moved = after[:2] - before[:2]
    if moved @ u < 0.01 or abs(moved @ np.array([-u[1], u[0]])) > 0.5 * (moved @ u):
        return None
    return float((after[:2] - end) @ u - flush)


def _half_turn(angle: float) -> float:
    return float((angle + np.pi / 2) % np.pi - np.pi / 2)


def _measure_bias(d: _Driver, rng: np.random.Generator, cube: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, float]:
    """The hand's horizontal bias (true - believed, m) and the push height (believed TCP
    height with the fingertips 1 cm above the table), from a guarded table touch and two
    flat pushes at right angles; the bias is kept in ``d.notes``. The first push goes
    towards the workspace centre, so the cube stays in reach."""
    base = np.asarray(d.spec.grasp_orientation, dtype=float)
    bias = d.notes.get("bias", np.zeros(2))
    angle = rng.uniform(-np.pi, np.pi)
    u = np.array([np.cos(angle), np.sin(angle)])
    if (np.array([0.5, 0.0]) - c[:2]) @ u < -0.02:
        angle, u = angle + np.pi, -u
    spot = c[:2] - bias - u * (CUBE_HALF + FACE_AHEAD + PROBE_REACH + 0.02)
    desired = _tilted(_half_turn(angle), 0.0, 0.0, base)
    d.move(_ik_pose(d, np.array([*spot, 0.12]), desired), 5, grip=0.0)
    table = _guarded(d, spot, desired, 0.1, -0.08) - TIP_BELOW_TCP  # the table as read: -(vertical bias)
    low = table + TIP_BELOW_TCP + 0.012  # fingertips 1 cm above the table
    d.move(_ik_pose(d, np.array([*spot, low]), desired), 2)
    for k in range(2):  # the second push at right angles, lined up by the first
        if k:
            angle += np.pi / 2 * rng.choice([-1.0, 1.0])
            u = np.array([np.cos(angle), np.sin(angle)])
        shifted = _cube_position(d, cube) - np.r_[bias, 0.0]
        bias = _note_bias(d, bias, angle, _flat_push(d, shifted, angle, low, from_here=k == 0))
    return bias, low


def _note_bias(d: _Driver, bias: np.ndarray, angle: float, along: float | None) -> np.ndarray:
    """``bias`` with its part along a push at ``angle`` replaced by what the push measured
    (``along``, None: nothing), kept in ``d.notes`` for the next pushes and episodes."""
    if along is None:
        return bias
    u = np.array([np.cos(angle), np.sin(angle)])
    d.notes["bias"] = bias + u * (along - bias @ u)
    return d.notes["bias"]


def _push_start(d: _Driver, rng: np.random.Generator, cube: np.ndarray, height: float
                ) -> tuple[np.ndarray, float, float]:
    """The known bias, the push height and the first push's reach for a run of slow pushes.

    Driven through the torques' offsets, only the base's turn is left: the bias is what
    earlier pushes measured (else a wider first push, ``FIRST_REACH``, finds it) and the
    fingertips go ``height`` above the table under the perceived cube. Otherwise
    ``_measure_bias`` measures both first."""
    c = _cube_position(d, cube)
    if d.notes.get("corrected"):
        reach = SLOW_REACH if "bias" in d.notes else FIRST_REACH
        return d.notes.get("bias", np.zeros(2)), c[2] - CUBE_HALF + TIP_BELOW_TCP + height, reach
    return (*_measure_bias(d, rng, cube, c), SLOW_REACH)


def _probe_cube(d: _Driver, rng: np.random.Generator, cube: np.ndarray) -> None:
    """Grasp the cube and carry it through spread hand poses (``offsets`` routine).

    The encoder bias puts the true hand centimetres from where the robot believes, so
    without a known bias the routine measures it first: a guarded table touch gives the
    vertical bias, and two flat pushes at right angles (the closed fingers' broad face
    square to the push) the horizontal one, from where the perceived cube ends flush
    against the face. A grasp that lifts the cube pins the bias (the perceived cube sits
    between the fingers): it is kept for the next cube trajectories (``_Driver.notes``),
    which grasp straight away. The open fingers descend guarded around the cube until the
    fingertips meet the table, close, and the held cube turns with the hand: its
    perceived orientation is the true hand's (about every axis but the closing one, about
    which it may slip), a unit-sensitivity reading of the wrist offsets that contact
    positions hardly see (the TCP lies near the last joints' axes)."""
    base = np.asarray(d.spec.grasp_orientation, dtype=float)
    c = _cube_position(d, cube)
    bias = d.notes.get("bias", np.zeros(2))
    if "bias" not in d.notes or d.notes.get("missed", False):  # measure (again) before grasping
        bias, _ = _measure_bias(d, rng, cube, c)
        d.notes["missed"] = False
        c = _cube_position(d, cube)
    yaw = _cube_yaw(d) + np.pi / 2 * np.round((rng.uniform(-1.2, 1.2) - _cube_yaw(d)) / (np.pi / 2))
    desired = _tilted(yaw, 0.0, 0.0, base)
    above = np.array([*(c[:2] - bias), 0.12])
    d.move(_ik_pose(d, above, desired), 4, grip=d.spec.gripper.max_width)
    table = _guarded(d, above[:2], desired, 0.1, -0.1) - TIP_BELOW_TCP  # fingertips on the table, around the cube
    grasp = np.array([*above[:2], table + TIP_BELOW_TCP + GRASP_HEIGHT])
    d.move(_ik_pose(d, grasp, desired), 2)
    d.hold(GRASP_STEPS, grip=0.0)
    d.move(_ik_pose(d, grasp + 0.06 * UP, desired), 4, speed=CARRY_SPEED)
    held = _cube_position(d, cube)
    d.notes["missed"] = bool(held[2] < c[2] + 0.03)  # lifted with the hand: centred between the fingers
    if not d.notes["missed"]:
        d.notes["bias"] = held[:2] - d.kin.tcp_pose(d.state.joint_positions)[0][:2]
    _carry_probe(d, rng, grasp, yaw)


def push_probe(d: _Driver, rng: np.random.Generator, cube: np.ndarray) -> None:
    """Slow flat pushes of the cube across the arm's reach, back and forth (``push`` kind, ``offsets`` routine).

    A cube pushed slowly comes to rest against the closed fingers' broad face, at the
    true hand; its perceived pose is the world's. Pushed across the radius from the base,
    the face's place along the push reads the base joint's offset at the reach's lever
    (0.5 mm per mrad), which neither gravity (the base axis is vertical) nor a carried
    cube (it turns with the whole arm) can feel. Driven through the torques' offsets, the
    hand's bias is the base's turn alone, which the first push measures (a wider one);
    otherwise ``_measure_bias`` measures it first. It is kept up to date along every push;
    the pushes turn back towards the centre line so the cube stays in reach."""
    bias, low, reach = _push_start(d, rng, cube, 0.012)
    sign = float(rng.choice([-1.0, 1.0]))
    while True:
        c = _cube_position(d, cube)
        sign = -sign if abs(c[1]) < 0.04 else -float(np.sign(c[1]))
        angle = float(np.arctan2(c[1], c[0])) + sign * np.pi / 2
        along = _slow_push(d, c - np.r_[bias, 0.0], angle, low, reach)
        here, facing = d.kin.tcp_pose(d.q)
        d.move(_ik_pose(d, here + CLEAR_HEIGHT * UP, facing), 3)
        bias, reach = _note_bias(d, bias, angle, along), SLOW_REACH


def _slow_push(d: _Driver, c: np.ndarray, angle: float, low: float, reach: float = 0.0,
               aside: float = 0.0, from_here: bool = False, hold: int = SLOW_SETTLE) -> float | None:
    """Push the cube along ``angle`` at ``SLOW_PUSH`` m/s, from ``reach`` short of the nominal
    contact to as far past it, and hold still: with the closed fingers' broad face, or
    (``aside`` != 0) with one open finger, the hand that far to the side of the cube along
    the closing axis. ``from_here``: the hand is at push height just behind the cube (the
    last push's end, backed off): it moves across without clearing the cube.

    Struck at a flat push's speed the cube slides a few millimetres ahead of the face;
    pushed this slowly it stops with it (table friction stops it within a fraction of a
    millimetre), so the rest instants that follow say where the true finger is. ``c`` is
    the perceived cube centre shifted by the known bias; returns the bias along the push
    (as ``_flat_push``), or None when the cube did not move along it."""
    base = np.asarray(d.spec.grasp_orientation, dtype=float)
    u = np.array([np.cos(angle), np.sin(angle)])
    side = np.array([-u[1], u[0]]) * aside
    desired = _tilted(_half_turn(angle), 0.0, 0.0, base)
    flush, grip = (CUBE_HALF + TIP_AHEAD, d.spec.gripper.max_width) if aside else (CUBE_HALF + FACE_AHEAD, 0.0)
    reach = reach or SLOW_REACH
    start, end = c[:2] + side - u * (flush + reach), c[:2] + side - u * flush + u * reach
    before = _cube_position(d, c)
    if from_here:
        back = d.kin.tcp_pose(d.q)[0][:2] - u * TIP_BACK
        d.move(_ik_pose(d, np.array([*back, low]), desired), 2, grip=grip)
    else:
        d.move(_ik_pose(d, np.array([*start, low + CLEAR_HEIGHT]), desired), 4, grip=grip)
    d.move(_ik_pose(d, np.array([*start, low]), desired), 3, grip=grip)
    steps = int(np.ceil(2 * reach / (SLOW_PUSH * d.robot.control_period)))
    for k in range(1, steps + 1):
        d.step(_ik_pose(d, np.array([*(start + (end - start) * k / steps), low]), desired, iterations=8))
    d.hold(hold)
    after = _cube_position(d, c)
    moved = after[:2] - before[:2]
    if moved @ u < 0.005 or abs(moved @ np.array([-u[1], u[0]])) > 0.5 * (moved @ u):
        return None
    return float((after[:2] - end) @ u - flush)


def twist_probe(d: _Driver, rng: np.random.Generator, cube: np.ndarray) -> None:
    """Slow pushes of the cube with one open finger, then the other (``twist`` kind, ``offsets`` routine).

    The hand pushes along the arm's radius with its closing axis across the push, the
    cube lined up with one finger, ``TIP_ASIDE`` from the hand's axis. The flange's offset
    turns the hand about that axis, moving the finger along the push by the lever
    (0.05 mm per mrad) and the other finger back by as much, so the pushes, by each finger
    in turn, read the one offset nothing else recorded feels: gravity cannot (the hand's
    mass is on the axis), nor the hand's position, nor a held cube (it sits askew in the
    grip, by 2-10 degrees). Between pushes the hand backs off and moves across at push
    height; the pushes go outwards when the cube is nearer the base than ``OBJECT_CENTRE``,
    else inwards. Needs the robot driven through its torques' offsets (else measures the
    bias first)."""
    start = _cube_position(d, cube)  # where it was placed: ``_push_start`` may push it first
    bias, low, reach = _push_start(d, rng, cube, TIP_HEIGHT)
    finger = float(rng.choice([-1.0, 1.0]))
    outwards = bool(np.hypot(*start[:2]) < OBJECT_CENTRE[0])
    first = True
    while True:
        c = _cube_position(d, cube)
        angle = float(np.arctan2(c[1], c[0])) + (0.0 if outwards else np.pi)  # the hand's yaw either way
        aside = finger * TIP_ASIDE * (1.0 if outwards else -1.0)  # so this is one side of the hand
        along = _slow_push(d, c - np.r_[bias, 0.0], angle, low, reach, aside=aside, from_here=not first,
                           hold=TIP_HOLD)
        bias = _note_bias(d, bias, angle, along)
        finger, reach, first = -finger, SLOW_REACH, False


def _carry_probe(d: _Driver, rng: np.random.Generator, centre: np.ndarray, yaw: float) -> None:
    """Hand poses spread in yaw, roll and pitch above ``centre`` (what the fingers hold turns with them)."""
    base = np.asarray(d.spec.grasp_orientation, dtype=float)
    while True:
        here = centre + np.array([*rng.uniform(-0.12, 0.12, 2), rng.uniform(0.08, 0.2)])
        desired = _tilted(yaw + rng.uniform(-1.2, 1.2), rng.uniform(-0.45, 0.45), rng.uniform(-0.45, 0.45), base)
        d.move(_ik_pose(d, here, desired), 6, speed=CARRY_SPEED)
        d.hold(CARRY_HOLD)


def _guarded(d: _Driver, xy: np.ndarray, desired: np.ndarray, z_top: float, z_bottom: float,
             speed: float = 0.1, settle: int = 4, hold: int = 2) -> float:
    """Guarded descent at orientation ``desired`` until the hand is blocked (``PROBE_PRESS``, checked
    after ``settle`` steps), then a ``hold``; returns the measured TCP height at contact (believed frame)."""
    z, moving, measured = z_top, 0, z_top
    while z > z_bottom:
        z -= speed * d.robot.control_period
        d.step(_ik_pose(d, np.array([xy[0], xy[1], z]), desired, iterations=8))
        moving += 1
        measured = d.kin.tcp_pose(d.state.joint_positions)[0][2]
        if moving > settle and measured - z > PROBE_PRESS:
            break
    d.hold(hold)
    return measured


def _cube_yaw(d: _Driver) -> float:
    """The perceived cube's yaw folded into [-pi/4, pi/4] (a cube looks the same every quarter turn)."""
    objects = d.state.objects
    if not objects:
        return 0.0
    x, y, z, w = next(iter(objects.values())).orientation
    yaw = float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))
    return (yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4


def _table_height(d: _Driver, cube: np.ndarray) -> float:
    """One guarded touch beside the cube: the table's height as the robot believes it."""
    spot = cube[:2] - np.array([CUBE_HALF + FINGER_HALF + 0.06, 0.0])
    d.move_tcp([*spot, 0.06], 6, grip=0.0)
    return d.descend(spot, 0.04, -0.06) - TIP_BELOW_TCP


def _slide_push(d: _Driver, c: np.ndarray, angle: float, speed: float, low: float) -> None:
    """Closed fingers run at ``speed`` (m/s) through the cube along ``angle`` and stop dead:
    the cube leaves the fingers at about that speed and slides until table friction stops it."""
    direction = np.array([np.cos(angle), np.sin(angle)])
    start = c[:2] - direction * (CUBE_HALF + FINGER_HALF + 0.03)
    end = c[:2] - direction * (CUBE_HALF - OBJECT_PUSH)
    angle = (angle + np.pi / 2) % np.pi - np.pi / 2  # closed fingers look the same turned by half a turn
    here = d.kin.tcp_pose(d.q)[0]
    d.move_tcp([here[0], here[1], low + CLEAR_HEIGHT], 3, grip=0.0, yaw=angle)  # up, so the move over
    d.move_tcp([*start, low + CLEAR_HEIGHT], 4, yaw=angle)  # cannot sweep through the cube
    d.move_tcp([*start, low], 3, yaw=angle)
    travel = float(np.linalg.norm(end - start))
    steps = max(int(np.ceil(travel / (speed * d.robot.control_period))), 1)
    for k in range(1, steps + 1):  # constant speed, then an abrupt stop (no deceleration ramp)
        d.step(d.ik(np.array([*(start + (end - start) * k / steps), low]), yaw=angle, iterations=10))
    d.hold(SLIDE_SETTLE)
    d.move_tcp([*end, low + 0.06], 3, yaw=angle)


def object_slide(d: _Driver, rng: np.random.Generator, cube: np.ndarray) -> None:
    """Fast pushes that release the cube to slide freely (opt-in ``object`` routine).

    Once the fingers stop, only table friction acts on the cube: it decelerates at
    mu g whatever its mass, so how far it slides from a known speed measures the
    object-table friction. Pushes go square on the face nearest the way back to the
    workspace centre (a corner push spins the cube, and where the next push meets it
    then hangs on that spin), at spread speeds, so the cube stays in reach."""
    low = _table_height(d, cube) + TIP_BELOW_TCP + 0.012  # fingertips 1 cm above the table
    while True:
        c = _cube_position(d, cube)
        toward = np.arctan2(*(OBJECT_CENTRE - c[:2])[::-1]) if np.linalg.norm(OBJECT_CENTRE - c[:2]) > 0.03 \
            else rng.choice([-np.pi / 2, np.pi / 2])  # sideways: a push away from the base runs out of reach
        face = _cube_yaw(d) + np.pi / 2 * np.round((toward - _cube_yaw(d)) / (np.pi / 2))
        _slide_push(d, c, face, rng.uniform(*SLIDE_SPEEDS), low)  # square on a face: no spin


def _shake(d: _Driver, centre: np.ndarray, amplitude: float, period: int, yaw: float) -> None:
    """One vertical sine cycle of ``amplitude`` (m) over ``period`` control steps."""
    for k in range(1, period + 1):
        offset = np.array([0.0, 0.0, amplitude * np.sin(2 * np.pi * k / period)])
        d.step(d.ik(centre + offset, yaw=yaw, iterations=10))


def _squeeze(d: _Driver, grasp: np.ndarray, yaw: float) -> None:
    """Open fingers down around ``grasp`` from 6 cm above, then close on the cube."""
    d.move_tcp(grasp + 0.06 * UP, 5, grip=d.spec.gripper.max_width, yaw=yaw)
    d.move_tcp(grasp, 4, yaw=yaw)
    d.hold(SQUEEZE_STEPS, grip=0.0)


def _set_down(d: _Driver, grasp: np.ndarray, yaw: float, steps: int) -> None:
    """Lower the held cube to just above ``grasp`` over ``steps``, open, and clear 6 cm up."""
    d.move_tcp(grasp + 0.003 * UP, steps, yaw=yaw)
    d.hold(3, grip=d.spec.gripper.max_width)
    d.move_tcp(grasp + 0.06 * UP, 3, yaw=yaw)


def object_grip(d: _Driver, rng: np.random.Generator, cube: np.ndarray) -> None:
    """Squeeze, lift and shake the cube at growing accelerations (opt-in ``object`` routine).

    While squeezed on the table the finger width settles where the contact balances the
    gripper's force (the force alone, not the cube's mass, sets it); in the air the grip
    holds while friction x force exceeds mass x (g + acceleration), so the shake at which
    the cube starts to slip measures friction x force / mass."""
    low = _table_height(d, cube) + TIP_BELOW_TCP + 0.012
    while True:
        c, yaw = _cube_position(d, cube), _cube_yaw(d)
        grasp = np.array([*c[:2], low + CUBE_HALF - 0.005])
        _squeeze(d, grasp, yaw)
        lifted = grasp + rng.uniform(0.04, 0.07) * UP
        d.move(d.ik(lifted, yaw=yaw), 12, speed=LIFT_SPEED)  # gently: the shakes, not the lift, should slip it
        for amplitude, period in SHAKES:
            _shake(d, lifted, amplitude * rng.uniform(0.9, 1.1), period, yaw)
        _set_down(d, grasp, yaw, 6)


def weigh(d: _Driver, rng: np.random.Generator, cube: np.ndarray) -> None:
    """Hold the cube still in the air, then the same pose with the hand empty (``weigh`` kind).

    The joint torques of the two holds differ by the cube's weight alone: the arm's own
    load cancels, and so does everything the grip does inside the hand. That difference is
    the one reading of the cube's mass that does not also scale with the grip force (see
    ``symmetry``); ``weighing.weigh`` turns it into a mass. Needs a torque-sensing robot."""
    c, yaw = _cube_position(d, cube), _cube_yaw(d)
    grasp = c.copy()  # fingers around the perceived centre: no table probe, the budget is tight
    _squeeze(d, grasp, yaw)
    pose = d.ik(grasp + rng.uniform(0.03, 0.05) * UP, yaw=yaw)  # straight up, slowly: the grip must not slip
    d.move(pose, 10, speed=WEIGH_SPEED)
    d.hold(WEIGH_HOLD)
    _set_down(d, grasp, yaw, 8)
    d.move(pose, 6)
    d.hold(WEIGH_HOLD)


def lift_probe(d: _Driver, rng: np.random.Generator, cube: np.ndarray) -> None:
    """Squeeze the cube on the table, lift it a few centimetres at one of ``LIFT_SPEEDS``,
    hold it still, set it down; again while the budget lasts (``lift`` kind).

    A grip short of the cube's weight lets it sink between the fingers during the lift,
    the more the faster the lift and the weaker the grip: the sinks at graded speeds read
    grip force x friction / mass smoothly (``sinking``), on both sides of the force that
    just holds the cube in a gentle lift. The speeds cycle over the routine's lifts."""
    while True:
        c, yaw = _cube_position(d, cube), _cube_yaw(d)
        _squeeze(d, c, yaw)
        count = d.notes.get("lifts", 0)
        d.notes["lifts"] = count + 1
        pose = d.ik(c + rng.uniform(0.03, 0.05) * UP, yaw=yaw)
        d.move(pose, 6, speed=LIFT_SPEEDS[count % len(LIFT_SPEEDS)])
        d.hold(LIFT_HOLD)
        _set_down(d, c, yaw, 6)


def hold_postures(d: _Driver, rng: np.random.Generator, cube: np.ndarray) -> None:
    """Free-space postures spread over the posture range and inside the declared workspace,
    reached at ``GRAVITY_SPEED`` and each held still with the hand open and empty
    (``gravity`` kind): the torques holding them read every encoder offset that gravity
    turns (``calibration.gravity``), with no contact at all. It runs over a bridge server
    without a safety intervention, so it is the routine to try first on an arm."""
    while True:
        d.move(_workspace_posture(d, rng, reach=rng.uniform(0.4, 0.8)), 4, grip=d.spec.gripper.max_width,
               speed=GRAVITY_SPEED)
        d.hold(GRAVITY_HOLD)


def _workspace_posture(d: _Driver, rng: np.random.Generator, reach: float) -> np.ndarray:
    """A ``_random_posture`` whose TCP also stays ``WORKSPACE_MARGIN`` inside the robot's declared
    workspace box, as a bridge server's safety layer demands (else the pose held)."""
    low = np.asarray(d.spec.workspace_low, dtype=float) + WORKSPACE_MARGIN
    high = np.asarray(d.spec.workspace_high, dtype=float) - WORKSPACE_MARGIN
    for _ in range(50):
        q = _random_posture(d, rng, reach)
        tcp = d.kin.tcp_pose(q)[0]
        if np.all((low <= tcp) & (tcp <= high)):
            return q
    return d.q.copy()


ROUTINES: dict[str, Callable[[_Driver, np.random.Generator, np.ndarray], None]] = {
    "grasp": _grasp, "swing": _swing, "touch": _touch, "cube": _probe_cube, "table": _probe_table,
    "slide": object_slide, "grip": object_grip, "weigh": weigh, "gravity": hold_postures, "push": push_probe,
    "twist": twist_probe, "lift": lift_probe}
EXCITATIONS: dict[str, tuple[str, ...]] = {  # --routine: the kinds its trajectories cycle through
    "dynamics": KINDS,
    # opt-in, for joint_offset: still postures for the torques, then slow pushes driven through their reading
    "offsets": ("gravity", "gravity", "gravity", "push", "twist", "twist", "push", "twist", "twist", "twist"),
    # opt-in, for joint_offset on an arm that reports no torques: guarded table touches, cube grasps and carries
    "contacts": ("cube", "table"),
    "object": OBJECT_KINDS,  # opt-in: slides, squeezes and shakes, for the object and grip fields
    "weighed": ("grasp", "lift", "touch", "weigh"),  # for the object and grip: lifts and a weighing for the swings
    "gravity": ("gravity",),  # opt-in: still free postures only, the offsets the torques see without a contact
}


def routine_for(fields: list[str]) -> str:
    """The excitation routine meant for fitting ``fields``: ``offsets`` when encoder offsets
    are among them (free-space motion hides them); ``weighed`` when the object's mass and
    the grip force are, which only the joint torques of a held cube tell apart (see
    ``weighing``); ``dynamics`` otherwise."""
    if "joint_offset" in fields:
        return "offsets"
    return "weighed" if {"object_mass_scale", "gripper_force"} <= set(fields) else "dynamics"


def _driven_through_torques(recorder: RecordingRobot, kinds: tuple[str, ...], scene: SceneSpec | None,
                            notes: dict) -> EncoderCorrection | None:
    """The recorder driven through the offsets its still postures so far read (``early_offsets``),
    or None without them. What the routine learnt of the hand's bias is forgotten: it was
    measured through the uncorrected encoders."""
    gravity = [t for k, t in enumerate(recorder.trajectories) if kinds[k % len(kinds)] == "gravity" and len(t)]
    offsets = early_offsets(gravity, recorder.spec, scene or assets.scene_spec("tabletop"), recorder.control_period)
    if offsets is None:
        return None
    notes.clear()
    notes["corrected"] = True
    return EncoderCorrection(recorder, offsets)


def excite(robot: Robot, trajectories: int = 10, seconds: float = 6.0, seed: int = 0,
           progress: Callable[[int, int], None] | None = None, routine: str = "dynamics",
           scene: SceneSpec | None = None) -> Recording:
    """Run ``trajectories`` excitation episodes of ``seconds`` robot time each; return them recorded.

    Kinds cycle through ``KINDS``; episode ``i`` draws its cube placement, postures and
    sensor-noise seed from ``(seed, i)``, so the same seed gives the same commands on the
    same robot. The cube sits in a fixed reachable spot with a small random offset.
    In a routine whose still postures come before contacts (``offsets``), the contacts are
    driven through the offsets those postures' torques read (``early_offsets``); ``scene``
    (default: tabletop) is the model that reading uses.
    """
    if trajectories < 1 or seconds <= 0:
        raise ValueError(f"need at least one trajectory of positive length, got {trajectories} x {seconds} s")
    if routine not in EXCITATIONS:
        raise ValueError(f"unknown excitation routine {routine!r}; choose from {', '.join(EXCITATIONS)}")
    kinds = EXCITATIONS[routine]
    recorder = RecordingRobot(robot)
    kin = Kinematics(robot.spec)
    steps = max(1, round(seconds / robot.control_period))
    placements, notes, driven = [], {}, recorder
    corrects = "gravity" in kinds and len(set(kinds)) > 1  # contacts follow the still postures
    try:
        for i in range(trajectories):
            rng = np.random.default_rng([seed, i])
            cube = np.array([0.5 + rng.uniform(-0.03, 0.03), rng.uniform(-0.05, 0.05), 0.0])
            placement = {"cube": (float(cube[0]), float(cube[1]), 0.0)}
            placements.append(placement)
            state = driven.reset(ResetRequest(placement), seed=int(rng.integers(2**31)))
            driver = _Driver(driven, kin, state, steps, notes)
            try:
                ROUTINES[kinds[i % len(kinds)]](driver, rng, cube)
            except _Spent:
                pass
            if corrects and kinds[i % len(kinds)] == "gravity" and i + 1 < trajectories:
                driven = _driven_through_torques(recorder, kinds, scene, notes) or driven
            if progress:
                progress(i + 1, trajectories)
    finally:
        kin.close()
    return from_trajectories(recorder.take(), robot.spec, robot.control_period, placements,
                             [kinds[i % len(kinds)] for i in range(trajectories)])
