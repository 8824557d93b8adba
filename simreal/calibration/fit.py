"""Fitting DynamicsParams to a recording: latency by exhaustive search, the rest by least squares.

The objective is the discrepancy between what the robot reported and what the
simulator predicts for the same commands: joint positions (per 1 cm-rad), gripper
width and perceived object positions (per 5 mm). Continuous fields are fitted by
``scipy.optimize.least_squares`` (robust soft-L1 loss, wide finite-difference steps) in
normalised coordinates (see ``parameters``) on a multiple-shooting replay (segments of
``SEGMENT`` steps, each restarted from the recorded state), started from a coordinate
grid search (``_scan``), since saturation and contact make the landscape far from
quadratic. Masses fitted together with per-joint gains get a joint search of the two
(``_coupled_scan``) between the scan and the local fit: they trade off along a jittery
diagonal valley that neither finds its way down. A weak prior (one normalised unit) towards nominal
pins the directions the data cannot see, so an unidentifiable combination stays at
nominal instead of drifting, and the uncertainty analysis reports it as such. Noise
levels come from the residual at the optimum, not from the optimiser. A fit whose
joint residual stays well above the measurement noise has not explained the data:
it is flagged (``converged = False``) and its Jacobian-based uncertainties mean nothing.
Encoder offsets are measured outside the replay where the data allow: the holding
torques at still postures (``gravity``) and, fused with them, the recorded contacts'
geometry (``geometry``: where a slowly pushed cube came to rest against the fingers); an
offset those pin within ``HELD_SIGMA`` is held, with their uncertainty. The rest start
from the geometry, then a wide-stencil coordinate search on the replay cost
(``_scan_offsets``); their fits also count the perceived cube's orientation
(``orientation_error``), a reading of the wrist's offsets in recordings without pushes.
The cube and the grip are read in stages, each field on what sees it: a weighed mass
(``weighing``) is kept from the start (``_fix_weighed``); the object friction is scanned
on the free slides (``FREE_SLIDES``); the grip force is placed where the slow lifts' sinks
match (``sinking``, ``_grip_from_sinks``). When every field is such a contact field the
local fit does not move them (``_local_budget``), and each field's tolerance is probed
on its own reading (``_staged_uncertainty``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from ..specs import PARAM_NAMES, DynamicsParams, RobotSpec, SceneSpec, SpecError, dynamics_from_mapping, param_info
from .parameters import (
    GAIN_FIELDS,
    Coordinate,
    check_names,
    coordinates,
    split_names,
    stable_gain,
    to_coordinates,
    to_dynamics,
)
from .coordinate_search import UNSEEN, coordinate_search
from .geometry import ContactGeometry
from .gravity import GravityOffsets, fit_gravity_offsets, holding_poses
from .replay import Simulated
from .simulate import Simulator
from .sinking import DITHER, SinkReading
from .symmetry import apply_symmetries, resolve
from .trajectory_file import Recording, check_recording
from .uncertainty import PROBE_STEP, Uncertainty, analyse, probe_direction
from .weighing import weigh

JOINT_SCALE = 0.01  # rad per residual unit
OBJECT_SCALE = 0.005  # m per residual unit
ORIENTATION_SCALE = 0.02  # rad per residual unit of the perceived cube's orientation (fits of ``joint_offset`` only)
GRIPPER_SCALE = 0.005  # m per residual unit
PRIOR_WEIGHT = 1.0  # residual units per normalised unit away from nominal
LOSS, LOSS_SCALE = "soft_l1", 1.0  # robust beyond 1 residual unit: contact moments, saturated wrists
SCAN_POINTS = 12  # grid points per field in the initial scan
DIFF_STEP = 0.08  # relative finite-difference step: wide enough to average over saturation jitter
SCAN_PASSES, FULL_PASSES = 4, 2  # two passes over the bounds, then two zooming in
ZOOM_POINTS = 5
UNSCANNED = frozenset({"joint_offset"})  # not in the grid scan: ``_scan_offsets`` has its own
OFFSET_SPANS = (4.0, 2.0, 1.0)  # normalised (1 = 10 mrad) half-widths of the encoder-offset coordinate search
OFFSET_RESOLUTION = 0.25  # normalised units: an offset is identifiable when 2 tolerances fit in 5 mrad (~95 %)
HELD_SIGMA = 0.005  # rad: an offset the torques or the contacts pin this well is held there (``_hold_gravity``)
START_MARGIN = 0.1  # normalised units kept between a starting point and the bounds
SEGMENT = 15  # control steps per multiple-shooting segment (0.75 s at 20 Hz)
CONTACT_FIELDS = {"finger_friction": "joint", "object_friction_scale": "sliding",  # scanned on what sees them
                  "gripper_force": "robust", "object_mass_scale": "robust"}
VERTEX_FIELDS = frozenset({"finger_friction", "object_friction_scale"})  # zoom passes: parabola vertex
GRIP_FIELDS = ("gripper_force", "object_mass_scale")  # the cube feels their ratio only (see ``symmetry``)
GRIP_STEPS = np.linspace(-0.8, 0.8, 9)  # ``_grip_refine``'s grip grid (log units around the scan's end)
SLIDE_STEPS = np.linspace(-0.2, 0.2, 5)  # ... and its object friction stencil
GRIP_COARSE, GRIP_SPAN = 0.15, 2.0  # log step and half-width of ``_grip_from_sinks``'s first scan
GRIP_FINE = np.linspace(-0.15, 0.15, 9)  # ... and its finer grid around the best (log units)
SINK_DRAWS = 3  # replays averaged per simulated sink in the finer grid (``SinkReading.simulated``)
FREE_SLIDES = ("touch", "slide")  # kinds whose cube only ever slides free on the table (flicks, slides)
ON_TABLE, ON_TABLE_SAMPLES = 0.005, 10  # m above the cube's height over the first samples: still on the table
MASS_FIELDS = ("payload_mass", "link_mass_scale")  # trade off against the drives' gains: see ``_coupled_scan``
MASS_STEPS = {"payload_mass": 0.3, "link_mass_scale": 0.08}  # normalised steps of ``_coupled_scan``'s grid
GAIN_REFIT_STEP = 0.05  # normalised spacing of its per-joint gain refit grid (5 points)
COUPLED_NFEV = 4  # the local fit's budget after it: it only polishes (and gives the Jacobian)
EXPLAINED_FACTOR = 3.0  # a fit explains the data when the joint RMS is within this factor of the noise
Progress = Callable[[str, float], None]


@dataclass
class Fit:
    """What a calibration found; ``dynamics`` is nominal with the fitted fields replaced."""

    dynamics: DynamicsParams
    names: list[str]
    coords: list[Coordinate]
    uncertainty: Uncertainty | None
    residual_before: dict[str, float]
    residual_after: dict[str, float]
    latency_costs: dict[int, float] = field(default_factory=dict)
    noise_sigma: dict[str, float] = field(default_factory=dict)
    converged: bool = True  # the fitted model explains the joints down to their noise level
    wall_time_s: float = 0.0
    replays: int = 0
    simulated_before: list[Simulated] = field(default_factory=list)
    simulated_after: list[Simulated] = field(default_factory=list)
    known: dict[str, object] = field(default_factory=dict)  # fields held at given values (measured otherwise)
    gravity: GravityOffsets | None = None  # encoder offsets read from the holding torques, when fitted
    offset_sources: dict[int, str] = field(default_factory=dict)  # joint: what read its offset ("torques", ...)


def residuals(recording: Recording, sims: list[Simulated],
              orientation: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Scaled residual vector and, per entry, the index of its trajectory.

    With ``orientation`` the perceived objects' orientations count too (``ORIENTATION_SCALE``,
    see ``orientation_error``): only encoder-offset fits use them, where a held or pushed
    cube turning with the hand is the only reading of the wrist's offsets."""
    parts, owners = [], []
    for i, (traj, sim) in enumerate(zip(recording.trajectories, sims, strict=True)):
        chunk = [((sim.joint_positions - traj.joint_positions) / JOINT_SCALE).ravel(),
                 ((sim.gripper_width - traj.gripper_width) / GRIPPER_SCALE).ravel()]
        if traj.has_objects and sim.object_positions.shape == traj.object_positions.shape:
            chunk.append(((sim.object_positions - traj.object_positions) / OBJECT_SCALE).ravel())
            if orientation and sim.object_orientations.shape == traj.object_orientations.shape:
                error = orientation_error(sim.object_orientations, traj.object_orientations)
                chunk.append((error / ORIENTATION_SCALE).ravel())
        flat = np.concatenate(chunk)
        parts.append(flat)
        owners.append(np.full(len(flat), i))
    return np.concatenate(parts), np.concatenate(owners)


def _matrices(quaternions: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of unit quaternions (..., 4) given as (x, y, z, w)."""
    q = np.asarray(quaternions, dtype=float)
    return Rotation.from_quat(q.reshape(-1, 4)).as_matrix().reshape(*q.shape[:-1], 3, 3)


def orientation_error(simulated: np.ndarray, recorded: np.ndarray) -> np.ndarray:
    """Small-angle rotation (..., 3, rad, in the recorded object's frame) from the recorded to
    the simulated orientation, up to the cube's symmetry: each simulated axis is matched to
    the recorded axis it lies closest to, so quarter turns cost nothing (the scene's object is
    a cube). Large errors come out distorted but bounded, as the robust loss needs."""
    relative = np.swapaxes(_matrices(recorded), -1, -2) @ _matrices(simulated)
    best = np.argmax(np.abs(relative), axis=-1)
    signs = np.sign(np.take_along_axis(relative, best[..., None], axis=-1))
    match = np.zeros_like(relative)
    np.put_along_axis(match, best[..., None], signs, axis=-1)
    aligned = relative @ np.swapaxes(match, -1, -2)
    return 0.5 * np.stack([aligned[..., 2, 1] - aligned[..., 1, 2], aligned[..., 0, 2] - aligned[..., 2, 0],
                           aligned[..., 1, 0] - aligned[..., 0, 1]], -1)


def summary(recording: Recording, sims: list[Simulated]) -> dict[str, float]:
    """RMS joint error (rad) and RMS object position error (m) over all samples."""
    joints = np.concatenate([(s.joint_positions - t.joint_positions).ravel()
                             for t, s in zip(recording.trajectories, sims, strict=True)])
    objects = [(s.object_positions - t.object_positions).ravel()
               for t, s in zip(recording.trajectories, sims, strict=True)
               if t.has_objects and s.object_positions.shape == t.object_positions.shape]
    out = {"joint_rms_rad": float(np.sqrt(np.mean(joints**2)))}
    if objects:
        out["object_rms_m"] = float(np.sqrt(np.mean(np.concatenate(objects) ** 2)))
    return out


def noise_level(recorded: list[np.ndarray], simulated: list[np.ndarray]) -> float:
    """Std of white measurement noise from the residual's step-to-step differences.

    Differencing cancels most slowly varying model error; the median (MAD) ignores the
    few large jumps at impacts. For white noise the difference has std sqrt(2) sigma.
    """
    diffs = np.concatenate([np.diff(r - s, axis=0).ravel() for r, s in zip(recorded, simulated, strict=True)])
    if diffs.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(diffs)) / np.sqrt(2.0))


def shared_noise_level(recorded: list[np.ndarray], simulated: list[np.ndarray]) -> float:
    """Std of white noise shared by every column (joint): the lower quartile of the columns'
    ``noise_level``s.

    One encoder spec serves every joint, and model error only adds to a joint's step
    differences: at contacts and restarts the wrist's small inertia rings, so its
    differences read high even when replaying the truth (miscalibrated: wrist 0.024-0.025
    rad/s, shoulder 0.020, truth 0.02). The least contaminated joints bound the noise
    best; the quartile, not the minimum, keeps one joint's sampling luck from biasing it low."""
    columns = recorded[0].shape[1] if recorded and recorded[0].ndim == 2 else 0
    if columns < 4:
        return noise_level(recorded, simulated)
    per_column = [noise_level([r[:, j] for r in recorded], [s[:, j] for s in simulated]) for j in range(columns)]
    return float(np.percentile(per_column, 25))


def _noise(recording: Recording, sims: list[Simulated], names: list[str]) -> dict[str, float]:
    pairs = list(zip(recording.trajectories, sims, strict=True))
    sources = {
        "position_noise": lambda t, s: (t.joint_positions, s.joint_positions),
        "velocity_noise": lambda t, s: (t.joint_velocities, s.joint_velocities),
        "object_position_noise": lambda t, s: (t.object_positions, s.object_positions),
    }
    out = {}
    for name in names:
        chosen = [sources[name](t, s) for t, s in pairs if name != "object_position_noise" or t.has_objects]
        if not chosen and name == "object_position_noise":
            raise ValueError("object_position_noise needs recorded object poses (a deploy log has none)")
        high = param_info(name)["high"]
        level = noise_level if name == "object_position_noise" else shared_noise_level
        out[name] = min(level([r for r, _ in chosen], [s for _, s in chosen]), high)
    return out


class _Problem:
    """The objective for one latency: prior-augmented residuals of the coordinates."""

    def __init__(self, recording: Recording, simulator: Simulator, coords: list[Coordinate], base: DynamicsParams,
                 dof: int, progress: Progress | None, sinks: SinkReading | None = None) -> None:
        self.recording, self.simulator, self.coords, self.base, self.dof = recording, simulator, coords, base, dof
        self.sinks = sinks if sinks is not None and len(sinks) else None  # the slow lifts' sinks (``sinking``)
        self.x0 = to_coordinates(base, coords, dof)
        self.orientation = any(c.name == "joint_offset" for c in coords)  # see ``residuals``
        self.held = np.zeros(len(coords), dtype=bool)  # coordinates measured otherwise: not fitted here
        self.held_covariance = np.zeros((len(coords), len(coords)))  # rad^2 of the held offsets (measured otherwise)
        self.fused = np.zeros(len(coords), dtype=bool)  # held offsets the contacts pinned (with the torques, if any)
        self.fixed = np.zeros(len(coords), dtype=bool)  # set by a reading outside the replay (the weighed mass)
        self.progress = progress
        self.evaluations = 0

    def dynamics(self, x: np.ndarray, latency: int) -> DynamicsParams:
        d = to_dynamics(self.base, self.coords, x, self.dof)
        return d if latency == d.latency_steps else _with_latency(d, latency)

    def simulate(self, x: np.ndarray, latency: int) -> list[Simulated]:
        self.evaluations += 1
        return self.simulator.run(self.dynamics(x, latency))

    def sink_cost(self, x: np.ndarray, latency: int, draws: int = 1) -> float:
        """The robust cost of the lifts' sinks (``sinking``; 0 without any), each simulated
        sink the mean of ``draws`` replays (``SinkReading.simulated``)."""
        if self.sinks is None:
            return 0.0
        return float(np.sum(_robust(self.sinks.residuals(self.dynamics(x, latency), draws))))

    def data(self, x: np.ndarray, latency: int) -> tuple[np.ndarray, np.ndarray]:
        """The scaled residuals of the replay and of the lifts' sinks, and each one's trajectory
        (the lifts' numbered after the replayed trajectories)."""
        data, owners = residuals(self.recording, self.simulate(x, latency), self.orientation)
        if self.sinks is None:
            return data, owners
        count = len(self.recording.trajectories)
        return (np.concatenate((data, self.sinks.residuals(self.dynamics(x, latency)))),
                np.concatenate((owners, count + self.sinks.owners)))

    def vector(self, x: np.ndarray, latency: int) -> np.ndarray:
        data, _ = self.data(x, latency)
        if self.progress:
            self.progress("fitting", min(self.evaluations / 150, 0.95))
        return np.concatenate((data, PRIOR_WEIGHT * (x - self.x0)))

    def data_cost(self, x: np.ndarray, latency: int) -> float:
        """The data part of the objective (robust loss, no prior): what the uncertainty probe evaluates."""
        return float(np.sum(_robust(self.data(x, latency)[0])))

    def cost(self, x: np.ndarray, latency: int) -> float:
        return float(np.sum(self.vector(x, latency) ** 2))


def _robust(r: np.ndarray) -> np.ndarray:
    """The soft-L1 loss ``least_squares`` applies (``LOSS``, ``LOSS_SCALE``)."""
    z = (r / LOSS_SCALE) ** 2
    return 2 * LOSS_SCALE**2 * (np.sqrt(1 + z) - 1)


def _with_latency(d: DynamicsParams, latency: int) -> DynamicsParams:
    return dataclasses.replace(d, latency_steps=int(latency))


def _joint_costs(recording: Recording, sims: list[Simulated]) -> np.ndarray:
    """Sum of squared scaled joint residuals, per joint."""
    return sum(np.sum(((s.joint_positions - t.joint_positions) / JOINT_SCALE) ** 2, axis=0)
               for t, s in zip(recording.trajectories, sims, strict=True))


def _scan(problem: _Problem, latency: int, order: list[str]) -> np.ndarray:
    """A global first guess by coordinate search: each field over a grid, the others held.

    Saturation and contact make the cost far from quadratic over the bounds, but along
    one field at a time it is well behaved, so a local fit started here lands in the
    right basin. The first two passes span the bounds (the second with the other fields
    already moved); each later pass re-scans every field around its current value on a
    grid of the previous spacing halved. A per-joint field is scanned for all joints at once and each
    joint keeps the value that best explains *its own* readings (the joints barely
    couple). Encoder offsets are not scanned: free-space data hardly see them. Fields go
    in ``order`` (see ``_scan_orders``). (The second full pass re-scans relative to the
    first's values, so it spans the bounds' width shifted, not the bounds.)"""
    x = problem.x0.copy()
    low, high = _bounds(problem)
    low, high = low + START_MARGIN, high - START_MARGIN
    spacing = {}
    for scan in range(SCAN_PASSES):
        for name in order:
            index = [i for i, c in enumerate(problem.coords) if c.name == name and not problem.fixed[i]]
            if not index:
                continue
            if scan < FULL_PASSES:  # again once the other fields have moved: coupling biases pass 0
                grid = _first_grid(problem.coords[index[0]], low[index[0]], high[index[0]])
                spacing[name] = float(np.max(np.diff(grid)))
            else:
                spacing[name] /= 2
                grid = np.linspace(-1.0, 1.0, ZOOM_POINTS) * spacing[name]
            _scan_field(problem, latency, x, index, grid, relative=scan > 0, zoom=scan >= FULL_PASSES)
            x[index] = np.clip(x[index], low[index], high[index])
    return x


def _scan_orders(coords: list[Coordinate]) -> list[list[str]]:
    """The field orders the scan starts from: gains first, the rest in DynamicsParams order.

    The scan's end depends on its order where fields trade off, so a fixed order makes
    the fit independent of how ``--params`` lists them. In a gain/mass valley
    (``coupled``) the scan also runs with the masses reversed and the better end is kept
    (heavy_payload: cost 242 against 373), which is where ``_coupled_scan`` finds the way
    down (to 178, the truth's level; from the other end it stalls at 324)."""
    names = [n for n in PARAM_NAMES if n not in UNSCANNED and any(c.name == n for c in coords)]
    names.sort(key=lambda n: n not in GAIN_FIELDS)  # gains dominate: first
    if not coupled(coords):
        return [names]
    gains = [n for n in names if n in GAIN_FIELDS]
    rest = [n for n in names if n not in GAIN_FIELDS]
    return [names, gains + rest[::-1]]


def _start(problem: _Problem, latency: int) -> np.ndarray:
    """The scan's best end over ``_scan_orders``, then the mass/gain search from there."""
    ends = [_scan(problem, latency, order) for order in _scan_orders(problem.coords)]
    best = min(ends, key=lambda x: _penalised_cost(problem, x, latency)) if len(ends) > 1 else ends[0]
    return _coupled_scan(problem, latency, _grip_refine(problem, latency, _grip_from_sinks(problem, latency, best)))


def _replay_jitter(problem: _Problem, x: np.ndarray, latency: int, after: list[Simulated]) -> float:
    """The largest joint RMS (rad) between the fitted replay and the same dynamics with the
    grip force nudged by ``DITHER`` times 1, 2 and 3, when the fit has a grip field (three
    more replays), else 0.

    A slipping cube is chaotic: a nudge alone moves a slippery replay's joints by 0.2-1.0
    mrad (five nudges of the seed-0 recording's replay at finger friction 0.346, object
    friction 0.405, grip force 0.523: 0.27, 0.97, 0.39, 0.21, 0.27), so no fit explains
    noise-free joints closer than that, not even the truth but for its own replay."""
    if not any(c.name in GRIP_FIELDS for c in problem.coords):
        return 0.0
    d, out = problem.dynamics(x, latency), 0.0
    for k in (1, 2, 3):
        nudged = problem.simulator.run(dataclasses.replace(d, gripper_force=d.gripper_force * (1 + k * DITHER)))
        out = max(out, float(np.sqrt(np.mean(np.concatenate([((a.joint_positions - b.joint_positions) ** 2).ravel()
                                                              for a, b in zip(after, nudged, strict=True)])))))
    return out


def _staged(problem: _Problem) -> bool:
    """Every field is a contact field and the lifts' sinks placed the grip: each field then
    comes from its own reading (``CONTACT_FIELDS``, ``_grip_from_sinks``), not from one cost."""
    return problem.sinks is not None and all(c.name in CONTACT_FIELDS for c in problem.coords)


def _stage_cost(problem: _Problem, name: str, latency: int) -> Callable[[np.ndarray], float]:
    """The cost a staged field was placed on: the lifts' sinks for the grip, else its scan's."""
    if name in GRIP_FIELDS:
        return lambda y: problem.sink_cost(y, latency, SINK_DRAWS)
    return lambda y: _scan_cost(problem.recording, problem.simulate(y, latency), name)


def _staged_uncertainty(u: Uncertainty, problem: _Problem, x: np.ndarray, latency: int) -> None:
    """In a staged fit (``_staged``) each field's tolerance is probed on the cost that placed
    it (``probe_direction``, two replays each): x is no minimum of the whole replay's cost,
    whose two sides then disagree by a slope and flag every field. The weighed mass is left
    to ``resolve``, and so is the grip when the mass is weighed (it probes the grip on the same
    sinks); the fields are no part of the replay's trade-offs (``combinations``)."""
    if not _staged(problem):
        return
    coords = problem.coords
    weighed = any(problem.fixed[i] and c.name == "object_mass_scale" for i, c in enumerate(coords))
    staged = [i for i, c in enumerate(coords) if not (problem.fixed[i] and c.name == "object_mass_scale")]
    labels = {coords[i].label for i in staged}
    u.combinations = [c for c in u.combinations if not set(c["fields"]) & labels]
    staged = [i for i in staged if not (weighed and coords[i].name in GRIP_FIELDS)]
    for i in staged:
        cost = _stage_cost(problem, coords[i].name, latency)
        tolerance, _ = probe_direction(cost, x, np.eye(len(x))[i], cost(x))
        u.sigma_jacobian[i] = u.sigma_bootstrap[i] = tolerance
        if u.sigma_probe is not None:
            u.sigma_probe[i] = tolerance
        u.identifiable[i] = tolerance <= PROBE_STEP
        u.sigma_value[i] = coords[i].derivative(float(x[i])) * u.sigma[i]
    flagged = [i for i in staged if not u.identifiable[i] and coords[i].name not in GRIP_FIELDS]  # grip: ``resolve``
    _single_combinations(u, coords, x, flagged)


def _local_budget(problem: _Problem) -> int:
    """Replays the local fit may spend: it only polishes in a gain/mass valley (``coupled``),
    and does not move at all (it gives the Jacobian) when every field is a contact field and
    the grip was placed by the lifts' sinks: along a contact field the cost jitters, and the
    local fit walked into its pits (slippery: finger friction from 0.4 % to 8.8 % off, seed 1;
    object friction from 2.2 % low to 2.4 % high, seed 0), where the scan's vertex passes
    average the jitter out."""
    if _staged(problem):
        return 1
    return COUPLED_NFEV if coupled(problem.coords) else 20


def _grip_from_sinks(problem: _Problem, latency: int, x: np.ndarray) -> np.ndarray:
    """The grip field (the force, else the mass) where the lifts' sinks match the recording
    (``sinking``), then held there for the rest of the fit (``problem.fixed``).

    The replay cannot place the grip: off the true dynamics its cost along the grip is
    jagged and leans low (slippery seed 1, the rest true: 1039 at 40 % low, 1742 at 20 %
    high, 417 only at the truth itself), so scans and the local fit landed 10-80 % off.
    The sinks' cost rises on both sides of the force that just holds the cube (lifts at
    graded speeds), so it is scanned alone: ``GRIP_COARSE`` log steps over ``GRIP_SPAN``
    around ``x`` (each point replays only the lifts, open loop: ~0.3 s), the best of the
    3-point running mean, then the parabola vertex over ``GRIP_FINE`` around it, each point
    the mean of ``SINK_DRAWS`` replays. The sinks read grip x friction / mass, so this runs
    after the scan has placed the frictions on their own readings. Without lifts, ``x`` as is."""
    index = [i for n in GRIP_FIELDS for i, c in enumerate(problem.coords) if c.name == n]  # the force first
    if problem.sinks is None or not index:
        return x
    i, x = index[0], x.copy()
    low, high = _bounds(problem)
    low, high = low[i] + START_MARGIN, high[i] - START_MARGIN

    def costs(values: np.ndarray, draws: int) -> np.ndarray:
        return np.array([problem.sink_cost(np.where(np.arange(len(x)) == i, v, x), latency, draws) for v in values])

    grid = np.clip(x[i] + np.arange(-GRIP_SPAN, GRIP_SPAN + 1e-9, GRIP_COARSE), low, high)
    smooth = np.convolve(costs(grid, 1), np.ones(3), "valid")  # a lucky draw is no basin
    best = grid[1 + int(np.argmin(smooth))]
    fine = np.clip(best + GRIP_FINE, low, high)
    x[i] = _vertex(fine, costs(fine, SINK_DRAWS))
    problem.fixed[i] = True
    return x


def _grip_refine(problem: _Problem, latency: int, x: np.ndarray) -> np.ndarray:
    """The grip (force / mass) and the object friction once more, on a finer, wider grid than the scan's.

    They trade off: a cube that slips in the hand too easily also slides too easily
    when the closing fingers centre it, so a grip left low by the scan pulls the
    object friction up (slippery: +11 % at a ratio 60 % low). Along the grip the cost
    falls slowly towards the truth and jumps just past it, where the squeezed cube
    stops slipping, so the scan's coarse steps (0.6 in log) miss the edge. So the grip
    field (the force, else the mass) takes the best of ``GRIP_STEPS`` by the robust cost,
    then the object friction the parabola vertex of its sliding cost over ``SLIDE_STEPS``.
    Runs when the object friction and a grip field are fitted (14 replays)."""
    names = [c.name for c in problem.coords]
    if "object_friction_scale" not in names or not any(n in names for n in GRIP_FIELDS):
        return x
    x = x.copy()
    low, high = _bounds(problem)
    low, high = low + START_MARGIN, high - START_MARGIN
    grip = [i for n in GRIP_FIELDS for i, c in enumerate(problem.coords) if c.name == n and not problem.fixed[i]]
    if grip:  # not already placed by the lifts' sinks (``_grip_from_sinks``)
        _scan_field(problem, latency, x, grip[:1], GRIP_STEPS, relative=True)
        x[grip[0]] = np.clip(x[grip[0]], low[grip[0]], high[grip[0]])
    slide = names.index("object_friction_scale")
    _scan_field(problem, latency, x, [slide], SLIDE_STEPS, relative=True, zoom=True)
    x[slide] = np.clip(x[slide], low[slide], high[slide])
    return x


def _coupled_scan(problem: _Problem, latency: int, x: np.ndarray) -> np.ndarray:
    """Masses and per-joint gains searched together: a grid over the masses, the gains refit at each point.

    Where drives saturate (the 12 N*m wrist), a heavier load and a softer gain both slow
    a joint down, so the masses and the gains of the joints they load form a diagonal
    valley. A coordinate search (``_scan``), a pattern search and the local fit all stall
    in it: the cost jitters by ~10 % between 1 % steps, so no single-field move and no
    finite-difference step finds the way down, although a joint move does (heavy_payload:
    from 226 to 183). So every mass field takes the steps -1, 0, +1 (``MASS_STEPS``)
    around ``x`` (all combinations), the per-joint gains are refit at each point (each
    joint on its own readings, ``_gain_refit``), and the best point by the whole robust
    cost (plus prior) is kept, if it beats ``x``. One round (55 replays for two masses):
    a second, finer one moved nothing on heavy_payload. Runs only when a mass field and
    a per-joint gain field are both fitted (``coupled``)."""
    if not coupled(problem.coords):
        return x
    masses = [i for i, c in enumerate(problem.coords) if c.name in MASS_FIELDS]
    gains = [i for i, c in enumerate(problem.coords) if c.name in GAIN_FIELDS and c.joint is not None]
    low, high = _bounds(problem)
    low, high = low + START_MARGIN, high - START_MARGIN
    steps = np.array([MASS_STEPS[problem.coords[i].name] for i in masses])
    points = [(_penalised_cost(problem, x, latency), x)]
    for offsets in itertools.product((-1.0, 0.0, 1.0), repeat=len(masses)):
        y = x.copy()
        y[masses] = np.clip(x[masses] + steps * np.array(offsets), low[masses], high[masses])
        y[gains] = _gain_refit(problem, latency, y, gains, GAIN_REFIT_STEP, low, high)
        points.append((_penalised_cost(problem, y, latency), y))
    return min(points, key=lambda point: point[0])[1]


def coupled(coords: list[Coordinate]) -> bool:
    """Whether a mass field and a per-joint gain field are both fitted (see ``_coupled_scan``)."""
    names = {c.name for c in coords}
    return bool(names & set(MASS_FIELDS)) and any(c.name in GAIN_FIELDS and c.joint is not None for c in coords)


def _gain_refit(problem: _Problem, latency: int, x: np.ndarray, index: list[int], spacing: float,
                low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Per-joint gains around ``x``: five points a joint, each joint the vertex of its own robust cost."""
    candidates = np.clip(x[index] + spacing * np.linspace(-2.0, 2.0, 5)[:, None], low[index], high[index])
    costs = []
    for row in candidates:
        trial = x.copy()
        trial[index] = row
        costs.append(_robust_joint_costs(problem.recording, problem.simulate(trial, latency)))
    costs = np.array(costs)
    return np.array([_vertex(candidates[:, k], costs[:, problem.coords[i].joint]) for k, i in enumerate(index)])


def _penalised_cost(problem: _Problem, x: np.ndarray, latency: int) -> float:
    """The fit's objective: robust data cost plus the prior."""
    return problem.data_cost(x, latency) + float(np.sum((PRIOR_WEIGHT * (x - problem.x0)) ** 2))


def _robust_joint_costs(recording: Recording, sims: list[Simulated]) -> np.ndarray:
    """Robust cost (``_robust``) of the scaled joint residuals, per joint."""
    return sum(np.sum(_robust((s.joint_positions - t.joint_positions) / JOINT_SCALE), axis=0)
               for t, s in zip(recording.trajectories, sims, strict=True))


def _vertex(values: np.ndarray, costs: np.ndarray) -> float:
    """Minimiser of the least-squares parabola through (values, costs), kept within the values' span.

    Averages out the cost's jitter that picking the best value would follow. Falls back
    to the best value when the parabola is not convex or its vertex is off the grid."""
    best = float(values[int(np.argmin(costs))])
    if np.ptp(values) <= 0:
        return best
    a, b, _ = np.polyfit(values, costs, 2)
    if a <= 0:
        return best
    vertex = -b / (2 * a)
    return float(vertex) if values.min() <= vertex <= values.max() else best


def _geometric_offsets(problem: _Problem, x: np.ndarray, spec: RobotSpec, scene: SceneSpec,
                       gravity: GravityOffsets | None) -> np.ndarray:
    """``x`` with the encoder offsets from the recorded contacts' geometry (see ``geometry``),
    fused with the holding torques' reading where there is one (``gravity``: its
    covariance enters as a prior); without torques the held offsets stay. Offsets the
    result pins within ``HELD_SIGMA`` are held (``problem.held``, ``held_covariance``):
    on miscalibrated the finger pushes read the base's and the flange's offsets to ~1 and
    ~2 mrad, which neither gravity nor the replay's jagged cost can."""
    index = [i for i, c in enumerate(problem.coords) if c.name == "joint_offset"]
    joints = [problem.coords[i].joint for i in index]
    prior = None
    if gravity is not None:
        prior = np.diag(np.full(spec.dof, np.inf))
        seen = np.flatnonzero(gravity.seen)
        prior[np.ix_(seen, seen)] = gravity.covariance
        prior = prior[np.ix_(joints, joints)]
    geometry = ContactGeometry(problem.recording, spec, scene)
    try:
        scale = problem.coords[index[0]].scale
        found = geometry.fit(np.array([problem.coords[i].value(x[i]) for i in index]), scale,
                             held=None if prior is not None else problem.held[index], prior=prior)
        covariance = geometry.covariance
    finally:
        geometry.close()
    pinned = np.sqrt(np.diag(covariance)) <= HELD_SIGMA
    if not pinned.any():
        return x
    x = x.copy()
    x[index] = found / scale
    coords = np.array(index)
    if prior is not None:  # the fused reading supersedes the torques' alone
        problem.held[coords] = pinned
        problem.held_covariance[np.ix_(coords, coords)] = 0.0
    else:  # the held joints were not fitted: none of them is among the pinned
        problem.held[coords] |= pinned
    problem.fused[coords[pinned]] = True
    problem.held_covariance[np.ix_(coords[pinned], coords[pinned])] = covariance[np.ix_(pinned, pinned)]
    return x


def _scan_offsets(problem: _Problem, latency: int, x: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
    """Encoder offsets by a wide-stencil coordinate search on the whole objective (robust
    data cost plus prior), see ``coordinate_search``; also each offset's tolerance there.

    An offset shifts where the hand really meets the table or cube, and contacts are
    discrete events: within a few mrad the cost jitters by ~10 %, so finite differences
    and small pattern steps follow the jitter, while over ``OFFSET_SPANS`` the trend shows."""
    index = [i for i, c in enumerate(problem.coords) if c.name == "joint_offset" and not problem.held[i]]
    if not index:
        return x, {}
    low, high = _bounds(problem)
    return coordinate_search(lambda y: _penalised_cost(problem, y, latency), x, index, OFFSET_SPANS,
                             (low + START_MARGIN, high - START_MARGIN))


def _flag_offsets(uncertainty: Uncertainty, coords: list[Coordinate], x: np.ndarray, jac: np.ndarray,
                  tolerance: dict[int, float]) -> None:
    """Fold the coordinate search's tolerances into the uncertainty of the encoder offsets.

    The generic probe steps a tenth of a unit (1 mrad), inside the contact jitter, so it
    can call a flat valley pinned; the search's parabolas span centimetres of hand
    motion. But a parabola holds the other joints still: in a valley along two joints
    (an elbow offset the forearm offset undoes) each looks pinned on its own. So each
    tolerance is widened by its joint's variance inflation in the Jacobian's
    information (with the prior): how much less the data pin the joint once the others
    may move too. An offset is identifiable when its tolerance is within ``OFFSET_RESOLUTION``.
    A flagged offset is pinned only to the region searched: its tolerance is at least the
    search's widest span (on miscalibrated, joint 4's parabolas claimed 7 mrad for a
    37 mrad error)."""
    index = list(tolerance)
    if not index:
        return
    info = jac[:, index].T @ jac[:, index] + PRIOR_WEIGHT**2 * np.eye(len(index))
    inflation = np.sqrt(np.clip(np.diag(np.linalg.inv(info)) * np.diag(info), 1.0, None))
    for k, i in enumerate(index):
        tol = min(tolerance[i] * float(inflation[k]), UNSEEN)
        uncertainty.sigma_probe[i] = max(uncertainty.sigma_probe[i], tol)
        uncertainty.identifiable[i] = tol <= OFFSET_RESOLUTION
        if not uncertainty.identifiable[i]:
            tol = max(tol, OFFSET_SPANS[0])
        uncertainty.sigma_probe[i] = max(uncertainty.sigma_probe[i], tol)
        uncertainty.sigma_value[i] = coords[i].derivative(float(x[i])) * uncertainty.sigma[i]
    _single_combinations(uncertainty, coords, x, [i for i in index if not uncertainty.identifiable[i]])


def _single_combinations(u: Uncertainty, coords: list[Coordinate], x: np.ndarray, flagged: list[int]) -> None:
    """Each flagged offset (or staged field) reported as measured on its own to its widened
    tolerance. The Jacobian's combinations of flagged fields alone are dropped: they claim what
    the search disowns (joint_offset[0] to 1 mrad on miscalibrated, where the search says 40)."""
    labels = {coords[i].label: i for i in flagged}
    u.combinations = [c for c in u.combinations if not set(c["fields"]) <= set(labels)]
    for label, i in labels.items():
        u.combinations.append({"fields": [label], "axes": {label: "log" if coords[i].log else "linear"},
                               "trade_off": [], "weights": {label: 1.0}, "value": float(x[i]),
                               "sigma": float(u.sigma_probe[i])})


def _first_grid(coord: Coordinate, low: float, high: float) -> np.ndarray:
    """Log fields: even in log over the bounds; linear ones: doubling steps from the low bound."""
    if coord.log:
        return np.linspace(low, high, SCAN_POINTS)
    steps = low + np.concatenate(([0.0], 0.25 * 2.0 ** np.arange(SCAN_POINTS - 1)))
    return steps[steps <= high]


def _scan_field(problem: _Problem, latency: int, x: np.ndarray, index: list[int], grid: np.ndarray,
                relative: bool, zoom: bool = False) -> None:
    """Set ``x[index]`` to the grid value of least cost (per joint for a per-joint field).

    A contact-driven field (``CONTACT_FIELDS``) is scored on the readings that see it,
    and in the zoom passes goes to the parabola vertex (``_vertex``) through the grid:
    its cost jumps as grasps slip or not, so the best grid point is luck."""
    start = x[index].copy()
    per_joint = problem.coords[index[0]].joint is not None
    costs, values = [], []
    for value in grid:
        trial = x.copy()
        trial[index] = start + value if relative else value
        values.append(trial[index])
        sims = problem.simulate(trial, latency)
        costs.append(_joint_costs(problem.recording, sims) if per_joint
                     else _scan_cost(problem.recording, sims, problem.coords[index[0]].name))
    costs, values = np.array(costs), np.array(values)
    if per_joint:
        for k, i in enumerate(index):
            x[i] = values[int(np.argmin(costs[:, problem.coords[i].joint])), k]
    elif zoom and problem.coords[index[0]].name in VERTEX_FIELDS:
        x[index[0]] = _vertex(values[:, 0], costs)
    else:
        x[index[0]] = values[int(np.argmin(costs)), 0]


def _scan_cost(recording: Recording, sims: list[Simulated], name: str) -> float:
    """What a scalar field is scanned on: the readings that see it (``CONTACT_FIELDS``), else the squared cost."""
    channel = CONTACT_FIELDS.get(name)
    if channel == "joint":
        return float(np.sum(_joint_costs(recording, sims)))
    if channel == "sliding" and any(t.has_objects for t in recording.trajectories):
        return _sliding_cost(recording, sims)
    if channel == "robust":
        return float(np.sum(_robust(residuals(recording, sims)[0])))
    return float(np.sum(residuals(recording, sims)[0] ** 2))


def _sliding_cost(recording: Recording, sims: list[Simulated]) -> float:
    """Robust cost of the perceived object positions while the cube is on the table (``ON_TABLE``),
    over the trajectories that slide it free (``FREE_SLIDES``) when the recording has any.

    Flicks and slides send it off on its own: table friction alone. Lifted, it slips in
    the hand or not by grip force x friction / mass, which a wrong force/mass ratio
    would trade against the object friction (slippery: +10 % at a ratio 20 % low); and
    a cube that slipped out of a grasp lands and tumbles anyhow, on the table again. With
    the flicks alone, the cost's lowest point on a 1 % grid is the truth or next to it
    (slippery, seeds 0-2), where all trajectories put it 8 % off (seed 1)."""
    free = any(t.kind in FREE_SLIDES for t in recording.trajectories)
    total = 0.0
    for t, s in zip(recording.trajectories, sims, strict=True):
        if not t.has_objects or s.object_positions.shape != t.object_positions.shape or (
                free and t.kind not in FREE_SLIDES):
            continue
        height = t.object_positions[:, :, 2]
        resting = np.median(height[:ON_TABLE_SAMPLES], axis=0)
        on_table = height < resting + ON_TABLE
        total += float(np.sum(_robust(((s.object_positions - t.object_positions) / OBJECT_SCALE)[on_table])))
    return total


def _bounds(problem: _Problem) -> tuple[np.ndarray, np.ndarray]:
    low, high = zip(*(c.bounds for c in problem.coords), strict=True)
    return np.array(low), np.array(high)


def _search_latency(problem: _Problem, x: np.ndarray, candidates: range) -> tuple[int, dict[int, float]]:
    costs = {latency: problem.cost(x, latency) for latency in candidates}
    return min(costs, key=costs.__getitem__), costs


def _least_squares(problem: _Problem, x: np.ndarray, latency: int,
                   max_nfev: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """The local fit of every coordinate but the held ones; the data Jacobian (zero columns for the held)."""
    low, high = _bounds(problem)
    free = ~(problem.held | problem.fixed)
    x = np.clip(x, low + 1e-9, high - 1e-9)

    def vector(y: np.ndarray) -> np.ndarray:
        full = x.copy()
        full[free] = y
        return problem.vector(full, latency)

    result = least_squares(vector, x[free], bounds=(low[free], high[free]), diff_step=DIFF_STEP, x_scale=1.0,
                           loss=LOSS, f_scale=LOSS_SCALE, max_nfev=max_nfev, xtol=1e-6, ftol=1e-6)
    out = x.copy()
    out[free] = result.x
    jac = np.zeros((len(result.fun) - len(x), len(x)))
    jac[:, free] = result.jac[: len(result.fun) - len(x)]
    return out, jac


def known_dynamics(known: Mapping[str, object] | None, names: list[str], dof: int) -> DynamicsParams:
    """Nominal dynamics with the ``known`` fields (measured by other means) set; validated.

    Some fields no trajectory can pin but a scale or a datasheet can: an object's mass,
    for one (see ``symmetry``). Holding them at the measured value lets the fit resolve
    the rest. A field cannot be both known and fitted."""
    base = dynamics_from_mapping(dict(known or {}), "--known", "known")
    for name in known or {}:
        if name in names:
            raise SpecError("--known", f"known.{name}", known[name], "a field not also in --params")
        values = getattr(base, name)
        if isinstance(values, tuple) and values and len(values) != dof:
            raise SpecError("--known", f"known.{name}", list(values), f"{dof} values, one per arm joint")
    return base


def replayed(recording: Recording) -> Recording:
    """The trajectories a fit replays: all but the torque measurements, ``weigh`` (``weighing``:
    its slow grasps of a slipping cube only add a jagged cost) and ``gravity`` (``gravity``:
    still free postures, which a replay cannot tell any offset from)."""
    kept = tuple(t for t in recording.trajectories if t.kind not in ("weigh", "lift", "gravity"))
    return dataclasses.replace(recording, trajectories=kept) if kept else recording


def _weighed(recording: Recording, spec: RobotSpec, scene: SceneSpec,
             continuous: list[str]) -> tuple[float, float] | None:
    """``object_mass_scale`` (value, sigma) weighed by the joint torques, when it is fitted
    alongside ``gripper_force`` (their symmetry) and the recording holds a weighing."""
    if not {"object_mass_scale", "gripper_force"} <= set(continuous):
        return None
    weighing = weigh(recording, spec)
    names = recording.trajectories[0].object_names if recording.trajectories else ()
    nominal = next((o.mass for o in scene.objects if names and o.name == names[0]), None)
    if weighing is None or not nominal:
        return None
    return weighing.mass / nominal, weighing.sigma / nominal


def _sink_reading(recording: Recording, spec: RobotSpec, scene: SceneSpec, workers: int | None,
                  continuous: list[str]) -> SinkReading | contextlib.nullcontext:
    """The slow lifts' sinks (``sinking``) when a grip field is fitted, else nothing."""
    if not set(GRIP_FIELDS) & set(continuous):
        return contextlib.nullcontext()
    return SinkReading(recording, spec, scene, workers)


def _fix_weighed(problem: _Problem, mass_scale: float) -> None:
    """Start from, and keep, the weighed object mass (``problem.fixed``): the grip force alone
    is fitted. Along the grip's symmetry the replay hardly changes, but not quite: with the
    mass free the scan left it at half the truth and the object friction, scanned there,
    11 % high (slippery seed 1; 7 % from the weighed mass). ``resolve``
    gives the mass its weighing's uncertainty at the end."""
    i = next(k for k, c in enumerate(problem.coords) if c.name == "object_mass_scale")
    problem.x0[i] = problem.coords[i].coordinate(mass_scale)
    problem.fixed[i] = True


def _gravity(recording: Recording, spec: RobotSpec, scene: SceneSpec, base: DynamicsParams,
             continuous: list[str]) -> GravityOffsets | None:
    """Encoder offsets from the holding torques at still free postures (``gravity``), when
    ``joint_offset`` is fitted and the arm's masses are not (the torques would confound them)."""
    if "joint_offset" not in continuous or set(MASS_FIELDS) & set(continuous):
        return None
    return fit_gravity_offsets(holding_poses(recording, spec, scene.table_height), spec, scene, base)


def _hold_gravity(problem: _Problem, x: np.ndarray, gravity: GravityOffsets) -> np.ndarray:
    """``x`` with every offset the torques see set to their value; those pinned within
    ``HELD_SIGMA`` are held there (``problem.held``): the replay's contacts jitter over
    several mrad (``coordinate_search``), so they cannot sharpen a mrad-wide torque reading,
    only drag it into a pit. The rest are searched from there."""
    x = x.copy()
    held = []
    for i, c in enumerate(problem.coords):
        if c.name == "joint_offset" and gravity.seen[c.joint]:
            x[i] = c.coordinate(float(gravity.offsets[c.joint]))
            problem.held[i] = gravity.sigma[c.joint] <= HELD_SIGMA
            if problem.held[i]:
                held.append(i)
    seen = list(np.flatnonzero(gravity.seen))
    rows = [seen.index(problem.coords[i].joint) for i in held]
    problem.held_covariance[np.ix_(held, held)] = gravity.covariance[np.ix_(rows, rows)]
    return x


def _held_rows(problem: _Problem) -> np.ndarray:
    """The held offsets' information as whitened rows over the coordinates (``R^T R`` = the
    inverse covariance, in coordinate units), so the uncertainty analysis counts them as pinned."""
    held = np.flatnonzero(problem.held)
    rows = np.zeros((len(held), len(problem.coords)))
    if len(held):
        scale = np.array([problem.coords[i].scale for i in held])
        covariance = problem.held_covariance[np.ix_(held, held)] / np.outer(scale, scale)
        rows[:, held] = np.linalg.cholesky(np.linalg.inv(covariance)).T
    return rows


def _offset_sources(problem: _Problem) -> dict[int, str]:
    """What read each fitted encoder offset: "contacts" (the contacts' geometry, fused with
    the torques where they see the joint), "torques" (the holding torques alone) or "replay"."""
    return {c.joint: "contacts" if problem.fused[i] else "torques" if problem.held[i] else "replay"
            for i, c in enumerate(problem.coords) if c.name == "joint_offset"}


def _held_uncertainty(u: Uncertainty, problem: _Problem, x: np.ndarray) -> None:
    """The held offsets' uncertainty is their measurement's (the torques', the contacts' or
    both), not the replay's, and they are no part of what the replay cannot separate
    (``Uncertainty.combinations``)."""
    held = {problem.coords[i].label for i in np.flatnonzero(problem.held)}
    for combo in u.combinations:
        combo["fields"] = [label for label in combo["fields"] if label not in held]
        for key in ("axes", "weights"):
            combo[key] = {label: v for label, v in combo.get(key, {}).items() if label not in held}
    u.combinations = [combo for combo in u.combinations if combo["fields"]]
    for i in np.flatnonzero(problem.held):
        c = problem.coords[i]
        sigma = float(np.sqrt(problem.held_covariance[i, i])) / c.scale
        u.sigma_jacobian[i] = u.sigma_bootstrap[i] = sigma
        if u.sigma_probe is not None:
            u.sigma_probe[i] = sigma
        u.identifiable[i] = sigma <= OFFSET_RESOLUTION
        u.sigma_value[i] = c.derivative(float(x[i])) * u.sigma[i]
        if not u.identifiable[i]:  # reported alone, to its measured sigma (as ``_single_combinations``)
            u.combinations.append({"fields": [c.label], "axes": {c.label: "linear"}, "trade_off": [],
                                   "weights": {c.label: 1.0}, "value": float(x[i]), "sigma": sigma})


def calibrate(recording: Recording, params: list[str], spec: RobotSpec, scene: SceneSpec, *,
              workers: int | None = None, seed: int = 0, progress: Progress | None = None,
              known: Mapping[str, object] | None = None) -> Fit:
    """Fit the named DynamicsParams fields of ``spec``'s robot to ``recording``.

    Fields in ``known`` are held at the given values (see ``known_dynamics``); the
    others stay nominal. ``latency_steps`` is searched exhaustively over its allowed
    range, first with nominal values for the rest, then again around the answer once
    the continuous fields are fitted.
    """
    started = time.perf_counter()
    names = sorted(check_names(list(params)), key=PARAM_NAMES.index)  # the fit must not depend on the order given
    base = known_dynamics(known, names, spec.dof)
    check_recording(recording, spec)
    weighing = _weighed(recording, spec, scene, names)
    continuous, integer, noise = split_names(names)
    gravity = _gravity(recording, spec, scene, base, continuous)
    lifted, recording = recording, replayed(recording)
    coords = coordinates(continuous, spec.dof, stable_gain(spec.position_gain))
    with Simulator(spec, scene, recording.trajectories, workers, SEGMENT) as simulator, \
            _sink_reading(lifted, spec, scene, workers, continuous) as sinks:
        problem = _Problem(recording, simulator, coords, base, spec.dof, progress, sinks)
        if weighing is not None:
            _fix_weighed(problem, weighing[0])
        before = problem.simulate(problem.x0, base.latency_steps)
        latency, costs = base.latency_steps, {}
        if integer:
            latency, costs = _search_latency(problem, problem.x0, range(param_info("latency_steps")["high"] + 1))
        x, jac = problem.x0, None
        if coords:
            start, offset_tolerance = _start(problem, latency), {}
            if "joint_offset" in continuous:
                if gravity is not None:
                    start = _hold_gravity(problem, start, gravity)
                start = _geometric_offsets(problem, start, spec, scene, gravity)
                start, offset_tolerance = _scan_offsets(problem, latency, start)
            x, jac = _least_squares(problem, start, latency, _local_budget(problem))
            if integer:
                nearby = range(max(latency - 2, 0), latency + 3)
                better, near_costs = _search_latency(problem, x, nearby)
                costs.update(near_costs)
                if better != latency:
                    latency = better
                    x, jac = _least_squares(problem, x, latency)
        after = problem.simulate(x, latency)
        fitted = problem.dynamics(x, latency)
        data, owners = problem.data(x, latency)
        uncertainty = None
        if coords:
            held = _held_rows(problem)
            jac, data = np.vstack((jac, held)), np.concatenate((data, np.zeros(len(held))))
            owners = np.concatenate((owners, np.full(len(held), -1)))
            uncertainty = analyse(coords, x, jac, data, owners, PRIOR_WEIGHT, seed,
                                  cost=lambda y: problem.data_cost(y, latency))
            _held_uncertainty(uncertainty, problem, x)
            _staged_uncertainty(uncertainty, problem, x, latency)
            _flag_offsets(uncertainty, coords, x, jac, offset_tolerance)
            uncertainty = apply_symmetries(uncertainty, coords, x, jac, data)
            if weighing is not None:
                grip_cost = (lambda y: problem.sink_cost(y, latency, SINK_DRAWS)) if _staged(problem) else \
                    (lambda y: problem.data_cost(y, latency))
                x = resolve(uncertainty, coords, x, "object_mass_scale", *weighing, cost=grip_cost)
                after, fitted = problem.simulate(x, latency), problem.dynamics(x, latency)
        sigma = _noise(recording, after, noise)
        fitted = dataclasses.replace(fitted, **sigma)
        residual_after = summary(recording, after)
        floor = noise_level([t.joint_positions for t in recording.trajectories], [s.joint_positions for s in after])
        floor = max(floor, _replay_jitter(problem, x, latency, after))
        converged = residual_after["joint_rms_rad"] <= EXPLAINED_FACTOR * max(floor, 1e-4)
        if progress:
            progress("done", 1.0)
        return Fit(fitted, names, coords, uncertainty, summary(recording, before), residual_after,
                   costs, sigma, converged, time.perf_counter() - started, simulator.calls, before, after,
                   {name: getattr(base, name) for name in known or {}}, gravity, _offset_sources(problem))
