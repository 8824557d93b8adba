"""Gymnasium ids of the shipped maze layouts: ``simreal/Maze<Name>-v0`` for ``scenes/mazes/<name>.yaml``.

Registering reads only file names; minigrid and the layout files are loaded when an env is made.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from .. import assets

ENTRY_POINT = "simreal.maze.env:MazeEnv"


def maze_env_id(layout: str) -> str:
    """``walls_a`` -> ``simreal/MazeWallsA-v0``."""
    return f"simreal/Maze{''.join(part.capitalize() for part in layout.split('_'))}-v0"


def maze_env_ids() -> list[str]:
    """The id of every shipped maze layout."""
    return [maze_env_id(name) for name in assets.available("maze")]


def register_maze_envs() -> None:
    for name in assets.available("maze"):
        env_id = maze_env_id(name)
        if env_id not in registry:
            register(id=env_id, entry_point=ENTRY_POINT, kwargs={"layout": name})


__all__ = ["maze_env_id", "maze_env_ids", "register_maze_envs"]
