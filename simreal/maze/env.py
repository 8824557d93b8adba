"""MazeEnv: a minigrid world built from a :class:`~simreal.specs.maze.MazeSpec`, seen as a small channel image.

Minigrid does the grid mechanics (moves, occlusion, doors, lava, goal); this module only turns a
layout file into a minigrid grid and minigrid's symbolic view into a compact one-hot image a CNN
reads directly (no pixel rendering, no pygame).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.utils import EzPickle
from minigrid.core.actions import Actions
from minigrid.core.constants import OBJECT_TO_IDX, STATE_TO_IDX
from minigrid.core.grid import Grid
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Door, Goal, Lava, Wall
from minigrid.minigrid_env import MiniGridEnv

from ..specs.maze import DIRECTIONS, MazeSpec

MINIGRID_ACTIONS = {"left": Actions.left, "right": Actions.right, "forward": Actions.forward,
                    "toggle": Actions.toggle}
CELL_CHANNELS = ("wall", "goal", "lava", "door_closed", "door_open")
DOOR_COLOR = "yellow"


def observation_channels(spec: MazeSpec) -> tuple[str, ...]:
    """Names of the observation's channels, in order: cell kinds, then what the view adds."""
    if spec.view == "egocentric":
        return (*CELL_CHANNELS, "unseen")
    return (*CELL_CHANNELS, *(f"agent_{d}" for d in DIRECTIONS))


def observation_shape(spec: MazeSpec) -> tuple[int, int, int]:
    """(channels, height, width) of the observation."""
    channels = len(observation_channels(spec))
    if spec.view == "egocentric":
        return (channels, spec.view_size, spec.view_size)
    return (channels, spec.height, spec.width)


def _mission() -> str:
    return "reach the goal"


def encode_cells(image: np.ndarray) -> np.ndarray:
    """Minigrid's (x, y, [type, color, state]) encoding -> one-hot cell channels (C, y, x), float32."""
    kind, state = image[..., 0].T, image[..., 2].T
    door = kind == OBJECT_TO_IDX["door"]
    planes = (kind == OBJECT_TO_IDX["wall"], kind == OBJECT_TO_IDX["goal"], kind == OBJECT_TO_IDX["lava"],
              door & (state != STATE_TO_IDX["open"]), door & (state == STATE_TO_IDX["open"]))
    return np.stack(planes).astype(np.float32)


class MazeEnv(MiniGridEnv, EzPickle):
    """Reach the goal of a maze layout (``scenes/mazes/*.yaml``) without stepping into lava.

    ## Action Space
    ``Discrete(n)``: index i is the layout's ``actions[i]``, each one of minigrid's actions:
    ``left`` / ``right`` turn 90 degrees in place, ``forward`` moves one cell (blocked by walls
    and closed doors), ``toggle`` opens or closes a door in front. The default is
    ``[left, right, forward]``.

    ## Observation Space
    ``Box(0, 1, (C, H, W), float32)``, one-hot channels named by :func:`observation_channels`:
    ``wall, goal, lava, door_closed, door_open`` (1 where the cell holds it), then for the
    ``egocentric`` view ``unseen`` (cells the agent cannot see: occluded by walls or doors),
    for the ``full`` view one ``agent_<direction>`` channel per heading (1 at the agent's cell).
    ``egocentric``: the agent's ``view_size`` x ``view_size`` view, rotated so the agent looks
    up from the bottom-middle cell (minigrid's partial view). ``full``: the whole map, north up.

    ## Rewards
    ``1 - 0.9 * steps / max_steps`` on reaching the goal (minigrid's reward), otherwise 0.

    ## Episode End
    Terminates on reaching a goal (``info["is_success"]`` is True) or stepping into lava
    (``is_success`` False). Truncates after the layout's ``max_steps``.

    ## Arguments
    ``layout``: a shipped layout name (``scenes/mazes/<name>.yaml``), a YAML path or a
    :class:`MazeSpec`. ``render_mode``: ``None`` or ``"rgb_array"`` (minigrid's tile
    renderer, numpy only). Each reset draws the start cell among the map's ``S`` cells (and
    the heading when ``start_direction`` is ``random``) from the env's seed.

    ## Version History
    * v0: initial version.
    """

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, layout: str | Path | MazeSpec = "open_room", render_mode: str | None = None) -> None:
        EzPickle.__init__(self, layout, render_mode)
        spec = layout if isinstance(layout, MazeSpec) else _load(layout)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode {render_mode!r}: expected None or 'rgb_array'")
        self.layout = spec
        super().__init__(MissionSpace(mission_func=_mission), width=spec.width, height=spec.height,
                         max_steps=spec.max_steps, agent_view_size=spec.view_size if spec.view == "egocentric" else 3,
                         render_mode=render_mode)
        self._actions = tuple(MINIGRID_ACTIONS[a] for a in spec.actions)
        self.action_space = gym.spaces.Discrete(len(self._actions))
        self.observation_space = gym.spaces.Box(0.0, 1.0, observation_shape(spec), np.float32)

    def _gen_grid(self, width: int, height: int) -> None:
        spec = self.layout
        self.grid = Grid(width, height)
        kinds = {"#": Wall, "G": Goal, "L": Lava}
        for y, row in enumerate(spec.rows):
            for x, cell in enumerate(row):
                if cell in kinds:
                    self.grid.set(x, y, kinds[cell]())
                elif cell in "Dd":
                    self.grid.set(x, y, Door(DOOR_COLOR, is_open=cell == "d"))
        starts = spec.cells("S")
        self.agent_pos = starts[int(self.np_random.integers(len(starts)))]
        direction = spec.start_direction
        self.agent_dir = (int(self.np_random.integers(4)) if direction == "random" else DIRECTIONS.index(direction))

    def gen_obs(self) -> np.ndarray:  # minigrid calls this after every reset and step
        if self.layout.view == "egocentric":
            grid, visible = self.gen_obs_grid()
            image = grid.encode(visible)
            unseen = (image[..., 0] == OBJECT_TO_IDX["unseen"]).T[None].astype(np.float32)
            return np.concatenate((encode_cells(image), unseen))
        agents = np.zeros((4, self.height, self.width), np.float32)
        x, y = self.agent_pos
        agents[self.agent_dir, y, x] = 1.0
        return np.concatenate((encode_cells(self.grid.encode()), agents))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        obs, _ = super().reset(seed=seed, options=options)
        return obs, {"is_success": False}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, terminated, truncated, _ = super().step(self._actions[int(action)])
        return obs, float(reward), terminated, truncated, {"is_success": bool(terminated and reward > 0)}


def _load(layout: str | Path) -> MazeSpec:
    from ..assets import maze_spec

    return maze_spec(layout)


__all__ = ["CELL_CHANNELS", "MazeEnv", "encode_cells", "observation_channels", "observation_shape"]
