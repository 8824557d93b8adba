"""Reading YAML mappings into typed values with errors that name file, field and value.

Every spec loader walks its YAML through a :class:`FieldReader`: each field is taken
exactly once with a converter; whatever is left at :meth:`FieldReader.finish` is an
unknown key and an error. This is what makes "no silent defaults for unknown keys" hold.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

_REQUIRED = object()


class SpecError(ValueError):
    """A spec file (or mapping) is malformed; the message names source, field, value."""

    def __init__(self, source: str, field: str, value: Any, expected: str) -> None:
        self.source = source
        self.field = field
        self.value = value
        self.expected = expected
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{source}: field '{field}' = {shown}: expected {expected}")

    def __reduce__(self) -> tuple:
        # keep the error picklable (it may cross process boundaries, e.g. vector envs)
        return (SpecError, (self.source, self.field, self.value, self.expected))


class Invalid(Exception):
    """Raised by converters; carries what was expected."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


Converter = Callable[[Any], T]
# libyaml's parser when PyYAML was built with it: the same documents, ~8x faster than the pure-Python one
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    """Parse a YAML file, turning syntax errors and missing files into SpecError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise SpecError(str(path), "<file>", None, f"a readable file ({err.strerror})") from err
    try:
        return yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as err:
        raise SpecError(str(path), "<file>", None, f"valid YAML ({err})") from err


class FieldReader:
    """Takes the fields of one mapping, each once; :meth:`finish` rejects leftovers."""

    def __init__(self, data: Any, source: str, prefix: str = "") -> None:
        if not isinstance(data, Mapping):
            raise SpecError(source, prefix or "<root>", data, "a mapping of fields")
        self._data = dict(data)
        self._source = source
        self._prefix = prefix
        self._taken: set[str] = set()

    @property
    def source(self) -> str:
        return self._source

    def path(self, name: str) -> str:
        """Dotted path of a field, for error messages."""
        return f"{self._prefix}.{name}" if self._prefix else str(name)

    def has(self, name: str) -> bool:
        return name in self._data

    def take(self, name: str, convert: Converter[T], default: Any = _REQUIRED) -> T:
        """Convert field ``name``; a missing field takes ``default`` or is an error."""
        self._taken.add(name)
        if name not in self._data:
            if default is _REQUIRED:
                raise SpecError(self._source, self.path(name), None, "this required field")
            return default
        value = self._data[name]
        try:
            return convert(value)
        except Invalid as bad:
            raise SpecError(self._source, self.path(name), value, bad.expected) from None

    def reader(self, name: str, default: Any = _REQUIRED) -> FieldReader:
        """A reader over the nested mapping at ``name``."""
        self._taken.add(name)
        if name not in self._data:
            if default is _REQUIRED:
                raise SpecError(self._source, self.path(name), None, "this required section")
            return FieldReader(default, self._source, self.path(name))
        return FieldReader(self._data[name], self._source, self.path(name))

    def items(self, name: str, default: Any = _REQUIRED) -> list[FieldReader]:
        """Readers over each mapping of the list at ``name``."""
        self._taken.add(name)
        value = self._data.get(name, default)
        if value is _REQUIRED:
            raise SpecError(self._source, self.path(name), None, "this required list")
        if not isinstance(value, list):
            raise SpecError(self._source, self.path(name), value, "a list of mappings")
        return [
            FieldReader(item, self._source, f"{self.path(name)}[{i}]")
            for i, item in enumerate(value)
        ]

    def fail(self, name: str, value: Any, expected: str) -> SpecError:
        """An error about field ``name`` for checks that span several fields."""
        return SpecError(self._source, self.path(name), value, expected)

    def finish(self) -> None:
        unknown = sorted(set(self._data) - self._taken, key=str)
        if unknown:
            key = unknown[0]
            known = ", ".join(sorted(self._taken)) or "none"
            raise SpecError(
                self._source, self.path(key), self._data[key], f"no such field (known: {known})"
            )


# --- converters -----------------------------------------------------------------------


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("a non-empty string")
    return value


def real(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid("a finite number")
    return float(value)


def integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("an integer")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("true or false")
    return value


def bounded(convert: Converter[T], low: float | None = None, high: float | None = None,
            *, strict_low: bool = False) -> Converter[T]:
    """Wrap a numeric converter with range checks."""

    def check(value: Any) -> T:
        number = convert(value)
        if low is not None and (number < low or (strict_low and number == low)):
            raise Invalid(f"a number {'>' if strict_low else '>='} {low}")
        if high is not None and number > high:
            raise Invalid(f"a number <= {high}")
        return number

    return check


positive = bounded(real, 0.0, strict_low=True)
non_negative = bounded(real, 0.0)


def vector(length: int | None = None, item: Converter[float] = real) -> Converter[tuple]:
    """A list of numbers (of a fixed length when given)."""

    def check(value: Any) -> tuple:
        what = f"a list of {length} numbers" if length else "a list of numbers"
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise Invalid(what)
        if length is not None and len(value) != length:
            raise Invalid(what)
        try:
            return tuple(item(v) for v in value)
        except Invalid as bad:
            raise Invalid(f"{what}, each {bad.expected}") from None

    return check


def one_of(*choices: str) -> Converter[str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise Invalid("one of " + ", ".join(repr(c) for c in choices))
        return value

    return check
