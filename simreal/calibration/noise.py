"""Sensor noise levels from what a fitted replay leaves unexplained, and the joint-noise stage.

The residual between a recording and its replay under the fitted dynamics is the sensors'
noise plus what the model still misses; differencing it step to step cancels most slowly
varying model error, and the median (MAD) ignores the few large jumps at impacts. For white
noise the difference has std sqrt(2) sigma.
"""

from __future__ import annotations

import numpy as np

from .context import Context
from .estimates import Estimate
from .gains import DRIVE_KINDS
from .parameters import Coordinate
from .readings import select

MAD = 1.4826  # MAD to std for Gaussian noise
RELATIVE_ERROR = 1.3  # a MAD-based level's relative standard error is about this over sqrt(samples)


def noise_level(recorded: list[np.ndarray], simulated: list[np.ndarray]) -> float:
    """Std of white measurement noise from the residual's step-to-step differences (MAD)."""
    diffs = np.concatenate([np.diff(r - s, axis=0).ravel() for r, s in zip(recorded, simulated, strict=True)])
    if diffs.size == 0:
        return 0.0
    return float(MAD * np.median(np.abs(diffs)) / np.sqrt(2.0))


def shared_noise_level(recorded: list[np.ndarray], simulated: list[np.ndarray]) -> tuple[float, int]:
    """Std of white noise shared by every column (joint), and the samples it rests on: the lower
    quartile of the columns' ``noise_level``s.

    One encoder spec serves every joint, and model error only adds to a joint's step
    differences: at contacts and restarts a light wrist rings, so its differences read high
    even when replaying the truth. The least contaminated joints bound the noise best; the
    quartile, not the minimum, keeps one joint's sampling luck from biasing it low."""
    samples = sum(max(len(r) - 1, 0) for r in recorded)
    columns = recorded[0].shape[1] if recorded and recorded[0].ndim == 2 else 0
    if columns < 4:
        return noise_level(recorded, simulated), samples * max(columns, 1)
    per_column = [noise_level([r[:, j] for r in recorded], [s[:, j] for s in simulated]) for j in range(columns)]
    return float(np.percentile(per_column, 25)), samples


def joint_noise(context: Context, coords: list[Coordinate]) -> list[Estimate]:
    """``position_noise`` and ``velocity_noise`` from the drives' trajectories replayed under every
    estimate so far (the drives settled)."""
    indices = select(context.recording, DRIVE_KINDS, any_kind=True)
    if not indices:
        return [Estimate(c, 0.0, np.inf, "joint noise", note="no trajectory to replay") for c in coords]
    sims = context.replay(context.dynamics, indices)
    trajectories = [context.recording.trajectories[i] for i in indices]
    out = []
    for c in coords:
        field = "joint_positions" if c.name == "position_noise" else "joint_velocities"
        level, samples = shared_noise_level([getattr(t, field) for t in trajectories],
                                            [getattr(s, field) for s in sims])
        level = min(level, c.high)
        out.append(Estimate(c, level, RELATIVE_ERROR * level / np.sqrt(max(samples, 1)), "joint noise"))
    return out
