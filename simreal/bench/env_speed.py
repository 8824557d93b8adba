"""How close the grasp env runs to PyBullet's own stepping speed.

Three figures in one run, all in control steps per second:

* ``env``: ``PandaGrasp-v0`` with domain randomization, random actions, resets included;
* ``physics share``: the same run counting only time inside ``stepSimulation`` (the raw
  PyBullet limit for exactly those trajectories: same world, substeps and contacts);
* ``raw idle loop``: ``stepSimulation`` alone in a fresh copy of the world with the arm
  holding its home pose (fewer contacts, so a faster physics step).
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from .. import assets
from ..quiet import quiet_stdout
from ..sim import SimRobot


@dataclass(frozen=True)
class EnvSpeed:
    env_id: str
    steps: int
    env_rate: float
    physics_rate: float
    raw_idle_rate: float
    panda_gym_rate: float | None


def _time_env(env_id: str, steps: int, seed: int) -> tuple[float, float]:
    env = gym.make(env_id)
    world = env.unwrapped.robot.world
    physics_time = 0.0
    plain_step = world.step

    def timed_step() -> None:
        nonlocal physics_time
        start = time.perf_counter()
        plain_step()
        physics_time += time.perf_counter() - start

    world.step = timed_step
    actions = np.random.default_rng(seed).uniform(-1, 1, (steps, 4)).astype(np.float32)
    env.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    total = time.perf_counter() - start
    env.close()
    return steps / total, steps / physics_time


def _time_raw(robot: str, scene: str, steps: int) -> float:
    sim = SimRobot(assets.robot_spec(robot), assets.scene_spec(scene))
    sim.reset()
    start = time.perf_counter()
    for _ in range(steps):
        sim.world.step()
    rate = steps / (time.perf_counter() - start)
    sim.close()
    return rate


def _time_panda_gym(steps: int, seed: int) -> float | None:
    """PandaPickAndPlace-v3 steps/s if panda-gym is installed (it is not a dependency)."""
    if importlib.util.find_spec("panda_gym") is None:
        return None
    with quiet_stdout():  # panda-gym prints its PyBullet arguments
        import panda_gym  # noqa: F401

        env = gym.make("PandaPickAndPlace-v3")
    env.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def measure(env_id: str = "simreal/PandaGrasp-v0", steps: int = 3000, seed: int = 0) -> EnvSpeed:
    """Run all three timings (plus panda-gym's when installed)."""
    spec = gym.spec(env_id)
    robot, scene = spec.kwargs.get("robot", "panda"), spec.kwargs.get("scene", "tabletop")
    env_rate, physics_rate = _time_env(env_id, steps, seed)
    raw = _time_raw(robot, scene, steps)
    return EnvSpeed(env_id, steps, env_rate, physics_rate, raw, _time_panda_gym(steps, seed))
