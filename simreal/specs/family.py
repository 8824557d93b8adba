"""FamilySpec: a distribution over target profiles (``calibration/families/*.yaml``).

Methods are measured on robots drawn from a family rather than on hand-made profiles, so
what they achieve is a property of the method over a stated range of robots. Each field
differs from nominal with its own probability and is then drawn from its range.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .dynamics import INTEGER_PARAMS, PARAM_NAMES, PER_JOINT_PARAMS, param_info
from .fields import FieldReader, Invalid, bounded, integer, load_yaml, one_of, real, text

SCALES = ("linear", "log")


@dataclass(frozen=True)
class FieldDraw:
    """How one DynamicsParams field is drawn: differs with probability ``p``, then from
    ``[low, high]`` on a ``scale`` (log-uniform or uniform); per-joint fields pick each
    joint with probability ``joint_p``."""

    name: str
    p: float
    low: float
    high: float
    scale: str = "linear"
    joint_p: float = 1.0


@dataclass(frozen=True)
class FamilySpec:
    """A named, documented distribution over target profiles."""

    name: str
    description: str
    fields: tuple[FieldDraw, ...]
    source: str


def _draw(name: str, reader: FieldReader) -> FieldDraw:
    info = param_info(name)
    probability = reader.take("p", bounded(real, 0.0, 1.0))
    number = integer if name in INTEGER_PARAMS else real
    within = bounded(number, info["low"], info["high"])

    def pair(value: Any) -> tuple[float, float]:
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise Invalid(f"[low, high] within [{info['low']}, {info['high']}] {info['unit']}")
        low, high = within(value[0]), within(value[1])
        if low > high:
            raise Invalid("[low, high] with low <= high")
        return low, high

    low, high = reader.take("range", pair)
    scale = reader.take("scale", one_of(*SCALES), "linear")
    if scale == "log" and (low <= 0 or name in INTEGER_PARAMS):
        raise reader.fail("scale", scale, "'linear' (a log scale needs a positive, non-integer range)")
    joint_p = reader.take("joint_p", bounded(real, 0.0, 1.0), 1.0) if name in PER_JOINT_PARAMS else 1.0
    reader.finish()
    return FieldDraw(name, probability, low, high, scale, joint_p)


def family_from_mapping(data: object, source: str) -> FamilySpec:
    reader = FieldReader(data, source)
    name = reader.take("name", text)
    description = reader.take("description", text)
    fields_reader = reader.reader("fields")
    draws = tuple(_draw(n, fields_reader.reader(n)) for n in PARAM_NAMES if fields_reader.has(n))
    fields_reader.finish()
    reader.finish()
    return FamilySpec(name, description, draws, source)


def load_family(path: str | Path) -> FamilySpec:
    """Load and validate a family YAML file."""
    path = Path(path)
    return family_from_mapping(load_yaml(path), str(path))


__all__ = ["SCALES", "FamilySpec", "FieldDraw", "family_from_mapping", "load_family"]
