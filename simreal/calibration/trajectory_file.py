"""Recorded trajectories for calibration: in memory, on disk (.npz), and from deploy logs.

A calibration can only be as good as its data, and data come from other machines and
other days: every load checks the file is complete, finite and for the robot in use,
and a bad file fails with its path, the field and the value (``CalibrationDataError``).
Files are plain arrays plus a JSON header, loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import replacing
from ..recording import Trajectory
from ..robot import ResetRequest, RobotState
from ..specs import RobotSpec, SpecError

FORMAT = "simreal-trajectories"
VERSION = 1


class CalibrationDataError(SpecError):
    """Recorded data that cannot be used: names the file, the field and the value."""


@dataclass(frozen=True)
class RecordedTrajectory:
    """One episode as arrays: ``commands[t]`` was active while going from state t to t + 1.

    Shapes: commands (T, dof), gripper_commands (T,), joint_positions/velocities
    (T + 1, dof) in the encoder frame (rad, rad/s), gripper_width (T + 1,) m,
    object_positions (T + 1, n, 3) m, object_orientations (T + 1, n, 4) (x, y, z, w).
    joint_torques (T + 1, dof) N m, or (0, 0) when the robot reports no torques.
    ``placements`` is the reset request (x, y, yaw per object), so a replay starts from
    the same scene; ``None`` when unknown (the robot's default placement is assumed).
    ``kind`` is the excitation kind that produced it ("" when unknown, e.g. a deploy log).
    """

    commands: np.ndarray
    gripper_commands: np.ndarray
    joint_positions: np.ndarray
    joint_velocities: np.ndarray
    gripper_width: np.ndarray
    object_names: tuple[str, ...] = ()
    object_positions: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3)))
    object_orientations: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 4)))
    placements: dict[str, tuple[float, float, float]] | None = None
    joint_torques: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    kind: str = ""

    def __len__(self) -> int:
        return len(self.commands)

    @property
    def has_objects(self) -> bool:
        return bool(self.object_names) and self.object_positions.shape[0] == len(self) + 1

    @property
    def has_torques(self) -> bool:
        return self.joint_torques.shape[0] == len(self) + 1

    def reset_request(self) -> ResetRequest:
        return ResetRequest(dict(self.placements or {}))


@dataclass(frozen=True)
class Recording:
    """Trajectories of one robot plus what a replay needs to match them."""

    robot: str
    fingerprint: str
    control_period: float
    trajectories: tuple[RecordedTrajectory, ...]
    source: str = "<memory>"

    @property
    def steps(self) -> int:
        return sum(len(t) for t in self.trajectories)

    @property
    def duration(self) -> float:
        """Robot time covered, in seconds."""
        return self.steps * self.control_period


def from_trajectories(trajectories: Sequence[Trajectory], spec: RobotSpec, control_period: float,
                      placements: Sequence[dict[str, tuple[float, float, float]] | None],
                      kinds: Sequence[str] | None = None) -> Recording:
    """Arrays from ``RecordingRobot`` trajectories (one placement request, and kind, per trajectory)."""
    out = []
    kinds = kinds if kinds is not None else [""] * len(trajectories)
    for traj, placed, kind in zip(trajectories, placements, kinds, strict=True):
        names = tuple(traj.states[0].objects)
        out.append(RecordedTrajectory(
            commands=traj.command_positions(),
            gripper_commands=np.array([c.gripper for c in traj.commands], dtype=float),
            joint_positions=traj.joint_positions(),
            joint_velocities=np.array([s.joint_velocities for s in traj.states]),
            gripper_width=np.array([s.gripper_width for s in traj.states], dtype=float),
            object_names=names,
            object_positions=np.array([[s.objects[n].position for n in names] for s in traj.states]).reshape(
                len(traj.states), len(names), 3),
            object_orientations=np.array([[s.objects[n].orientation for n in names] for s in traj.states]).reshape(
                len(traj.states), len(names), 4),
            placements=None if placed is None else dict(placed),
            joint_torques=_torques(traj.states),
            kind=kind,
        ))
    return Recording(spec.name, spec.fingerprint(), control_period, tuple(out))


def _torques(states: Sequence[RobotState]) -> np.ndarray:
    """(T + 1, dof) measured torques, or (0, 0) unless every state reports them."""
    if any(s.joint_torques is None for s in states):
        return np.zeros((0, 0))
    return np.array([s.joint_torques for s in states], dtype=float)


# --- .npz files -------------------------------------------------------------------------

_ARRAYS = ("commands", "gripper_commands", "joint_positions", "joint_velocities", "gripper_width",
           "object_positions", "object_orientations")
_OPTIONAL = ("joint_torques",)  # written only when the robot reported them


def save_recording(recording: Recording, path: str | Path) -> Path:
    """Write a recording as .npz (arrays + JSON header); atomic (temp file + rename)."""
    path = Path(path)
    header = {"format": FORMAT, "version": VERSION, "robot": recording.robot, "fingerprint": recording.fingerprint,
              "control_period": recording.control_period, "trajectories": [
                  {"object_names": list(t.object_names), "kind": t.kind,
                   "placements": None if t.placements is None else {k: list(v) for k, v in t.placements.items()}}
                  for t in recording.trajectories]}
    arrays = {"header": np.array(json.dumps(header))}
    for i, traj in enumerate(recording.trajectories):
        arrays.update({f"t{i}_{name}": np.asarray(getattr(traj, name), dtype=float) for name in _ARRAYS})
        if traj.has_torques:
            arrays[f"t{i}_joint_torques"] = np.asarray(traj.joint_torques, dtype=float)
    with replacing(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return path


def load_recording(path: str | Path, spec: RobotSpec | None = None) -> Recording:
    """Load and validate a .npz recording (or a deploy JSON-lines log, by suffix)."""
    path = Path(path)
    if path.suffix in (".jsonl", ".json", ".log"):
        return load_deploy_log(path, spec)
    source = str(path)
    if not path.is_file():
        raise CalibrationDataError(source, "<file>", None, "an existing recording file (.npz or .jsonl)")
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise CalibrationDataError(source, "<file>", None, f"a complete .npz recording ({err})") from None
    if "header" not in contents:
        raise CalibrationDataError(source, "header", None, "a simreal trajectory header")
    header = _header(contents["header"], source)
    trajectories = tuple(_trajectory(contents, i, entry, source)
                         for i, entry in enumerate(header["trajectories"]))
    recording = Recording(header["robot"], header["fingerprint"], float(header["control_period"]),
                          trajectories, source)
    if spec is not None:
        check_recording(recording, spec)
    return recording


def _header(raw: np.ndarray, source: str) -> dict:
    try:
        header = json.loads(str(raw))
    except json.JSONDecodeError as err:
        raise CalibrationDataError(source, "header", str(raw)[:60], f"JSON ({err})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CalibrationDataError(source, "header.format", getattr(header, "get", dict().get)("format"),
                                   f"'{FORMAT}'")
    if header.get("version") != VERSION:
        raise CalibrationDataError(source, "header.version", header.get("version"), f"{VERSION}")
    for key in ("robot", "fingerprint", "control_period", "trajectories"):
        if key not in header:
            raise CalibrationDataError(source, f"header.{key}", None, "this required field")
    if not header["trajectories"]:
        raise CalibrationDataError(source, "header.trajectories", [], "at least one trajectory")
    return header


def _trajectory(contents: dict, i: int, entry: dict, source: str) -> RecordedTrajectory:
    arrays = {}
    for name in _ARRAYS:
        key = f"t{i}_{name}"
        if key not in contents:
            raise CalibrationDataError(source, key, None, "this array (the file is truncated)")
        arrays[name] = contents[key]
    for name in _OPTIONAL:
        if f"t{i}_{name}" in contents:
            arrays[name] = contents[f"t{i}_{name}"]
    placements = entry.get("placements")
    kind = entry.get("kind", "")
    if not isinstance(kind, str):
        raise CalibrationDataError(source, f"header.trajectories[{i}].kind", kind, "a string")
    traj = RecordedTrajectory(object_names=tuple(entry.get("object_names", ())), kind=kind,
                              placements=None if placements is None else {k: tuple(v) for k, v in placements.items()},
                              **arrays)
    validate_trajectory(traj, source, f"t{i}")
    return traj


def validate_trajectory(traj: RecordedTrajectory, source: str, prefix: str) -> None:
    """Shapes agree, at least one step, every value finite."""
    steps = len(traj.commands)
    if steps == 0:
        raise CalibrationDataError(source, f"{prefix}_commands", [], "at least one control step")
    expected = {"gripper_commands": (steps,), "joint_positions": (steps + 1, traj.commands.shape[1]),
                "joint_velocities": (steps + 1, traj.commands.shape[1]), "gripper_width": (steps + 1,)}
    if traj.joint_torques.size:
        expected["joint_torques"] = (steps + 1, traj.commands.shape[1])
    for name, shape in expected.items():
        actual = getattr(traj, name).shape
        if actual != shape:
            raise CalibrationDataError(source, f"{prefix}_{name}", f"shape {actual}", f"shape {shape}")
    for name in _ARRAYS + _OPTIONAL:
        values = np.asarray(getattr(traj, name))
        bad = np.argwhere(~np.isfinite(values))
        if len(bad):
            where = tuple(int(v) for v in bad[0])
            raise CalibrationDataError(source, f"{prefix}_{name}{list(where)}", float(values[where]),
                                       "a finite number")


def check_recording(recording: Recording, spec: RobotSpec) -> None:
    """Raise CalibrationDataError if the recording is not of this robot."""
    if recording.robot != spec.name:
        raise CalibrationDataError(recording.source, "robot", recording.robot, f"'{spec.name}' (the robot in use)")
    for i, traj in enumerate(recording.trajectories):
        if traj.commands.shape[1] != spec.dof:
            raise CalibrationDataError(recording.source, f"t{i}_commands", f"{traj.commands.shape[1]} joints",
                                       f"{spec.dof} joints of {spec.name}")
    if recording.fingerprint not in ("", spec.fingerprint()):
        raise CalibrationDataError(recording.source, "fingerprint", recording.fingerprint,
                                   f"{spec.fingerprint()} (the {spec.name} spec in use has changed since recording)")


# --- deploy JSON-lines logs ---------------------------------------------------------------

_LOG_KEYS = ("episode", "step", "command_positions", "command_gripper", "joint_positions", "joint_velocities",
             "gripper_width")
_RESET_KEYS = ("episode", "placements", "joint_positions", "joint_velocities", "gripper_width", "objects")
_LOG_FORMAT, _LOG_VERSIONS = "simreal-deploy-log", (2,)


def load_deploy_log(path: str | Path, spec: RobotSpec | None = None) -> Recording:
    """Read a ``simreal.deploy`` log (JSON lines: a header, then per episode a reset and its steps).

    With the reset lines (format version 2) each episode is replayed from the state it
    really started in, with its object placements, and perceived object poses are
    compared. Logs without them (version 1: step lines only) are assumed to start at
    the home pose with the scene's default placement, and object poses are not used.
    """
    path = Path(path)
    source = str(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise CalibrationDataError(source, "<file>", None, f"a readable file ({err.strerror})") from None
    header, resets, episodes = None, {}, {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = _log_record(line, source, number)
        if record["kind"] == "header":
            header = record
        elif record["kind"] == "reset":
            resets[record["episode"]] = record
        else:
            episodes.setdefault(record["episode"], []).append(record)
    if not episodes:
        raise CalibrationDataError(source, "<file>", "", "at least one step line (the log has no control step)")
    if spec is None:
        raise ValueError("pass the RobotSpec the deploy log was recorded with")
    if header is not None and header["robot"] != spec.name:
        raise CalibrationDataError(source, "header.robot", header["robot"], f"'{spec.name}' (the robot in use)")
    trajectories = tuple(_log_episode(rows, resets.get(episode), spec, source, episode)
                         for episode, rows in sorted(episodes.items()))
    fingerprint = header["fingerprint"] if header else ""
    period = float(header["control_period"]) if header else 0.0
    return Recording(spec.name, fingerprint, period, trajectories, source)


def _log_record(line: str, source: str, number: int) -> dict:
    """One parsed line with its ``kind`` (a line without one is a version-1 step line)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise CalibrationDataError(source, f"line {number}", line[:60], f"a JSON object ({err.msg})") from None
    if not isinstance(record, dict):
        raise CalibrationDataError(source, f"line {number}", line[:60], "a JSON object")
    kind = record.setdefault("kind", "step")
    required = {"header": ("format", "version", "robot", "fingerprint", "control_period"), "reset": _RESET_KEYS,
                "step": _LOG_KEYS}
    if kind not in required:
        raise CalibrationDataError(source, f"line {number}.kind", kind, "'header', 'reset' or 'step'")
    for key in required[kind]:
        if key not in record:
            raise CalibrationDataError(source, f"line {number}.{key}", None, "this required field")
    if kind == "header" and (record["format"] != _LOG_FORMAT or record["version"] not in _LOG_VERSIONS):
        raise CalibrationDataError(source, f"line {number}.version", record["version"],
                                   f"a {_LOG_FORMAT} of version {', '.join(map(str, _LOG_VERSIONS))}")
    return record


def _log_episode(rows: list[dict], reset: dict | None, spec: RobotSpec, source: str,
                 episode: int) -> RecordedTrajectory:
    rows = sorted(rows, key=lambda r: r["step"])
    start = reset or {"joint_positions": list(spec.home), "joint_velocities": [0.0] * spec.dof,
                      "gripper_width": spec.gripper.max_width, "objects": {}}
    states = [start, *rows]

    def column(key: str, records: list[dict]) -> np.ndarray:
        values = [r[key] for r in records]
        try:
            return np.array(values, dtype=float)
        except (TypeError, ValueError):
            raise CalibrationDataError(source, f"episode {episode}.{key}", values[0], "numbers") from None

    names = tuple(start["objects"]) if reset else ()
    if any(tuple(r.get("objects", {})) != names for r in rows):
        names = ()  # the perceived objects changed within the episode: compare joints only
    poses = {key: [[r["objects"][n][key] for n in names] for r in states] for key in ("position", "orientation")}
    traj = RecordedTrajectory(
        commands=column("command_positions", rows), gripper_commands=column("command_gripper", rows),
        joint_positions=column("joint_positions", states), joint_velocities=column("joint_velocities", states),
        gripper_width=column("gripper_width", states), object_names=names,
        object_positions=_pose_array(poses["position"], len(states), len(names), 3, source, episode),
        object_orientations=_pose_array(poses["orientation"], len(states), len(names), 4, source, episode),
        placements={k: tuple(v) for k, v in reset["placements"].items()} if reset else None)
    if traj.commands.ndim != 2 or traj.commands.shape[1] != spec.dof:
        raise CalibrationDataError(source, f"episode {episode}.command_positions", rows[0]["command_positions"],
                                   f"{spec.dof} values, one per arm joint of {spec.name}")
    validate_trajectory(traj, source, f"episode {episode}")
    return traj


def _pose_array(values: list, rows: int, objects: int, width: int, source: str, episode: int) -> np.ndarray:
    try:
        return np.array(values, dtype=float).reshape(rows, objects, width)
    except (TypeError, ValueError):
        raise CalibrationDataError(source, f"episode {episode}.objects", str(values[0])[:60],
                                   f"{width} numbers per object pose") from None
