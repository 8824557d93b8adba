"""Weighing a held object with the arm's joint torque sensors.

The joints and the perceived cube see the cube's mass only against the grip (a slip
depends on grip force over mass), and the position-controlled motors move the hand as
commanded whatever the cube weighs. The motors' torques do feel it. Held still at one
commanded pose, with the cube and then without it, the arm's torques differ by the
cube's weight alone, carried at its centre:

    tau_held - tau_empty = m g J_z(q, p)^T

where ``J_z`` is the vertical row of the Jacobian of the cube's centre ``p`` (a point
fixed to the hand). The arm's own load cancels, whatever its link masses, and so do the
grip's internal forces. One still pair gives one equation per joint, so ``m`` comes from
a least-squares fit over every pair found in a recording; its uncertainty is the joints'
residual scatter and the drift between the holds' halves (see ``weigh``). The ``weigh``
excitation kind records such pairs; any recording with torques and a matching pair will do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kinematics import Kinematics
from ..specs import RobotSpec
from .still import still_runs
from .trajectory_file import RecordedTrajectory, Recording

GRAVITY = 9.81  # m/s^2
SAME_POSE = 1e-3  # rad: a held and an empty window at commands this close pair up
LIFTED = 0.02  # m above where the cube rested: it is off the table
HELD = (0.02, 0.06)  # m of finger width that closes on the cube


@dataclass(frozen=True)
class Weighing:
    """A held object's mass (kg) from ``pairs`` still held/empty pairs of joint torques."""

    mass: float
    sigma: float
    pairs: int
    residual_rms: float  # N m, joint torques the fitted mass leaves unexplained


@dataclass(frozen=True)
class _Window:
    trajectory: int
    steps: np.ndarray  # state indices averaged
    command: np.ndarray
    held: bool


def still_windows(recording: Recording) -> list[_Window]:
    """Still windows (``still``), each labelled held or empty.

    Held: fingers closed on the cube and the cube ``LIFTED`` off its resting height;
    empty: fingers open or the cube on the table. Windows of neither kind are skipped."""
    out = []
    for i, traj in enumerate(recording.trajectories):
        if not (traj.has_torques and traj.has_objects):
            continue
        rest = resting_height(traj)
        for start, steps in still_runs(traj):
            height = traj.object_positions[steps, 0, 2]
            closed = bool(np.all(traj.gripper_commands[steps - 1] < 0.01))
            held = held_in_air(traj, steps, rest)
            empty = not closed and np.all(height < rest + 0.005)
            if held or empty:
                out.append(_Window(i, steps, traj.commands[start], bool(held)))
    return out


def resting_height(traj: RecordedTrajectory) -> float:
    """The first object's perceived height (m) over the trajectory's first readings, at rest on the table."""
    return float(np.median(traj.object_positions[:5, 0, 2]))


def held_in_air(traj: RecordedTrajectory, steps: np.ndarray, rest: float, lifted: float = LIFTED) -> bool:
    """Over states ``steps``: fingers commanded closed and closed on the cube (``HELD``), and the
    cube ``lifted`` above its resting height ``rest``."""
    width, height = traj.gripper_width[steps], traj.object_positions[steps, 0, 2]
    return bool(np.all(traj.gripper_commands[steps - 1] < 0.01) and np.all((HELD[0] < width) & (width < HELD[1]))
                and np.all(height > rest + lifted))


def weigh(recording: Recording, spec: RobotSpec) -> Weighing | None:
    """The held object's mass from every held/empty pair at one pose, or None without any.

    Its sigma adds to the torques' scatter the drift between the windows' first and second
    halves: a soft drive still settling biases the mean, and
    that drift is the honest size of the bias."""
    windows = still_windows(recording)
    empty = [w for w in windows if not w.held]
    pairs = [(h, [e for e in empty if np.max(np.abs(e.command - h.command)) < SAME_POSE])
             for h in windows if h.held]
    pairs = [(h, match) for h, match in pairs if match]
    if not pairs:
        return None
    kin = Kinematics(spec)
    try:
        rows = [GRAVITY * _vertical_row(kin, *_held_point(recording, h)) for h, _ in pairs]
    finally:
        kin.close()
    a = np.concatenate(rows)
    halves = [np.concatenate([_difference(recording, h, match, part) for h, match in pairs]) for part in (0, 1)]
    b = np.concatenate([_difference(recording, h, match, None) for h, match in pairs])
    mass = float(a @ b / (a @ a))
    residual = b - a * mass
    scatter = residual @ residual / max(len(b) - 1, 1) / (a @ a)
    drift = float(a @ (halves[1] - halves[0]) / (a @ a))
    return Weighing(mass, float(np.sqrt(scatter + drift**2)), len(pairs), float(np.sqrt(np.mean(residual**2))))


def _held_point(recording: Recording, held: _Window) -> tuple[np.ndarray, np.ndarray]:
    """Mean measured joints and perceived cube centre over a held window."""
    traj = recording.trajectories[held.trajectory]
    return traj.joint_positions[held.steps].mean(axis=0), traj.object_positions[held.steps, 0].mean(axis=0)


def _difference(recording: Recording, held: _Window, empty: list[_Window], half: int | None) -> np.ndarray:
    """Mean held minus mean empty joint torques, over whole windows or one ``half`` (0, 1) of each."""
    def torques(w: _Window) -> np.ndarray:
        steps = w.steps if half is None else np.array_split(w.steps, 2)[half]
        return recording.trajectories[w.trajectory].joint_torques[steps]

    return torques(held).mean(axis=0) - np.concatenate([torques(e) for e in empty]).mean(axis=0)


def _vertical_row(kin: Kinematics, q: np.ndarray, point: np.ndarray) -> np.ndarray:
    """d(point z)/dq for a point fixed to the hand: the TCP Jacobian shifted to ``point``."""
    jac = kin.jacobian(q)
    arm = np.asarray(point, dtype=float) - kin.tcp_pose(q)[0]
    linear = jac[:3] + np.cross(jac[3:].T, arm).T  # v_point = v_tcp + omega x r
    return linear[2]
