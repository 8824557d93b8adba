"""How far a squeezed cube sinks in the hand as it is lifted: the grip's smooth reading.

The replay cost of a slipping grip is jagged: whether the cube slips at a shake, and by
how much it then turns and settles, hangs on sub-millimetre details, so along the grip
force the cost jumps about and only a replay of the very same dynamics matches the
recording. What the cube does in a slow lift is steadier: a grip short of the cube's
weight lets it sink between the fingers, the more the weaker the grip (a centimetre or two
once the force falls 10-20 % short), and a firm one holds it. The sink
is the depth of the perceived cube below the TCP once held still in the air, minus its
depth while squeezed on the table before the lift; those two are means over several
readings, so the perceived cube's noise (2 mm) shrinks to about 1 mm.

The trajectories that lift a squeezed cube (the ``lift`` kind, at graded speeds, and
``weigh``'s slow lift) are replayed open loop, from their start, and their sinks
compared with the recorded ones: one residual per lift (``SINK_SCALE`` per unit). The
sink reads grip force x friction / mass, as the slips do, but it grows
steadily with how far the grip falls short, which is where the replay cost is flattest,
and the brisker lifts sink a little even above the force that just holds the cube, so
the sinks rise on both sides of the truth. A grip that never slips in the recording only
bounds the friction from below: the stage reports it unseen.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..kinematics import Kinematics
from ..specs import DynamicsParams
from .context import Context
from .still import still_runs
from .trajectory_file import RecordedTrajectory
from .weighing import HELD, held_in_air, resting_height

SINK_SCALE = 0.003  # m per residual unit: the sink's reading noise (~1 mm) and its jitter between replays
SQUEEZED = 3  # state readings averaged while the cube is squeezed on the table, before the lift
ON_TABLE = 0.005  # m above its resting height: the cube still stands on the table ...
OFF_TABLE = 0.01  # ... and this far above it, held in the hand: a cube that sank a lot still counts
DITHER = 1e-7  # relative nudge of the grip force between the replays averaged into one sink


@dataclass(frozen=True)
class Lift:
    """One slow lift: the readings while squeezed on the table and while held still in the air."""

    squeezed: np.ndarray  # state indices
    held: np.ndarray  # state indices


def find_lifts(traj: RecordedTrajectory) -> list[Lift]:
    """Every still held window of ``traj`` (``weighing.held_in_air``, ``OFF_TABLE`` up) with the
    squeeze on the table that came before it."""
    if not traj.has_objects:
        return []
    rest = resting_height(traj)
    closed = traj.gripper_commands < 0.01
    out = []
    for start, steps in still_runs(traj):
        if not held_in_air(traj, steps, rest, OFF_TABLE):
            continue
        squeezed = _squeeze_before(traj, start, closed, traj.object_positions[:, 0, 2] - rest)
        if squeezed is not None:
            out.append(Lift(squeezed, steps))
    return out


def _squeeze_before(traj: RecordedTrajectory, start: int, closed: np.ndarray,
                    raised: np.ndarray) -> np.ndarray | None:
    """The last ``SQUEEZED`` states before command ``start`` read with the fingers closed on
    the cube standing on the table (``raised``: perceived height above its rest, in the mean)
    and the arm's command unchanged, or None."""
    moved = np.r_[True, np.any(np.abs(np.diff(traj.commands, axis=0)) > 1e-9, axis=1)]
    for t in range(start, SQUEEZED - 1, -1):  # state t follows command t - 1
        steps = np.arange(t - SQUEEZED + 1, t + 1)
        commands = steps - 1
        width = traj.gripper_width[steps]
        if (np.all(closed[commands]) and not np.any(moved[commands[1:]]) and np.mean(raised[steps]) < ON_TABLE
                and np.all((HELD[0] < width) & (width < HELD[1]))):
            return steps
    return None


def depth(kin: Kinematics, joint_positions: np.ndarray, object_positions: np.ndarray, steps: np.ndarray) -> float:
    """Mean height (m) of the TCP above the first object's centre over ``steps``."""
    tcp = np.array([kin.tcp_pose(joint_positions[t])[0][2] for t in steps])
    return float(np.mean(tcp - object_positions[steps, 0, 2]))


def sink(kin: Kinematics, joint_positions: np.ndarray, object_positions: np.ndarray, lift: Lift) -> float:
    """How far (m) the cube sank in the hand between the squeeze and the hold in the air."""
    return (depth(kin, joint_positions, object_positions, lift.held)
            - depth(kin, joint_positions, object_positions, lift.squeezed))


class SinkReading:
    """The recorded sinks of the slow lifts in trajectories ``indices`` and their open-loop replays."""

    def __init__(self, context: Context, indices: list[int]) -> None:
        self.context = context
        found = [(i, lifts) for i in indices if (lifts := find_lifts(context.recording.trajectories[i]))]
        self.indices = [i for i, _ in found]
        self.lifts = [(i, lift) for i, lifts in found for lift in lifts]
        self._kin = Kinematics(context.spec)
        self.recorded = np.array([self._sink(context.recording.trajectories[i], lift) for i, lift in self.lifts])

    def __len__(self) -> int:
        return len(self.lifts)

    def _sink(self, source: object, lift: Lift) -> float:
        return sink(self._kin, source.joint_positions, source.object_positions, lift)

    def simulated(self, dynamics: DynamicsParams, draws: int = 1) -> np.ndarray:
        """The sinks (m) of each lift replayed open loop under ``dynamics``, each the mean of ``draws`` replays.

        A slipping grip is chaotic: the grip force changed in its 16th digit changes a sink by
        several millimetres. The recording is one such draw; a candidate's sink is better told
        by the mean of a few, the force nudged by ``DITHER`` times the draw's number."""
        if not self.lifts:
            return np.zeros(0)
        total = np.zeros(len(self.lifts))
        for k in range(draws):
            nudged = dataclasses.replace(dynamics, gripper_force=dynamics.gripper_force * (1 + DITHER * k))
            sims = dict(zip(self.indices, self.context.replay(nudged, self.indices, segment=0), strict=True))
            total += [self._sink(sims[i], lift) for i, lift in self.lifts]
        return total / max(draws, 1)

    def residuals(self, dynamics: DynamicsParams, draws: int = 1) -> np.ndarray:
        """Simulated minus recorded sinks, in ``SINK_SCALE`` units."""
        return (self.simulated(dynamics, draws) - self.recorded) / SINK_SCALE

    def close(self) -> None:
        self._kin.close()
