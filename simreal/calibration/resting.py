"""The object while nothing touches it: its size from where it rests, its perception noise from its scatter.

An untouched object rests on the table, so its perceived centre sits its half height above
the table top: the height reads ``object_size_scale`` without a replay. And since it does
not move, the scatter of its perceived position is the perception noise itself: step
differences of a still reading have the noise's variance twice over. Untouched means the
believed TCP is at least ``AWAY`` from it and it has not moved from where the episode
started (episodes start with it placed; the hand comes to it later, if at all).
"""

from __future__ import annotations

import numpy as np

from ..kinematics import Kinematics
from .context import Context
from .estimates import Estimate
from .parameters import Coordinate
from .readings import select
from .trajectory_file import RecordedTrajectory

AWAY = 0.12  # m between the believed TCP and the object: nothing touches it
MOVED = 0.01  # m from its starting place (median of the first readings): it has been moved
HEIGHT_FLOOR = 0.0002  # m: the resting height's error floor (contact penetration, a slightly tilted rest)
CLIP = 5.0  # step differences beyond this many robust sigmas are no noise (the object was knocked)


def untouched(traj: RecordedTrajectory, kin: Kinematics) -> np.ndarray:
    """State indices at which the first object rests untouched (see the module docstring)."""
    if not traj.has_objects:
        return np.zeros(0, dtype=int)
    cube = traj.object_positions[:, 0]
    start = np.median(cube[:5], axis=0)
    tcp = np.array([kin.tcp_pose(q)[0] for q in traj.joint_positions])
    far = np.linalg.norm(tcp - cube, axis=1) > AWAY
    still = np.linalg.norm(cube - start, axis=1) < MOVED
    ok = far & still
    first_bad = np.flatnonzero(~ok)
    end = int(first_bad[0]) if len(first_bad) else len(ok)  # only before the hand first comes near
    return np.arange(end)


def _windows(context: Context) -> list[tuple[RecordedTrajectory, np.ndarray]]:
    kin = Kinematics(context.spec)
    try:
        out = []
        for i in select(context.recording, signals=("objects",)):
            traj = context.recording.trajectories[i]
            steps = untouched(traj, kin)
            if len(steps) >= 3:
                out.append((traj, steps))
        return out
    finally:
        kin.close()


def object_size(context: Context, coords: list[Coordinate]) -> list[Estimate]:
    """``object_size_scale`` from the median resting height over every untouched window."""
    (coord,) = coords
    windows = _windows(context)
    heights = np.concatenate([t.object_positions[s, 0, 2] for t, s in windows]) if windows else np.zeros(0)
    half = context.scene.objects[0].size[2] / 2
    if len(heights) < 3:
        return [Estimate(coord, 1.0, np.inf, "object size", note="no untouched object in the recording")]
    above = float(np.median(heights)) - context.scene.table_height
    noise = 1.4826 * float(np.median(np.abs(heights - np.median(heights))))
    error = np.hypot(1.2533 * noise / np.sqrt(len(heights)), HEIGHT_FLOOR)  # the median's standard error
    return [Estimate(coord, above / half, error / half, "object size")]


def object_noise(context: Context, coords: list[Coordinate]) -> list[Estimate]:
    """``object_position_noise`` from the step differences of every untouched window, per axis pooled."""
    (coord,) = coords
    diffs = [np.diff(t.object_positions[s, 0], axis=0).ravel() for t, s in _windows(context)]
    diffs = np.concatenate(diffs) if diffs else np.zeros(0)
    if len(diffs) < 10:
        return [Estimate(coord, 0.0, np.inf, "object noise", note="no untouched object in the recording")]
    robust = 1.4826 * float(np.median(np.abs(diffs)))
    kept = diffs[np.abs(diffs) <= CLIP * max(robust, 1e-9)] if robust > 0 else diffs
    level = float(np.sqrt(np.mean(kept**2) / 2))
    return [Estimate(coord, level, level / np.sqrt(len(kept)) + 1e-6, "object noise")]
