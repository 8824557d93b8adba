"""DynamicsParams and the two YAML files built on it: target profiles and randomization.

``DynamicsParams`` is the one description of "how this robot really behaves" that the
simulator applies: the nominal robot is ``DynamicsParams()``. A target profile overrides
some fields; a randomization file gives a ``[low, high]`` range per field.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .engine import ENGINE_NEUTRAL_DYNAMICS, ENGINES, MujocoParams, mujoco_from_mapping
from .fields import FieldReader, Invalid, SpecError, integer, load_yaml, one_of, real, text, vector
from .param_table import check_per_joint
from .unmodeled import UnmodeledEffects, unmodeled_from_mapping


def _param(default: Any, unit: str, doc: str, low: float | None = None,
           high: float | None = None) -> Any:
    return field(default=default, metadata={"unit": unit, "doc": doc, "low": low, "high": high})


@dataclass(frozen=True)
class DynamicsParams:
    """Dynamics applied to a simulated robot and scene. Defaults are the nominal robot.

    Scales multiply the value in the robot/scene spec; other fields are absolute.
    """

    actuator_gain: float = _param(1.0, "x nominal", "scale of every arm joint's position gain", 0.01, 10.0)
    joint_gain_scale: tuple[float, ...] = _param(
        (), "x actuator_gain", "per arm joint factor on the position gain (a drive tuned unlike the others); "
        "[] means 1 for every joint", 0.01, 10.0)
    force_limit: float = _param(1.0, "x nominal", "scale of every arm joint's force/torque limit", 0.01, 10.0)
    joint_damping: float = _param(0.1, "N*m*s/rad", "viscous damping of every arm joint", 0.0, 50.0)
    link_mass_scale: float = _param(1.0, "x nominal", "scale of every arm link's mass", 0.1, 10.0)
    payload_mass: float = _param(0.0, "kg", "extra mass rigidly attached to the flange (last arm link)", 0.0, 20.0)
    finger_friction: float = _param(1.0, "coefficient", "lateral friction of the gripper links", 0.0, 5.0)
    gripper_force: float = _param(1.0, "x nominal", "scale of the gripper force limit", 0.01, 10.0)
    latency_steps: int = _param(0, "control steps", "delay before a command reaches the motors", 0, 20)
    position_noise: float = _param(0.0, "rad", "std of Gaussian noise on measured joint positions", 0.0, 1.0)
    velocity_noise: float = _param(0.0, "rad/s", "std of Gaussian noise on measured joint velocities", 0.0, 10.0)
    joint_offset: tuple[float, ...] = _param(
        (), "rad", "encoder bias per arm joint (measured = true + offset); [] means none", -0.5, 0.5)
    object_mass_scale: float = _param(1.0, "x nominal", "scale of every object's mass", 0.05, 20.0)
    object_size_scale: float = _param(1.0, "x nominal", "scale of every object's size", 0.5, 1.5)
    object_friction_scale: float = _param(1.0, "x nominal", "scale of every object's lateral friction", 0.0, 5.0)
    object_position_noise: float = _param(0.0, "m", "std of Gaussian noise on perceived object positions", 0.0, 0.1)

    def offsets(self, dof: int) -> tuple[float, ...]:
        """Per-joint encoder offsets, zeros when none are set."""
        return self.joint_offset or (0.0,) * dof

    def gain_scales(self, dof: int) -> tuple[float, ...]:
        """Per-joint position-gain factors (``actuator_gain`` x ``joint_gain_scale``)."""
        return tuple(self.actuator_gain * s for s in (self.joint_gain_scale or (1.0,) * dof))


PARAM_NAMES: tuple[str, ...] = tuple(f.name for f in fields(DynamicsParams))
INTEGER_PARAMS = frozenset({"latency_steps"})
PER_JOINT_PARAMS = frozenset({"joint_offset", "joint_gain_scale"})


def param_info(name: str) -> dict[str, Any]:
    """Unit, doc and bounds of a DynamicsParams field (used by docs and validation)."""
    return dict(next(f for f in fields(DynamicsParams) if f.name == name).metadata)


def schema_markdown() -> str:
    """The DynamicsParams fields as a Markdown table (docs/spec_schema.md)."""
    nominal = DynamicsParams()
    rows = ["| field | nominal | unit | allowed | meaning |", "|---|---|---|---|---|"]
    for name in PARAM_NAMES:
        info = param_info(name)
        value = list(getattr(nominal, name)) if name in PER_JOINT_PARAMS else getattr(nominal, name)
        rows.append(f"| `{name}` | {value} | {info['unit']} | [{info['low']}, {info['high']}] | {info['doc']} |")
    return "\n".join(rows)


def _in_bounds(name: str, convert: Any) -> Any:
    info = param_info(name)

    def check(value: Any) -> Any:
        number = convert(value)
        if not info["low"] <= number <= info["high"]:
            raise Invalid(f"a value in [{info['low']}, {info['high']}] {info['unit']}")
        return number

    return check


def _value_converter(name: str) -> Any:
    if name in INTEGER_PARAMS:
        return _in_bounds(name, integer)
    if name in PER_JOINT_PARAMS:
        return vector(item=_in_bounds(name, real))
    return _in_bounds(name, real)


def dynamics_from_mapping(data: object, source: str, prefix: str = "dynamics") -> DynamicsParams:
    """Nominal DynamicsParams with the fields given in ``data`` overridden."""
    reader = FieldReader(data, source, prefix)
    values = {n: reader.take(n, _value_converter(n)) for n in PARAM_NAMES if reader.has(n)}
    reader.finish()
    return replace(DynamicsParams(), **values)


@dataclass(frozen=True)
class TargetProfile:
    """A stand-in for a real robot: a named, documented set of dynamics overrides.

    ``engine`` says which physics engine plays the robot: ``pybullet`` (the training
    simulator with ``dynamics`` applied) or ``mujoco`` (a second engine with the
    parameters in ``mujoco``; only the engine-neutral ``dynamics`` fields apply there).
    ``unmodeled`` adds effects no ``DynamicsParams`` field expresses, on either engine.
    """

    name: str
    description: str
    robot: str
    dynamics: DynamicsParams
    source: str
    engine: str = "pybullet"
    mujoco: MujocoParams | None = None
    unmodeled: UnmodeledEffects = field(default_factory=UnmodeledEffects)

    def check_robot(self, robot_name: str, dof: int) -> None:
        """Raise SpecError if this profile cannot apply to the given robot."""
        if self.robot != robot_name:
            raise SpecError(self.source, "robot", self.robot, f"'{robot_name}' (the robot in use)")
        for name in sorted(PER_JOINT_PARAMS):
            values = getattr(self.dynamics, name)
            if values and len(values) != dof:
                raise SpecError(self.source, f"dynamics.{name}", list(values),
                                f"{dof} values, one per arm joint of {robot_name}")
        check_per_joint(self.unmodeled, dof, robot_name, self.source, "unmodeled")
        if self.mujoco is not None:
            check_per_joint(self.mujoco, dof, robot_name, self.source, "mujoco")

    @property
    def in_model_class(self) -> bool:
        """True when the training simulator can express this robot exactly (PyBullet with
        ``DynamicsParams`` alone), so a calibration has a truth to recover."""
        return self.engine == "pybullet" and not self.unmodeled.any()


def _check_engine_fields(reader: FieldReader, engine: str, dynamics: DynamicsParams) -> None:
    nominal = DynamicsParams()
    if engine != "pybullet":
        for name in PARAM_NAMES:
            if name not in ENGINE_NEUTRAL_DYNAMICS and getattr(dynamics, name) != getattr(nominal, name):
                raise SpecError(reader.source, f"dynamics.{name}", getattr(dynamics, name),
                                f"no PyBullet drive or contact field on engine '{engine}' (set its own in the "
                                f"'{engine}' section; engine-neutral fields: "
                                f"{', '.join(sorted(ENGINE_NEUTRAL_DYNAMICS))})")


def target_from_mapping(data: object, source: str) -> TargetProfile:
    reader = FieldReader(data, source)
    engine = reader.take("engine", one_of(*ENGINES), "pybullet")
    dynamics = dynamics_from_mapping(reader.take("dynamics", lambda v: v, {}), source)
    _check_engine_fields(reader, engine, dynamics)
    mujoco = reader.take("mujoco", lambda v: v, None)
    if engine != "mujoco" and mujoco is not None:
        raise reader.fail("mujoco", mujoco, "no 'mujoco' section unless 'engine: mujoco'")
    profile = TargetProfile(
        name=reader.take("name", text),
        description=reader.take("description", text),
        robot=reader.take("robot", text),
        dynamics=dynamics,
        source=source,
        engine=engine,
        mujoco=mujoco_from_mapping(mujoco or {}, source) if engine == "mujoco" else None,
        unmodeled=unmodeled_from_mapping(reader.take("unmodeled", lambda v: v, {}), source),
    )
    reader.finish()
    return profile


def load_target(path: str | Path) -> TargetProfile:
    """Load and validate a target profile YAML file."""
    path = Path(path)
    return target_from_mapping(load_yaml(path), str(path))


@dataclass(frozen=True)
class RandomizationSpec:
    """Uniform ranges per DynamicsParams field; unlisted fields stay nominal.

    Integer fields are sampled inclusively. A per-joint field draws each joint
    separately, from one shared ``[low, high]`` or from its own pair (``low`` and
    ``high`` are then tuples with one value per joint, e.g. as written by calibration).
    """

    name: str
    ranges: tuple[tuple[str, Any, Any], ...]
    source: str

    def range_of(self, name: str) -> tuple[Any, Any] | None:
        for key, low, high in self.ranges:
            if key == name:
                return (low, high)
        return None

    def check_robot(self, dof: int) -> None:
        """Raise SpecError if a per-joint range list does not have one pair per joint."""
        for name, low, _ in self.ranges:
            if isinstance(low, tuple) and len(low) != dof:
                raise SpecError(self.source, f"ranges.{name}", len(low), f"{dof} [low, high] pairs, one per arm joint")


def _range(name: str) -> Any:
    bound = _in_bounds(name, integer if name in INTEGER_PARAMS else real)

    def pair(value: Any) -> tuple[float, float]:
        if not isinstance(value, list | tuple) or len(value) != 2 or isinstance(value[0], list | tuple):
            raise Invalid("[low, high]" + (" or a list of [low, high], one per joint" if name in PER_JOINT_PARAMS
                                           else ""))
        low, high = bound(value[0]), bound(value[1])
        if low > high:
            raise Invalid("[low, high] with low <= high")
        return (low, high)

    def check(value: Any) -> tuple[Any, Any]:
        if name in PER_JOINT_PARAMS and isinstance(value, list | tuple) and value \
                and all(isinstance(v, list | tuple) for v in value):
            pairs = [pair(v) for v in value]
            return (tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))
        return pair(value)

    return check


def randomization_from_mapping(data: object, source: str) -> RandomizationSpec:
    reader = FieldReader(data, source)
    name = reader.take("name", text)
    ranges_reader = reader.reader("ranges")
    ranges = tuple((n, *ranges_reader.take(n, _range(n))) for n in PARAM_NAMES if ranges_reader.has(n))
    ranges_reader.finish()
    reader.finish()
    return RandomizationSpec(name=name, ranges=ranges, source=source)


def load_randomization(path: str | Path) -> RandomizationSpec:
    """Load and validate a randomization YAML file."""
    path = Path(path)
    return randomization_from_mapping(load_yaml(path), str(path))


__all__ = [
    "PARAM_NAMES",
    "DynamicsParams",
    "RandomizationSpec",
    "TargetProfile",
    "dynamics_from_mapping",
    "load_randomization",
    "load_target",
    "param_info",
]
