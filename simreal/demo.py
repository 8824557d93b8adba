"""The end-to-end demo on built-in defaults.

Today: the scripted grasp expert (through the analytic controller) on nominal dynamics,
under the default domain randomization, and on every shipped target profile of the
robot — showing that the task is solvable and what each "real robot" does to an
un-adapted controller. Later issues extend it to train -> adapt -> deploy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym

from . import assets
from .envs import EPISODE_STEPS, GraspEnv
from .evaluation import EvaluationResult, evaluate
from .policy import ScriptedGraspExpert


@dataclass(frozen=True)
class DemoRow:
    condition: str
    dynamics: str
    result: EvaluationResult


def conditions(robot: str) -> list[tuple[str, dict[str, object]]]:
    """(label, GraspEnv kwargs) for nominal, randomized and each target of ``robot``."""
    rows: list[tuple[str, dict[str, object]]] = [
        ("nominal", {"robot": robot, "randomization": None}),
        ("randomized (default)", {"robot": robot, "randomization": "default"}),
    ]
    for name in assets.available("target"):
        if assets.target_profile(name).robot == assets.robot_spec(robot).name:
            rows.append((f"target: {name}", {"robot": robot, "randomization": None, "target": name}))
    return rows


def run_demo(robot: str = "panda", episodes: int = 30, seed: int = 0,
             progress: Callable[[str], None] | None = None) -> list[DemoRow]:
    """Evaluate the scripted expert under each condition with seeded episodes."""
    expert = ScriptedGraspExpert()
    rows = []
    for label, kwargs in conditions(robot):
        if progress:
            progress(label)
        env = GraspEnv(**kwargs)
        try:
            result = evaluate(_limited(env), expert, episodes, seed)
        finally:
            env.close()
        dynamics = str(kwargs.get("target") or kwargs.get("randomization") or "nominal")
        rows.append(DemoRow(label, dynamics, result))
    return rows


def _limited(env: GraspEnv) -> gym.Env:
    return gym.wrappers.TimeLimit(env, EPISODE_STEPS)
