"""The drives' torque limit from the torques themselves: a saturated drive reads its limit.

``force_limit`` scales every arm joint's torque limit alike, so no joint's torque can exceed
that scale times its nominal limit: the largest ratio of a joint's peak torque magnitude to
its nominal limit bounds the scale from below, and equals it when that joint saturated. A
drive asked for more than its limit delivers the limit again and again, at different moves,
so its peak recurs in ``RUNS`` separate runs of readings (within ``SAME``); a posture held
still at a large gravity load recurs in one run only. With no such joint the scale is
unseen (the recording only bounds it), and the field is reported not identifiable.
"""

from __future__ import annotations

import numpy as np

from .context import Context
from .estimates import Estimate
from .parameters import Coordinate
from .readings import select

RUNS = 2  # separate runs of readings at the peak that show a saturated drive
SAME = 0.002  # relative: readings this close to a joint's peak sit on its plateau
FLOOR = 0.002  # relative sigma floor of a plateau's level (the limit is read, not fitted)


def _runs(at_peak: np.ndarray) -> int:
    """Number of separate runs of True in a boolean sequence."""
    return int(np.sum(np.diff(np.r_[0, at_peak.astype(int)]) == 1))


def plateaus(context: Context) -> tuple[np.ndarray, np.ndarray]:
    """Per joint: the peak torque magnitude (N m) and whether it recurs in ``RUNS`` separate runs."""
    recording = context.recording
    torques = [np.abs(recording.trajectories[i].joint_torques) for i in select(recording, signals=("torques",))]
    if not torques:
        return np.zeros(context.spec.dof), np.zeros(context.spec.dof, dtype=bool)
    peak = np.max([t.max(axis=0) for t in torques], axis=0)
    runs = sum(np.array([_runs(t[:, j] >= peak[j] * (1 - SAME)) for j in range(t.shape[1])]) for t in torques)
    return peak, (runs >= RUNS) & (peak > 0)


def estimate(context: Context, coords: list[Coordinate]) -> list[Estimate]:
    (coord,) = coords
    nominal = np.array([j.force for j in context.spec.arm])
    peak, saturated = plateaus(context)
    ratios = peak / nominal
    bound = float(ratios.max()) if len(ratios) else 0.0
    limiting = ratios >= bound * (1 - SAME)  # the joints that reach the bound
    context.notes["torque limits"] = {"lower_bound": bound, "saturated_joints": np.flatnonzero(
        saturated & limiting).tolist()}
    if not (saturated & limiting).any():
        return [Estimate(coord, 1.0, np.inf, "torque limits",
                         note=f"no drive saturated: the limit is at least {bound:.3g} x nominal")]
    return [Estimate(coord, bound, bound * FLOOR, "torque limits")]
