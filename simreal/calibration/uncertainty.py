"""How well the data pin each fitted value, and which combinations they cannot separate.

Three estimates per coordinate. Two come from the Jacobian J of the scaled residuals at
the optimum: the Gauss-Newton covariance s^2 (J^T J + prior)^-1, and a bootstrap over
trajectories of the linearised step (resample whole trajectories, solve for the shift
of the optimum), which also sees trajectory-to-trajectory disagreement that the
white-noise formula misses. Both trust J, and where drives saturate or fingers touch,
the finite-difference J is jittery: its noise adds curvature the cost does not have,
so a flat valley looks pinned. Hence the third, a probe: the cost itself is evaluated
a sizeable step (``PROBE_STEP``) either side of the optimum along the weakest
directions of J^T J. A direction counts as seen only when that step raises the cost
by ``RISE`` times its jitter (the two sides' disagreement, at least ``JITTER_FLOOR`` of
the cost); otherwise its tolerance is the step scaled up by how far short the rise fell. The largest of the
three is reported.

A coordinate whose probed tolerance exceeds the step is flagged "not identifiable";
for the flagged ones, the direction they trade off along and the best determined
combination (top eigenvector of the information restricted to them) are reported.
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
MAX_PROBES = 6  # weakest directions probed (two replays each)
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
    combinations: list[dict] = field(default_factory=list)
    sigma_probe: np.ndarray | None = None
    probes: list[dict] = field(default_factory=list)

    @property
    def sigma(self) -> np.ndarray:
        out = np.maximum(self.sigma_jacobian, self.sigma_bootstrap)
        return out if self.sigma_probe is None else np.maximum(out, self.sigma_probe)


def analyse(coords: list[Coordinate], x: np.ndarray, jac: np.ndarray, data: np.ndarray, owners: np.ndarray,
            prior_weight: float, seed: int = 0, cost: Cost | None = None) -> Uncertainty:
    """Uncertainty of the optimum ``x`` given the data Jacobian ``jac`` and residuals ``data``.

    ``cost`` (the data part of the fit's objective at given coordinates) enables the probe;
    without it, only the Jacobian-based estimates are made and every coordinate passes."""
    n = len(x)
    dof = max(len(data) - n, 1)
    s2 = float(np.sum(data**2) / dof)
    prior = (prior_weight**2) * np.eye(n)
    info = jac.T @ jac
    covariance = s2 * np.linalg.pinv(info + prior)
    sigma_j = np.sqrt(np.clip(np.diag(covariance), 0, None))
    sigma_b = _bootstrap(jac, data, owners, prior, seed)
    sigma_p, probes = _probe(cost, x, info) if cost is not None else (np.zeros(n), [])
    identifiable = sigma_p <= PROBE_STEP
    u = Uncertainty([c.label for c in coords], sigma_j, sigma_b, np.zeros(n), identifiable, [], sigma_p, probes)
    u.sigma_value = np.array([c.derivative(float(xi)) * si for c, xi, si in zip(coords, x, u.sigma, strict=True)])
    u.combinations = _combinations(coords, x, info / s2, sigma_p, probes)
    return u


def _probe(cost: Cost, x: np.ndarray, info: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """Tolerance per coordinate from the cost's actual rise along the weakest directions.

    At a minimum of a smooth cost the two sides rise alike; their difference measures
    the cost's jitter along that direction (or a slope: the fit is not at a minimum
    there), and the rise must clear it to count."""
    _, vectors = np.linalg.eigh(info)  # ascending: the weakest directions first
    centre = cost(x)
    covariance = np.zeros((len(x), len(x)))
    probes = []
    for k in range(min(len(x), MAX_PROBES)):
        v = vectors[:, k]
        tolerance, rise = probe_direction(cost, x, v, centre)
        covariance += tolerance**2 * np.outer(v, v)
        probes.append({"direction": v, "rise": rise, "tolerance": tolerance})
    return np.sqrt(np.diag(covariance)), probes


def probe_direction(cost: Cost, x: np.ndarray, v: np.ndarray, centre: float) -> tuple[float, float]:
    """Tolerance along unit direction ``v`` (normalised units) and the relative rise at ``PROBE_STEP``."""
    up, down = cost(x + PROBE_STEP * v), cost(x - PROBE_STEP * v)
    rise = 0.5 * (up + down) - centre
    threshold = RISE * max(0.5 * abs(up - down), JITTER_FLOOR * centre)
    tolerance = min(PROBE_STEP * np.sqrt(threshold / max(rise, 1e-12)), MAX_TOLERANCE)
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


def _combinations(coords: list[Coordinate], x: np.ndarray, info: np.ndarray, sigma_probe: np.ndarray,
                  probes: list[dict]) -> list[dict]:
    """For the coordinates the data cannot pin one by one: what they trade off along, what is measured.

    ``weights``/``value``/``sigma`` are the best-measured combination of the flagged
    coordinates (for one flagged coordinate: itself, with its probed tolerance);
    ``trade_off`` lists the probed directions the cost hardly rises along."""
    weak = np.flatnonzero(sigma_probe > PROBE_STEP)
    if len(weak) == 0:
        return []
    axes = {coords[i].label: ("log" if coords[i].log else "linear") for i in weak}
    unseen = [p for p in probes if p["tolerance"] > PROBE_STEP]
    trade = []
    for p in unseen:
        v = p["direction"]
        terms = {coords[i].label: float(v[i]) for i in np.flatnonzero(np.abs(v) > 0.2)}
        trade.append({"weights": terms, "tolerance": p["tolerance"], "rise_at_step": p["rise"]})
    out = {"fields": [coords[i].label for i in weak], "axes": axes, "trade_off": trade}
    sub = info[np.ix_(weak, weak)]
    values, vectors = np.linalg.eigh(sub)
    top = vectors[:, -1]
    top = top * np.sign(top[np.argmax(np.abs(top))])
    sigma = 1 / np.sqrt(values[-1]) if values[-1] > 0 else MAX_TOLERANCE
    sigma = max(sigma, PROBE_STEP) if len(weak) > 1 else float(sigma_probe[weak[0]])
    out.update(weights={coords[i].label: float(w) for i, w in zip(weak, top, strict=True)},
               value=float(top @ x[weak]), sigma=float(sigma))
    return [out]
