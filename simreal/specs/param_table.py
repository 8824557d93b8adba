"""Declared parameter sections: one frozen-dataclass field per YAML key, with unit, doc and bounds.

A target profile's ``mujoco:`` and ``unmodeled:`` sections are such dataclasses. Each
field says once what it is (:func:`param`); reading a section (:func:`read_section`),
checking per-joint lengths (:func:`check_per_joint`) and the documentation table
(:func:`section_markdown`) all come from that one declaration, so the docs cannot drift
from what the loader accepts.

Kinds: ``real`` and ``integer`` (bounded; ``None`` as default means "derived from the
robot", said in the doc), ``per_joint`` (a number for every joint or a list with one per
arm joint; ``()`` is the default), ``vector`` (a fixed-length list, bounded per element,
``()`` meaning derived) and ``choice`` (one of listed strings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field, fields
from typing import Any

import numpy as np

from .fields import FieldReader, Invalid, SpecError, integer, one_of, real


def param(default: Any, unit: str, doc: str, low: Any = None, high: Any = None, *, kind: str = "real",
          length: int | None = None, choices: tuple[str, ...] = (), shown: str = "") -> Any:
    """A section field: its default, unit, meaning, bounds and kind (see the module doc);
    ``shown`` is how the docs table names an empty default ("derived" unless given)."""
    return field(default=default, metadata={"unit": unit, "doc": doc, "low": low, "high": high, "kind": kind,
                                            "length": length, "choices": choices, "shown": shown})


def _bounded(convert: Any, low: float | None, high: float | None, unit: str) -> Any:
    def check(value: Any) -> Any:
        number = convert(value)
        if (low is not None and number < low) or (high is not None and number > high):
            raise Invalid(f"a value in [{low}, {high}] {unit}".rstrip())
        return number

    return check


def _converter(meta: dict[str, Any]) -> Any:
    kind, low, high, unit = meta["kind"], meta["low"], meta["high"], meta["unit"]
    if kind == "choice":
        return one_of(*meta["choices"])
    if kind == "integer":
        return _bounded(integer, low, high, unit)
    if kind == "real":
        return _bounded(real, low, high, unit)
    if kind == "per_joint":
        item = _bounded(real, low, high, unit)

        def per_joint(value: Any) -> tuple[float, ...]:
            if isinstance(value, Sequence) and not isinstance(value, str):
                if not value:
                    raise Invalid(f"a number or a non-empty list of numbers, each in [{low}, {high}] {unit}")
                return tuple(item(v) for v in value)
            return (item(value),)

        return per_joint
    length = meta["length"]
    lows = low if isinstance(low, tuple) else (low,) * length
    highs = high if isinstance(high, tuple) else (high,) * length

    def vector(value: Any) -> tuple[float, ...]:
        what = f"a list of {length} numbers, " + ", ".join(f"[{lo}, {hi}]" for lo, hi in zip(lows, highs, strict=True))
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != length:
            raise Invalid(what)
        try:
            return tuple(_bounded(real, lo, hi, "")(v) for v, lo, hi in zip(value, lows, highs, strict=True))
        except Invalid:
            raise Invalid(what) from None

    return vector


def read_section(cls: type, data: object, source: str, prefix: str) -> Any:
    """The dataclass ``cls`` with the fields given in mapping ``data`` (the rest default);
    unknown keys and bad values are SpecErrors naming ``source`` and ``prefix.field``."""
    reader = FieldReader(data, source, prefix)
    values = {f.name: reader.take(f.name, _converter(dict(f.metadata))) for f in fields(cls) if reader.has(f.name)}
    reader.finish()
    return cls(**values)


def check_per_joint(section: Any, dof: int, robot: str, source: str, prefix: str) -> None:
    """Raise SpecError if a per-joint field has neither one value nor one per arm joint."""
    for f in fields(section):
        values = getattr(section, f.name)
        if f.metadata["kind"] == "per_joint" and len(values) not in (0, 1, dof):
            raise SpecError(source, f"{prefix}.{f.name}", list(values),
                            f"one number or {dof} values, one per arm joint of {robot}")


def per_joint(values: tuple[float, ...], dof: int, default: Any) -> np.ndarray:
    """A per-joint field as ``dof`` numbers: one value repeated, one per joint, or ``default``."""
    if not values:
        return np.broadcast_to(np.asarray(default, dtype=float), (dof,)).copy()
    return np.array(values * dof if len(values) == 1 else values, dtype=float)


def _shown(meta: dict[str, Any], default: Any) -> str:
    if meta["kind"] == "choice":
        return f"{default} (one of {', '.join(meta['choices'])})"
    if default is None or default == ():
        return meta["shown"] or "derived"
    return str(list(default) if isinstance(default, tuple) else default)


def _allowed(meta: dict[str, Any]) -> str:
    kind, low, high = meta["kind"], meta["low"], meta["high"]
    if kind == "choice":
        return "-"
    if kind == "vector":
        length = meta["length"]
        lows = low if isinstance(low, tuple) else (low,) * length
        highs = high if isinstance(high, tuple) else (high,) * length
        return ", ".join(f"[{lo}, {hi}]" for lo, hi in zip(lows, highs, strict=True))
    return f"[{low}, {high}]" + (" per joint" if kind == "per_joint" else "")


def section_markdown(cls: type) -> str:
    """The fields of a section as a Markdown table (docs keep it equal to this output)."""
    rows = ["| field | default | unit | allowed | meaning |", "|---|---|---|---|---|"]
    for f in fields(cls):
        meta = dict(f.metadata)
        rows.append(f"| `{f.name}` | {_shown(meta, f.default)} | {meta['unit'] or '-'} | {_allowed(meta)} | "
                    f"{meta['doc']} |")
    return "\n".join(rows)
