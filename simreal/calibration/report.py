"""Calibration outputs: fitted profile, narrowed randomization, overlay plot and JSON report.

The fitted profile uses the target-profile schema (so ``load_target`` and
``PerturbedTarget`` accept it) and the randomization file the randomization schema
(so ``simreal train --randomization`` and ``simreal adapt`` accept it). Ranges are
the estimate +- max(3 sigma, a floor), clipped to the field's allowed bounds; a field
the data could not pin gets the whole span between nominal and 3 sigmas past its estimate
(its base range when unseen), so the truth stays inside instead of a narrow range
around a wrong value.
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
from .estimates import Estimate
from .fit import Fit
from .gains import joint_gains
from .parameters import GAIN_FIELDS, nominal_value
from .trajectory_file import Recording

SPLIT_NOTE = ("the data see only each joint's actuator_gain x joint_gain_scale (joint_gains); "
              "their split is a convention, the one leaving the most fields nominal")
RELATIVE_FLOOR = 0.05  # range half-width at least 5 % of the estimate (log fields) ...
ABSOLUTE_FLOOR = {"payload_mass": 0.05, "joint_offset": 0.005, "joint_damping": 0.02,
                  "position_noise": 0.0002, "velocity_noise": 0.002, "object_position_noise": 0.0005}


def _plain(value: object) -> object:
    if isinstance(value, tuple):
        return [float(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value)
    return value


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def estimates(fit: Fit) -> dict[str, dict]:
    """Per fitted field: value, sigma (same unit; per joint for per-joint fields, None where
    unseen), identifiable, the stages that read it and why a coordinate is not identifiable."""
    out: dict[str, dict] = {}
    split = bool(joint_gains(fit.estimates))
    for name in fit.names:
        rows = fit.of(name)
        value = _plain(getattr(fit.dynamics, name))
        sigma = [_finite(e.sigma) for e in rows]
        per_joint = name in PER_JOINT_PARAMS
        entry = {"value": value if not per_joint or value else [e.value for e in rows],
                 "unit": param_info(name)["unit"], "sigma": sigma if per_joint else sigma[0],
                 "identifiable": bool(all(e.identifiable for e in rows)),
                 "read_by": sorted({e.stage for e in rows if e.stage})}
        notes = sorted({e.note for e in rows if e.note and not e.identifiable})
        if per_joint:
            entry["identifiable_per_joint"] = [bool(e.identifiable) for e in rows]
        if notes:
            entry["notes"] = notes
        if name in GAIN_FIELDS and split:
            entry["convention"] = SPLIT_NOTE
        out[name] = entry
    return out


def gain_products(fit: Fit) -> dict | None:
    """The per-joint gains ``actuator_gain x joint_gain_scale`` (what the data identify) with their
    sigmas, when the fit estimated both fields (None otherwise: one field alone is its product)."""
    products = joint_gains(fit.estimates)
    if not products:
        return None
    return {"value": [g.value for g in products], "unit": "x nominal",
            "sigma": [_finite(g.sigma) for g in products],
            "identifiable": bool(all(g.identifiable for g in products)),
            "identifiable_per_joint": [g.identifiable for g in products],
            "read_by": sorted({e.stage for e in fit.estimates if e.coord.name in GAIN_FIELDS and e.stage})}


def summary_rows(fit: Fit) -> list[tuple[str, ...]]:
    """One table row per fitted field: estimate, 1 sigma, identifiable (why not), the stages that read it."""
    rows = []
    fields = estimates(fit)
    products = gain_products(fit)
    if products is not None:
        fields["joint gains (product)"] = products
    for name, e in fields.items():
        value, sigma = e["value"], e["sigma"]
        shown = ", ".join(f"{v:.4g}" for v in value) if isinstance(value, list) else f"{value:.4g}"
        spread = ", ".join("-" if v is None else f"{v:.2g}" for v in sigma) if isinstance(sigma, list) else (
            "-" if sigma is None else f"{sigma:.2g}")
        if e["identifiable"]:
            verdict = "yes"
        elif "identifiable_per_joint" in e and any(e["identifiable_per_joint"]):
            verdict = "joints " + ", ".join(str(j) for j, ok in enumerate(e["identifiable_per_joint"]) if ok)
        else:
            verdict = "no"
        if e.get("notes"):
            verdict += f" ({'; '.join(e['notes'])})"
        if e.get("convention"):
            verdict += " (split: a convention, see joint gains)"
        rows.append((name, shown, spread, verdict, ", ".join(e["read_by"]) or "-"))
    return rows


def _range(name: str, value: float, sigma: float) -> tuple[float, float]:
    info = param_info(name)
    if name in INTEGER_PARAMS:
        low, high = value - round(3 * sigma), value + round(3 * sigma)
    else:
        floor = ABSOLUTE_FLOOR.get(name, RELATIVE_FLOOR * abs(value))
        half = max(3 * sigma, floor)
        low, high = value - half, value + half
    return max(low, info["low"]), min(high, info["high"])


def _flagged_range(e: Estimate, nominal: float, base: tuple[float, float] | None) -> tuple[float, float]:
    """A coordinate the data do not pin: from nominal to 3 sigmas past the estimate (its whole
    base range, or nominal alone, when unseen), so the truth stays inside."""
    info = param_info(e.coord.name)
    if not e.seen:
        return base if base is not None else (nominal, nominal)
    ends = [e.value - 3 * e.sigma, e.value + 3 * e.sigma, nominal]
    return max(min(ends), info["low"]), min(max(ends), info["high"])


def _fitted_range(fit: Fit, name: str, base: RandomizationSpec | None) -> list:
    """``[low, high]``, or one ``[low, high]`` per joint for a per-joint field."""
    given = base.range_of(name) if base is not None else None
    spans = []
    for e in fit.of(name):
        nominal = nominal_value(name, e.coord.joint)
        joint_base = None
        if given is not None:
            low, high = given
            joint_base = (low[e.coord.joint], high[e.coord.joint]) if isinstance(low, tuple) else (low, high)
        spans.append(_range(name, e.value, e.sigma) if e.identifiable else _flagged_range(e, nominal, joint_base))
    if name in INTEGER_PARAMS:
        return [int(np.floor(spans[0][0])), int(np.ceil(spans[0][1]))]
    pairs = [[float(low), float(high)] for low, high in spans]
    return pairs if name in PER_JOINT_PARAMS else pairs[0]


def randomization_ranges(fit: Fit, base: RandomizationSpec | None = None) -> dict[str, list]:
    """The base randomization's ranges with every fitted field narrowed to what the data say."""
    ranges: dict[str, list] = {}
    for name, low, high in base.ranges if base else ():
        ranges[name] = ([[a, b] for a, b in zip(low, high, strict=True)] if isinstance(low, tuple)
                        else [low, high])
    for name in fit.names:
        ranges[name] = _fitted_range(fit, name, base)
    for name, value in fit.known.items():  # measured otherwise: the floor's width around the value
        spans = [_range(name, float(v), 0.0) for v in np.atleast_1d(np.asarray(value, dtype=float))]
        kind = int if name in INTEGER_PARAMS else float
        pairs = [[kind(low), kind(high)] for low, high in spans]
        ranges[name] = pairs if name in PER_JOINT_PARAMS else pairs[0]
    return {name: ranges[name] for name in PARAM_NAMES if name in ranges}


def _jsonable(value: object) -> object:
    """Stage notes as JSON: arrays as lists, readings by their ``to_dict``."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.floating | np.integer):
        return value.item()
    return value


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
              "joint_gains": gain_products(fit),
              "known": {n: _plain(v) for n, v in fit.known.items()},
              "plan": [{"stage": step.stage.name, "fields": list(step.fields)} for step in fit.plan.steps],
              "unread": list(fit.plan.unread), "stage_notes": _jsonable(fit.notes),
              "residual_before": fit.residual_before, "residual_after": fit.residual_after,
              "converged": fit.converged,
              "consistency": fit.consistency.as_dict() if fit.consistency else None,
              "wall_time_s": fit.wall_time_s, "replays": fit.replays}
    paths["report"] = write_text(out / f"{name}.json", json.dumps(report, indent=2))
    paths["plot"] = overlay_plot(fit, recording, out / f"{name}.png")
    return paths


def overlay_plot(fit: Fit, recording: Recording, path: Path, trajectory: int | None = None) -> Path:
    """Recorded vs simulated-before (nominal) vs simulated-after joints for one replayed trajectory."""
    replayed = [recording.trajectories[i] for i in fit.replayed]
    if trajectory is None:  # the trajectory the fit improved most
        gains = [np.abs(b.joint_positions - t.joint_positions).mean()
                 - np.abs(a.joint_positions - t.joint_positions).mean()
                 for t, b, a in zip(replayed, fit.simulated_before, fit.simulated_after, strict=True)]
        trajectory = int(np.argmax(gains))
    traj = replayed[trajectory]
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
    fig.suptitle(f"trajectory {fit.replayed[trajectory]} ({traj.kind or 'unknown kind'}): joint RMS "
                 f"{fit.residual_before['joint_rms_rad']:.4f} rad (nominal) -> "
                 f"{fit.residual_after['joint_rms_rad']:.4f} rad (fitted), all trajectories")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
