"""Encoder offsets from the torques that hold the arm still against gravity.

An encoder offset puts the arm's true posture off the one it reads, and the motors that
hold the arm still carry the true posture's weight. Held at rest in free space with the
hand empty, a torque-sensing arm reads

    tau = G(q_read - offset)

where ``G`` is the model's gravity load (``SimRobot.holding_torques``, under the arm's
known masses). Over a few well-spread postures this pins every offset that gravity
turns, without a contact anywhere: on the Panda, joints 1-5 to about a mrad where the
contact replay left them 5-16 mrad off. Two joints stay unseen whatever the postures: a
vertical base joint carries no gravity torque, and a flange whose hand has its mass on
the joint's axis turns nothing gravity can feel. Those stay with the replay of contacts
(``fit``). The ``gravity`` excitation kind records such holds; any recording with
torques has them wherever the arm rests high above the table with the objects untouched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from ..kinematics import Kinematics
from ..sim import SimRobot
from ..specs import DynamicsParams, RobotSpec, SceneSpec
from .still import still_runs
from .trajectory_file import RecordedTrajectory, Recording

FREE_HEIGHT = 0.1  # m, the believed TCP at least this far above the table: nothing touches the hand
UNTOUCHED = 0.003  # m, objects within this of where they started the episode: nothing was picked up
STILL_SPEED = 0.08  # rad/s: a joint read faster than this is not at rest (a saturated wrist rings for ~0.5 s)
SATURATED = 0.95  # of a joint's nominal torque limit: a drive this loaded is not just holding
MIN_SAMPLES = 4  # readings at rest a posture needs
MIN_POSES = 4  # still free postures a fit needs (7 torques each)
UNFELT = 1e-3  # a joint whose torque sensitivity is below this fraction of the largest one is unseen
TORQUE_FLOOR = 1e-3  # N m, the torque scatter is taken as at least this (a noise-free simulation)
ROBUST_SCALE = 0.02  # N m: misfits beyond this weigh less (soft L1): a posture not at rest cannot drag the fit
OUTLIER = 5.0  # a posture whose torque misfit is this many times the median one is dropped (not at rest)
PROBE = 1e-3  # rad, the finite-difference step of the torques' sensitivity
Residual = Callable[[np.ndarray], np.ndarray]  # offsets (rad) -> measured minus modelled torques (N m)


@dataclass(frozen=True)
class HoldingPose:
    """One still free posture: mean joints read (rad), mean torques (N m), finger width (m)."""

    trajectory: int
    joints: np.ndarray
    torques: np.ndarray
    width: float


@dataclass(frozen=True)
class GravityOffsets:
    """Encoder offsets (rad) of the ``seen`` joints and their covariance (rad^2, seen joints only).

    Unseen joints (gravity cannot turn them) carry the start value and an infinite sigma."""

    offsets: np.ndarray
    covariance: np.ndarray
    seen: np.ndarray
    poses: int
    residual_rms: float  # N m, torques the fitted offsets leave unexplained

    @property
    def sigma(self) -> np.ndarray:
        out = np.full(len(self.offsets), np.inf)
        out[self.seen] = np.sqrt(np.diag(self.covariance))
        return out

    def to_dict(self) -> dict:
        return {"offsets_rad": self.offsets.tolist(), "sigma_rad": [float(s) if np.isfinite(s) else None
                                                                   for s in self.sigma],
                "seen": self.seen.tolist(), "poses": self.poses, "residual_rms_nm": self.residual_rms}


def holding_poses(recording: Recording, spec: RobotSpec, table_height: float = 0.0) -> list[HoldingPose]:
    """Every still window (``still``) with the arm at rest (``_at_rest``) and the hand free:
    the believed TCP ``FREE_HEIGHT`` above the table and every perceived object where its
    episode started (none held)."""
    kin = Kinematics(spec)
    limits = np.array([j.force for j in spec.arm])
    out = []
    try:
        for i, traj in enumerate(recording.trajectories):
            if not traj.has_torques:
                continue
            for _, steps in still_runs(traj):
                steps = _at_rest(traj, steps, limits)
                if len(steps) < MIN_SAMPLES:
                    continue
                if traj.has_objects and np.max(np.abs(traj.object_positions[steps] - traj.object_positions[0])) \
                        > UNTOUCHED:
                    continue
                joints = traj.joint_positions[steps].mean(axis=0)
                if kin.tcp_pose(joints)[0][2] < table_height + FREE_HEIGHT:
                    continue
                out.append(HoldingPose(i, joints, traj.joint_torques[steps].mean(axis=0),
                                       float(traj.gripper_width[steps].mean())))
    finally:
        kin.close()
    return out


def _at_rest(traj: RecordedTrajectory, steps: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """The tail of ``steps`` from which no joint reads faster than ``STILL_SPEED`` or
    pushes ``SATURATED`` of its torque limit (a wrist ringing at its limits moves slowly)."""
    busy = ((np.abs(traj.joint_velocities[steps]) > STILL_SPEED)
            | (np.abs(traj.joint_torques[steps]) >= SATURATED * limits))
    moving = np.flatnonzero(np.any(busy, axis=1))
    return steps[moving[-1] + 1:] if len(moving) else steps


def fit_gravity_offsets(poses: list[HoldingPose], spec: RobotSpec, scene: SceneSpec,
                        dynamics: DynamicsParams | None = None,
                        start: np.ndarray | None = None) -> GravityOffsets | None:
    """Least-squares offsets that make the model's holding torques match ``poses``; None
    with fewer than ``MIN_POSES``.

    ``dynamics`` supplies the arm's masses (its offsets and noise are ignored). A joint
    gravity cannot turn (``UNFELT``) is left at ``start`` and marked unseen; the others'
    covariance comes from the torques' residual scatter."""
    if len(poses) < MIN_POSES:
        return None
    base = dataclasses.replace(dynamics or DynamicsParams(), joint_offset=())
    model = SimRobot(spec, scene, base)
    try:
        return _fit(poses, model, np.zeros(spec.dof) if start is None else np.asarray(start, dtype=float))
    finally:
        model.close()


def _fit(poses: list[HoldingPose], model: SimRobot, start: np.ndarray) -> GravityOffsets:
    """The fit, once more without any posture ``OUTLIER`` times worse explained than the median."""
    measured = np.concatenate([p.torques for p in poses])

    def residual(offsets: np.ndarray) -> np.ndarray:
        return measured - np.concatenate([model.holding_torques(p.joints - offsets, p.width) for p in poses])

    columns = np.linalg.norm(_sensitivity(residual, start), axis=0)
    seen = columns > UNFELT * columns.max()
    x = _solve(residual, start, seen)
    misfit = np.linalg.norm(residual(x).reshape(len(poses), -1), axis=1)
    kept = [p for p, m in zip(poses, misfit, strict=True) if m <= OUTLIER * max(np.median(misfit), TORQUE_FLOOR)]
    if MIN_POSES <= len(kept) < len(poses):
        return _fit(kept, model, start)
    r = residual(x)
    return GravityOffsets(x, _covariance(residual, x, seen), seen, len(poses), float(np.sqrt(np.mean(r**2))))


def _covariance(residual: Residual, x: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Gauss-Newton covariance of the seen offsets from the residual scatter (at least ``TORQUE_FLOOR``)."""
    jac = _sensitivity(residual, x)[:, seen]
    r = residual(x)
    scatter = max(float(np.sqrt(r @ r / max(len(r) - int(seen.sum()), 1))), TORQUE_FLOOR)
    return scatter**2 * np.linalg.pinv(jac.T @ jac)


def _solve(residual: Residual, x: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """``x`` with the ``seen`` offsets fitted (robust loss, ``ROBUST_SCALE``)."""
    if not seen.any():
        return x

    def partial(y: np.ndarray) -> np.ndarray:
        full = x.copy()
        full[seen] = y
        return residual(full)

    out = x.copy()
    out[seen] = least_squares(partial, x[seen], x_scale=0.01, loss="soft_l1", f_scale=ROBUST_SCALE,
                              xtol=1e-10, ftol=1e-12).x
    return out


def _sensitivity(residual: Residual, x: np.ndarray) -> np.ndarray:
    """d residual / d offset by central differences (``PROBE``), exactly zero for a joint gravity cannot turn."""
    columns = []
    for j in range(len(x)):
        step = np.zeros(len(x))
        step[j] = PROBE
        column = (residual(x + step) - residual(x - step)) / (2 * PROBE)
        columns.append(np.where(np.abs(column) > 1e-6, column, 0.0))
    return np.stack(columns, axis=1)
