"""Coordinate search on a jittery cost: one parabola per coordinate, through a wide stencil.

A replay cost with contacts is not smooth at small scales: a contact that starts one
control step earlier or later changes it by a jump, so over a few mrad of encoder
offset it jitters by ~10 % of its value, far more than the local slope. Finite
differences and small pattern steps follow the jitter. Over a wide stencil the trend
shows through, so each coordinate in turn goes to the minimum of the least-squares
parabola through five points spanning it. The parabola's misfit measures the jitter,
and its curvature how fast the cost rises: together they say how far the coordinate
can move before the data notice (``Step.tolerance``), which is what decides whether the
data pin it at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

STENCIL = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])  # sample points, in units of the span
JITTER_FLOOR = 0.002  # the cost's jitter is taken as at least this fraction of the cost
UNSEEN = 10.0  # tolerance (coordinate units) of a coordinate whose parabola does not curve up
Cost = Callable[[np.ndarray], float]


@dataclass(frozen=True)
class Step:
    """Where one coordinate went, the cost there and the coordinate's tolerance.

    ``tolerance`` is the move along the coordinate for which the fitted parabola rises
    by the cost's jitter (the misfit of the parabola): about one standard deviation."""

    x: np.ndarray
    value: float
    tolerance: float


def parabola_step(cost: Cost, x: np.ndarray, centre: float, i: int, span: float,
                  bounds: tuple[float, float]) -> Step:
    """Move coordinate ``i`` of ``x`` (whose cost is ``centre``) within ``x[i] +- span``.

    A parabola that curves up sends it to the parabola's minimum (clipped to the span),
    kept if it costs no more than the best sample; otherwise it goes to the best sample.
    (Staying put unless a move stood out of the jitter was tried: it let two coupled
    joints walk down a shared valley one pinned-looking step at a time.)"""
    points = [np.where(np.arange(len(x)) == i, np.clip(x[i] + d, *bounds), x) for d in STENCIL * span]
    values = np.array([centre if d == 0.0 else cost(p) for d, p in zip(STENCIL, points, strict=True)])
    offsets = np.array([p[i] for p in points]) - x[i]
    (curve, slope, _), misfit = _parabola(offsets, values)
    jitter = max(misfit, JITTER_FLOOR * abs(centre))
    tolerance = min(float(np.sqrt(jitter / curve)), UNSEEN) if curve > 0 else UNSEEN
    best = int(np.argmin(values))
    if curve > 0:
        trial = x.copy()
        trial[i] = np.clip(x[i] + np.clip(-slope / (2 * curve), -span, span), *bounds)
        value = cost(trial)
        if value <= values[best]:
            return Step(trial, value, tolerance)
    return Step(points[best], float(values[best]), tolerance)


def coordinate_search(cost: Cost, x: np.ndarray, index: Sequence[int], spans: Sequence[float],
                      bounds: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, dict[int, float]]:
    """Parabola steps over ``index`` for each span in turn (widest first).

    Returns the end point and each coordinate's tolerance from its last (narrowest) step."""
    x, centre, tolerance = np.asarray(x, dtype=float).copy(), cost(x), {}
    for span in spans:
        for i in index:
            step = parabola_step(cost, x, centre, i, span, (bounds[0][i], bounds[1][i]))
            x, centre, tolerance[i] = step.x, step.value, step.tolerance
    return x, tolerance


def _parabola(offsets: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares parabola coefficients (highest power first) and the rms misfit (3 dof used)."""
    coefficients, residual, *_ = np.polyfit(offsets, values, 2, full=True)
    dof = max(len(values) - 3, 1)
    misfit = float(np.sqrt(residual[0] / dof)) if len(residual) else 0.0
    return coefficients, misfit
