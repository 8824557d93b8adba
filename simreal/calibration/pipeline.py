"""The two calibration steps as the CLI runs them: record a target, calibrate from files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import assets
from ..robot import Robot
from ..specs import SceneSpec, SpecError
from ..targets import open_target
from .excitation import excite
from .context import Progress
from .fit import Fit, calibrate
from .parameters import check_names
from .report import write_outputs
from .trajectory_file import CalibrationDataError, Recording, load_recording, save_recording


def record(target: str | Path, out: str | Path, trajectories: int = 10, seconds: float = 6.0, seed: int = 0,
           scene: str = "tabletop", progress: Callable[[int, int], None] | None = None,
           routine: str = "default") -> Recording:
    """Run the excitation on the target a profile describes and save it to ``out``."""
    robot = open_target(target, scene)
    try:
        return record_robot(robot, out, trajectories, seconds, seed, progress, routine, assets.scene_spec(scene))
    finally:
        robot.close()


def record_robot(robot: Robot, out: str | Path, trajectories: int = 10, seconds: float = 6.0, seed: int = 0,
                 progress: Callable[[int, int], None] | None = None, routine: str = "default",
                 scene: SceneSpec | None = None) -> Recording:
    """Run the excitation on any Robot (a bridge client: real hardware) and save it to ``out``;
    ``scene`` (default: tabletop) is the model of the robot's surroundings the routine plans in."""
    recording = excite(robot, trajectories, seconds, seed, progress, routine, scene)
    save_recording(recording, out)
    return recording


def load_all(paths: list[str | Path], robot: str) -> Recording:
    """Load and merge recordings (.npz or deploy .jsonl) of one robot."""
    if not paths:
        raise CalibrationDataError("--data", "data", "", "at least one recording file")
    spec = assets.robot_spec(robot)
    loaded = [load_recording(p, spec) for p in paths]
    periods = {r.control_period for r in loaded if r.control_period}
    if len(periods) > 1:
        raise CalibrationDataError(loaded[0].source, "control_period", sorted(periods), "one control period")
    trajectories = tuple(t for r in loaded for t in r.trajectories)
    return Recording(spec.name, spec.fingerprint(), periods.pop() if periods else 0.0, trajectories,
                     ", ".join(str(p) for p in paths))


@dataclass
class Calibration:
    fit: Fit
    recording: Recording
    paths: dict[str, Path]


def run_calibration(robot: str, data: list[str | Path], params: list[str] | None, name: str,
                    out_dir: str | Path = "calibration/fitted", scene: str = "tabletop",
                    workers: int | None = None, seed: int = 0, progress: Progress | None = None,
                    base_randomization: str | None = "default",
                    known: Mapping[str, object] | None = None) -> Calibration:
    """Load ``data``, fit ``params`` (None: every field the recording informs, the blind default),
    write the profile, randomization, plot and report.

    The randomization written is ``base_randomization``'s (None: no other field) with the
    fitted fields narrowed, so it can replace the base in ``simreal train`` directly.
    ``known`` fields (measured otherwise, e.g. an object weighed) are held at their values,
    written to the profile and narrowed in the randomization too.
    """
    if params is not None:
        check_names(params)
    base = assets.randomization_spec(base_randomization) if base_randomization else None
    spec, scene_spec = assets.robot_spec(robot), assets.scene_spec(scene)
    recording = load_all(list(data), robot)
    if recording.control_period and abs(recording.control_period - scene_spec.physics.control_period) > 1e-9:
        raise CalibrationDataError(recording.source, "control_period", recording.control_period,
                                   f"{scene_spec.physics.control_period} s (the {scene} scene's control period)")
    if not name.replace("_", "").replace("-", "").isalnum():
        raise SpecError("--name", "name", name, "letters, digits, '_' or '-' (it becomes a file name)")
    fit = calibrate(recording, params, spec, scene_spec, workers=workers, seed=seed, progress=progress, known=known)
    paths = write_outputs(fit, recording, spec.name, name, out_dir, [str(p) for p in data], base)
    return Calibration(fit, recording, paths)
