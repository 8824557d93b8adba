"""The drives stage: per-joint gains, damping (and, without torque readings, limits and masses) from
the free-space joints, and the split of the gains into ``actuator_gain`` x ``joint_gain_scale``.

Each joint's drive is seen through the product of the two gain fields only, so the stage
fits that product per joint (as ``joint_gain_scale`` with the common gain where it stands)
and then splits it. The data cannot choose the split; ``split_gains`` picks the one that
leaves the most fields nominal: the common gain is the value most joints share (within two
sigma), or nominal when no two joints agree better than nominal does, and every joint of
that cluster keeps a factor of exactly 1. With no two joints to go by the split is reported
not identifiable (the products are, as each joint's ``joint_gain_scale`` note says).

Each factor's sigma is that of its joint's product, relative: the split carries the common
gain's uncertainty into every factor. ``joint_gains`` turns the two fields back into the
per-joint products, the quantity the data identify, with that sigma.
"""

from __future__ import annotations

import numpy as np

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from .context import Context
from .estimates import Estimate
from .parameters import Coordinate, bar, stable_gain
from .readings import select
from .replay_fit import ReplayProblem, fit

SHARED = 2.0  # sigmas: joints whose gains agree this well share the common gain
DRIVE_KINDS = ("swing",)
DRIVE_CHANNELS = ("joints", "velocities")
DRIVE_NFEV = 30  # least-squares evaluations after the scan: the joints couple (a saturated wrist), the scan not


def drives(context: Context, coords: list[Coordinate]) -> list[Estimate]:
    indices = select(context.recording, DRIVE_KINDS, any_kind=True)
    if not indices:
        return [Estimate(c, 0.0, np.inf, "drives", note="no trajectory to replay") for c in coords]
    common = next((c for c in coords if c.name == "actuator_gain"), None)
    joints = [c for c in coords if c.name == "joint_gain_scale"]
    fitted = [c for c in coords if c is not common] if common is not None and joints else coords
    problem = ReplayProblem(context, _capped(fitted, context), indices, DRIVE_CHANNELS)
    found = fit(problem, "drives", nfev=DRIVE_NFEV)
    context.notes["drives"] = {"trajectories": list(indices), "replay_evaluations": problem.evaluations}
    if common is None or not joints:
        return found
    own = {c.label: c for c in joints}  # the cap bounds each product, not the factor it is split into
    products = [dataclasses.replace(e, coord=own[e.coord.label]) for e in found if e.coord.name == "joint_gain_scale"]
    return [e for e in found if e.coord.name != "joint_gain_scale"] + split_gains(
        common, products, context.dynamics.actuator_gain)


def _capped(coords: list[Coordinate], context: Context) -> list[Coordinate]:
    """Gain coordinates capped at the largest stable gain (``parameters.stable_gain``)."""
    cap = stable_gain(context.spec.position_gain)
    return [dataclasses.replace(c, high=min(c.high, cap)) if c.name in ("actuator_gain", "joint_gain_scale") else c
            for c in coords]


def split_gains(common: Coordinate, products: list[Estimate], scale: float) -> list[Estimate]:
    """``actuator_gain`` and ``joint_gain_scale`` estimates from per-joint gain products (fitted
    as ``joint_gain_scale`` on top of ``scale``, the common gain then in force)."""
    gains = np.array([e.value * scale for e in products])
    sigma = np.array([e.sigma / max(e.value, 1e-12) for e in products])  # relative: log axes
    logs = np.log(np.maximum(gains, 1e-12))
    candidates = [0.0, *logs]  # log of the common gain: nominal, or one joint's
    scores = [_agreeing(logs, sigma, c).sum() + (c == 0.0) if _within(products, gains, c) else -1
              for c in candidates]
    best = max(range(len(candidates)), key=lambda k: (scores[k], k == 0))
    cluster = _agreeing(logs, sigma, candidates[best])
    clear = scores[best] >= 2
    if best == 0 or not cluster.any():
        level, level_sigma = 0.0, 0.0
    else:
        weights = 1 / np.maximum(sigma[cluster], 1e-6) ** 2
        level = float(np.sum(weights * logs[cluster]) / np.sum(weights))
        level_sigma = float(1 / np.sqrt(np.sum(weights)))
    note = "" if clear else "no two joints share a gain: the split is a convention"
    out = [Estimate(common, float(np.exp(level)), float(np.exp(level) * level_sigma) if clear else np.inf, "drives",
                    note=note)]
    for e, member, g, s in zip(products, cluster, gains, sigma, strict=True):
        factor = 1.0 if member else float(g / np.exp(level))
        out.append(Estimate(e.coord, factor, factor * float(np.hypot(s, level_sigma)), "drives", note=note,
                            convention=not clear))
    return out


def _within(products: list[Estimate], gains: np.ndarray, level: float) -> bool:
    """Whether every factor a common gain of ``exp(level)`` leaves lies within its field's bounds
    (a factor past them would be clipped, and its product lost)."""
    factors = gains / np.exp(level)
    return all(e.coord.low <= f <= e.coord.high for e, f in zip(products, factors, strict=True))


def _agreeing(logs: np.ndarray, sigma: np.ndarray, centre: float) -> np.ndarray:
    return np.abs(logs - centre) <= SHARED * np.maximum(sigma, 1e-3)


@dataclass(frozen=True)
class JointGain:
    """One joint's effective gain factor ``actuator_gain x joint_gain_scale[joint]`` (what the
    drive does, and what the data see), its sigma (inf: unseen) and whether it is pinned."""

    joint: int
    value: float
    sigma: float
    identifiable: bool

    @property
    def label(self) -> str:
        return f"joint_gain[{self.joint}]"


def joint_gains(estimates: Sequence[Estimate]) -> list[JointGain]:
    """The per-joint gain products of a fit that estimated both gain fields (else ``[]``: one field
    alone is its own product's reading), each with its factor's relative sigma (``split_gains``)."""
    common = next((e for e in estimates if e.coord.name == "actuator_gain"), None)
    factors = sorted((e for e in estimates if e.coord.name == "joint_gain_scale"), key=lambda e: e.coord.joint)
    if common is None or not factors:
        return []
    out = []
    for e in factors:
        value = common.value * e.value
        # a common gain left unseen by a convention split is exact by that convention
        seen = e.seen and (common.seen or e.convention)
        sigma = value * e.sigma / max(e.value, 1e-12) if seen else np.inf
        out.append(JointGain(e.coord.joint, value, float(sigma),
                             bool(np.isfinite(sigma) and sigma <= bar("joint_gain_scale", value))))
    return out
