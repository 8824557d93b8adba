"""Still windows: where a recording holds one commanded pose long enough to settle.

Static readings (the joint torques of a held pose) mean something only once the arm has
stopped: a window is a run of at least ``STILL_STEPS`` unchanged arm commands, minus
its first ``SETTLE`` steps (the hold's transient). ``weighing`` and ``gravity`` read them.
"""

from __future__ import annotations

import numpy as np

from .trajectory_file import RecordedTrajectory

SETTLE = 6  # control steps a still window skips at its start (the hold's transient)
STILL_STEPS = 10  # control steps of an unchanged command that make a window


def still_runs(traj: RecordedTrajectory) -> list[tuple[int, np.ndarray]]:
    """(first command index, state indices after the transient) of each still window.

    State ``t + 1`` follows command ``t``, so the indices point at the states read while
    the command held."""
    change = np.flatnonzero(np.any(np.abs(np.diff(traj.commands, axis=0)) > 1e-9, axis=1)) + 1
    runs = []
    for start, end in zip(np.r_[0, change], np.r_[change, len(traj)], strict=True):
        if end - start >= STILL_STEPS:
            runs.append((int(start), np.arange(start + SETTLE, end) + 1))
    return runs
