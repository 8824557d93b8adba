"""A geometric first guess for encoder offsets: where the recording says the hand touched.

A guarded probe ends blocked: the measured TCP stays above the commanded one because
the hand rests on the table (or the cube), and closed fingers read wider than commanded
because they hold the cube. At those instants the true hand touches something of known
place (the table top from the scene, the cube at its perceived world pose), so with the
right offsets the simulated hand, posed at ``measured - offset``, lies at distance ~0
from it. That distance is smooth in the offsets over centimetres, unlike the dynamic
replay (whose contacts simply miss until the offsets are within about a centimetre of
the truth), so a static least-squares fit of it starts the dynamic fit in its basin.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from ..kinematics import Kinematics
from ..sim import SimRobot
from ..specs import DynamicsParams, RobotSpec, SceneSpec
from .context import Context
from .estimates import Estimate
from .parameters import Coordinate
from .trajectory_file import RecordedTrajectory, Recording

BLOCKED = 0.006  # m, measured TCP above the commanded one: the hand rests on something ...
NEAR = 0.1  # m: ... if it is this close above the table (the object's height, the fingers and a bias)
PUSHED = 0.03  # m/s, perceived cube speed: something pushes it
SETTLED = 0.02  # m/s, perceived cube speed at rest again after a push
PUSH_WINDOW = 32  # control steps a push's end looks back for the cube moving (a finger push holds 30)
STOPPED = 0.1  # rad/s, fastest joint: the hand has stopped
FOLLOW = 0.005  # m: a pushed cube moved with the hand before it stopped (and farther than this); 3 readings a side
FOLLOW_STEPS = 4  # control steps before the cube stopped over which it moved with the hand
STILL = 0.001  # m over two steps: the hand (or the fingers) stopped
DESCENT = 0.01  # m per step, at most: a slow guarded descent, not a move
HELD, HELD_MAX = 0.02, 0.06  # m, closed fingers stopped this wide hold the object
REACH = 0.1  # m, farthest distance a contact query looks
MAX_INSTANTS = {"touch": 60, "push": 60, "tip": 100, "hold": 20}  # contact instants used per kind, evenly thinned
LIFTED = 0.01  # m above where the cube first rested: it is held up, not pushed
TURN_SCALE = 0.005  # rad per residual unit of a carried cube's turn against the hand (noise ~6 mrad at the truth)
SLIP = 0.0004  # m of width change: the cube slipped in the grip, a new carry segment starts
TURNED = 0.1  # rad a carried object must turn for its segment to read the offsets
PRIOR = 0.3  # residual units (mm) per 10 mrad of offset: what the contacts cannot see stays near 0
UNPINNED = 0.02  # rad: a free joint the contacts pin no better than this is left at its start
EVENT_GAP = 10  # control steps: instants of a kind this close (after thinning) belong to one contact
CONTACT_FLOOR = 0.0001  # m, a contact kind's scatter is at least this (a pushed cube's rest repeats to ~0.1 mm)
DEPTH_SPREAD = 1.0  # mm: how far a kind's contact depth may stray from 0 (a single contact still reads the offsets)
FIT_NFEV = 10  # least-squares steps per fit (each one Jacobian of contact queries): it starts near the answer


def contact_instants(recording: Recording, spec: RobotSpec, table_height: float = 0.0) -> list[tuple[int, int, str]]:
    """(trajectory, step, kind) of blocked ('touch'), pushing ('push', 'tip') and holding ('hold')
    readings. A blocked hand must be within ``NEAR`` of the table (at ``table_height``): a slow
    drive lagging a descending command in free space is not resting on anything."""
    kin = Kinematics(spec)
    out = []
    try:
        for i, traj in enumerate(recording.trajectories):
            if not traj.has_objects:
                continue
            tcp = np.array([kin.tcp_pose(q)[0] for q in traj.joint_positions])
            noise = tcp_noise(traj, tcp)
            still_tolerance, follow = max(STILL, 3 * np.sqrt(2) * noise), max(FOLLOW, 4 * noise)
            measured = tcp[1:, 2]
            rest = float(np.median(traj.object_positions[:10, 0, 2]))
            commanded = np.array([kin.tcp_pose(q)[0][2] for q in traj.commands])
            step = np.diff(commanded)
            for t in range(3, len(traj)):
                still = abs(measured[t] - measured[t - 2]) < still_tolerance
                near = measured[t] < table_height + NEAR
                if near and still and -DESCENT < step[t - 1] <= 0 and measured[t] - commanded[t] > BLOCKED:
                    out.append((i, t + 1, "touch"))  # commanded down, hand stopped: resting on something
                pushed = _pushed_to_rest(traj, t + 1, rest, recording.control_period, tcp, follow)
                if pushed:
                    out.append((i, t + 1, pushed))  # the cube just stopped against the fingers
                width = traj.gripper_width[t - 1: t + 2]
                if (traj.gripper_commands[t] < 0.01 and HELD < width[-1] < HELD_MAX
                        and abs(width[-1] - width[0]) < STILL):
                    out.append((i, t + 1, "hold"))  # closing fingers stopped apart: holding the object
    finally:
        kin.close()
    kept = []
    for kind, most in MAX_INSTANTS.items():
        these = [x for x in out if x[2] == kind]
        if len(these) > most:
            these = [these[k] for k in np.linspace(0, len(these) - 1, most).astype(int)]
        kept += these
    return sorted(kept)


def tcp_noise(traj: RecordedTrajectory, tcp: np.ndarray) -> float:
    """Std (m) of the believed TCP's reading noise: its step differences over the steps the
    command held still (the encoders' noise carried through the arm), robustly."""
    held = np.flatnonzero(np.all(np.abs(np.diff(traj.commands, axis=0)) < 1e-9, axis=1)) + 1
    if len(held) < 5:
        return 0.0
    steps = np.linalg.norm(tcp[held + 1] - tcp[held], axis=1)
    return float(np.median(steps) / (1.538 * np.sqrt(2)))  # a 3-D Gaussian difference: median norm 1.538 sigma_d


def _pushed_to_rest(traj: RecordedTrajectory, t: int, rest: float, period: float, tcp: np.ndarray,
                    follow: float = FOLLOW) -> str:
    """'push' when at step ``t`` the closed, empty fingers have just pushed the cube and both
    stopped; 'tip' when open fingers have (one finger pushed it); '' otherwise.

    While the cube moves it need not touch the fingers (struck, it slides ahead of them by
    up to a centimetre); once both stop, it rests against them if it moved with the hand
    (``tcp``, the believed TCP per step: its bias hardly changes over a push) over the
    ``FOLLOW_STEPS`` before it stopped (within ``follow``: at least ``FOLLOW``, more for noisy
    encoders), within the last ``PUSH_WINDOW`` steps, and the hand
    has stayed where it stopped. Fingers that stopped apart on the cube hold it (``hold``):
    the read width does not say where it sits between them, so those are no push."""
    if t < PUSH_WINDOW + 1 or traj.object_positions[t, 0, 2] > rest + LIFTED:
        return ""
    closed = traj.gripper_commands[t - 1] < 0.01 and traj.gripper_width[t] < HELD
    if not closed and traj.gripper_width[t] < HELD_MAX:
        return ""
    cube = traj.object_positions[t - PUSH_WINDOW - 1: t + 1, 0]
    speeds = np.linalg.norm(np.diff(cube, axis=0), axis=1) / period
    if not (speeds[-1] < SETTLED and speeds[:-1].max() > PUSHED and np.abs(traj.joint_velocities[t]).max() < STOPPED):
        return ""
    stop = t - PUSH_WINDOW + int(np.flatnonzero(speeds > PUSHED)[-1])  # the step the cube last moved to
    before = max(stop - FOLLOW_STEPS, 0)
    moved = traj.object_positions[stop, 0, :2] - traj.object_positions[before, 0, :2]
    at_stop = tcp[stop - 1: stop + 2, :2].mean(axis=0)
    followed = at_stop - tcp[max(before - 1, 0): before + 2, :2].mean(axis=0)
    stayed = np.linalg.norm(tcp[t - 1: t + 2, :2].mean(axis=0) - at_stop) < follow  # the hand is still there
    if stayed and np.linalg.norm(moved) > FOLLOW and np.linalg.norm(moved - followed) < follow:
        return "push" if closed else "tip"
    return ""


def carried_segments(recording: Recording) -> list[list[tuple[int, int]]]:
    """(trajectory, step) runs over which the closed fingers hold the cube up without slipping
    while the hand turns (``TURNED``: a cube carried straight up reads nothing of the offsets)."""
    out = []
    for i, traj in enumerate(recording.trajectories):
        if not traj.has_objects:
            continue
        rest = float(np.median(traj.object_positions[:10, 0, 2]))
        run: list[tuple[int, int]] = []
        for t in range(2, len(traj) + 1):
            width = traj.gripper_width[t - 2: t + 1]
            held = (traj.gripper_commands[t - 1] < 0.01 and HELD < width[-1] < HELD_MAX
                    and abs(width[-1] - width[0]) < STILL and traj.object_positions[t, 0, 2] > rest + 2 * LIFTED)
            if run and (not held or abs(traj.gripper_width[t] - traj.gripper_width[run[0][1]]) > SLIP):
                out.append(run)
                run = []
            if held:
                run.append((i, t))
        out.append(run)
    return [run for run in out if len(run) >= 5 and _turned(recording, run)]


def _turned(recording: Recording, run: list[tuple[int, int]]) -> bool:
    """Whether the held object turned by ``TURNED`` over ``run`` (the hand turned with it)."""
    turns = [recording.trajectories[i].object_orientations[t, 0] for i, t in run]
    spread = Rotation.from_quat(turns[0]).inv() * Rotation.from_quat(np.array(turns))
    return bool(np.max(spread.magnitude()) > TURNED)


class ContactGeometry:
    """Distances from the simulated hand (posed at measured - offsets) to what it touched."""

    def __init__(self, recording: Recording, spec: RobotSpec, scene: SceneSpec,
                 dynamics: DynamicsParams | None = None) -> None:
        self.recording, self.spec = recording, spec
        self.instants = contact_instants(recording, spec, scene.table_height)
        self.segments = carried_segments(recording)
        # the object at its estimated size; the encoders unbiased (the offsets are what is fitted)
        self.robot = SimRobot(spec, scene, DynamicsParams(object_size_scale=(dynamics or DynamicsParams())
                                                          .object_size_scale))
        self.kin = Kinematics(spec)
        self._reset_for = -1

    def turns(self, offsets: np.ndarray) -> np.ndarray:
        """How a carried cube turns against the true hand (rad), each segment about its mean.

        The cube sits in the grip at some tilt (the fingers neither centre nor square it),
        but it does not turn against them while the width holds, apart from slipping about
        the closing axis: so that axis (the hand's y), seen in the cube's frame, stays put
        while the hand (posed at measured - offsets) is carried through spread orientations.
        An offset that turns the hand about its own approach axis (the last joint) looks
        like a different tilt in the grip: these rows do not see it."""
        out = []
        for run in self.segments:
            axes = []
            for i, t in run:
                traj = self.recording.trajectories[i]
                hand = Rotation.from_quat(self.kin.tcp_pose(traj.joint_positions[t] - offsets)[1]).as_matrix()[:, 1]
                axes.append(Rotation.from_quat(traj.object_orientations[t, 0]).as_matrix().T @ hand)
            axes = np.array(axes)
            out.append((axes - axes.mean(axis=0)).ravel())
        return np.concatenate(out) if out else np.zeros(0)

    def residuals(self, offsets: np.ndarray) -> np.ndarray:
        robot, client = self.robot, self.robot.world.client
        uid, table = robot._body.uid, robot.world.table
        fingers = robot._body.gripper_links
        hand = range(robot._body.arm[-1], client.getNumJoints(uid))  # the last arm link and everything after
        out = []
        for i, t, kind in self.instants:
            traj = self.recording.trajectories[i]
            if self._reset_for != i:
                robot.reset(traj.reset_request(), seed=0)
                self._reset_for = i
            names = traj.object_names
            objects = {n: (traj.object_positions[t, k], traj.object_orientations[t, k], np.zeros(3))
                       for k, n in enumerate(names)}
            robot.set_state(traj.joint_positions[t] - offsets, np.zeros(self.spec.dof), float(traj.gripper_width[t]),
                            (), objects)
            cube = robot._objects[names[0]]
            if kind in ("push", "tip"):
                near = [p[8] for link in hand for p in client.getClosestPoints(uid, cube, REACH, linkIndexA=link)]
                out.append(min(near) if near else REACH)
            elif kind == "touch":
                near = [p[8] for body in (table, cube) for link in hand
                        for p in client.getClosestPoints(uid, body, REACH, linkIndexA=link)]
                out.append(min(near) if near else REACH)
            else:  # the fingers share the read width evenly here, the real ones need not: only their sum counts
                gaps = [min((p[8] for p in client.getClosestPoints(uid, cube, REACH, linkIndexA=link)), default=REACH)
                        for link in fingers]
                out.append(sum(gaps))
        return np.array(out)

    def events(self) -> np.ndarray:
        """The contact (a run of instants of one kind a few steps apart) of each row: a
        contact's instants share its pose and differ by the readings' noise."""
        out, count, last = [], -1, None
        for i, t, kind in self.instants:
            if last is None or last[0] != i or last[2] != kind or t - last[1] > EVENT_GAP:
                count += 1
            out.append(count)
            last = (i, t, kind)
        return np.array(out, dtype=int)

    def row_kinds(self) -> list[str]:
        """The contact kind of each entry of :meth:`residuals`."""
        return [kind for *_, kind in self.instants]

    def fit(self, start: np.ndarray, scale: float = 0.01, bound: float = 0.15,
            held: np.ndarray | None = None, prior: np.ndarray | None = None) -> np.ndarray:
        """Offsets (rad) minimising the contact distances (robust, per mm), from ``start``;
        the ``held`` joints stay at their start. ``prior`` (rad^2, per joint pair; an
        infinite variance where there is none) is a measurement from elsewhere of the
        offsets at ``start`` (the holding torques'), fused with the contacts'.

        A contact depth per kind of contact (the simulated contact's penetration while
        pressing, within about ``DEPTH_SPREAD``) is fitted alongside and dropped. A free joint the contacts do not pin
        (``sigma`` above ``UNPINNED``) is put back to its start and the rest fitted again:
        left free it follows the contact noise (the flange's offset, before the finger
        pushes, wandered 0.1 rad and dragged the base's offset 3 mrad along). ``sigma`` and
        ``covariance`` (rad, rad^2; infinite where not fitted) are kept."""
        n = len(start)
        free = np.ones(n, dtype=bool) if held is None else ~np.asarray(held, dtype=bool)
        self.sigma, self.covariance = np.full(n, np.inf), np.diag(np.full(n, np.inf))
        if not self.instants or not free.any():
            return start
        found, covariance = self._fit(start, scale, bound, free, prior)
        loose = free & ~(np.sqrt(np.diag(covariance)) <= UNPINNED)
        if loose.any() and (free & ~loose).any():
            found, covariance = self._fit(np.where(loose, start, found), scale, bound, free & ~loose, prior)
        self.covariance, self.sigma = covariance, np.sqrt(np.diag(covariance))
        return found

    def _fit(self, start: np.ndarray, scale: float, bound: float, free: np.ndarray,
             prior: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Offsets fitted over the ``free`` joints, and their covariance (rad^2) from the
        Jacobian at the optimum.

        One row per contact (``events``), the mean of its instants: they share the
        contact's pose, so their scatter about it (the encoders' noise) is no measure of how
        well contacts agree. Fitted twice: per mm, then with each kind's rows in units of
        that kind's robust scatter about the first optimum. A held cube's gaps scatter
        over millimetres (it sits askew in the grip), a slowly pushed cube's rest over a
        few tenths; weighed alike, the loose kind would pull the fit and widen every sigma."""
        dof = int(free.sum())
        event = self.events()
        count = int(event.max()) + 1
        kinds = sorted({kind for *_, kind in self.instants})
        kind_of = np.array([kinds.index(kind) for kind in self.row_kinds()])
        which = np.zeros(count, dtype=int)
        which[event] = kind_of
        size = np.bincount(event, minlength=count)
        anchor, weak = _anchor(prior, free, scale)

        def offsets(y: np.ndarray) -> np.ndarray:
            out = np.asarray(start, dtype=float).copy()
            out[free] = y[:dof] * scale
            return out

        def solve(x0: np.ndarray, unit: np.ndarray):
            def vector(y: np.ndarray) -> np.ndarray:
                means = np.bincount(event, self.residuals(offsets(y)), minlength=count) / size
                return np.concatenate(((means - y[dof:][which] * 0.001) / (0.001 * unit),
                                       self.turns(offsets(y)) / TURN_SCALE, PRIOR * y[:dof][weak],
                                       anchor @ (y[:dof] - start[free] / scale), y[dof:] / DEPTH_SPREAD))

            low = np.r_[np.full(dof, -bound / scale), np.full(len(kinds), -30.0)]
            return least_squares(vector, x0, bounds=(low, -low), loss="soft_l1", f_scale=1.0, diff_step=0.05,
                                 max_nfev=FIT_NFEV)

        first = solve(np.r_[start[free] / scale, np.zeros(len(kinds))], np.ones(count))
        rows = self.residuals(offsets(first.x)) / 0.001
        within = np.array([np.std(rows[event == e]) / np.sqrt(max(size[e] - 1, 1)) for e in range(count)])
        scatter = np.array([_robust_scatter(first.fun[:count][which == k], within[which == k])
                            for k in range(len(kinds))])
        result = solve(first.x, scatter[which])
        covariance = np.diag(np.full(len(start), np.inf))
        covariance[np.ix_(free, free)] = _covariance(result.jac)[:dof, :dof] * scale**2
        return offsets(result.x), covariance

    def close(self) -> None:
        self.robot.close()
        self.kin.close()


def _covariance(jac: np.ndarray) -> np.ndarray:
    """Covariance of a least-squares fit's variables from its Jacobian (rows in units of their scatter)."""
    try:
        return np.linalg.inv(jac.T @ jac)
    except np.linalg.LinAlgError:
        return np.diag(np.full(jac.shape[1], np.inf))


def _anchor(prior: np.ndarray | None, free: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Whitened rows (over the free joints, in units of ``scale``) of the ``prior`` measurement,
    and which free joints keep the weak pull towards 0 (those without a prior)."""
    dof = int(free.sum())
    if prior is None:
        return np.zeros((0, dof)), np.ones(dof, dtype=bool)
    variance = np.diag(prior)[free]
    measured = np.isfinite(variance)
    rows = np.zeros((int(measured.sum()), dof))
    if measured.any():
        block = prior[np.ix_(free, free)][np.ix_(measured, measured)] / scale**2
        rows[:, measured] = np.linalg.cholesky(np.linalg.inv(block)).T
    return rows, ~measured


def _robust_scatter(means: np.ndarray, within: np.ndarray) -> float:
    """A contact kind's scatter (mm): of its contacts' means about their median (MAD), but at
    least what the readings' own noise gives a mean (``within``, per contact: the scatter of
    its instants over the root of their number; a few contacts' MAD can come out small by
    luck) and ``CONTACT_FLOOR``."""
    mad = 1.4826 * float(np.median(np.abs(means - np.median(means)))) if len(means) else 0.0
    return max(mad, float(np.median(within)) if len(within) else 0.0, CONTACT_FLOOR / 0.001)


def contacts(context: Context, coords: list[Coordinate]) -> list[Estimate]:
    """The contacts stage: every joint's offset from where the hand rested against the table and
    the object, fused with the offsets earlier stages measured (their covariance as a prior:
    the holding torques', when the gravity stage read them). Returns the joints it pins within
    ``UNPINNED``; the others stay unseen."""
    spec, dof = context.spec, context.spec.dof
    start = np.asarray(context.dynamics.offsets(dof), dtype=float)
    prior = np.diag(np.full(dof, np.inf))
    gravity = context.notes.get("gravity")
    if gravity is not None:
        seen = np.flatnonzero(gravity.seen)
        prior[np.ix_(seen, seen)] = gravity.offset_covariance
    for estimate in context.estimates:
        if estimate.coord.name == "joint_offset" and estimate.seen and not np.isfinite(prior[estimate.coord.joint,
                                                                                             estimate.coord.joint]):
            prior[estimate.coord.joint, estimate.coord.joint] = max(estimate.sigma, 1e-6) ** 2
    geometry = ContactGeometry(context.recording, spec, context.scene, context.dynamics)
    try:
        if not geometry.instants:
            return [Estimate(c, 0.0, np.inf, "contacts", note="no contact in the recording") for c in coords]
        found = geometry.fit(start, 0.01, prior=prior)
        sigma = geometry.sigma
        context.notes["contacts"] = {"instants": len(geometry.instants), "kinds": sorted(set(geometry.row_kinds()))}
    finally:
        geometry.close()
    joints = sorted({c.joint for c in coords} | {j for j in range(dof) if np.isfinite(prior[j, j])})
    coord_of = {c.joint: c for c in coords}
    out = []
    for j in joints:
        coord = coord_of.get(j) or Coordinate("joint_offset", j, False, 0.01, coords[0].low, coords[0].high)
        pinned = np.isfinite(sigma[j]) and sigma[j] <= UNPINNED
        out.append(Estimate(coord, float(found[j]), float(sigma[j]) if pinned else np.inf, "contacts"))
    return out
