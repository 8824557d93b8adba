"""Transfer metrics (Taylor & Stone 2009) and the negative-transfer test."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Protocol

from scipy.stats import norm


class Proportion(Protocol):
    """Successes out of episodes (an EvaluationResult, a validation tally)."""

    episodes: int
    successes: int

    @property
    def success_rate(self) -> float: ...


def better_with_confidence(adapted: Proportion, baseline: Proportion, alpha: float = 0.05) -> tuple[bool, float]:
    """One-sided two-proportion z-test that ``adapted`` succeeds more often than ``baseline``.

    Returns (significant, p-value). Equal rates, or too little data, give p = 1 or near it.
    """
    n1, n2 = adapted.episodes, baseline.episodes
    if not n1 or not n2:
        return False, 1.0
    pooled = (adapted.successes + baseline.successes) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return False, 1.0
    z = (adapted.success_rate - baseline.success_rate) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    p = float(norm.sf(z))
    return p < alpha, p


def area_under_curve(points: Sequence[tuple[float, float]]) -> float:
    """Trapezoidal area under (transitions, success) points, sorted by transitions."""
    pts = sorted(points)
    return sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in pairwise(pts))


def transfer_ratio(transfer: Sequence[tuple[float, float]], scratch: Sequence[tuple[float, float]]) -> float | None:
    """Area under the transfer learner's curve over the from-scratch learner's.

    None when the from-scratch area is zero (it never succeeded): the ratio is undefined
    there, and callers print "n/a" rather than an infinity.
    """
    base = area_under_curve(scratch)
    return area_under_curve(transfer) / base if base > 0 else None


def time_to_threshold(points: Sequence[tuple[float, float]], threshold: float) -> float | None:
    """First number of transitions at which success reaches ``threshold`` (None if never)."""
    for transitions, success in sorted(points):
        if success >= threshold:
            return transitions
    return None
