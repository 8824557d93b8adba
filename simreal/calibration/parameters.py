"""Which DynamicsParams fields a calibration fits, and the coordinates the optimiser sees.

Scales and friction live on a log axis (a 10 % error means the same at 0.1 as at 3),
masses and offsets on a linear one, each normalised so one unit is a sizeable change.
That puts every direction on a comparable footing for the optimiser, the Jacobian-based
uncertainty and the weak prior that pins directions the data cannot see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import yaml

from ..specs import PARAM_NAMES, DynamicsParams, SpecError, param_info
from ..specs.dynamics import INTEGER_PARAMS, PER_JOINT_PARAMS
from .replay import NOISE_FIELDS

LOG_FIELDS = frozenset({"actuator_gain", "joint_gain_scale", "force_limit", "joint_damping", "link_mass_scale",
                        "finger_friction", "gripper_force", "object_mass_scale", "object_size_scale",
                        "object_friction_scale"})
LINEAR_SCALE = {"payload_mass": 1.0, "joint_offset": 0.01, "latency_steps": 1.0, "position_noise": 0.001,
                "velocity_noise": 0.01, "object_position_noise": 0.001}  # value change per optimiser unit
# The smallest difference that matters, per field whose nominal is 0 (where "within 10 %" means
# nothing): an estimate this close to the truth is as good as exact, and one this close to
# nominal is nominal. Scale fields use 10 % of their value instead.
RESOLUTION = {"payload_mass": 0.02, "joint_offset": 0.001, "latency_steps": 0.5, "position_noise": 0.0002,
              "velocity_noise": 0.002, "object_position_noise": 0.0003}
RELATIVE_BAR = 0.1  # an estimate within this fraction of the truth is found
LOG_FLOOR = 1e-3  # log axes cannot reach a bound of 0: the lowest value a fit can return
GAIN_FIELDS = frozenset({"actuator_gain", "joint_gain_scale"})
STABLE_CORRECTION = 0.75  # fraction of the position error a drive may correct per physics step
PER_JOINT_NOMINAL = {"joint_offset": 0.0, "joint_gain_scale": 1.0}  # what an empty list means, per joint


def joint_values(dynamics: DynamicsParams, name: str, dof: int) -> tuple[float, ...]:
    """A per-joint field's values, with the empty list expanded to its per-joint nominal."""
    return tuple(getattr(dynamics, name) or (PER_JOINT_NOMINAL.get(name, 0.0),) * dof)


@dataclass(frozen=True)
class Coordinate:
    """One optimiser coordinate: a scalar field, or one joint of a per-joint field."""

    name: str
    joint: int | None
    log: bool
    scale: float  # linear: value per unit; log: the value at x = 0
    low: float
    high: float

    @property
    def label(self) -> str:
        return self.name if self.joint is None else f"{self.name}[{self.joint}]"

    def value(self, x: float) -> float:
        return self.scale * math.exp(x) if self.log else self.scale * x

    def coordinate(self, value: float) -> float:
        return math.log(max(value, LOG_FLOOR) / self.scale) if self.log else value / self.scale

    def derivative(self, x: float) -> float:
        """d value / d x, to carry uncertainties from coordinates to values."""
        return self.value(x) if self.log else self.scale

    @property
    def bounds(self) -> tuple[float, float]:
        return self.coordinate(self.low), self.coordinate(self.high)


def stable_gain(position_gain: float) -> float:
    """The largest gain scale for which the simulated drive still settles without ringing.

    PyBullet's position motor corrects ``gain x position_gain`` of the error every
    physics step: near 1 it overshoots every step, and the simulation turns chaotic in
    the parameters (a 0.3 % change moves the wrist by centimetres). No real, tracking
    drive looks like that, so a fit never needs to go there."""
    return STABLE_CORRECTION / position_gain


def check_names(names: list[str], source: str = "--params") -> list[str]:
    """Reject unknown or duplicate field names with a SpecError naming the value."""
    seen = []
    for name in names:
        if name not in PARAM_NAMES:
            raise SpecError(source, "params", name, f"DynamicsParams fields ({', '.join(PARAM_NAMES)})")
        if name in seen:
            raise SpecError(source, "params", name, "each field once")
        seen.append(name)
    if not seen:
        raise SpecError(source, "params", "", "at least one DynamicsParams field")
    return seen


def parse_known(text: str, source: str = "--known") -> dict[str, object]:
    """``"a=1.5,b=[0, 0.1]"`` -> ``{"a": 1.5, "b": [0, 0.1]}`` (values are YAML; commas in
    brackets stay in their list). Values are checked by the fit (``fit.known_dynamics``)."""
    out: dict[str, object] = {}
    for item in (part.strip() for part in _top_level_split(text)):
        if not item:
            continue
        name, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not name or not value:
            raise SpecError(source, "known", item, "name=value (e.g. object_mass_scale=3.0)")
        try:
            out[name] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise SpecError(source, f"known.{name}", value, "a number or a [list] of numbers") from err
    return out


def _top_level_split(text: str) -> list[str]:
    """``text`` split at the commas outside brackets."""
    parts, depth, current = [], 0, []
    for char in text:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth <= 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    return [*parts, "".join(current)]


def bar(name: str, truth: float) -> float:
    """How far (value units) an estimate of ``name`` may miss ``truth`` and count as found:
    ``RELATIVE_BAR`` of it, at least the field's ``RESOLUTION``."""
    return max(RELATIVE_BAR * abs(float(truth)), RESOLUTION.get(name, 0.0))


def nominal_value(name: str, joint: int | None) -> float:
    """A coordinate's nominal value (a per-joint field's per-joint nominal)."""
    if joint is not None:
        return PER_JOINT_NOMINAL.get(name, 0.0)
    return float(getattr(DynamicsParams(), name))


def split_names(names: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(continuous, integer, noise) fields among ``names``."""
    integer = [n for n in names if n in INTEGER_PARAMS]
    noise = [n for n in names if n in NOISE_FIELDS]
    continuous = [n for n in names if n not in INTEGER_PARAMS and n not in NOISE_FIELDS]
    return continuous, integer, noise


def coordinates(names: list[str], dof: int, max_gain: float | None = None) -> list[Coordinate]:
    """Optimiser coordinates for the named fields; per-joint fields give ``dof`` of them.

    ``max_gain`` caps the gain fields' upper bound (see :func:`stable_gain`)."""
    nominal = DynamicsParams()
    out = []
    for name in names:
        info = dict(param_info(name))
        if max_gain is not None and name in GAIN_FIELDS:
            info["high"] = min(info["high"], max_gain)
        log = name in LOG_FIELDS
        if name in PER_JOINT_PARAMS:
            scale = PER_JOINT_NOMINAL.get(name, 1.0) if log else LINEAR_SCALE.get(name, 1.0)
            out += [Coordinate(name, j, log, scale, info["low"], info["high"]) for j in range(dof)]
        elif log:
            out.append(Coordinate(name, None, True, float(getattr(nominal, name)), info["low"], info["high"]))
        else:
            out.append(Coordinate(name, None, False, LINEAR_SCALE.get(name, 1.0), info["low"], info["high"]))
    return out


def to_dynamics(base: DynamicsParams, coords: list[Coordinate], x: np.ndarray, dof: int) -> DynamicsParams:
    """``base`` with the coordinates' fields set from ``x``."""
    values: dict[str, object] = {}
    joints: dict[str, list[float]] = {}
    for c, xi in zip(coords, x, strict=True):
        v = min(max(c.value(float(xi)), c.low), c.high)
        if c.name in INTEGER_PARAMS:
            v = round(v)
        if c.joint is None:
            values[c.name] = v
        else:
            joints.setdefault(c.name, list(joint_values(base, c.name, dof)))[c.joint] = v
    values.update({name: tuple(v) for name, v in joints.items()})
    return replace(base, **values)


def to_coordinates(dynamics: DynamicsParams, coords: list[Coordinate], dof: int) -> np.ndarray:
    """The coordinates of ``dynamics`` (the inverse of :func:`to_dynamics`)."""
    out = []
    for c in coords:
        value = getattr(dynamics, c.name) if c.joint is None else joint_values(dynamics, c.name, dof)[c.joint]
        out.append(c.coordinate(float(value)))
    return np.array(out)
