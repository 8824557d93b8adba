"""Fitting coordinates to replays: a coordinate scan, then robust least squares, then the probe.

The replay stages (drives, object friction) share one method. The objective is the robust
(soft-L1) misfit between the recorded readings and their replay over the stage's trajectories
and channels (``residuals``), plus a weak prior (``PRIOR_WEIGHT`` per normalised unit)
towards where the coordinates started, which pins what the data cannot see. Saturation and
contact make the cost far from quadratic over the bounds, but along one field at a time it
is well behaved, so a scan (``scan``) finds the basin: every field over a grid spanning its
bounds, twice, then twice more around its value on finer grids; a per-joint field is
scanned for all joints at once, each joint keeping the value that best explains its own
readings. Least squares then polishes, and ``uncertainty.analyse`` says how well the data
pin each coordinate (Jacobian, bootstrap over trajectories, and a probe of the cost itself).
Coordinates the readings do not respond to (``visible``) are neither scanned nor moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from ..specs import PARAM_NAMES, DynamicsParams
from .context import Context
from .estimates import Estimate
from .parameters import Coordinate, to_coordinates, to_dynamics
from .replay import Simulated
from .residuals import joint_costs, residuals, robust
from .uncertainty import Uncertainty, analyse

PRIOR_WEIGHT = 1.0  # residual units per normalised unit away from the start, in the uncertainty's information
POLISH_PRIOR = 0.01  # ... and in the least-squares polish: the visible coordinates' data decide, not the start
SCAN_POINTS = 12  # grid points per field over its bounds
FULL_PASSES, ZOOM_PASSES, ZOOM_POINTS = 2, 3, 5
START_MARGIN = 0.1  # normalised units kept between a scanned point and the bounds
DIFF_STEP = 0.08  # relative finite-difference step: wide enough to average over saturation jitter
LOCAL_NFEV = 20  # least-squares evaluations
VISIBLE = 0.02  # relative cost rise one normalised unit away that shows a coordinate is seen
JACOBIAN_STEP = 0.05  # normalised units: the finite-difference step of the uncertainty's Jacobian
NUDGE = 1e-7  # normalised units: a change of the dynamics in their last digits (``jitter``)


@dataclass
class ReplayProblem:
    """The objective of one replay stage: ``coords`` fitted on the ``indices`` trajectories' ``channels``."""

    context: Context
    coords: list[Coordinate]
    indices: Sequence[int]
    channels: tuple[str, ...] = ("joints", "gripper", "objects")
    segment: int | None = None
    vertex: bool = False  # a jittery (contact) cost: zoom passes take parabola vertices, not best points
    base: DynamicsParams | None = None  # what is replayed besides the coordinates (default: every estimate so far)

    def __post_init__(self) -> None:
        if self.base is None:
            self.base = self.context.dynamics
        self.x0 = to_coordinates(self.base, self.coords, self.context.spec.dof)
        self.evaluations = 0

    def dynamics(self, x: np.ndarray) -> DynamicsParams:
        return to_dynamics(self.base, self.coords, x, self.context.spec.dof)

    def pairs(self, x: np.ndarray) -> list[tuple]:
        self.evaluations += 1
        sims: list[Simulated] = self.context.replay(self.dynamics(x), self.indices, self.segment)
        return [(self.context.recording.trajectories[i], s) for i, s in zip(self.indices, sims, strict=True)]

    def data(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return residuals(self.pairs(x), self.channels)

    def cost(self, x: np.ndarray) -> float:
        """The data part of the objective (robust loss, no prior)."""
        return float(np.sum(robust(self.data(x)[0])))

    def penalised(self, x: np.ndarray) -> float:
        return self.cost(x) + float(np.sum((PRIOR_WEIGHT * (x - self.x0)) ** 2))

    def bounds(self, margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        low, high = zip(*(c.bounds for c in self.coords), strict=True)
        return np.array(low) + margin, np.array(high) - margin


def scan(problem: ReplayProblem, x: np.ndarray | None = None, passes: int | None = None) -> np.ndarray:
    """The coordinate scan (see the module docstring), fields in ``DynamicsParams`` order; its
    first ``passes`` passes only, if given."""
    x = problem.x0.copy() if x is None else x.copy()
    low, high = problem.bounds(START_MARGIN)
    names = [n for n in PARAM_NAMES if any(c.name == n for c in problem.coords)]
    spacing: dict[str, float] = {}
    for scan_pass in range(FULL_PASSES + ZOOM_PASSES if passes is None else passes):
        for name in names:
            index = [i for i, c in enumerate(problem.coords) if c.name == name]
            if scan_pass < FULL_PASSES:
                grid = first_grid(problem.coords[index[0]], low[index[0]], high[index[0]])
                spacing[name] = float(np.max(np.diff(grid)))
                relative = False
            else:
                spacing[name] /= 2
                grid, relative = np.linspace(-1.0, 1.0, ZOOM_POINTS) * spacing[name], True
            last = scan_pass == FULL_PASSES + ZOOM_PASSES - 1
            _scan_field(problem, x, index, grid, relative, problem.vertex and scan_pass >= FULL_PASSES, last)
            x[index] = np.clip(x[index], low[index], high[index])
    return x


def first_grid(coord: Coordinate, low: float, high: float) -> np.ndarray:
    """A first pass's grid: even over the bounds on a log axis; on a linear one, doubling steps up
    from the low bound (a payload of 0.1 kg matters as much as one of 5 kg being 0.1 kg off)."""
    if coord.log:
        return np.linspace(low, high, SCAN_POINTS)
    steps = low + np.concatenate(([0.0], 0.25 * 2.0 ** np.arange(SCAN_POINTS - 1)))
    return steps[steps <= high]


def _scan_field(problem: ReplayProblem, x: np.ndarray, index: list[int], grid: np.ndarray, relative: bool,
                vertex: bool, last: bool) -> None:
    """Set ``x[index]`` to the grid value of least cost (per joint for a per-joint field, each on its
    own joint's readings). With ``vertex`` (a jittery contact cost) the parabola vertex through the
    whole grid instead, which averages the jitter out where the best point would follow it; in the
    ``last`` pass of a smooth cost, the vertex through the best point and its two neighbours."""
    start = x[index].copy()
    per_joint = problem.coords[index[0]].joint is not None
    costs, values = [], []
    for value in grid:
        trial = x.copy()
        trial[index] = start + value if relative else value
        values.append(trial[index])
        pairs = problem.pairs(trial)
        costs.append(joint_costs(pairs) if per_joint else float(np.sum(robust(residuals(pairs, problem.channels)[0]))))
    costs, values = np.array(costs), np.array(values)
    columns = [costs[:, problem.coords[i].joint] for i in index] if per_joint else [costs]
    for k, (i, column) in enumerate(zip(index, columns, strict=False)):
        best = int(np.argmin(column))
        if vertex:
            x[i] = parabola_vertex(values[:, k], column)
        elif last and 0 < best < len(column) - 1:
            x[i] = parabola_vertex(values[best - 1: best + 2, k], column[best - 1: best + 2])
        else:
            x[i] = values[best, k]


def parabola_vertex(values: np.ndarray, costs: np.ndarray) -> float:
    """Minimiser of the least-squares parabola through (values, costs), kept within the values' span;
    the best value when the parabola is not convex or its vertex is off the grid."""
    best = float(values[int(np.argmin(costs))])
    if np.ptp(values) <= 0:
        return best
    a, b, _ = np.polyfit(values, costs, 2)
    if a <= 0:
        return best
    vertex = -b / (2 * a)
    return float(vertex) if values.min() <= vertex <= values.max() else best


def local_fit(problem: ReplayProblem, x: np.ndarray, nfev: int = LOCAL_NFEV) -> tuple[np.ndarray, np.ndarray]:
    """Robust least squares from ``x``; returns the end point and the data Jacobian there. The
    optimiser works in offsets from ``x``, so its finite-difference step is ``DIFF_STEP``
    normalised units everywhere (a relative step would be huge far from zero)."""
    low, high = problem.bounds()
    x = np.clip(x, low + 1e-9, high - 1e-9)

    def vector(y: np.ndarray) -> np.ndarray:
        return np.concatenate((problem.data(x + y)[0], POLISH_PRIOR * (x + y - problem.x0)))

    result = least_squares(vector, np.zeros(len(x)), bounds=(low - x, high - x), diff_step=DIFF_STEP, x_scale=1.0,
                           loss="soft_l1", f_scale=1.0, max_nfev=nfev, xtol=1e-6, ftol=1e-6)
    return x + result.x, result.jac[: len(result.fun) - len(x)]


def jitter(problem: ReplayProblem, x: np.ndarray) -> float:
    """How much the cost changes when nothing changes: the largest difference to the cost at ``x``
    of ``x`` nudged by ``NUDGE`` and twice that (two replays). Saturated drives and contacts
    are chaotic, so a replay differs in its last digits' worth of dynamics by a cost no
    probe of the data can see past (and a noise-free recording only its exact truth matches)."""
    centre = problem.cost(x)
    return max(abs(problem.cost(x + k * NUDGE) - centre) for k in (1, 2))


def uncertainty(problem: ReplayProblem, x: np.ndarray, jac: np.ndarray) -> Uncertainty:
    data, owners = problem.data(x)
    return analyse(problem.coords, x, jac, data, owners, PRIOR_WEIGHT, problem.context.seed, cost=problem.cost,
                   jitter=jitter(problem, x))


def estimates(problem: ReplayProblem, x: np.ndarray, u: Uncertainty, stage: str) -> list[Estimate]:
    """The fit's coordinates as estimates; a coordinate the probe cannot see at all is unseen."""
    return [Estimate(c, float(c.value(float(xi))), float(u.sigma_value[i]), stage)
            for i, (c, xi) in enumerate(zip(problem.coords, x, strict=True))]


def look_points(x0: float, low: float, high: float) -> np.ndarray:
    """Where ``visible`` looks along one coordinate: one normalised unit either way of ``x0`` and
    halfway to each bound (so a truth far from the start is not missed), within the bounds."""
    points = [(low + x0) / 2, x0 - 1.0, x0, x0 + 1.0, (x0 + high) / 2]
    return np.unique(np.clip(points, low, high))


def response(points: np.ndarray, costs: np.ndarray, x0: float) -> str:
    """What costs at ``points`` say of a coordinate started at ``x0``: ``unseen`` (flat everywhere),
    ``bounded`` (flat from ``x0`` to one end: the data only rule out the other side, and ``x0``
    agrees with them), else ``seen``."""
    floor = VISIBLE * max(float(costs.min()), 1.0)
    flat = costs - costs.min() <= floor
    if flat.all():
        return "unseen"
    at = int(np.argmin(np.abs(points - x0)))
    if flat[at] and (flat[at:].all() or flat[: at + 1].all()):
        return "bounded"
    return "seen"


def visible(problem: ReplayProblem) -> list[str]:
    """Per coordinate, ``response`` at its ``look_points`` (all joints of a per-joint field at once,
    each on its own readings; about four replays per field). A coordinate that is not ``seen``
    is not scanned: the data cannot place it, and the stage reports it unseen (or bounded)."""
    low, high = problem.bounds(START_MARGIN)
    out = ["unseen"] * len(problem.coords)
    for name in dict.fromkeys(c.name for c in problem.coords):
        index = [i for i, c in enumerate(problem.coords) if c.name == name]
        per_joint = problem.coords[index[0]].joint is not None
        grids = [look_points(problem.x0[i], low[i], high[i]) for i in index]
        width = max(len(g) for g in grids)
        grids = [np.resize(g, width) if len(g) == width else np.r_[g, np.full(width - len(g), g[-1])] for g in grids]
        costs = []
        for k in range(width):
            trial = problem.x0.copy()
            trial[index] = [g[k] for g in grids]
            pairs = problem.pairs(trial)
            costs.append(joint_costs(pairs) if per_joint else float(np.sum(robust(residuals(pairs,
                                                                                         problem.channels)[0]))))
        costs = np.array(costs)
        for k, i in enumerate(index):
            column = costs[:, problem.coords[i].joint] if per_joint else costs
            out[i] = response(grids[k], column, problem.x0[i])
    return out


def jacobian(problem: ReplayProblem, x: np.ndarray, step: float = JACOBIAN_STEP) -> np.ndarray:
    """Forward-difference Jacobian of the data residuals at ``x`` (one replay per coordinate)."""
    high = problem.bounds()[1]
    centre = problem.data(x)[0]
    columns = []
    for i in range(len(x)):
        h = step if x[i] + step <= high[i] else -step
        trial = x.copy()
        trial[i] += h
        columns.append((problem.data(trial)[0] - centre) / h)
    return np.stack(columns, axis=1) if columns else np.zeros((len(centre), 0))


def fit(problem: ReplayProblem, stage: str, nfev: int = 0) -> list[Estimate]:
    """The replay stages' common method, one field at a time, the field that explains most first.

    Each field's visibility is checked from the start, and each visible field alone gets a first
    scan over its bounds; the fields then go in the order of how much of the misfit each
    explains on its own (forward selection: a softer drive and a stiffer damping both slow a
    wrist, and whichever is the cause must not be taken over by the other), each scanned from
    where the ones before it ended. A joint least-squares polish (``nfev`` evaluations) and the
    uncertainty follow; unseen coordinates come back with an infinite sigma."""
    x = problem.x0.copy()
    status = ["unseen"] * len(problem.coords)
    gains: dict[str, float] = {}
    centre = problem.cost(x)
    for name in [n for n in PARAM_NAMES if any(c.name == n for c in problem.coords)]:
        index = [i for i, c in enumerate(problem.coords) if c.name == name]
        group = _sub(problem, index, x)
        for i, f in zip(index, visible(group), strict=True):
            status[i] = f
        problem.evaluations += group.evaluations
        seen = [i for i in index if status[i] == "seen"]
        if seen:
            alone = _sub(problem, seen, x)
            gains[name] = centre - alone.cost(scan(alone, passes=1))
            problem.evaluations += alone.evaluations
    for name in sorted(gains, key=lambda n: -gains[n]):
        chosen = [i for i, c in enumerate(problem.coords) if c.name == name and status[i] == "seen"]
        part = _sub(problem, chosen, x)
        x[chosen] = scan(part)
        problem.evaluations += part.evaluations
    seen = [i for i, f in enumerate(status) if f == "seen"]
    notes = {"unseen": "the readings do not respond to it", "bounded": "the readings only bound it (one side)"}
    unseen = {i: Estimate(problem.coords[i], problem.coords[i].value(float(x[i])), np.inf, stage,
                          note=notes[status[i]]) for i in range(len(x)) if i not in seen}
    if not seen:
        return [unseen[i] for i in range(len(x))]
    inner = _sub(problem, seen, x)
    y = inner.x0
    y, jac = local_fit(inner, y, nfev) if nfev else (y, jacobian(inner, y))
    found = dict(zip(seen, estimates(inner, y, uncertainty(inner, y, jac), stage), strict=True))
    problem.evaluations += inner.evaluations
    return [found.get(i) or unseen[i] for i in range(len(x))]


def _sub(problem: ReplayProblem, index: list[int], x: np.ndarray) -> ReplayProblem:
    """The problem restricted to coordinates ``index``, the others held at ``x``."""
    base = to_dynamics(problem.base, problem.coords, x, problem.context.spec.dof)
    return ReplayProblem(problem.context, [problem.coords[i] for i in index], problem.indices, problem.channels,
                         problem.segment, problem.vertex, base)
