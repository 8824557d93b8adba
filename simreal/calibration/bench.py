"""Timing a calibration end to end on a shipped target profile (for ``simreal bench``)."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

from .. import assets
from ..specs import DynamicsParams
from .pipeline import record, run_calibration


@dataclass(frozen=True)
class CalibrationTiming:
    """Wall times (s), robot time recorded (s) and the worst relative error of the fit."""

    profile: str
    params: tuple[str, ...]
    record_s: float
    calibrate_s: float
    robot_time_s: float
    replays: int
    worst_relative_error: float


def profile_fields(profile: str) -> list[str]:
    """The DynamicsParams fields a target profile sets (those differing from nominal)."""
    dynamics, nominal = assets.target_profile(profile).dynamics, DynamicsParams()
    return [n for n in nominal.__dataclass_fields__ if getattr(dynamics, n) != getattr(nominal, n)]


def time_calibration(profile: str, trajectories: int = 10, seconds: float = 6.0, seed: int = 0,
                     workers: int | None = None) -> CalibrationTiming:
    """Record ``profile`` with the excitation, fit the fields it sets, time both steps."""
    truth = assets.target_profile(profile).dynamics
    params = profile_fields(profile)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        recording = record(profile, f"{tmp}/data.npz", trajectories, seconds, seed)
        recorded = time.perf_counter()
        result = run_calibration(truth_robot(profile), [f"{tmp}/data.npz"], params, "bench", tmp,
                                 workers=workers, seed=seed)
        done = time.perf_counter()
    worst = 0.0
    for name in params:
        fitted, true = getattr(result.fit.dynamics, name), getattr(truth, name)
        pairs = zip(fitted, true, strict=True) if isinstance(true, tuple) else [(fitted, true)]
        scale = max((abs(t) for _, t in pairs), default=1.0) if isinstance(true, tuple) else abs(true) or 1.0
        pairs = zip(fitted, true, strict=True) if isinstance(true, tuple) else [(fitted, true)]
        worst = max(worst, max(abs(f - t) / scale for f, t in pairs))
    return CalibrationTiming(profile, tuple(params), recorded - start, done - recorded, recording.duration,
                             result.fit.replays, worst)


def truth_robot(profile: str) -> str:
    return assets.target_profile(profile).robot
