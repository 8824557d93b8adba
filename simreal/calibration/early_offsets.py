"""Encoder offsets read from the holding torques mid-recording, for planning the contacts after.

An offsets recording probes the table and pushes the cube where the robot believes its
hand is. With encoders off by tens of mrad on the big joints the hand is centimetres from
there, and by a different amount at every pose, so a bias measured at one pose misses the
cube at another. The still postures' torques (``gravity``) pin every
offset gravity turns to about a mrad, so once those are recorded the routine reads them
(with the arm's masses, which a payload changes) and drives the robot through them
(``EncoderCorrection``): the contacts that follow land where planned, and what is left is
the offsets gravity cannot feel (a vertical base's turn, which the pushes then measure). The recording itself keeps
the raw commands and readings; the fit does not depend on this estimate.
"""

from __future__ import annotations

import numpy as np

from ..recording import Trajectory
from ..specs import RobotSpec, SceneSpec
from .gravity import MASS_FIELDS, fit_gravity, holding_poses
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
    gravity = fit_gravity(holding_poses(recording, spec, scene.table_height), spec, scene, masses=MASS_FIELDS)
    if gravity is None:
        return None
    trusted = gravity.seen & (gravity.sigma <= TRUSTED_SIGMA)
    return np.where(trusted, gravity.offsets, 0.0) if trusted.any() else None
