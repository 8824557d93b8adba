"""The grip force from how wide the fingers stop when they squeeze the object on the table.

Closed on an object, the fingers press into it until the contact pushes back as hard as the
gripper squeezes: the stronger the grip, the narrower the width they stop at (about 2-4 mm
per doubling of the force on the shipped scene's cube), whatever the object weighs or how
smooth it is. So each trajectory's first squeeze (``sinking.find_lifts``: the object still
where the episode placed it) is replayed under candidate forces, and the force whose widths
match the recorded ones is the estimate: a monotone relation, found by bracketing in log force.
The width also grows with the object's size, so the size's uncertainty is carried into the
force's sigma through the same replays.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .context import Context
from .estimates import Estimate
from .parameters import Coordinate
from .readings import select
from .sinking import find_lifts

SPAN = (np.log(0.05), np.log(8.0))  # log force range searched
COARSE = 7  # grid points over the span
ITERATIONS = 5  # secant refinements in log force
WIDTH_FLOOR = 1e-4  # m: a squeezed width's error floor (contact jitter between replays)
SLOPE_STEP = 0.2  # log force either side over which the widths' slope is taken (wide: it averages jitter)
NUDGE = 1e-7  # relative change of the force that shows the squeeze's chaos
SQUEEZE_LEAD = 12  # control steps a squeeze's closing may come before its squeezed readings


def _windows(context: Context, kinds: tuple[str, ...]) -> list[tuple[int, np.ndarray]]:
    """Per trajectory, the squeezed readings of its first lift (``sinking.find_lifts``) when nothing
    was grasped before it: the object then rests where the episode placed it, as in its replay."""
    out = []
    for i in select(context.recording, kinds, ("objects",)):
        traj = context.recording.trajectories[i]
        lifts = find_lifts(traj)
        if lifts and not np.any(traj.gripper_commands[: int(lifts[0].squeezed[0]) - SQUEEZE_LEAD] < 0.01):
            out.append((i, lifts[0].squeezed))
    return out


def _widths(context: Context, windows: list[tuple[int, np.ndarray]], force: float, size: float) -> np.ndarray:
    """Simulated squeezed widths (m) under ``force``, the object at ``size`` (multiple shooting)."""
    dynamics = dataclasses.replace(context.dynamics, gripper_force=float(force), object_size_scale=float(size))
    sims = context.replay(dynamics, [i for i, _ in windows])
    return np.array([np.mean(sim.gripper_width[steps]) for sim, (_, steps) in zip(sims, windows, strict=True)])


def estimate(context: Context, coords: list[Coordinate], kinds: tuple[str, ...] = ("lift", "weigh")) -> list[Estimate]:
    (coord,) = coords
    windows = _windows(context, kinds)
    if not windows:
        return [Estimate(coord, 1.0, np.inf, "grip force", note="no squeeze of the object before a lift")]
    recorded = np.array([np.mean(context.recording.trajectories[i].gripper_width[s]) for i, s in windows])
    size = context.dynamics.object_size_scale

    def gap(log_force: float) -> float:
        return float(np.median(_widths(context, windows, np.exp(log_force), size) - recorded))

    grid = np.linspace(*SPAN, COARSE)
    gaps = np.array([gap(x) for x in grid])
    crossing = np.flatnonzero(np.diff(np.sign(gaps)) != 0)
    if not len(crossing):
        return [Estimate(coord, 1.0, np.inf, "grip force", note="no force in range matches the squeezed widths")]
    a, b = grid[crossing[0]], grid[crossing[0] + 1]
    ga, gb = gaps[crossing[0]], gaps[crossing[0] + 1]
    for _ in range(ITERATIONS):  # regula falsi: the width falls monotonically with the force
        x = b - gb * (b - a) / (gb - ga) if gb != ga else (a + b) / 2
        gx = gap(x)
        if np.sign(gx) == np.sign(ga):
            a, ga = x, gx
        else:
            b, gb = x, gx
    x = b - gb * (b - a) / (gb - ga) if gb != ga else (a + b) / 2
    return [Estimate(coord, float(np.exp(x)), _sigma(context, windows, recorded, x, size), "grip force")]


def _sigma(context: Context, windows: list[tuple[int, np.ndarray]], recorded: np.ndarray, x: float,
           size: float) -> float:
    """The force's sigma (its units): the widths' scatter about the fit, their jitter (how much a
    replay nudged in its last digits moves them: a slippery squeeze is chaotic) and the object
    size's sigma, carried through the widths' slope over ``SLOPE_STEP`` either side."""
    here = _widths(context, windows, np.exp(x), size)
    up, down = (_widths(context, windows, np.exp(x + s), size) for s in (SLOPE_STEP, -SLOPE_STEP))
    slope = float(np.median((up - down) / (2 * SLOPE_STEP)))  # m per log force
    jitter = float(np.median(np.abs(_widths(context, windows, np.exp(x + NUDGE), size) - here)))
    size_estimate = context.estimates.table.get("object_size_scale")
    size_sigma = size_estimate.sigma if size_estimate is not None and size_estimate.seen else 0.0
    size_slope = float(np.median((_widths(context, windows, np.exp(x), size * 1.01) - here) / (0.01 * size)))
    scatter = np.std(here - recorded, ddof=1) / np.sqrt(len(recorded)) if len(recorded) > 1 else 0.0
    width_error = float(np.sqrt(scatter**2 + WIDTH_FLOOR**2 + jitter**2 + (size_slope * size_sigma) ** 2))
    if abs(slope) < 1e-9:
        return np.inf
    return float(np.exp(x) * width_error / abs(slope))
