"""How a replay differs from a recording: scaled residual vectors, robust costs, summaries.

Each reading is scaled by a size that counts as one unit of misfit: joint positions per
1 cm-rad (``JOINT_SCALE``), gripper width and perceived object positions per 5 mm, a
held or pushed cube's orientation per 20 mrad. The robust soft-L1 loss (``robust``) keeps
the few large misfits of contact moments and saturated wrists from dominating.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial.transform import Rotation

from .replay import Simulated
from .trajectory_file import RecordedTrajectory

JOINT_SCALE = 0.01  # rad per residual unit
VELOCITY_SCALE = 0.1  # rad/s per residual unit
OBJECT_SCALE = 0.005  # m per residual unit
ORIENTATION_SCALE = 0.02  # rad per residual unit of the perceived cube's orientation
GRIPPER_SCALE = 0.005  # m per residual unit
LOSS_SCALE = 1.0  # residual units beyond which the soft-L1 loss grows linearly
ON_TABLE, ON_TABLE_SAMPLES = 0.005, 10  # m above the cube's height over the first samples: still on the table
Pairs = Sequence[tuple[RecordedTrajectory, Simulated]]


def robust(r: np.ndarray) -> np.ndarray:
    """The soft-L1 loss ``scipy.optimize.least_squares`` applies, per entry."""
    z = (np.asarray(r) / LOSS_SCALE) ** 2
    return 2 * LOSS_SCALE**2 * (np.sqrt(1 + z) - 1)


def residuals(pairs: Pairs, channels: tuple[str, ...] = ("joints", "gripper", "objects")
              ) -> tuple[np.ndarray, np.ndarray]:
    """Scaled residual vector over ``channels`` and, per entry, the index of its trajectory.

    Channels: ``joints``, ``velocities`` (joint velocities), ``gripper`` (width), ``objects``
    (perceived positions), ``orientation`` (perceived orientations, up to the cube's quarter
    turns), ``sliding`` (object positions while the object is on the table)."""
    parts, owners = [], []
    for i, (traj, sim) in enumerate(pairs):
        chunk = [part for name in channels if (part := _channel(name, traj, sim)) is not None]
        flat = np.concatenate(chunk) if chunk else np.zeros(0)
        parts.append(flat)
        owners.append(np.full(len(flat), i))
    if not parts:
        return np.zeros(0), np.zeros(0, dtype=int)
    return np.concatenate(parts), np.concatenate(owners)


def _channel(name: str, traj: RecordedTrajectory, sim: Simulated) -> np.ndarray | None:
    if name == "joints":
        return ((sim.joint_positions - traj.joint_positions) / JOINT_SCALE).ravel()
    if name == "velocities":
        return ((sim.joint_velocities - traj.joint_velocities) / VELOCITY_SCALE).ravel()
    if name == "gripper":
        return ((sim.gripper_width - traj.gripper_width) / GRIPPER_SCALE).ravel()
    if not traj.has_objects or sim.object_positions.shape != traj.object_positions.shape:
        return None
    if name == "objects":
        return ((sim.object_positions - traj.object_positions) / OBJECT_SCALE).ravel()
    if name == "orientation":
        return (orientation_error(sim.object_orientations, traj.object_orientations) / ORIENTATION_SCALE).ravel()
    if name == "sliding":
        height = traj.object_positions[:, :, 2]
        on_table = height < np.median(height[:ON_TABLE_SAMPLES], axis=0) + ON_TABLE
        return ((sim.object_positions - traj.object_positions) / OBJECT_SCALE)[on_table].ravel()
    raise ValueError(f"unknown residual channel {name!r}")


def joint_costs(pairs: Pairs) -> np.ndarray:
    """Robust cost of the scaled joint residuals, per joint (each joint's own readings)."""
    return sum(np.sum(robust((s.joint_positions - t.joint_positions) / JOINT_SCALE), axis=0) for t, s in pairs)


def _matrices(quaternions: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of unit quaternions (..., 4) given as (x, y, z, w)."""
    q = np.asarray(quaternions, dtype=float)
    return Rotation.from_quat(q.reshape(-1, 4)).as_matrix().reshape(*q.shape[:-1], 3, 3)


def orientation_error(simulated: np.ndarray, recorded: np.ndarray) -> np.ndarray:
    """Small-angle rotation (..., 3, rad, in the recorded object's frame) from the recorded to
    the simulated orientation, up to the cube's symmetry: each simulated axis is matched to
    the recorded axis it lies closest to, so quarter turns cost nothing. Large errors come out
    distorted but bounded, as the robust loss needs."""
    relative = np.swapaxes(_matrices(recorded), -1, -2) @ _matrices(simulated)
    best = np.argmax(np.abs(relative), axis=-1)
    signs = np.sign(np.take_along_axis(relative, best[..., None], axis=-1))
    match = np.zeros_like(relative)
    np.put_along_axis(match, best[..., None], signs, axis=-1)
    aligned = relative @ np.swapaxes(match, -1, -2)
    return 0.5 * np.stack([aligned[..., 2, 1] - aligned[..., 1, 2], aligned[..., 0, 2] - aligned[..., 2, 0],
                           aligned[..., 1, 0] - aligned[..., 0, 1]], -1)


def summary(pairs: Pairs) -> dict[str, float]:
    """RMS joint error (rad) and RMS object position error (m) over all samples."""
    if not pairs:
        return {"joint_rms_rad": 0.0}
    joints = np.concatenate([(s.joint_positions - t.joint_positions).ravel() for t, s in pairs])
    objects = [(s.object_positions - t.object_positions).ravel() for t, s in pairs
               if t.has_objects and s.object_positions.shape == t.object_positions.shape]
    out = {"joint_rms_rad": float(np.sqrt(np.mean(joints**2)))}
    if objects:
        out["object_rms_m"] = float(np.sqrt(np.mean(np.concatenate(objects) ** 2)))
    return out
