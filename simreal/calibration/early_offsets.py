"""Encoder offsets read from the holding torques mid-recording, for planning the contacts after.

An offsets recording probes the table and pushes the cube where the robot believes its
hand is. With encoders centimetres off (miscalibrated: 40-50 mrad on the big joints) the
hand is not there, and by a different amount at every pose: a bias measured at one pose
missed the cube by 8 cm at another. The still postures' torques (``gravity``) pin every
offset gravity turns to about a mrad from two trajectories, so once those are recorded the
routine reads them and drives the robot through them (``EncoderCorrection``): the contacts
that follow land where planned, and what is left is the offsets gravity cannot feel (on
the Panda, the base's turn, which the pushes then measure). The recording itself keeps
the raw commands and readings; the fit does not depend on this estimate.
"""

from __future__ import annotations

import numpy as np

from ..recording import Trajectory
from ..specs import RobotSpec, SceneSpec
from .gravity import fit_gravity_offsets, holding_poses
from .trajectory_file import from_trajectories

TRUSTED_SIGMA = 0.005  # rad: an offset the torques pin this well is corrected for while recording


def early_offsets(trajectories: list[Trajectory], spec: RobotSpec, scene: SceneSpec,
                  control_period: float) -> np.ndarray | None:
    """Offsets (rad, zero where unseen or loose) from the still postures among ``trajectories``;
    None when the robot reports no torques or there are too few postures."""
    if not trajectories:
        return None
    recording = from_trajectories(trajectories, spec, control_period, [None] * len(trajectories),
                                  ["gravity"] * len(trajectories))
    gravity = fit_gravity_offsets(holding_poses(recording, spec, scene.table_height), spec, scene)
    if gravity is None:
        return None
    trusted = gravity.seen & (gravity.sigma <= TRUSTED_SIGMA)
    return np.where(trusted, gravity.offsets, 0.0) if trusted.any() else None
