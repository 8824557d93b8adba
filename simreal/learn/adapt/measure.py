"""Report measurements: seeded episodes that describe a run's result, not part of adapting.

In-sim success runs in simulation under the default randomization. On the target,
every measurement opens its own Robot from the run's factory and evaluates through a
grasp env on it, on the same seeded episodes for every head, so the heads compare on
equal terms. None of these steps is in the adaptation's budget; the report lists them
apart as measurement.
"""

from __future__ import annotations

from ...envs import time_limited_grasp_env
from ...evaluation import EvaluationResult, evaluate
from ...policy.head import ControlHead, head_controller
from ...policy.hierarchical import HierarchicalPolicy
from .session import RobotFactory


def in_sim(policy: HierarchicalPolicy, head: ControlHead, episodes: int, seed: int) -> EvaluationResult:
    env = time_limited_grasp_env(robot=policy.spec.name, randomization="default", controller=head_controller(head))
    try:
        return evaluate(env, policy.act, episodes, seed)
    finally:
        env.close()


def on_target(policy: HierarchicalPolicy, head: ControlHead, robot: RobotFactory, episodes: int,
              seed: int) -> EvaluationResult:
    env = time_limited_grasp_env(robot=robot(), randomization=None, controller=head_controller(head))
    try:
        return evaluate(env, policy.act, episodes, seed)
    finally:
        env.close()


def steps_of(result: EvaluationResult | None) -> int:
    """Control steps the measurement took."""
    return 0 if result is None else round(result.mean_length * result.episodes)


def summary(result: EvaluationResult | None) -> dict | None:
    if result is None:
        return None
    return {"success_rate": result.success_rate, "interval_95": list(result.interval),
            "episodes": result.episodes, "successes": result.successes, "steps": steps_of(result)}
