"""The stages that read the object through contact: its friction on the table, the grip's friction.

Contact makes a replay's cost jagged in the contact fields (a slide stops a step earlier, a
grip slips or not), so these stages only scan: each field over a grid, then parabola vertices
through finer grids (which average the jitter out where the best point would follow it), and
the field's tolerance is probed on the same cost (``uncertainty.probe_direction``).

- Object friction: the cube slid free by a flick decelerates at mu g whatever its mass, so
  its perceived positions while on the table (the ``sliding`` channel) read the object-table
  friction alone, on the trajectories that flick it.
- Grip friction: how far a squeezed cube sinks in the hand as it is lifted (``sinking``)
  reads finger friction x object friction x grip force / mass; with the object's friction,
  mass and the grip force settled by their own readings, it reads the finger friction. A
  grip that never slips only bounds it, and the probe reports it unseen.
"""

from __future__ import annotations

import numpy as np

from .context import Context
from .estimates import Estimate
from .parameters import Coordinate, to_dynamics
from .readings import select
from .replay_fit import (
    NUDGE,
    START_MARGIN,
    ReplayProblem,
    jitter,
    look_points,
    parabola_vertex,
    response,
    scan,
    visible,
)
from .residuals import robust
from .sinking import SinkReading
from .uncertainty import probe_direction

SLIDE_KINDS = ("touch",)
GRIP_KINDS = ("lift", "weigh")
SINK_COARSE, SINK_SPAN = 0.25, 2.0  # log step and half-width of the sinks' first scan
SINK_FINE = np.linspace(-0.2, 0.2, 5)  # log grid of the sinks' second scan, around the first's best
SINK_DRAWS = 3  # nudged replays averaged per point of the second scan


def object_friction(context: Context, coords: list[Coordinate]) -> list[Estimate]:
    (coord,) = coords
    indices = select(context.recording, SLIDE_KINDS, ("objects",), any_kind=True)
    if not indices:
        return [Estimate(coord, 1.0, np.inf, "object friction", note="no free slide in the recording")]
    problem = ReplayProblem(context, [coord], indices, ("sliding",), vertex=True)
    status = visible(problem)[0]
    if status != "seen":
        return [Estimate(coord, float(coord.value(float(problem.x0[0]))), np.inf, "object friction",
                         note=f"the slides do not place it ({status})")]
    x = scan(problem)
    centre = problem.cost(x)
    tolerance, _ = probe_direction(problem.cost, x, np.ones(1), centre, jitter(problem, x))
    return [Estimate(coord, float(coord.value(float(x[0]))), float(coord.derivative(float(x[0])) * tolerance),
                     "object friction")]


def grip_friction(context: Context, coords: list[Coordinate]) -> list[Estimate]:
    """The first of the coordinates (finger friction, else the grip force) from the lifts' sinks;
    the rest are unseen here: the sinks read their product only."""
    coord, rest = coords[0], coords[1:]
    unseen = [Estimate(c, 1.0, np.inf, "grip friction", note="the sinks read it only with the others")
              for c in rest]
    reading = SinkReading(context, select(context.recording, GRIP_KINDS, ("objects",)))
    try:
        if not len(reading):
            return [Estimate(coord, 1.0, np.inf, "grip friction", note="no lift of the object"), *unseen]
        base = context.dynamics
        x0 = float(coord.coordinate(float(getattr(base, coord.name))))
        low, high = coord.bounds

        def cost(x: float, draws: int = 1) -> float:
            dynamics = to_dynamics(base, [coord], np.array([x]), context.spec.dof)
            return float(np.sum(robust(reading.residuals(dynamics, draws))))

        points = look_points(x0, low + START_MARGIN, high - START_MARGIN)
        status = response(points, np.array([cost(p) for p in points]), x0)
        if status != "seen":
            return [Estimate(coord, float(coord.value(x0)), np.inf, "grip friction",
                             note=f"the sinks do not place it ({status}: the grip hardly slips)"), *unseen]
        grid = np.clip(x0 + np.arange(-SINK_SPAN, SINK_SPAN + 1e-9, SINK_COARSE), low, high)
        smooth = np.convolve([cost(v) for v in grid], np.ones(3), "valid")  # a lucky draw is no basin
        fine = np.clip(grid[1 + int(np.argmin(smooth))] + SINK_FINE, low, high)
        x = parabola_vertex(fine, np.array([cost(v, SINK_DRAWS) for v in fine]))
        centre = cost(x, SINK_DRAWS)
        chaos = abs(cost(x + NUDGE, SINK_DRAWS) - centre)
        tolerance, _ = probe_direction(lambda y: cost(float(y[0]), SINK_DRAWS), np.array([x]), np.ones(1), centre,
                                       chaos)
        context.notes["grip friction"] = {"lifts": len(reading)}
        value = float(coord.value(x))
        return [Estimate(coord, value, float(coord.derivative(x) * tolerance), "grip friction"), *unseen]
    finally:
        reading.close()
