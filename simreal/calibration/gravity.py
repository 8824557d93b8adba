"""The arm's masses and encoder offsets from the torques that hold it still against gravity.

An encoder offset puts the arm's true posture off the one it reads, and the motors that
hold the arm still carry the true posture's weight, whatever the drives' gains. Held at
rest in free space with the hand empty, a torque-sensing arm reads

    tau = C(q) + s A(q) + p B(q),    q = q_read - offset

where ``A`` is the load of the arm's links (``s = link_mass_scale``), ``B`` that of a
kilogram on the flange (``p = payload_mass``) and ``C`` the rest (the hand): inverse
dynamics at rest is linear in the masses, so three model evaluations give all three
(``GravityModel``). Over a few well-spread postures this pins both masses and every offset
that gravity turns, with no contact anywhere. Joints gravity cannot turn (a vertical base,
a flange whose hand has its mass on the axis) are reported unseen: other stages read them.
Any recording with torques has such postures wherever the arm rests high above the table
with the objects untouched (the ``gravity`` kind records only those; swings end in holds).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from ..kinematics import Kinematics
from ..sim import SimRobot
from ..specs import DynamicsParams, RobotSpec, SceneSpec
from .still import still_runs
from .trajectory_file import RecordedTrajectory, Recording

MASS_FIELDS = ("link_mass_scale", "payload_mass")
FREE_HEIGHT = 0.1  # m, the believed TCP at least this far above the table: nothing touches the hand
UNTOUCHED = 0.003  # m, objects within this of where they started the episode (beyond their noise): untouched
DRIFT = 0.003  # rad/s: a joint whose readings drift faster than this over a window (beyond 3 noise sigma) is moving
SATURATED = 0.95  # of a joint's torque limit: a drive this loaded is not just holding
MIN_SAMPLES = 4  # readings at rest a posture needs
REST_SAMPLES = 8  # readings a drift is judged over (fewer would let noise hide it)
MIN_POSES = 4  # still free postures a fit needs
UNFELT = 1e-3  # a joint whose torque sensitivity is below this fraction of the largest one is unseen
TORQUE_FLOOR = 0.01  # N m, the torques' scatter about the model is taken as at least this (model error)
ROBUST_SCALE = 2.0  # whitened units: misfits beyond this weigh less (soft L1): a posture not at rest cannot drag it
OUTLIER = 5.0  # a posture whose torque misfit is this many times the median one is dropped (not at rest)
PROBE = 1e-3  # rad, the finite-difference step of the torques' sensitivity to the offsets
MASS_UNITS = {"link_mass_scale": 0.1, "payload_mass": 0.1}  # the optimiser's unit per mass field


@dataclass(frozen=True)
class HoldingPose:
    """One still free posture: mean joints read (rad), mean torques (N m), finger width (m), and
    the mean joints' standard error (rad, from the readings' scatter over the window)."""

    trajectory: int
    joints: np.ndarray
    torques: np.ndarray
    width: float
    joint_error: np.ndarray | None = None


@dataclass(frozen=True)
class GravityReading:
    """Encoder offsets (rad; start values where unseen) and mass fields fitted to holding torques.

    ``covariance`` is over the fitted variables: the ``seen`` joints' offsets (rad), then
    the ``masses`` in their order (their own units)."""

    offsets: np.ndarray
    masses: dict[str, float]
    covariance: np.ndarray
    seen: np.ndarray
    poses: int
    residual_rms: float  # N m, torques the fit leaves unexplained

    @property
    def sigma(self) -> np.ndarray:
        """Per joint offset sigma (rad), infinite where unseen."""
        out = np.full(len(self.offsets), np.inf)
        k = int(self.seen.sum())
        out[self.seen] = np.sqrt(np.diag(self.covariance)[:k])
        return out

    @property
    def offset_covariance(self) -> np.ndarray:
        k = int(self.seen.sum())
        return self.covariance[:k, :k]

    def mass_sigma(self, name: str) -> float:
        k = int(self.seen.sum()) + list(self.masses).index(name)
        return float(np.sqrt(self.covariance[k, k]))

    def to_dict(self) -> dict:
        return {"offsets_rad": self.offsets.tolist(), "sigma_rad": [float(s) if np.isfinite(s) else None
                                                                   for s in self.sigma],
                "masses": {n: {"value": v, "sigma": self.mass_sigma(n)} for n, v in self.masses.items()},
                "seen": self.seen.tolist(), "poses": self.poses, "residual_rms_nm": self.residual_rms}


def holding_poses(recording: Recording, spec: RobotSpec, table_height: float = 0.0,
                  force_scale: float = 1.0) -> list[HoldingPose]:
    """Every still window (``still``) with the arm at rest (``at_rest``) and the hand free: the
    believed TCP ``FREE_HEIGHT`` above the table and every perceived object where its episode
    started (none held). ``force_scale`` scales the nominal torque limits a held posture must
    stay under (``SATURATED``): a saturated drive is not at rest, whatever its readings say."""
    kin = Kinematics(spec)
    limits = np.array([j.force for j in spec.arm]) * force_scale
    out = []
    try:
        for i, traj in enumerate(recording.trajectories):
            if not traj.has_torques:
                continue
            for _, steps in still_runs(traj):
                steps = at_rest(traj, steps, limits, recording.control_period or 0.05)
                if len(steps) < MIN_SAMPLES or _touched(traj, steps):
                    continue
                joints = traj.joint_positions[steps].mean(axis=0)
                if kin.tcp_pose(joints)[0][2] < table_height + FREE_HEIGHT:
                    continue
                error = traj.joint_positions[steps].std(axis=0, ddof=1) / np.sqrt(len(steps))
                out.append(HoldingPose(i, joints, traj.joint_torques[steps].mean(axis=0),
                                       float(traj.gripper_width[steps].mean()), error))
    finally:
        kin.close()
    return out


def _touched(traj: RecordedTrajectory, steps: np.ndarray) -> bool:
    """Whether an object has moved from where the episode started (by more than its reading noise)."""
    if not traj.has_objects:
        return False
    start = np.median(traj.object_positions[:5], axis=0)
    here = np.median(traj.object_positions[steps], axis=0)
    return bool(np.max(np.abs(here - start)) > UNTOUCHED + 3 * _scatter(traj.object_positions[:5]))


def _scatter(values: np.ndarray) -> float:
    return float(np.max(np.std(values, axis=0))) if len(values) > 1 else 0.0


def at_rest(traj: RecordedTrajectory, steps: np.ndarray, limits: np.ndarray, period: float) -> np.ndarray:
    """The longest tail of ``steps`` over which no joint's readings drift faster than ``DRIFT``
    (the slope of a line fitted to the positions, beyond three of its standard errors: noise
    averages out, unlike single velocity readings) and no drive pushes ``SATURATED`` of its limit."""
    saturated = np.any(np.abs(traj.joint_torques[steps]) >= SATURATED * limits, axis=1)
    if saturated.any():
        steps = steps[np.flatnonzero(saturated)[-1] + 1:]
    while len(steps) >= REST_SAMPLES:
        t = (steps - steps.mean()) * period
        q = traj.joint_positions[steps] - traj.joint_positions[steps].mean(axis=0)
        slope = t @ q / (t @ t)
        scatter = np.sqrt(np.sum((q - np.outer(t, slope)) ** 2, axis=0) / (len(steps) - 2) / (t @ t))
        if np.all(np.abs(slope) <= DRIFT + 3 * scatter):
            return steps
        steps = steps[max(1, len(steps) // 4):]
    return steps[:0]


class GravityModel:
    """The model's holding torques, linear in ``link_mass_scale`` and ``payload_mass``."""

    def __init__(self, spec: RobotSpec, scene: SceneSpec, dynamics: DynamicsParams | None = None) -> None:
        base = dataclasses.replace(dynamics or DynamicsParams(), joint_offset=(), link_mass_scale=1.0,
                                   payload_mass=0.0)
        self._robots = [SimRobot(spec, scene, dataclasses.replace(base, link_mass_scale=s, payload_mass=p))
                        for s, p in ((1.0, 0.0), (2.0, 0.0), (1.0, 1.0))]

    def torques(self, joints: np.ndarray, width: float, masses: dict[str, float]) -> np.ndarray:
        """Holding torques (N m) at true joints ``joints`` under the given mass fields."""
        one, two, loaded = (r.holding_torques(joints, width) for r in self._robots)
        links, payload = two - one, loaded - one
        return one + (masses["link_mass_scale"] - 1.0) * links + masses["payload_mass"] * payload

    def close(self) -> None:
        for robot in self._robots:
            robot.close()


def fit_gravity(poses: list[HoldingPose], spec: RobotSpec, scene: SceneSpec,
                dynamics: DynamicsParams | None = None, masses: tuple[str, ...] = (),
                start: np.ndarray | None = None, free: np.ndarray | None = None) -> GravityReading | None:
    """Offsets of the ``free`` joints (default: all) and the ``masses`` fields that make the model's
    holding torques match ``poses``; None with fewer than ``MIN_POSES``. ``dynamics`` supplies the
    mass fields not fitted, ``start`` the offsets (rad) to start from and to hold where not free."""
    if len(poses) < MIN_POSES:
        return None
    base = dynamics or DynamicsParams()
    model = GravityModel(spec, scene, base)
    try:
        fixed = {name: float(getattr(base, name)) for name in MASS_FIELDS}
        x0 = np.zeros(spec.dof) if start is None else np.asarray(start, dtype=float)
        free = np.ones(spec.dof, dtype=bool) if free is None else np.asarray(free, dtype=bool)
        return _Fit(poses, model, fixed, tuple(masses), free).run(x0)
    finally:
        model.close()


class _Fit:
    """Robust least squares on the torques, each posture's residuals whitened by what its noisy
    joint readings and the model error make of them; once more without a posture ``OUTLIER``
    times worse explained than the median (not at rest after all)."""

    def __init__(self, poses: list[HoldingPose], model: GravityModel, fixed: dict[str, float],
                 masses: tuple[str, ...], free: np.ndarray) -> None:
        self.poses, self.model, self.fixed, self.names, self.free = poses, model, fixed, masses, free
        self.units = np.array([MASS_UNITS[n] for n in masses])
        self.start_masses = np.array([fixed[n] for n in masses])
        self.whiten = [np.eye(len(p.torques)) / TORQUE_FLOOR for p in poses]

    def masses(self, mass_x: np.ndarray) -> dict[str, float]:
        return {**self.fixed, **dict(zip(self.names, (mass_x * self.units + self.start_masses).tolist(), strict=True))}

    def residual(self, offsets: np.ndarray, mass_x: np.ndarray) -> np.ndarray:
        """Whitened measured-minus-model torques, posture by posture."""
        masses = self.masses(mass_x)
        return np.concatenate([w @ (p.torques - self.model.torques(p.joints - offsets, p.width, masses))
                               for w, p in zip(self.whiten, self.poses, strict=True)])

    def run(self, start: np.ndarray) -> GravityReading:
        start = np.asarray(start, dtype=float)
        seen = self._seen(start)
        y = self._solve(start, seen)
        self.whiten = [self._whitening(p, *self._split(start, seen, y)) for p in self.poses]
        y = self._solve(start, seen, y)
        offsets, mass_x = self._split(start, seen, y)
        r = self.residual(offsets, mass_x).reshape(len(self.poses), -1)
        misfit = np.linalg.norm(r, axis=1)
        kept = [p for p, m in zip(self.poses, misfit, strict=True) if m <= OUTLIER * max(np.median(misfit), 1.0)]
        if MIN_POSES <= len(kept) < len(self.poses):
            return _Fit(kept, self.model, self.fixed, self.names, self.free).run(start)
        rms = float(np.sqrt(np.mean(np.concatenate([np.linalg.solve(w, row) for w, row in zip(self.whiten, r,
                                                                                                strict=True)]) ** 2)))
        masses = {n: self.masses(mass_x)[n] for n in self.names}
        return GravityReading(offsets, masses, self._covariance(start, seen, y), seen, len(self.poses), rms)

    def _whitening(self, pose: HoldingPose, offsets: np.ndarray, mass_x: np.ndarray) -> np.ndarray:
        """The inverse Cholesky factor of the posture's torque covariance: its joints' standard
        errors carried through the model's sensitivity, plus ``TORQUE_FLOOR`` squared."""
        masses = self.masses(mass_x)
        error = pose.joint_error if pose.joint_error is not None else np.zeros(len(pose.joints))
        columns = []
        for j in range(len(pose.joints)):
            h = np.zeros(len(pose.joints))
            h[j] = PROBE
            columns.append((self.model.torques(pose.joints - offsets + h, pose.width, masses)
                            - self.model.torques(pose.joints - offsets - h, pose.width, masses)) / (2 * PROBE))
        sensitivity = np.stack(columns, axis=1) * error
        covariance = sensitivity @ sensitivity.T + TORQUE_FLOOR**2 * np.eye(len(pose.joints))
        return np.linalg.inv(np.linalg.cholesky(covariance))

    def _split(self, start: np.ndarray, seen: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        offsets = start.copy()
        k = int(seen.sum())
        offsets[seen] = y[:k] * 0.01
        return offsets, y[k:]

    def _vector(self, start: np.ndarray, seen: np.ndarray):
        return lambda y: self.residual(*self._split(start, seen, y))

    def _seen(self, start: np.ndarray) -> np.ndarray:
        """Joints whose offset moves the torques at all (``UNFELT``)."""
        zero = np.zeros(len(self.names))
        columns = np.array([np.linalg.norm(self.residual(start + h, zero) - self.residual(start - h, zero))
                            for h in np.eye(len(start)) * PROBE])
        return (columns > UNFELT * columns.max()) & self.free

    def _solve(self, start: np.ndarray, seen: np.ndarray, y0: np.ndarray | None = None) -> np.ndarray:
        if y0 is None:
            y0 = np.r_[start[seen] / 0.01, np.zeros(len(self.names))]
        return least_squares(self._vector(start, seen), y0, x_scale=1.0, loss="soft_l1", f_scale=ROBUST_SCALE,
                             xtol=1e-10, ftol=1e-12, diff_step=1e-4).x

    def _covariance(self, start: np.ndarray, seen: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Gauss-Newton covariance of the fitted variables (rad for offsets, the mass fields' own
        units), widened by the whitened residual's excess over 1 where the model explains less."""
        vector = self._vector(start, seen)
        jac = np.stack([(vector(y + h) - vector(y - h)) / 2e-3 for h in np.eye(len(y)) * 1e-3], axis=1)
        r = vector(y)
        excess = max(float(r @ r) / max(len(r) - len(y), 1), 1.0)
        units = np.r_[np.full(int(seen.sum()), 0.01), self.units]
        return excess * np.linalg.pinv(jac.T @ jac) * np.outer(units, units)
