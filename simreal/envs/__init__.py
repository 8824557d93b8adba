"""Gymnasium envs; registered under the ``simreal/`` namespace on import of ``simreal``."""

import gymnasium as gym
from gymnasium.envs.registration import register, registry

from .control import ControlEnv, control_layout
from .grasp import GRASP_ACTION_LAYOUT, GraspEnv, MissingPerception, grasp_layout
from .layout import Layout

ROBOT_IDS = {"panda": "Panda", "xarm6": "XArm6"}
EPISODE_STEPS = 50


def env_ids() -> list[str]:
    """Every env id simreal registers."""
    return [f"simreal/{title}{task}-v0" for title in ROBOT_IDS.values() for task in ("Grasp", "Control")]


def time_limited_grasp_env(**kwargs: object) -> gym.Env:
    """``GraspEnv(**kwargs)`` with the registered episode length (as ``gym.make`` would give)."""
    return gym.wrappers.TimeLimit(GraspEnv(**kwargs), EPISODE_STEPS)


def register_envs() -> None:
    from ..maze.registration import register_maze_envs

    register_maze_envs()
    for robot, title in ROBOT_IDS.items():
        for task, entry in (("Grasp", "simreal.envs.grasp:GraspEnv"),
                            ("Control", "simreal.envs.control:ControlEnv")):
            env_id = f"simreal/{title}{task}-v0"
            if env_id not in registry:
                register(id=env_id, entry_point=entry, max_episode_steps=EPISODE_STEPS,
                         kwargs={"robot": robot})


__all__ = [
    "EPISODE_STEPS",
    "GRASP_ACTION_LAYOUT",
    "ControlEnv",
    "GraspEnv",
    "Layout",
    "MissingPerception",
    "control_layout",
    "env_ids",
    "grasp_layout",
    "register_envs",
    "time_limited_grasp_env",
]
