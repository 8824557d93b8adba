"""Whether a fit explains its data: the residual it leaves, against what its own model leaves.

Even a right model does not replay a recording exactly: the sensors' noise stays, the
multiple-shooting restarts start from noisy readings, and contacts make a simulation
sensitive to the last digit of a parameter. How large that unavoidable residual is
depends on the recording (its length, its contacts, how the residual is correlated in
time), so no fixed multiple of the noise is the right bar. The fitted model itself says
what it should be (a parametric bootstrap): recordings are simulated from it (the
recorded commands run open loop under the fitted dynamics, nudged by ``JITTER`` so that
the model's own chaos shows, whatever the dynamics leave to chance drawn anew, and read
with the model's own joint noise: the fitted or given levels, or, for a level the fit was not
asked for, the level read from the real residual),
then replayed exactly as the real recording was, ``DRAWS`` times.

The statistic is the joint residual's RMS over the joints' noise level read from the same
residual (``noise.shared_noise_level``: step differences, which slowly varying model error
hardly reaches), so the noise estimator's own bias cancels between real and simulated
recordings. It leaves out the one trajectory the replay follows worst (``ratio_of``), on
the real and the simulated recordings alike: a contact can send a replay off course on
a last-digit difference between the fit and the robot, which the simulated recordings,
made by the fitted model itself, cannot show; that moves one trajectory, where a model
that misses something moves several. The fit explains the data when the real ratio is no more than ``SPREAD``
standard deviations above the simulated ratios' mean (at least ``RESOLUTION`` of it: a
noise-free recording replays to the same ratio every time, and to a few digits on
another robot instance); above that, the residual holds more
than noise and the model's chaos: the model misses something the robot does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from ..specs import DynamicsParams
from .context import SEGMENT, Context
from .noise import shared_noise_level
from .replay import Simulated
from .residuals import Pairs
from .simulate import Simulator
from .trajectory_file import RecordedTrajectory

DRAWS = 8  # recordings simulated from the fitted model
SPREAD = 3.0  # standard deviations of the simulated ratios a real one may lie above their mean
JITTER = 1e-7  # relative nudge of the simulated recordings' dynamics: the replay's own chaos shows
RESOLUTION = 1e-3  # relative: ratios closer than this are the same number
FLOOR = 1e-4  # rad: the least noise level a ratio divides by (a noise-free recording replays to about this)


@dataclass(frozen=True)
class Consistency:
    """The fitted replay's joint residual (RMS, rad) and the joints' noise level read from it (rad),
    and the same ratio on recordings simulated from the fitted model (``simulated``)."""

    residual_rad: float
    noise_rad: float
    simulated: tuple[float, ...]
    compared: float | None = None  # the real recording's ``ratio_of`` (None: residual over noise)

    @property
    def ratio(self) -> float:
        """The real residual in units of the joints' noise, as the simulated ratios are taken."""
        return self.residual_rad / max(self.noise_rad, FLOOR) if self.compared is None else self.compared

    @property
    def expected(self) -> float:
        """The ratio the fitted model leaves on its own recordings (their mean)."""
        return float(np.mean(self.simulated))

    @property
    def limit(self) -> float:
        """The largest ratio consistent with the fitted model: ``SPREAD`` standard deviations above ``expected``."""
        spread = float(np.std(self.simulated, ddof=1)) if len(self.simulated) > 1 else 0.0
        return self.expected + SPREAD * max(spread, RESOLUTION * self.expected)

    @property
    def explains(self) -> bool:
        return self.ratio <= self.limit

    def as_dict(self) -> dict[str, object]:
        return {"residual_rad": self.residual_rad, "noise_rad": self.noise_rad, "ratio": self.ratio,
                "simulated_ratios": list(self.simulated), "expected": self.expected, "limit": self.limit,
                "explains": self.explains}


def ratio_of(pairs: Pairs) -> float:
    """The residual in units of the joints' noise (``FLOOR`` at least), leaving out the
    trajectory the replay follows worst when there are three or more: a contact that
    sends one replay off course (its chaos, a last-digit matter) moves one trajectory, a
    model that misses something moves more than one."""
    if len(pairs) >= 3:
        worst = max(range(len(pairs)), key=lambda i: residual_and_noise(pairs[i:i + 1])[0])
        pairs = [p for i, p in enumerate(pairs) if i != worst]
    residual, noise = residual_and_noise(pairs)
    return residual / max(noise, FLOOR)


def residual_and_noise(pairs: Pairs) -> tuple[float, float]:
    """Joint residual RMS and the joints' noise level read from it (rad)."""
    recorded = [t.joint_positions for t, _ in pairs]
    simulated = [s.joint_positions for _, s in pairs]
    residual = np.concatenate([(s - r).ravel() for r, s in zip(recorded, simulated, strict=True)])
    return float(np.sqrt(np.mean(residual**2))), shared_noise_level(recorded, simulated)[0]


def velocity_noise(pairs: Pairs) -> float:
    """The joint velocities' noise level read from the residual (rad/s)."""
    return shared_noise_level([t.joint_velocities for t, _ in pairs], [s.joint_velocities for _, s in pairs])[0]


def read_noisily(simulated: Simulated, template: RecordedTrajectory, position_noise: float, speed_noise: float,
                 object_noise: float, rng: np.random.Generator) -> RecordedTrajectory:
    """A recording of ``template``'s commands whose readings are ``simulated`` plus white noise of the given levels."""
    def noisy(values: np.ndarray, sigma: float) -> np.ndarray:
        return values + rng.normal(0.0, sigma, values.shape) if sigma > 0 else values.copy()

    objects = {}
    if template.has_objects:
        objects = {"object_positions": noisy(simulated.object_positions, object_noise),
                   "object_orientations": simulated.object_orientations.copy()}
    return dataclasses.replace(template, joint_positions=noisy(simulated.joint_positions, position_noise),
                               joint_velocities=noisy(simulated.joint_velocities, speed_noise),
                               gripper_width=simulated.gripper_width.copy(), **objects)


JOINT_NOISE = ("position_noise", "velocity_noise")


def consistency(context: Context, fitted: DynamicsParams, indices: list[int], pairs: Pairs,
                read: Collection[str] = JOINT_NOISE) -> Consistency:
    """Compare the fitted replay's residual (``pairs``: recording ``indices`` and their fitted
    replays) with what ``DRAWS`` recordings simulated from ``fitted`` leave (see the module
    docstring); the joint noise levels named in ``read`` come from the residual, not ``fitted``."""
    residual, noise = residual_and_noise(pairs)
    position = noise if "position_noise" in read else fitted.position_noise
    speed = velocity_noise(pairs) if "velocity_noise" in read else fitted.velocity_noise
    rng = np.random.default_rng(context.seed)
    simulated: list[RecordedTrajectory] = []
    for k in range(DRAWS):
        nudged = dataclasses.replace(fitted, gripper_force=fitted.gripper_force * (1 + (k + 1) * JITTER))
        runs = context.replay(nudged, indices, segment=0, seed=k + 1)  # chance drawn apart from the replays
        simulated += [read_noisily(run, context.recording.trajectories[i], position, speed,
                                   fitted.object_position_noise, rng) for i, run in zip(indices, runs, strict=True)]
    with Simulator(context.spec, context.scene, simulated, context.workers, SEGMENT) as simulator:
        replays = simulator.run(fitted)
    n = len(indices)
    ratios = [ratio_of(list(zip(simulated[k * n:(k + 1) * n], replays[k * n:(k + 1) * n], strict=True)))
              for k in range(DRAWS)]
    return Consistency(residual, noise, tuple(ratios), ratio_of(pairs))
