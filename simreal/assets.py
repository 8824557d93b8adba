"""Find the shipped robot, scene and calibration files, in a checkout or an installed wheel.

In a source checkout the folders ``robots/``, ``scenes/`` and ``calibration/`` sit next
to the package; a wheel carries copies under ``simreal/_assets/``. Any name can also be
given as a path to a user's own file.
"""

from __future__ import annotations

from pathlib import Path

import pybullet_data

from .specs.family import FamilySpec, load_family
from .specs.maze import MazeSpec, load_maze
from .specs import (
    RandomizationSpec,
    RobotSpec,
    SceneSpec,
    TargetProfile,
    load_randomization,
    load_robot,
    load_scene,
    load_target,
)

_PACKAGE = Path(__file__).resolve().parent
_KINDS = {
    "robot": "robots",
    "scene": "scenes",
    "target": "calibration/targets",
    "randomization": "calibration/randomization",
    "family": "calibration/families",
    "maze": "scenes/mazes",
}


def asset_root() -> Path:
    """The folder holding robots/, scenes/ and calibration/."""
    checkout = _PACKAGE.parent
    if (checkout / "robots").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout
    return _PACKAGE / "_assets"


def available(kind: str) -> list[str]:
    """Names of the shipped files of a kind: robot, scene, target, randomization, family or maze."""
    folder = asset_root() / _KINDS[kind]
    return sorted(p.stem for p in folder.glob("*.yaml"))


def find(kind: str, name_or_path: str | Path) -> Path:
    """Path of a shipped file by name (e.g. ``panda``) or of a user's file by path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if not candidate.is_file():
            raise FileNotFoundError(f"{kind} file not found: {candidate}")
        return candidate
    path = asset_root() / _KINDS[kind] / f"{name_or_path}.yaml"
    if not path.is_file():
        names = ", ".join(available(kind)) or "none"
        raise FileNotFoundError(f"no {kind} named '{name_or_path}' (available: {names})")
    return path


def robot_spec(name_or_path: str | Path) -> RobotSpec:
    return load_robot(find("robot", name_or_path))


def scene_spec(name_or_path: str | Path) -> SceneSpec:
    return load_scene(find("scene", name_or_path))


def target_profile(name_or_path: str | Path) -> TargetProfile:
    return load_target(find("target", name_or_path))


def randomization_spec(name_or_path: str | Path) -> RandomizationSpec:
    return load_randomization(find("randomization", name_or_path))


def family_spec(name_or_path: str | Path) -> FamilySpec:
    return load_family(find("family", name_or_path))


def maze_spec(name_or_path: str | Path) -> MazeSpec:
    return load_maze(find("maze", name_or_path))


def urdf_path(spec: RobotSpec) -> Path:
    """Resolve ``spec.urdf``: ``pybullet_data://...`` or relative to the robot's YAML file."""
    prefix = "pybullet_data://"
    if spec.urdf.startswith(prefix):
        return Path(pybullet_data.getDataPath()) / spec.urdf[len(prefix):]
    return (Path(spec.source).parent / spec.urdf).resolve()
