"""SceneSpec: physics settings, table and graspable objects, loaded from YAML."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .fields import (
    FieldReader,
    bounded,
    integer,
    load_yaml,
    non_negative,
    one_of,
    positive,
    real,
    text,
    vector,
)


@dataclass(frozen=True)
class PhysicsSpec:
    """Simulation timing: one control step is ``substeps`` physics steps of ``timestep`` s."""

    timestep: float
    substeps: int
    gravity: float
    solver_iterations: int

    @property
    def control_period(self) -> float:
        return self.timestep * self.substeps


@dataclass(frozen=True)
class ObjectSpec:
    """A graspable primitive. ``size`` is full extents (box), or (radius, height) etc. in m."""

    name: str
    shape: str
    size: tuple[float, ...]
    mass: float
    friction: float
    rolling_friction: float
    spinning_friction: float
    color: tuple[float, float, float, float]

    @property
    def half_extents(self) -> tuple[float, float, float]:
        """Half extents of the object's bounding box in m."""
        if self.shape == "box":
            return (self.size[0] / 2, self.size[1] / 2, self.size[2] / 2)
        if self.shape == "cylinder":
            radius, height = self.size
            return (radius, radius, height / 2)
        return (self.size[0],) * 3


_SHAPE_SIZES = {"box": 3, "cylinder": 2, "sphere": 1}


@dataclass(frozen=True)
class SceneSpec:
    """Table-top scene. The first object is the grasp target; others are distractors.

    Objects spawn uniformly in ``spawn_low..spawn_high`` (x, y in m, world frame) with a
    yaw in ``spawn_yaw`` (rad), resting on the table top at z = ``table_height``.
    """

    name: str
    source: str
    physics: PhysicsSpec
    table_size: tuple[float, float, float]
    table_center: tuple[float, float]
    table_height: float
    table_friction: float
    objects: tuple[ObjectSpec, ...]
    spawn_low: tuple[float, float]
    spawn_high: tuple[float, float]
    spawn_yaw: tuple[float, float]
    min_separation: float


def _physics(fields: FieldReader) -> PhysicsSpec:
    physics = PhysicsSpec(
        timestep=fields.take("timestep", bounded(real, 1e-4, 0.05)),
        substeps=fields.take("substeps", bounded(integer, 1, 200)),
        gravity=fields.take("gravity", real, -9.81),
        solver_iterations=fields.take("solver_iterations", bounded(integer, 1, 1000), 50),
    )
    fields.finish()
    return physics


def _object(fields: FieldReader) -> ObjectSpec:
    shape = fields.take("shape", one_of(*_SHAPE_SIZES))
    obj = ObjectSpec(
        name=fields.take("name", text),
        shape=shape,
        size=fields.take("size", vector(_SHAPE_SIZES[shape], positive)),
        mass=fields.take("mass", positive),
        friction=fields.take("friction", non_negative),
        rolling_friction=fields.take("rolling_friction", non_negative, 0.001),
        spinning_friction=fields.take("spinning_friction", non_negative, 0.001),
        color=fields.take("color", vector(4, bounded(real, 0.0, 1.0)), (0.8, 0.2, 0.2, 1.0)),
    )
    fields.finish()
    return obj


def scene_from_mapping(data: object, source: str) -> SceneSpec:
    """Validate a parsed YAML mapping into a SceneSpec."""
    fields = FieldReader(data, source)
    table = fields.reader("table")
    size = table.take("size", vector(3, positive))
    center = table.take("center", vector(2))
    height = table.take("height", real, 0.0)
    friction = table.take("friction", non_negative, 0.8)
    table.finish()
    spawn = fields.reader("spawn")
    low = spawn.take("low", vector(2))
    high = spawn.take("high", vector(2))
    yaw = spawn.take("yaw", vector(2), (0.0, 0.0))
    separation = spawn.take("min_separation", non_negative, 0.08)
    spawn.finish()
    if any(lo > hi for lo, hi in zip(low, high, strict=True)):
        raise spawn.fail("high", high, "each value >= spawn.low")
    if yaw[0] > yaw[1]:
        raise spawn.fail("yaw", yaw, "[min, max] with min <= max")
    objects = tuple(_object(item) for item in fields.items("objects"))
    if not objects:
        raise fields.fail("objects", [], "at least one object (the first is the grasp target)")
    names = [o.name for o in objects]
    if len(set(names)) != len(names):
        raise fields.fail("objects", names, "unique object names")
    scene = SceneSpec(
        name=fields.take("name", text),
        source=source,
        physics=_physics(fields.reader("physics")),
        table_size=size,
        table_center=center,
        table_height=height,
        table_friction=friction,
        objects=objects,
        spawn_low=low,
        spawn_high=high,
        spawn_yaw=yaw,
        min_separation=separation,
    )
    fields.finish()
    return scene


def load_scene(path: str | Path) -> SceneSpec:
    """Load and validate a scene YAML file."""
    path = Path(path)
    return scene_from_mapping(load_yaml(path), str(path))


__all__ = ["ObjectSpec", "PhysicsSpec", "SceneSpec", "load_scene", "scene_from_mapping"]
