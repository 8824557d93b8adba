"""Excitation that handles the object: table touches and a flick, squeezes and lifts, a weighing.

- ``touch``: guarded table touches at spots spread over the workspace and a fast flick that
  sends the cube sliding on its own: its deceleration is the object-table friction (mass
  does not enter: it decelerates at mu g), and the touches stop where the table really is.
- ``lift``: the cube squeezed on the table, lifted a few centimetres at one of
  ``LIFT_SPEEDS``, held still and set down, again while the budget lasts. The squeezed
  finger width reads the grip force (the fingers press into the cube the harder, the
  stronger they squeeze); a grip short of the cube's weight lets it sink between the
  fingers, the more the faster the lift (``calibration.sinking``).
- ``weigh``: the cube squeezed, lifted slowly and held still, then set down and the same
  pose held with the hand empty: the joint torques of the two holds differ by the cube's
  weight alone (``calibration.weighing``). Needs a torque-sensing robot to be of use.
"""

from __future__ import annotations

import numpy as np

from .driver import UP, Driver

LIFT_SPEEDS = (0.15, 0.2)  # of the allowed joint speed: the lifts cycle through them
LIFT_RISE = (0.03, 0.05)  # m a lift raises the cube
LIFT_HOLD = 14  # control steps a lifted cube is held still (``still.SETTLE`` of them settle)
WEIGH_HOLD = 16  # control steps a weighing pose is held (the first few settle)
WEIGH_SPEED = 0.1  # of the allowed joint speed: a lift a slipping grip survives
SQUEEZE_STEPS = 6  # control steps the closed fingers squeeze the cube on the table
GRASP_CLEARANCE = 0.005  # m the fingertips keep above the table while squeezing
FLICK_PAST = 0.024  # m the fingers' face ends past the cube's near face in a flick (then it slides on alone)
FLICK_RUN = 0.09  # m the fingers travel in a flick, over 3 control steps
FLICK_HOLD = 8  # control steps held at the flick's end: a slow or late drive still gets there
TOUCH_CLEAR = 0.12  # m kept between a table touch and the cube


def grasp_point(d: Driver, c: np.ndarray) -> np.ndarray:
    """Where the TCP squeezes the cube perceived at ``c``: at its centre, or higher if the
    fingertips would otherwise reach within ``GRASP_CLEARANCE`` of the table."""
    lowest = d.setting.scene.table_height + d.hand.tip_below + GRASP_CLEARANCE
    return np.array([c[0], c[1], max(c[2], lowest)])


def squeeze(d: Driver, grasp: np.ndarray, yaw: float) -> None:
    """Open fingers down around ``grasp`` from 6 cm above, then close on the cube."""
    d.move_tcp(grasp + 0.06 * UP, 5, grip=d.spec.gripper.max_width, yaw=yaw)
    d.move_tcp(grasp, 4, yaw=yaw)
    d.arrive()
    d.hold(SQUEEZE_STEPS, grip=0.0)


def set_down(d: Driver, grasp: np.ndarray, yaw: float, steps: int) -> None:
    """Lower the held cube to just above ``grasp`` over ``steps``, open, and clear 6 cm up."""
    d.move_tcp(grasp + 0.003 * UP, steps, yaw=yaw)
    d.arrive()
    d.hold(3, grip=d.spec.gripper.max_width)
    d.move_tcp(grasp + 0.06 * UP, 3, yaw=yaw)


def touch(d: Driver, rng: np.random.Generator) -> None:
    """A guarded table touch behind the cube, a fast flick, then guarded touches at spread spots."""
    cube = d.object_position(d.placed)
    behind = cube[:2] - np.array([d.obj.half + d.hand.face_ahead + FLICK_RUN - FLICK_PAST, 0.0])
    top = d.setting.scene.table_height
    d.move_tcp([*behind, top + 0.12], 8, grip=0.0)
    low = d.descend(behind, top + 0.08, top - 0.06) + 0.012  # fingertips 1.2 cm above the touched table
    d.move_tcp([*behind, low], 3)
    flick = behind + np.array([FLICK_RUN, 0.0])
    d.arrive()
    d.move_tcp([*flick, low], 3)  # fast, then an abrupt stop: the cube slides on alone
    d.hold(FLICK_HOLD)
    d.move_tcp([*flick, low + 0.1], 4)
    low_xy = np.asarray(d.spec.workspace_low[:2], dtype=float) + np.array([0.05, 0.05])
    high_xy = np.asarray(d.spec.workspace_high[:2], dtype=float) - np.array([0.15, 0.05])
    while True:
        spot = rng.uniform(low_xy, high_xy)
        if np.linalg.norm(spot - cube[:2]) < TOUCH_CLEAR:
            continue
        d.move_tcp([*spot, top + 0.12], 6, yaw=rng.uniform(-0.5, 0.5))
        d.descend(spot, top + 0.08, top - 0.06)
        d.move_tcp([*spot, top + 0.12], 4)


def lift(d: Driver, rng: np.random.Generator) -> None:
    """Squeeze, lift at a graded speed, hold, set down; again while the budget lasts (``lift`` kind)."""
    while True:
        c, yaw = d.object_position(d.placed), d.object_yaw()
        grasp = grasp_point(d, c)
        squeeze(d, grasp, yaw)
        count = d.notes.get("lifts", 0)
        d.notes["lifts"] = count + 1
        pose = d.ik(grasp + rng.uniform(*LIFT_RISE) * UP, yaw=yaw)
        d.move(pose, 6, speed=LIFT_SPEEDS[count % len(LIFT_SPEEDS)])
        d.hold(LIFT_HOLD)
        set_down(d, grasp, yaw, 6)


def weigh(d: Driver, rng: np.random.Generator) -> None:
    """Hold the cube still in the air, then the same pose with the hand empty (``weigh`` kind)."""
    c, yaw = d.object_position(d.placed), d.object_yaw()
    grasp = grasp_point(d, c)
    squeeze(d, grasp, yaw)
    pose = d.ik(grasp + rng.uniform(*LIFT_RISE) * UP, yaw=yaw)  # straight up, slowly: the grip must not slip
    d.move(pose, 10, speed=WEIGH_SPEED)
    d.hold(WEIGH_HOLD)
    set_down(d, grasp, yaw, 8)
    d.move(pose, 6)
    d.hold(WEIGH_HOLD)
