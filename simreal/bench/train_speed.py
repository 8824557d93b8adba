"""``simreal bench train``: simreal's structured training against a plain SB3 baseline.

Runs ``simreal train`` once, then gives SB3 PPO the same wall-clock budget on the same
env with the analytic IK controller and no warm start (what a new user would try), and
evaluates both on the same held-out seeded episodes under the same randomization.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace

import gymnasium as gym
import torch
from stable_baselines3 import PPO

from ..evaluation import EvaluationResult, evaluate
from ..learn.train import TrainConfig, train


@dataclass(frozen=True)
class TrainBench:
    simreal_result: EvaluationResult
    simreal_wall_s: float
    baseline_result: EvaluationResult
    baseline_wall_s: float
    baseline_steps: int


def run_baseline(robot_env: str, randomization: str, budget_s: float, seed: int, episodes: int,
                 eval_seed: int) -> tuple[EvaluationResult, float, int]:
    """SB3 PPO (defaults, MlpPolicy) for ``budget_s`` seconds, then a held-out evaluation."""
    torch.set_num_threads(1)
    env = gym.make(robot_env, randomization=randomization)
    model = PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0)
    start = time.time()
    while time.time() - start < budget_s:
        model.learn(2048, reset_num_timesteps=False)
    wall = time.time() - start
    result = evaluate(gym.make(robot_env, randomization=randomization),
                      lambda obs: model.predict(obs, deterministic=True)[0], episodes, eval_seed)
    env.close()
    return result, wall, int(model.num_timesteps)


def measure(config: TrainConfig) -> TrainBench:
    run_dir = tempfile.mkdtemp(prefix="simreal-bench-train-")  # a fresh run every time
    start = time.time()
    trained = train(replace(config, run_dir=run_dir, resume=False))
    wall = time.time() - start
    env_id = {"panda": "simreal/PandaGrasp-v0", "xarm6": "simreal/XArm6Grasp-v0"}[config.robot]
    baseline, baseline_wall, steps = run_baseline(env_id, config.randomization, wall, config.seed,
                                                  config.eval_episodes, config.eval_seed)
    return TrainBench(trained.final, wall, baseline, baseline_wall, steps)
