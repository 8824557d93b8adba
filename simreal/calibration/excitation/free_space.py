"""Free-space excitation: swings and still postures, touching nothing.

- ``swing``: windowed multi-sine sweeps (own frequencies per joint), minimum-jerk moves at
  varied speeds and holds at varied postures, so the drives' gains (tracking lag, per
  joint), force saturation, damping and latency show in the joints, and the holds' torques
  carry the arm's gravity load (``calibration.gravity``).
- ``gravity``: postures spread over the posture range and inside the declared workspace,
  each held still with the hand open and empty: the torques holding them read the arm's
  masses and every encoder offset that gravity turns, with no contact at all. It runs over
  a bridge server without a safety intervention, so it is the routine to try first on an arm.

Postures keep ``LIMIT_MARGIN`` from the joint limits, spread a fraction of each joint's
range around home, and keep the TCP ``MIN_TCP_HEIGHT`` above the table.
"""

from __future__ import annotations

import numpy as np

from .driver import Driver

MIN_TCP_HEIGHT = 0.15  # m above the table for free-space postures
SPREAD_FRACTION, SPREAD_CAP = 0.15, 1.2  # posture spread around home: this fraction of a joint's range, at most (rad)
GRAVITY_HOLD = 17  # control steps a ``gravity`` posture is held (``still.SETTLE`` of them settle)
GRAVITY_STEP = 0.35  # of the posture spread: how far one ``gravity`` posture strays from the last
GRAVITY_SPEED = 0.5  # of the allowed joint speed: the command leads the arm less than a bridge's safety layer allows
SWING_HOLD = (14, 20)  # control steps a swing holds its last posture: a still window for the torques
WORKSPACE_MARGIN = 0.03  # m kept inside the declared workspace box by ``gravity`` postures


def spread(d: Driver) -> np.ndarray:
    """Per joint, how far (rad) a random posture may go from home."""
    return np.minimum(SPREAD_FRACTION * (d.spec.upper - d.spec.lower), SPREAD_CAP)


def random_posture(d: Driver, rng: np.random.Generator, reach: float, around: np.ndarray | None = None) -> np.ndarray:
    """A joint posture within ``reach`` x the spread around ``around`` (default: home) and within
    the margins, TCP clear of the table and the base."""
    home = np.asarray(d.spec.home if around is None else around, dtype=float)
    for _ in range(50):
        q = np.clip(home + rng.uniform(-1.0, 1.0, d.spec.dof) * spread(d) * reach, d.low, d.high)
        if clear(d, q):
            return q
    return home


def clear(d: Driver, q: np.ndarray) -> bool:
    pos = d.kin.tcp_pose(q)[0]
    return bool(pos[2] > d.setting.scene.table_height + MIN_TCP_HEIGHT
                and np.hypot(pos[0], pos[1]) > d.spec.workspace_low[0])


def multisine(d: Driver, rng: np.random.Generator, centre: np.ndarray, steps: int) -> np.ndarray:
    """Joint paths (steps, dof): a sum of three sines per joint around ``centre``.

    Each joint gets its own frequencies, so the joints' responses are told apart;
    amplitudes are cut so the peak speed stays within the allowed one, and the whole
    sum fits the posture spread. A Hann window starts and ends the path at rest at ``centre``."""
    dof, period = d.spec.dof, d.robot.control_period
    freq = rng.uniform(0.15, 1.2, (3, dof))  # Hz
    amp = rng.uniform(0.3, 1.0, (3, dof)) * spread(d) / 3
    allowed = rng.uniform(0.3, 1.0) * d.max_step / period  # rad/s
    duration = (steps + 1) * period
    peak = np.sum(amp * (2 * np.pi * freq + np.pi / duration), axis=0)  # bounds the windowed sum's speed
    amp *= np.minimum(1.0, allowed / peak)
    time = np.arange(1, steps + 1)[:, None] * period
    window = np.sin(np.pi * time / duration) ** 2  # starts and ends at rest
    return centre + window * np.sum(amp * np.sin(2 * np.pi * freq * time[:, None]), axis=1)


def swing(d: Driver, rng: np.random.Generator) -> None:
    """Multi-sine sweeps, point-to-point moves at varied speeds and holds at varied postures.

    Sweeps show tracking lag per joint (gains, latency); fast moves and the stops after them
    show force limits and damping where a drive saturates; the long holds are still free
    postures whose torques read the gravity load (masses, offsets)."""
    while True:
        centre = random_posture(d, rng, reach=rng.uniform(0.3, 0.7))
        d.move(centre, 4, speed=rng.uniform(0.3, 1.0))
        d.hold(int(rng.integers(3, 10)), grip=float(rng.choice([0.0, d.spec.gripper.max_width])))
        path = multisine(d, rng, centre, int(rng.integers(20, 50)))
        if all(clear(d, q) for q in path[::4]):
            for q in path:
                d.step(q)
        target = random_posture(d, rng, reach=rng.uniform(0.5, 1.0))
        d.move(target, 2, speed=rng.uniform(0.5, 1.0))
        d.hold(int(rng.integers(*SWING_HOLD)))


def hold_postures(d: Driver, rng: np.random.Generator) -> None:
    """Free postures inside the declared workspace, reached at ``GRAVITY_SPEED`` and each held
    still with the hand open and empty (``gravity`` kind). The first is drawn around home, each
    next one ``GRAVITY_STEP`` of the spread around the last, so short moves leave time for many."""
    d.move(workspace_posture(d, rng, reach=rng.uniform(0.4, 0.8)), 4, grip=d.spec.gripper.max_width,
           speed=GRAVITY_SPEED)
    while True:
        d.hold(GRAVITY_HOLD)
        d.move(workspace_posture(d, rng, reach=GRAVITY_STEP, around=d.q), 4, speed=GRAVITY_SPEED)


def workspace_posture(d: Driver, rng: np.random.Generator, reach: float,
                      around: np.ndarray | None = None) -> np.ndarray:
    """A ``random_posture`` whose TCP also stays ``WORKSPACE_MARGIN`` inside the robot's declared
    workspace box, as a bridge server's safety layer demands (else the pose held)."""
    low = np.asarray(d.spec.workspace_low, dtype=float) + WORKSPACE_MARGIN
    high = np.asarray(d.spec.workspace_high, dtype=float) - WORKSPACE_MARGIN
    for _ in range(50):
        q = random_posture(d, rng, reach, around)
        tcp = d.kin.tcp_pose(q)[0]
        if np.all((low <= tcp) & (tcp <= high)):
            return q
    return d.q.copy()
