"""Slow pushes of the object that read the encoder offsets gravity cannot feel.

A cube pushed slowly comes to rest against the fingers, at the true hand; its perceived
pose is the world's. So where it comes to rest says where the true hand is
(``calibration.geometry``):

- ``push``: the closed fingers' broad face pushes the cube across the arm's reach and back.
  The face's place along the push reads the base joint's offset at the reach's lever,
  which neither gravity (a vertical base axis) nor a carried cube (it turns with the whole
  arm) can feel.
- ``twist``: one open finger pushes the cube along the reach, then the other. The finger
  is ``finger_aside`` off the flange axis, so the flange's offset moves it along the push
  and the other finger back by as much: the one offset nothing else recorded feels.

Driven through the offsets the still postures' torques read (``early_offsets``), the
hand's bias is the base's turn alone, which the first push measures; otherwise a guarded
table touch and two flat pushes at right angles measure the hand's bias first
(``measure_bias``). The bias is kept up to date along every push (``Driver.notes``).
"""

from __future__ import annotations

import numpy as np

from .driver import UP, Driver
from .hand import TIP_CLEARANCE

PROBE_REACH = 0.07  # m of hand bias (along a push) a flat push still lines the cube up over
PUSH_STEPS = 18  # control steps of a flat push: slow enough that the cube stays flush
CLEAR_HEIGHT = 0.08  # m above the push height: the hand passes over the cube between pushes
SLOW_PUSH = 0.06  # m/s, the fingers' speed in a slow push: the cube stops with them
SLOW_REACH = 0.02  # m of bias along the push a slow push lines the cube up over, once measured
FIRST_REACH = 0.03  # m, as much for the first push on corrected kinematics (the base's turn at full reach)
SLOW_SETTLE = 10  # control steps held at the end of a slow push: the cube at rest against the fingers
TIP_HOLD = 30  # control steps held after a finger push: the far finger reads the encoders' noise at every step
TIP_BACK = 0.01  # m a finger backs off a pushed cube before the hand moves across to the other finger
TIP_ABOVE_TOP = 0.01  # m the hand's underside clears the object's top in a finger push


def spawn_centre(d: Driver) -> np.ndarray:
    """The middle of the scene's spawn area (x, y): where pushes send the object back towards."""
    scene = d.setting.scene
    return (np.asarray(scene.spawn_low, dtype=float) + np.asarray(scene.spawn_high, dtype=float)) / 2


def flat_push(d: Driver, c: np.ndarray, angle: float, low: float, from_here: bool = False) -> float | None:
    """Push the cube along ``angle`` with the closed fingers' broad face square to the push.

    ``c`` is the perceived cube centre shifted into the believed frame as far as the bias is
    known; the push starts and ends ``PROBE_REACH`` farther out than the nominal contact, so
    a bias that large along it still lines the cube up. Returns the bias along the push
    (true - believed, m), or None when the cube did not move along it."""
    u = np.array([np.cos(angle), np.sin(angle)])
    desired = d.down(d.facing(angle))
    flush = d.obj.half + d.hand.face_ahead
    start = c[:2] - u * (flush + PROBE_REACH + 0.02)
    end = c[:2] - u * flush + u * PROBE_REACH
    before = d.object_position(c)
    if not from_here:
        d.move(d.pose(np.array([*start, low + CLEAR_HEIGHT]), desired), 4, grip=0.0)
    d.move(d.pose(np.array([*start, low]), desired), 3, grip=0.0)
    d.move(d.pose(np.array([*end, low]), desired), PUSH_STEPS)
    after = d.object_position(c)
    d.move(d.pose(np.array([*end, low + CLEAR_HEIGHT]), desired), 3)
    return _along(before, after, end, u, flush, 0.01)


def _along(before: np.ndarray, after: np.ndarray, end: np.ndarray, u: np.ndarray, flush: float,
           least: float) -> float | None:
    """The bias along ``u`` a push ending at ``end`` shows, None unless the cube moved along it."""
    moved = after[:2] - before[:2]
    if moved @ u < least or abs(moved @ np.array([-u[1], u[0]])) > 0.5 * (moved @ u):
        return None
    return float((after[:2] - end) @ u - flush)


def measure_bias(d: Driver, rng: np.random.Generator, c: np.ndarray) -> tuple[np.ndarray, float]:
    """The hand's horizontal bias (true - believed, m) and the push height (believed TCP height
    with the fingertips ``TIP_CLEARANCE`` above the table), from a guarded table touch and two
    flat pushes at right angles, the first towards the spawn centre; the bias is kept in ``d.notes``."""
    bias = d.notes.get("bias", np.zeros(2))
    angle = rng.uniform(-np.pi, np.pi)
    u = np.array([np.cos(angle), np.sin(angle)])
    if (spawn_centre(d) - c[:2]) @ u < -0.02:
        angle, u = angle + np.pi, -u
    spot = c[:2] - bias - u * (d.obj.half + d.hand.face_ahead + PROBE_REACH + 0.02)
    desired = d.down(d.facing(angle))
    top = d.setting.scene.table_height
    d.move(d.pose(np.array([*spot, top + 0.12]), desired), 5, grip=0.0)
    table = d.guarded(spot, desired, top + 0.1, top - 0.08) - d.hand.tip_below  # the table as read
    low = table + d.hand.tip_below + TIP_CLEARANCE
    d.move(d.pose(np.array([*spot, low]), desired), 2)
    for k in range(2):  # the second push at right angles, lined up by the first
        if k:
            angle += np.pi / 2 * rng.choice([-1.0, 1.0])
        shifted = d.object_position(c) - np.r_[bias, 0.0]
        bias = note_bias(d, bias, angle, flat_push(d, shifted, angle, low, from_here=k == 0))
    return bias, low


def note_bias(d: Driver, bias: np.ndarray, angle: float, along: float | None) -> np.ndarray:
    """``bias`` with its part along a push at ``angle`` replaced by what the push measured
    (``along``, None: nothing), kept in ``d.notes`` for the next pushes and episodes."""
    if along is None:
        return bias
    u = np.array([np.cos(angle), np.sin(angle)])
    d.notes["bias"] = bias + u * (along - bias @ u)
    return d.notes["bias"]


def push_start(d: Driver, rng: np.random.Generator, cube: np.ndarray, clearance: float
               ) -> tuple[np.ndarray, float, float]:
    """The known bias, the push height (fingertips ``clearance`` above the table) and the
    first push's reach, for a run of slow pushes (see the module docstring)."""
    c = d.object_position(cube)
    if d.notes.get("corrected"):
        reach = SLOW_REACH if "bias" in d.notes else FIRST_REACH
        return d.notes.get("bias", np.zeros(2)), d.setting.scene.table_height + d.hand.tip_below + clearance, reach
    bias, low = measure_bias(d, rng, c)
    return bias, low - TIP_CLEARANCE + clearance, SLOW_REACH


def slow_push(d: Driver, c: np.ndarray, angle: float, low: float, reach: float = 0.0, aside: float = 0.0,
              from_here: bool = False, hold: int = SLOW_SETTLE) -> float | None:
    """Push the cube along ``angle`` at ``SLOW_PUSH`` m/s, from ``reach`` short of the nominal
    contact to as far past it, and hold still: with the closed fingers' broad face, or
    (``aside`` != 0) with one open finger, the hand that far to the side of the cube along
    the closing axis. ``from_here``: the hand is at push height just behind the cube (the last
    push's end, backed off), so it moves across without clearing the cube. Returns the bias
    along the push (as ``flat_push``), or None when the cube did not move along it."""
    u = np.array([np.cos(angle), np.sin(angle)])
    side = np.array([-u[1], u[0]]) * aside
    desired = d.down(d.facing(angle))
    if aside:
        flush, grip = d.obj.half + d.hand.finger_ahead, d.spec.gripper.max_width
    else:
        flush, grip = d.obj.half + d.hand.face_ahead, 0.0
    reach = reach or SLOW_REACH
    start, end = c[:2] + side - u * (flush + reach), c[:2] + side - u * flush + u * reach
    before = d.object_position(c)
    if from_here:
        back = d.kin.tcp_pose(d.q)[0][:2] - u * TIP_BACK
        d.move(d.pose(np.array([*back, low]), desired), 2, grip=grip)
    else:
        d.move(d.pose(np.array([*start, low + CLEAR_HEIGHT]), desired), 4, grip=grip)
    d.move(d.pose(np.array([*start, low]), desired), 3, grip=grip)
    steps = int(np.ceil(2 * reach / (SLOW_PUSH * d.robot.control_period)))
    for k in range(1, steps + 1):
        d.step(d.pose(np.array([*(start + (end - start) * k / steps), low]), desired, iterations=8))
    d.hold(hold)
    return _along(before, d.object_position(c), end, u, flush, 0.005)


def push_probe(d: Driver, rng: np.random.Generator) -> None:
    """Slow flat pushes of the cube across the arm's reach, back and forth (``push`` kind);
    the pushes turn back towards the centre line so the cube stays in reach."""
    cube = d.placed
    bias, low, reach = push_start(d, rng, cube, TIP_CLEARANCE)
    sign = float(rng.choice([-1.0, 1.0]))
    centre = spawn_centre(d)
    while True:
        c = d.object_position(cube)
        off = c[1] - centre[1]
        sign = -sign if abs(off) < 0.04 else -float(np.sign(off))
        angle = float(np.arctan2(c[1], c[0])) + sign * np.pi / 2
        along = slow_push(d, c - np.r_[bias, 0.0], angle, low, reach)
        here, facing = d.kin.tcp_pose(d.q)
        d.move(d.pose(here + CLEAR_HEIGHT * UP, facing), 3)
        bias, reach = note_bias(d, bias, angle, along), SLOW_REACH


def twist_probe(d: Driver, rng: np.random.Generator) -> None:
    """Slow pushes of the cube with one open finger, then the other (``twist`` kind): along the
    arm's radius with the closing axis across the push, outwards when the cube is nearer the
    base than the spawn centre, else inwards. Between pushes the hand backs off and moves
    across at push height, its underside ``TIP_ABOVE_TOP`` over the object's top."""
    cube = d.placed
    start = d.object_position(cube)
    clearance = max(TIP_CLEARANCE, d.obj.height + TIP_ABOVE_TOP - d.hand.underside)
    bias, low, reach = push_start(d, rng, cube, clearance)
    finger = float(rng.choice([-1.0, 1.0]))
    outwards = bool(np.hypot(*start[:2]) < np.hypot(*spawn_centre(d)))
    first = True
    while True:
        c = d.object_position(cube)
        angle = float(np.arctan2(c[1], c[0])) + (0.0 if outwards else np.pi)  # the hand's yaw either way
        aside = finger * d.hand.finger_aside * (1.0 if outwards else -1.0)  # so this is one side of the hand
        along = slow_push(d, c - np.r_[bias, 0.0], angle, low, reach, aside=aside, from_here=not first,
                          hold=TIP_HOLD)
        bias = note_bias(d, bias, angle, along)
        finger, reach, first = -finger, SLOW_REACH, False
