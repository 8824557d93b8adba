"""How well the data pin each fitted value, and which combinations they cannot separate.

Two estimates per coordinate, both from the Jacobian J of the scaled residuals at the
optimum (no extra simulation): the Gauss-Newton covariance s^2 (J^T J + prior)^-1, and
a bootstrap over trajectories of the linearised step (resample whole trajectories,
solve for the shift of the optimum), which also sees trajectory-to-trajectory
disagreement that the white-noise formula misses. The larger one is reported.

A coordinate whose posterior std is more than half its prior std (the data shrank the
prior by less than 2x) is flagged "not identifiable"; for the flagged ones, the best
determined combination (top eigenvector of the information restricted to them) is
reported with its own std, since that is what the data actually measure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .parameters import Coordinate

BOOTSTRAP_SAMPLES = 200
UNIDENTIFIABLE = 0.5  # posterior / prior std above which a coordinate is not identifiable


@dataclass
class Uncertainty:
    """Per coordinate (in optimiser units) and per value (in the field's unit)."""

    labels: list[str]
    sigma_jacobian: np.ndarray
    sigma_bootstrap: np.ndarray
    sigma_value: np.ndarray
    identifiable: np.ndarray
    combinations: list[dict] = field(default_factory=list)

    @property
    def sigma(self) -> np.ndarray:
        return np.maximum(self.sigma_jacobian, self.sigma_bootstrap)


def analyse(coords: list[Coordinate], x: np.ndarray, jac: np.ndarray, data: np.ndarray, owners: np.ndarray,
            prior_weight: float, seed: int = 0) -> Uncertainty:
    """Uncertainty of the optimum ``x`` given the data Jacobian ``jac`` and residuals ``data``."""
    n = len(x)
    dof = max(len(data) - n, 1)
    s2 = float(np.sum(data**2) / dof)
    prior = (prior_weight**2) * np.eye(n)
    info = jac.T @ jac
    covariance = s2 * np.linalg.pinv(info + prior)
    sigma_j = np.sqrt(np.clip(np.diag(covariance), 0, None))
    sigma_b = _bootstrap(jac, data, owners, prior, seed)
    prior_sigma = np.sqrt(s2) / prior_weight  # what the prior alone would allow
    identifiable = sigma_j / prior_sigma < UNIDENTIFIABLE
    sigma = np.maximum(sigma_j, sigma_b)
    sigma_value = np.array([c.derivative(float(xi)) * si for c, xi, si in zip(coords, x, sigma, strict=True)])
    combos = _combinations(coords, x, info / s2, identifiable)
    return Uncertainty([c.label for c in coords], sigma_j, sigma_b, sigma_value, identifiable, combos)


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


def _combinations(coords: list[Coordinate], x: np.ndarray, info: np.ndarray, identifiable: np.ndarray) -> list[dict]:
    """The best-measured combination of the coordinates the data cannot pin one by one."""
    weak = np.flatnonzero(~identifiable)
    if len(weak) < 2:
        return []
    sub = info[np.ix_(weak, weak)]
    values, vectors = np.linalg.eigh(sub)
    top = vectors[:, -1]
    top = top * np.sign(top[np.argmax(np.abs(top))])
    if values[-1] <= 0:
        return []
    terms = {coords[i].label: float(w) for i, w in zip(weak, top, strict=True)}
    axes = {coords[i].label: ("log" if coords[i].log else "linear") for i in weak}
    return [{"weights": terms, "axes": axes, "value": float(top @ x[weak]), "sigma": float(1 / np.sqrt(values[-1]))}]
