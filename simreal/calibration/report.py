"""Calibration outputs: fitted profile, narrowed randomization, overlay plot and JSON report.

The fitted profile uses the target-profile schema (so ``load_target`` and
``PerturbedTarget`` accept it) and the randomization file the randomization schema
(so ``simreal train --randomization`` and ``simreal adapt`` accept it). Ranges are
the estimate +- max(3 sigma, a floor), clipped to the field's allowed bounds; a field
the data could not pin gets the whole span between nominal and what its
probed tolerance allows (3 of them either side), so the truth stays inside
instead of a narrow range around a wrong value.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import yaml

from ..atomic import write_text
from ..specs import RandomizationSpec, load_randomization, load_target, param_info
from ..specs.dynamics import INTEGER_PARAMS, PARAM_NAMES, PER_JOINT_PARAMS
from .fit import Fit, replayed
from .trajectory_file import Recording

RELATIVE_FLOOR = 0.05  # range half-width at least 5 % of the estimate (log fields) ...
ABSOLUTE_FLOOR = {"payload_mass": 0.05, "joint_offset": 0.005, "joint_damping": 0.02,
                  "position_noise": 0.0002, "velocity_noise": 0.002, "object_position_noise": 0.0005}
NOISE_RELATIVE = 0.2  # noise levels: +- 20 %


def _plain(value: object) -> object:
    if isinstance(value, tuple):
        return [float(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value)
    return value


def estimates(fit: Fit) -> dict[str, dict]:
    """Per fitted field: value, uncertainty (same unit; per joint for offsets), identifiable."""
    out: dict[str, dict] = {}
    u = fit.uncertainty
    for name in fit.names:
        value = _plain(getattr(fit.dynamics, name))
        entry = {"value": value, "unit": param_info(name)["unit"], "identifiable": True}
        rows = [i for i, c in enumerate(fit.coords) if c.name == name]
        if rows and u is not None:
            sigma = [float(u.sigma_value[i]) for i in rows]
            entry["sigma"] = sigma if name in PER_JOINT_PARAMS else sigma[0]
            entry["sigma_jacobian_coord"] = [float(u.sigma_jacobian[i]) for i in rows]
            entry["sigma_bootstrap_coord"] = [float(u.sigma_bootstrap[i]) for i in rows]
            entry["identifiable"] = bool(all(u.identifiable[i] for i in rows))
        elif name in INTEGER_PARAMS:
            entry["sigma"] = 0
            entry["method"] = "exhaustive search"
        else:
            entry["sigma"] = float(value) * NOISE_RELATIVE / 3
            entry["method"] = "residual step differences (MAD)"
        out[name] = entry
    return out


def _range(name: str, value: float, sigma: float) -> tuple[float, float]:
    info = param_info(name)
    if name in INTEGER_PARAMS:
        low, high = value, value
    else:
        floor = ABSOLUTE_FLOOR.get(name, RELATIVE_FLOOR * abs(value))
        half = max(3 * sigma, floor)
        low, high = value - half, value + half
    return max(low, info["low"]), min(high, info["high"])


def _unidentified_ranges(fit: Fit, name: str) -> list[tuple[float, float]]:
    """Per coordinate of ``name``: nominal .. the estimate +- 3 probed tolerances (wide,
    since the data do not pin it)."""
    info = param_info(name)
    fitted = getattr(fit.dynamics, name)
    spans = []
    for i, c in enumerate(fit.coords):
        if c.name == name:
            x = c.coordinate(float(fitted if c.joint is None else fitted[c.joint]))
            spread = 3 * float(fit.uncertainty.sigma[i])
            ends = [c.value(x - spread), c.value(x + spread), c.value(0.0)]  # value(0): nominal
            spans.append((max(min(ends), info["low"]), min(max(ends), info["high"])))
    return spans


def _fitted_range(fit: Fit, name: str, entry: dict) -> list:
    """``[low, high]``, or one ``[low, high]`` per joint for a per-joint field."""
    if not entry["identifiable"]:
        spans = _unidentified_ranges(fit, name)
    elif name in PER_JOINT_PARAMS:
        spans = [_range(name, v, s) for v, s in zip(entry["value"], entry["sigma"], strict=True)]
    else:
        spans = [_range(name, float(entry["value"]), float(entry["sigma"]))]
    if name in INTEGER_PARAMS:
        return [int(spans[0][0]), int(spans[0][1])]
    pairs = [[float(low), float(high)] for low, high in spans]
    return pairs if name in PER_JOINT_PARAMS else pairs[0]


def randomization_ranges(fit: Fit, base: RandomizationSpec | None = None) -> dict[str, list]:
    """The base randomization's ranges with every fitted field narrowed to what the data say."""
    ranges: dict[str, list] = {}
    for name, low, high in base.ranges if base else ():
        ranges[name] = ([[a, b] for a, b in zip(low, high, strict=True)] if isinstance(low, tuple)
                        else [low, high])
    for name, entry in estimates(fit).items():
        ranges[name] = _fitted_range(fit, name, entry)
    for name, value in fit.known.items():  # measured otherwise: the floor's width around the value
        spans = [_range(name, float(v), 0.0) for v in np.atleast_1d(np.asarray(value, dtype=float))]
        kind = int if name in INTEGER_PARAMS else float
        pairs = [[kind(low), kind(high)] for low, high in spans]
        ranges[name] = pairs if name in PER_JOINT_PARAMS else pairs[0]
    return {name: ranges[name] for name in PARAM_NAMES if name in ranges}


def write_outputs(fit: Fit, recording: Recording, robot: str, name: str, out_dir: str | Path,
                  sources: list[str], base: RandomizationSpec | None = None) -> dict[str, Path]:
    """Write ``<name>.yaml`` (profile), ``<name>_randomization.yaml`` (``base``'s ranges with
    the fitted fields narrowed), ``<name>.png``, ``<name>.json``."""
    out = Path(out_dir)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    dynamics = {n: _plain(getattr(fit.dynamics, n)) for n in PARAM_NAMES if n in fit.names or n in fit.known}
    profile = {"name": name, "robot": robot,
               "description": f"Fitted by simreal calibrate on {stamp} from {', '.join(sources)} "
                              f"({len(recording.trajectories)} trajectories, {recording.steps} steps); "
                              f"fields: {', '.join(fit.names)}"
                              + (f"; held at known values: {', '.join(fit.known)}." if fit.known else "."),
               "dynamics": dynamics}
    paths = {"profile": write_text(out / f"{name}.yaml", yaml.safe_dump(profile, sort_keys=False)),
             "randomization": write_text(out / f"{name}_randomization.yaml", yaml.safe_dump(
                 {"name": f"{name}_randomization", "ranges": randomization_ranges(fit, base)}, sort_keys=False))}
    load_target(paths["profile"])  # what we write must load
    load_randomization(paths["randomization"])
    report = {"name": name, "robot": robot, "sources": sources, "created": stamp, "estimates": estimates(fit),
              "known": {n: _plain(v) for n, v in fit.known.items()},
              "gravity": fit.gravity.to_dict() if fit.gravity is not None else None,
              "offset_sources": {str(j): source for j, source in fit.offset_sources.items()},
              "combinations": fit.uncertainty.combinations if fit.uncertainty else [],
              "residual_before": fit.residual_before, "residual_after": fit.residual_after,
              "converged": fit.converged,
              "latency_costs": {str(k): v for k, v in fit.latency_costs.items()},
              "wall_time_s": fit.wall_time_s, "replays": fit.replays}
    paths["report"] = write_text(out / f"{name}.json", json.dumps(report, indent=2))
    paths["plot"] = overlay_plot(fit, recording, out / f"{name}.png")
    return paths


def overlay_plot(fit: Fit, recording: Recording, path: Path, trajectory: int | None = None) -> Path:
    """Recorded vs simulated-before (nominal) vs simulated-after joints for one replayed trajectory."""
    recording = replayed(recording)
    if trajectory is None:  # the trajectory the fit improved most
        gains = [np.abs(b.joint_positions - t.joint_positions).mean()
                 - np.abs(a.joint_positions - t.joint_positions).mean()
                 for t, b, a in zip(recording.trajectories, fit.simulated_before, fit.simulated_after, strict=True)]
        trajectory = int(np.argmax(gains))
    traj = recording.trajectories[trajectory]
    before, after = fit.simulated_before[trajectory], fit.simulated_after[trajectory]
    dof = traj.joint_positions.shape[1]
    period = recording.control_period or 1.0
    times = np.arange(len(traj) + 1) * period
    fig, axes = plt.subplots((dof + 1) // 2, 2, figsize=(10, 2.0 * ((dof + 1) // 2)), sharex=True)
    for j, ax in enumerate(axes.ravel()):
        if j >= dof:
            ax.axis("off")
            continue
        ax.plot(times, traj.joint_positions[:, j], color="black", linewidth=1.5, label="recorded")
        ax.plot(times, before.joint_positions[:, j], color="tab:red", linestyle="--", linewidth=1, label="sim, nominal")
        ax.plot(times, after.joint_positions[:, j], color="tab:blue", linewidth=1, label="sim, fitted")
        ax.set_ylabel(f"joint {j + 1} (rad)")
        ax.grid(alpha=0.3)
    axes.ravel()[0].legend(loc="best", fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)" if recording.control_period else "control step")
    fig.suptitle(f"trajectory {trajectory}: joint RMS {fit.residual_before['joint_rms_rad']:.4f} rad (nominal) -> "
                 f"{fit.residual_after['joint_rms_rad']:.4f} rad (fitted), all trajectories")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
