"""Calibrating against a robot the simulator cannot model (for ``simreal bench calibrate``).

A profile on another engine, or with unmodeled effects, has no true ``DynamicsParams``
to recover: a fit can only come as close as the simulator's model class allows. What
matters then is how much of the misfit the fit removes (joint RMS, nominal -> fitted) and
whether it says honestly that what is left is more than measurement noise and the
simulator's own chaos (``converged`` false, ``calibration.explained``). This records the
profile as ``simreal record`` does (the default routine) and fits the fields a user would
fit on an unknown arm (``DEFAULT_FIELDS``), through the calibration pipeline as it is.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import assets
from ..calibration import record, run_calibration
from ..calibration.explained import Consistency
from ..calibration.report import estimates

DEFAULT_FIELDS = ("joint_gain_scale", "force_limit", "joint_damping", "latency_steps", "position_noise",
                  "velocity_noise")


@dataclass(frozen=True)
class UnmodeledFit:
    """What a fit made of a robot outside the model class: times (s), joint RMS (rad) before
    and after, the fit's own verdict, and its estimates (as in the calibration report)."""

    profile: str
    params: tuple[str, ...]
    record_s: float
    calibrate_s: float
    robot_time_s: float
    replays: int
    rms_nominal: float
    rms_fitted: float
    explains_data: bool
    estimates: dict
    consistency: Consistency | None = None  # the fit's verdict in numbers
    fitted: Path | None = None  # the fitted profile, when kept
    path: Path | None = None  # the target profile fitted

    def estimates_text(self) -> str:
        """The fitted values on one line (per-joint fields as lists)."""
        shown = []
        for name, e in self.estimates.items():
            value = e["value"]
            text = "[" + ", ".join(f"{v:.3g}" for v in value) + "]" if isinstance(value, list) else f"{value:.3g}"
            shown.append(f"{name} {text}")
        return "; ".join(shown)


def fit_unmodeled(profile: str, params: Sequence[str] = DEFAULT_FIELDS, trajectories: int = 10,
                  seconds: float = 6.0, seed: int = 0, workers: int | None = None,
                  out_dir: str | Path | None = None) -> UnmodeledFit:
    """Record ``profile`` with the default routine, fit ``params``, report the residual; the
    recording (``<name>.npz``), fitted profile (``<name>_fit.yaml``) and report are kept in
    ``out_dir`` when given."""
    params = list(params)
    target = assets.target_profile(profile)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(out_dir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        data = folder / f"{target.name}.npz"
        start = time.perf_counter()
        recording = record(profile, data, trajectories, seconds, seed)
        recorded = time.perf_counter()
        result = run_calibration(target.robot, [data], params, f"{target.name}_fit", folder, workers=workers,
                                 seed=seed)
        done = time.perf_counter()
    fit = result.fit
    return UnmodeledFit(target.name, tuple(params), recorded - start, done - recorded, recording.duration,
                        fit.replays, fit.residual_before["joint_rms_rad"], fit.residual_after["joint_rms_rad"],
                        fit.converged, estimates(fit), fit.consistency,
                        result.paths["profile"] if out_dir else None, Path(assets.find("target", profile)))
