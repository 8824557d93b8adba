"""Measuring calibration over a family of target profiles whose truth is known (``simreal bench calibrate``).

Each profile is recorded with the default routine and calibrated blind (every field), then
scored against its hidden truth by the issue's bars, coordinate by coordinate:

- a coordinate *differs* when its truth is more than ``DIFFERS`` away from nominal (for a
  field whose nominal is 0, more than its resolution; latency: any step); it is *found* when
  the estimate is within its bar (``parameters.bar``; latency exactly);
- a coordinate at nominal is *fine* when it comes out within its bar of nominal or flagged;
- an identifiable coordinate is *covered* when the truth lies within 3 of its sigmas.

The two gain fields are scored by what the data identify: each joint's product
``actuator_gain x joint_gain_scale[j]`` (``DynamicsParams.gain_scales``, ``gains.joint_gains``)
against the truth's, with the product's sigma. Their split is a convention (``gains.split_gains``)
and is not scored; a fit that estimated only one of the two fields is scored field by field.

A profile *passes* when every coordinate that differs is found and every nominal one is fine.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import assets
from ..specs import DynamicsParams, load_target
from .estimates import Estimate
from .explained import Consistency
from .gains import joint_gains
from .parameters import GAIN_FIELDS, RESOLUTION, bar, nominal_value
from .pipeline import record, run_calibration

DIFFERS = 0.2  # relative: a truth this far from nominal differs


@dataclass
class Score:
    """One calibrated profile against its truth."""

    profile: str
    differs: int = 0
    found: int = 0
    nominal: int = 0
    nominal_fine: int = 0
    identifiable: int = 0
    covered: int = 0
    misses: list[str] = field(default_factory=list)  # what failed, readable
    wall_s: float = 0.0
    cpu_s: float = 0.0
    record_s: float = 0.0
    converged: bool = True  # the fit says it explains the data
    consistency: Consistency | None = None  # ... and the numbers it says so by
    fitted: Path | None = None  # the fitted profile, when kept
    path: Path | None = None  # the target profile benched

    @property
    def passes(self) -> bool:
        return self.found == self.differs and self.nominal_fine == self.nominal


def truth_of(dynamics: DynamicsParams, e: Estimate) -> float:
    value = getattr(dynamics, e.coord.name)
    if e.coord.joint is not None:
        return float(value[e.coord.joint]) if value else nominal_value(e.coord.name, e.coord.joint)
    return float(value)


def differs(name: str, truth: float, nominal: float) -> bool:
    if name == "latency_steps":
        return truth != nominal
    if nominal == 0.0:
        return abs(truth) > RESOLUTION.get(name, 0.0)
    return abs(truth - nominal) > DIFFERS * abs(truth)


def score(profile: str, truth: DynamicsParams, estimates: list[Estimate]) -> Score:
    out = Score(profile)
    products = joint_gains(estimates)
    for e in estimates:
        if products and e.coord.name in GAIN_FIELDS:
            continue  # scored as the per-joint products below
        _tally(out, e.coord.name, e.label, truth_of(truth, e), nominal_value(e.coord.name, e.coord.joint),
               e.value, e.sigma, e.identifiable)
    for g, t in zip(products, truth.gain_scales(len(products)) if products else (), strict=True):
        _tally(out, "joint_gain_scale", g.label, float(t), 1.0, g.value, g.sigma, g.identifiable)
    return out


def _tally(out: Score, name: str, label: str, t: float, n: float, value: float, sigma: float,
           identifiable: bool) -> None:
    """Count one coordinate (truth ``t``, nominal ``n``) into ``out``."""
    error = abs(value - t)
    found = error == 0 if name == "latency_steps" else error <= bar(name, t)
    if differs(name, t, n):
        out.differs += 1
        out.found += found
        if not found:
            out.misses.append(f"{label} {t:.4g} -> {value:.4g}" + ("" if identifiable else " (flagged)"))
    else:
        out.nominal += 1
        fine = found or not identifiable
        out.nominal_fine += fine
        if not fine:
            out.misses.append(f"{label} nominal {t:.4g} -> {value:.4g}")
    if identifiable:
        out.identifiable += 1
        covered = error <= 3 * sigma + 1e-12
        out.covered += covered
        if not covered:
            out.misses.append(f"{label} {t:.4g} outside {value:.4g} +- 3 x {sigma:.2g}")


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def bench_profile(path: str | Path, seed: int = 0, workers: int | None = None, trajectories: int = 10,
                  seconds: float = 6.0, out_dir: str | Path | None = None) -> Score:
    """Record ``path``'s target with the default routine, calibrate it blind, score it; the
    recording (``<name>.npz``), fitted profile (``<name>_fit.yaml``) and its report are kept in
    ``out_dir`` when given."""
    profile = load_target(path)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(out_dir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        record(path, folder / f"{profile.name}.npz", trajectories, seconds, seed)
        recorded, cpu = time.perf_counter(), _cpu()
        result = run_calibration(profile.robot, [folder / f"{profile.name}.npz"], None, f"{profile.name}_fit",
                                 folder, workers=workers, seed=seed)
        out = score(profile.name, profile.dynamics, result.fit.estimates)
    out.record_s, out.wall_s, out.cpu_s = recorded - start, result.fit.wall_time_s, _cpu() - cpu
    out.converged, out.consistency = result.fit.converged, result.fit.consistency
    out.fitted = result.paths["profile"] if out_dir else None
    out.path = Path(path)
    return out


def members(family: str | Path | None, targets: list[str]) -> list[Path]:
    """The profile files to bench: a family folder's, else the named (default: every shipped) profiles."""
    if family:
        from ..families import family_members

        return family_members(family)
    return [Path(assets.find("target", name)) for name in (targets or assets.available("target"))]


def summarise(scores: list[Score]) -> dict[str, float]:
    """The aggregate bars: profiles passing, nominal fields fine, coverage, wall times."""
    walls = np.array([s.wall_s for s in scores]) if scores else np.zeros(1)
    return {"profiles": len(scores), "passing": sum(s.passes for s in scores) / max(len(scores), 1),
            "nominal_fine": sum(s.nominal_fine for s in scores) / max(sum(s.nominal for s in scores), 1),
            "coverage": sum(s.covered for s in scores) / max(sum(s.identifiable for s in scores), 1),
            "identifiable": sum(s.identifiable for s in scores), "median_wall_s": float(np.median(walls)),
            "max_wall_s": float(np.max(walls)), "median_cpu_s": float(np.median([s.cpu_s for s in scores] or [0]))}
