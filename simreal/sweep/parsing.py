"""Command-line grids: ``"target=a,b;seed=0,1"`` into typed axes, errors naming the option and value."""

from __future__ import annotations

from typing import Any


def _value(kind: str, name: str, text: str, types: dict[str, Any]) -> Any:
    if name not in types:
        raise ValueError(f"{kind} has no option {name!r}; options: {', '.join(sorted(types))}")
    expected = types[name]
    try:
        if expected is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        return expected(text) if expected in (int, float, str) else text
    except ValueError:
        raise ValueError(f"{kind} option {name}: {text!r} is not a {getattr(expected, '__name__', expected)}") \
            from None


def _pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, sep, values = part.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise ValueError(f"expected name=value[,value...] in {part!r}")
        pairs.append((name.strip().replace("-", "_"), values))
    return pairs


def parse_axes(kind: str, text: str, types: dict[str, Any]) -> dict[str, list[Any]]:
    """``"a=1,2;b=x"`` -> ``{"a": [1, 2], "b": ["x"]}``, each value of the option's type."""
    axes: dict[str, list[Any]] = {}
    for name, values in _pairs(text):
        if name in axes:
            raise ValueError(f"option {name} appears twice in the grid")
        axes[name] = [_value(kind, name, v.strip(), types) for v in values.split(",") if v.strip()]
    return axes


def parse_fixed(kind: str, text: str, types: dict[str, Any]) -> dict[str, Any]:
    """``"a=1;b=x"`` -> ``{"a": 1, "b": "x"}`` (one value each)."""
    return {name: _value(kind, name, values.strip(), types) for name, values in _pairs(text)}


__all__ = ["parse_axes", "parse_fixed"]
