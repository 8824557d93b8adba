"""Target families: draw stand-in robots from a ``FamilySpec`` and write them as profiles.

``simreal targets sample`` writes N profiles to a folder; benches and tests run methods
over such folders, so results describe a distribution of robots, not a few hand-made
ones. Profile ``i`` of seed ``s`` depends on ``(s, i)`` alone, so growing a family keeps
its first members.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from . import assets
from .atomic import write_text
from .specs import DynamicsParams, RobotSpec, TargetProfile
from .specs.dynamics import INTEGER_PARAMS, PER_JOINT_PARAMS
from .specs.family import FamilySpec, FieldDraw

SIGNIFICANT = 4  # digits kept, so the written profile is exactly the sampled one


def _round(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT}g}")


def _value(draw: FieldDraw, rng: np.random.Generator) -> float:
    if draw.name in INTEGER_PARAMS:
        return int(rng.integers(int(draw.low), int(draw.high) + 1))
    if draw.scale == "log":
        return _round(float(np.exp(rng.uniform(np.log(draw.low), np.log(draw.high)))))
    return _round(float(rng.uniform(draw.low, draw.high)))


def _per_joint(draw: FieldDraw, dof: int, nominal: float, rng: np.random.Generator) -> tuple[float, ...]:
    chosen = rng.random(dof) < draw.joint_p
    if not chosen.any():
        chosen[int(rng.integers(dof))] = True
    return tuple(_value(draw, rng) if c else nominal for c in chosen)


def sample_dynamics(family: FamilySpec, dof: int, rng: np.random.Generator) -> DynamicsParams:
    """One robot of the family: each field differs with its probability, then is drawn."""
    values: dict[str, Any] = {}
    for draw in family.fields:
        if rng.random() >= draw.p:
            continue
        if draw.name in PER_JOINT_PARAMS:
            values[draw.name] = _per_joint(draw, dof, 1.0 if draw.name == "joint_gain_scale" else 0.0, rng)
        else:
            values[draw.name] = _value(draw, rng)
    return replace(DynamicsParams(), **values)


class FamilyRandomizer:
    """Domain randomization by a family: each episode's dynamics are one member drawn
    from the env's generator (``RobotEnv(randomization=FamilyRandomizer(...))``), with the
    family's per-field probabilities and log or linear scales."""

    def __init__(self, family: FamilySpec | str, dof: int) -> None:
        self.family = family if isinstance(family, FamilySpec) else assets.family_spec(family)
        self.dof = dof

    def sample(self, rng: np.random.Generator) -> DynamicsParams:
        return sample_dynamics(self.family, self.dof, rng)


def changed_fields(dynamics: DynamicsParams) -> dict[str, Any]:
    """The fields that differ from nominal, as plain YAML values."""
    nominal = DynamicsParams()
    return {f.name: list(v) if isinstance(v := getattr(dynamics, f.name), tuple) else v
            for f in fields(DynamicsParams) if getattr(dynamics, f.name) != getattr(nominal, f.name)}


def _describe(family: FamilySpec, seed: int, index: int, dynamics: DynamicsParams) -> str:
    changed = changed_fields(dynamics)
    what = "; ".join(f"{k} {v}" for k, v in changed.items()) or "nominal in every field"
    return f"Drawn from family '{family.name}' (seed {seed}, member {index}): {what}."


def sample_profiles(family: FamilySpec, robot: RobotSpec, n: int, seed: int) -> list[TargetProfile]:
    """``n`` profiles for ``robot``; member ``i`` uses the generator seeded by ``(seed, i)``."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    profiles = []
    for i in range(n):
        dynamics = sample_dynamics(family, robot.dof, np.random.default_rng([seed, i]))
        name = f"{family.name}_{seed}_{i:03d}"
        profiles.append(TargetProfile(name, _describe(family, seed, i, dynamics), robot.name, dynamics,
                                      f"<family {family.name}, seed {seed}, member {i}>"))
    return profiles


def profile_yaml(profile: TargetProfile) -> str:
    """The profile in the target-profile schema (only the fields that differ)."""
    data = {"name": profile.name, "robot": profile.robot, "description": profile.description,
            "dynamics": changed_fields(profile.dynamics)}
    return yaml.safe_dump(data, sort_keys=False, width=100, default_flow_style=None)


def write_family(family: FamilySpec | str, robot: RobotSpec | str, n: int, seed: int,
                 out_dir: str | Path) -> list[Path]:
    """Sample ``n`` profiles and write ``<out_dir>/<name>.yaml`` each; returns the paths."""
    spec = family if isinstance(family, FamilySpec) else assets.family_spec(family)
    robot_spec = robot if isinstance(robot, RobotSpec) else assets.robot_spec(robot)
    out = Path(out_dir)
    return [write_text(out / f"{p.name}.yaml", profile_yaml(p)) for p in sample_profiles(spec, robot_spec, n, seed)]


def family_members(folder: str | Path) -> list[Path]:
    """The profile files of a family folder, in name order; an error names an empty folder."""
    path = Path(folder)
    if not path.is_dir():
        raise FileNotFoundError(f"family folder not found: {path}")
    members = sorted(path.glob("*.yaml"))
    if not members:
        raise FileNotFoundError(f"family folder {path} holds no profile (*.yaml)")
    return members


__all__ = ["FamilyRandomizer", "changed_fields", "family_members", "profile_yaml", "sample_dynamics", "sample_profiles",
           "write_family"]
