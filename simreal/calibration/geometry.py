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
from ..specs import RobotSpec, SceneSpec
from .trajectory_file import Recording

BLOCKED = 0.006  # m, measured TCP above the commanded one: the hand rests on something
PUSHED = 0.03  # m/s, perceived cube speed: something pushes it
STILL = 0.001  # m over two steps: the hand (or the fingers) stopped
DESCENT = 0.01  # m per step, at most: a slow guarded descent, not a move
HELD, HELD_MAX = 0.02, 0.06  # m, closed fingers stopped this wide hold the object
REACH = 0.1  # m, farthest distance a contact query looks
MAX_INSTANTS = {"touch": 200, "push": 150, "hold": 50}  # contact instants used per kind, evenly thinned
LIFTED = 0.01  # m above where the cube first rested: it is held up, not pushed
TURN_SCALE = 0.005  # rad per residual unit of a carried cube's turn against the hand (noise ~6 mrad at the truth)
SLIP = 0.0004  # m of width change: the cube slipped in the grip, a new carry segment starts
PRIOR = 0.3  # residual units (mm) per 10 mrad of offset: what the contacts cannot see stays near 0


def contact_instants(recording: Recording, spec: RobotSpec) -> list[tuple[int, int, str]]:
    """(trajectory, step, kind) of blocked ('touch') and holding ('hold') readings."""
    kin = Kinematics(spec)
    out = []
    try:
        for i, traj in enumerate(recording.trajectories):
            if not traj.has_objects:
                continue
            measured = np.array([kin.tcp_pose(q)[0][2] for q in traj.joint_positions[1:]])
            rest = float(np.median(traj.object_positions[:10, 0, 2]))
            commanded = np.array([kin.tcp_pose(q)[0][2] for q in traj.commands])
            step = np.diff(commanded)
            for t in range(3, len(traj)):
                still = abs(measured[t] - measured[t - 2]) < STILL
                if still and -DESCENT < step[t - 1] <= 0 and measured[t] - commanded[t] > BLOCKED:
                    out.append((i, t + 1, "touch"))  # commanded down, hand stopped: resting on something
                speed = np.linalg.norm(traj.object_positions[t + 1, 0] - traj.object_positions[t, 0]) / max(
                    recording.control_period, 1e-9)
                lifted = traj.object_positions[t + 1, 0, 2] > rest + LIFTED
                if speed > PUSHED and traj.gripper_commands[t] < 0.01 and not lifted:
                    out.append((i, t + 1, "push"))  # the cube moves under closed fingers: they touch it
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


def carried_segments(recording: Recording) -> list[list[tuple[int, int]]]:
    """(trajectory, step) runs over which the closed fingers hold the cube up without slipping."""
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
                if len(run) >= 5:
                    out.append(run)
                run = []
            if held:
                run.append((i, t))
        if len(run) >= 5:
            out.append(run)
    return out


class ContactGeometry:
    """Distances from the simulated hand (posed at measured - offsets) to what it touched."""

    def __init__(self, recording: Recording, spec: RobotSpec, scene: SceneSpec) -> None:
        self.recording, self.spec = recording, spec
        self.instants = contact_instants(recording, spec)
        self.segments = carried_segments(recording)
        self.robot = SimRobot(spec, scene)
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
            if kind == "push":
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

    def row_kinds(self) -> list[str]:
        """The contact kind of each entry of :meth:`residuals`."""
        return [kind for *_, kind in self.instants]

    def fit(self, start: np.ndarray, scale: float = 0.01, bound: float = 0.15,
            held: np.ndarray | None = None) -> np.ndarray:
        """Offsets (rad) minimising the contact distances (robust, per mm), from ``start``;
        the ``held`` joints (measured otherwise) stay at their start.

        A contact depth per kind of contact (the simulated contact's penetration while
        pressing) is fitted alongside and dropped."""
        free = np.ones(len(start), dtype=bool) if held is None else ~np.asarray(held, dtype=bool)
        if not self.instants or not free.any():
            return start
        dof = int(free.sum())
        kinds = sorted({kind for *_, kind in self.instants})
        which = np.array([kinds.index(kind) for kind in self.row_kinds()])

        def offsets(y: np.ndarray) -> np.ndarray:
            out = np.asarray(start, dtype=float).copy()
            out[free] = y[:dof] * scale
            return out

        def vector(y: np.ndarray) -> np.ndarray:
            depth = y[dof:][which] * 0.001
            return np.concatenate(((self.residuals(offsets(y)) - depth) / 0.001,
                                   self.turns(offsets(y)) / TURN_SCALE, PRIOR * y[:dof]))

        low = np.r_[np.full(dof, -bound / scale), np.full(len(kinds), -30.0)]
        result = least_squares(vector, np.r_[start[free] / scale, np.zeros(len(kinds))], bounds=(low, -low),
                               loss="soft_l1", f_scale=1.0, diff_step=0.05, max_nfev=50)
        return offsets(result.x)

    def close(self) -> None:
        self.robot.close()
        self.kin.close()
