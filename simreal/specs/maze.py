"""MazeSpec: a grid-world layout drawn as a character map, loaded from YAML (``scenes/mazes/``).

The map is a list of equal-length rows; each character is one cell::

    #  wall            .  floor           S  a start cell (one is drawn per episode)
    G  goal            L  lava (ends the episode, no reward)
    D  closed door     d  open door       (doors need the ``toggle`` action to change)

The border must be wall, every start must reach a goal without crossing lava (doors count as
passable: the agent can open them), and a closed door needs ``toggle`` among the actions.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .fields import FieldReader, Invalid, bounded, integer, load_yaml, one_of, text

CELLS = {"#": "wall", ".": "floor", "S": "start", "G": "goal", "L": "lava", "D": "closed door", "d": "open door"}
DIRECTIONS = ("right", "down", "left", "up")  # minigrid's agent_dir 0..3
ACTIONS = ("left", "right", "forward", "toggle")
VIEWS = ("egocentric", "full")


@dataclass(frozen=True)
class MazeSpec:
    """A maze layout and how the agent sees and acts in it.

    ``rows[y][x]`` is the cell at column x, row y (y grows downwards, as in minigrid).
    ``start_direction`` is a direction name or ``"random"`` (drawn per episode).
    ``view`` is ``"egocentric"`` (the agent's ``view_size`` x ``view_size`` cone, walls occlude)
    or ``"full"`` (the whole map with the agent drawn in it). ``max_steps`` ends an episode.
    """

    name: str
    source: str
    description: str
    rows: tuple[str, ...]
    start_direction: str
    max_steps: int
    view: str
    view_size: int
    actions: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.rows[0])

    @property
    def height(self) -> int:
        return len(self.rows)

    def cells(self, kind: str) -> tuple[tuple[int, int], ...]:
        """(x, y) of every cell whose map character is ``kind`` (e.g. ``"S"``), row by row."""
        return tuple((x, y) for y, row in enumerate(self.rows) for x, c in enumerate(row) if c == kind)

    def fingerprint(self) -> str:
        """Short hash of everything that defines the task (not the file it came from)."""
        data = {k: v for k, v in asdict(self).items() if k not in ("source", "description")}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def _rows(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list) or not value or not all(isinstance(r, str) and r for r in value):
        raise Invalid("a non-empty list of map rows (strings)")
    if len({len(r) for r in value}) != 1:
        raise Invalid("rows of equal length")
    bad = sorted({c for r in value for c in r} - set(CELLS))
    if bad:
        raise Invalid(f"only the characters {''.join(CELLS)} (got {''.join(bad)!r})")
    if len(value) < 3 or len(value[0]) < 3:
        raise Invalid("at least 3 x 3 cells")
    return tuple(value)


def _actions(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or len(set(value)) != len(value) or not set(value) <= set(ACTIONS):
        raise Invalid(f"a list of distinct actions from {', '.join(ACTIONS)}")
    return tuple(value)


def _reachable(rows: tuple[str, ...], start: tuple[int, int]) -> set[tuple[int, int]]:
    """Cells reachable from ``start`` by moves through anything but walls and lava."""
    seen, queue = {start}, deque([start])
    while queue:
        x, y = queue.popleft()
        for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if (nx, ny) not in seen and rows[ny][nx] not in "#L":
                seen.add((nx, ny))
                queue.append((nx, ny))
    return seen


def _check_map(fields: FieldReader, spec: MazeSpec) -> None:
    rows = spec.rows
    border = rows[0] + rows[-1] + "".join(r[0] + r[-1] for r in rows)
    if set(border) != {"#"}:
        raise fields.fail("map", list(rows), "a map whose border cells are all walls '#'")
    starts, goals = spec.cells("S"), set(spec.cells("G"))
    if not starts or not goals:
        raise fields.fail("map", list(rows), "at least one start 'S' and one goal 'G'")
    for start in starts:
        if not goals & _reachable(rows, start):
            raise fields.fail("map", list(rows), f"every start to reach a goal without lava (start {start} cannot)")
    if spec.cells("D") and "toggle" not in spec.actions:
        raise fields.fail("actions", list(spec.actions), "'toggle' among the actions: the map has closed doors")
    if spec.view == "egocentric" and spec.view_size % 2 == 0:
        raise fields.fail("view_size", spec.view_size, "an odd number (the agent sits in the middle column)")


def maze_from_mapping(data: object, source: str) -> MazeSpec:
    """Validate a parsed YAML mapping into a MazeSpec."""
    fields = FieldReader(data, source)
    spec = MazeSpec(
        name=fields.take("name", text),
        source=source,
        description=fields.take("description", text, "a maze"),
        rows=fields.take("map", _rows),
        start_direction=fields.take("start_direction", one_of("random", *DIRECTIONS), "random"),
        max_steps=fields.take("max_steps", bounded(integer, 1, 10_000)),
        view=fields.take("view", one_of(*VIEWS), "egocentric"),
        view_size=fields.take("view_size", bounded(integer, 3, 31), 7),
        actions=fields.take("actions", _actions, ("left", "right", "forward")),
    )
    fields.finish()
    _check_map(fields, spec)
    return spec


def load_maze(path: str | Path) -> MazeSpec:
    """Load and validate a maze YAML file."""
    path = Path(path)
    return maze_from_mapping(load_yaml(path), str(path))


__all__ = ["ACTIONS", "CELLS", "DIRECTIONS", "VIEWS", "MazeSpec", "load_maze", "maze_from_mapping"]
