"""Timing a calibration end to end on a shipped target profile (for ``simreal bench``)."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

import numpy as np

from .. import assets
from ..specs import DynamicsParams
from .excitation import routine_for
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
    """Record ``profile`` with the excitation meant for its fields (``routine_for``), fit the
    fields it sets, time both steps."""
    truth = assets.target_profile(profile).dynamics
    params = profile_fields(profile)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        recording = record(profile, f"{tmp}/data.npz", trajectories, seconds, seed, routine=routine_for(params))
        recorded = time.perf_counter()
        result = run_calibration(truth_robot(profile), [f"{tmp}/data.npz"], params, "bench", tmp,
                                 workers=workers, seed=seed)
        done = time.perf_counter()
    worst = max(relative_error(name, getattr(result.fit.dynamics, name), getattr(truth, name)) for name in params)
    return CalibrationTiming(profile, tuple(params), recorded - start, done - recorded, recording.duration,
                             result.fit.replays, worst)


def relative_error(name: str, fitted: object, true: object) -> float:
    """Worst relative error of a field; per joint for per-joint fields, except encoder
    offsets, whose truth includes zeros: those are relative to the largest offset."""
    f, t = np.atleast_1d(np.asarray(fitted, dtype=float)), np.atleast_1d(np.asarray(true, dtype=float))
    if f.shape != t.shape:
        return float("inf")
    scale = np.full_like(t, max(np.abs(t).max(), 1e-12)) if name == "joint_offset" else np.abs(t)
    scale = np.where(scale > 0, scale, 1.0)
    return float(np.max(np.abs(f - t) / scale))


def truth_robot(profile: str) -> str:
    return assets.target_profile(profile).robot
