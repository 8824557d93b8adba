"""How well the data pin each value a replay stage fits: the Jacobian, a bootstrap and a probe of the cost.

Three estimates per coordinate. Two come from the Jacobian J of the scaled residuals at
the optimum: the Gauss-Newton covariance s^2 (J^T J + prior)^-1, and a bootstrap over
trajectories of the linearised step (resample whole trajectories, solve for the shift
of the optimum), which also sees trajectory-to-trajectory disagreement that the
white-noise formula misses. Both trust J, and where drives saturate or fingers touch,
the finite-difference J is jittery: its noise adds curvature the cost does not have,
so a flat valley looks pinned. Hence the third, a probe: the cost itself is evaluated
a sizeable step (``PROBE_STEP``) either side of the optimum along each coordinate. It
counts as seen only when that step raises the cost by ``RISE`` times its jitter (the two
sides' disagreement, the cost's chaos, at least ``JITTER_FLOOR`` of the cost); otherwise its
tolerance is the step scaled up by how far short the rise fell. The largest of the three
is reported; a coordinate whose probed tolerance exceeds the step is not identifiable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .parameters import Coordinate

BOOTSTRAP_SAMPLES = 200
PROBE_STEP = 0.1  # normalised units probed either side of the optimum (10 % on log axes)
RISE = 2.0  # a probed direction is seen when its rise is this many times the cost's jitter ...
JITTER_FLOOR = 0.005  # ... taken as at least this fraction of the cost
ABSOLUTE_FLOOR = 0.01  # ... and at least this (residual units squared): a cost of nothing rises from nothing
MAX_TOLERANCE = 3.0  # normalised units: an unseen direction is bounded by the fit's bounds, not by data
Cost = Callable[[np.ndarray], float]


@dataclass
class Uncertainty:
    """Per coordinate (in optimiser units) and per value (in the field's unit)."""

    labels: list[str]
    sigma_jacobian: np.ndarray
    sigma_bootstrap: np.ndarray
    sigma_value: np.ndarray
    identifiable: np.ndarray
    sigma_probe: np.ndarray | None = None
    probes: list[dict] = field(default_factory=list)

    @property
    def sigma(self) -> np.ndarray:
        out = np.maximum(self.sigma_jacobian, self.sigma_bootstrap)
        return out if self.sigma_probe is None else np.maximum(out, self.sigma_probe)


def analyse(coords: list[Coordinate], x: np.ndarray, jac: np.ndarray, data: np.ndarray, owners: np.ndarray,
            prior_weight: float, seed: int = 0, cost: Cost | None = None, jitter: float = 0.0) -> Uncertainty:
    """Uncertainty of the optimum ``x`` given the data Jacobian ``jac`` and residuals ``data``.

    ``cost`` (the data part of the fit's objective at given coordinates) enables the probe;
    without it, only the Jacobian-based estimates are made and every coordinate passes.
    ``jitter`` is how much the cost changes for no change at all (a replay nudged in its last
    digits: contact and saturation are chaotic), which no probed rise can be told from."""
    n = len(x)
    dof = max(len(data) - n, 1)
    s2 = float(np.sum(data**2) / dof)
    prior = (prior_weight**2) * np.eye(n)
    covariance = s2 * np.linalg.pinv(jac.T @ jac + prior)
    sigma_j = np.sqrt(np.clip(np.diag(covariance), 0, None))
    sigma_b = _bootstrap(jac, data, owners, prior, seed)
    sigma_p, probes = _probe(cost, x, jitter) if cost is not None else (np.zeros(n), [])
    identifiable = sigma_p <= PROBE_STEP
    u = Uncertainty([c.label for c in coords], sigma_j, sigma_b, np.zeros(n), identifiable, sigma_p, probes)
    u.sigma_value = np.array([c.derivative(float(xi)) * si for c, xi, si in zip(coords, x, u.sigma, strict=True)])
    return u


def _probe(cost: Cost, x: np.ndarray, jitter: float = 0.0) -> tuple[np.ndarray, list[dict]]:
    """Tolerance per coordinate from the cost's actual rise along its own axis (two replays each).

    At a minimum of a smooth cost the two sides rise alike; their difference measures the
    cost's jitter along that axis (or a slope: the fit is not at a minimum there, or the data
    bound it from one side only), and the rise must clear it to count. Trade-offs between
    coordinates are the Jacobian's part of the uncertainty."""
    centre = cost(x)
    out, probes = np.zeros(len(x)), []
    for i in range(len(x)):
        tolerance, rise = probe_direction(cost, x, np.eye(len(x))[i], centre, jitter)
        out[i] = tolerance
        probes.append({"coordinate": i, "rise": rise, "tolerance": tolerance})
    return out, probes


def probe_direction(cost: Cost, x: np.ndarray, v: np.ndarray, centre: float,
                    jitter: float = 0.0) -> tuple[float, float]:
    """Tolerance along unit direction ``v`` (normalised units) and the relative rise at ``PROBE_STEP``."""
    up, down = cost(x + PROBE_STEP * v), cost(x - PROBE_STEP * v)
    rise = 0.5 * (up + down) - centre
    threshold = RISE * max(0.5 * abs(up - down), JITTER_FLOOR * centre, ABSOLUTE_FLOOR, jitter)
    if rise <= 0:
        return MAX_TOLERANCE, float(rise / max(centre, 1e-12))
    tolerance = min(PROBE_STEP * np.sqrt(threshold / rise), MAX_TOLERANCE)
    return float(tolerance), float(rise / max(centre, 1e-12))


def _bootstrap(jac: np.ndarray, data: np.ndarray, owners: np.ndarray, prior: np.ndarray, seed: int) -> np.ndarray:
    """Std of the linearised optimum over trajectory resamples."""
    groups = [np.flatnonzero(owners == i) for i in np.unique(owners)]
    if len(groups) < 2:
        return np.zeros(jac.shape[1])
    rng = np.random.default_rng(seed)
    blocks = [(jac[g].T @ jac[g], jac[g].T @ data[g]) for g in groups]
    shifts = []
    for _ in range(BOOTSTRAP_SAMPLES):
        pick = rng.integers(len(groups), size=len(groups))
        a = sum(blocks[i][0] for i in pick) + prior
        b = sum(blocks[i][1] for i in pick)
        shifts.append(-np.linalg.lstsq(a, b, rcond=None)[0])
    return np.std(np.array(shifts), axis=0)
