"""The maze DQN: Stable-Baselines3's DQN with the maze CNN, per-layer learning rates and a learning curve.

Per-layer rates: SB3 resets every optimizer param group's ``lr`` to its schedule at each
``train()``. :class:`MazeDQN` keeps a ``lr_scale`` in each param group and sets
``lr = schedule * lr_scale`` instead, so feature layers can learn slower than the Q-head.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback
from torch import nn

from ..evaluation import EvaluationResult
from ..specs.maze import MazeSpec
from .env import MazeEnv
from .network import EXTRACTORS
from .options import DQNOptions, widths


class MazeDQN(DQN):
    """SB3 DQN whose param groups carry an ``lr_scale`` honoured at every learning-rate update."""

    def _update_learning_rate(self, optimizers: list[torch.optim.Optimizer] | torch.optim.Optimizer) -> None:
        rate = self.lr_schedule(self._current_progress_remaining)
        self.logger.record("train/learning_rate", rate)
        for optimizer in optimizers if isinstance(optimizers, list) else [optimizers]:
            for group in optimizer.param_groups:
                group["lr"] = rate * group.get("lr_scale", 1.0)


def build_dqn(spec: MazeSpec, options: DQNOptions, seed: int, extractor: str = "cnn",
              extractor_kwargs: dict | None = None) -> MazeDQN:
    """A fresh DQN on the maze ``spec``; every random choice follows ``seed``."""
    torch.set_num_threads(1)
    kwargs = {"channels": widths(options.channels), "features_dim": options.features_dim, **(extractor_kwargs or {})}
    policy_kwargs = {"features_extractor_class": EXTRACTORS[extractor], "features_extractor_kwargs": kwargs,
                     "net_arch": list(widths(options.head)), "normalize_images": False}
    return MazeDQN("MlpPolicy", MazeEnv(spec), policy_kwargs=policy_kwargs, learning_rate=options.learning_rate,
                   buffer_size=options.buffer_size, learning_starts=options.learning_starts,
                   batch_size=options.batch_size, train_freq=options.train_freq, gradient_steps=1,
                   target_update_interval=options.target_update_interval,
                   exploration_fraction=options.exploration_fraction, exploration_initial_eps=1.0,
                   exploration_final_eps=options.exploration_final_eps, gamma=options.gamma,
                   n_steps=options.n_steps, seed=seed, device="cpu", verbose=0)


def set_layer_rates(model: MazeDQN, scaled: Sequence[tuple[nn.Module, float]]) -> None:
    """Rebuild the optimizer: each (module, scale) learns at scale x the rate, the rest at 1x; frozen skipped."""
    taken: set[int] = set()
    groups = []
    for module, scale in scaled:
        params = [p for p in module.parameters() if p.requires_grad and id(p) not in taken]
        taken |= {id(p) for p in params}
        if params:
            groups.append({"params": params, "lr_scale": scale})
    rest = [p for p in model.q_net.parameters() if p.requires_grad and id(p) not in taken]
    if rest:
        groups.append({"params": rest, "lr_scale": 1.0})
    rate = model.lr_schedule(1.0)
    for group in groups:
        group["lr"] = rate * group["lr_scale"]
    model.policy.optimizer = model.policy.optimizer_class(groups, **model.policy.optimizer_kwargs)


class GreedyEvaluator:
    """Seeded greedy episodes of a Q-network, all episodes stepped together (one forward per step)."""

    def __init__(self, spec: MazeSpec, episodes: int, seed: int) -> None:
        self.envs = [MazeEnv(spec) for _ in range(episodes)]
        self.seed = seed

    def __call__(self, q_net: nn.Module) -> EvaluationResult:
        obs = [env.reset(seed=self.seed + i)[0] for i, env in enumerate(self.envs)]
        alive = list(range(len(self.envs)))
        successes, lengths, returns = 0, np.zeros(len(self.envs)), np.zeros(len(self.envs))
        was_training = q_net.training
        q_net.train(False)
        with torch.no_grad():
            while alive:
                values = q_net(torch.as_tensor(np.stack([obs[i] for i in alive])))
                still = []
                for i, action in zip(alive, values.argmax(dim=1).tolist(), strict=True):
                    obs[i], reward, terminated, truncated, info = self.envs[i].step(action)
                    lengths[i] += 1
                    returns[i] += reward
                    if terminated or truncated:
                        successes += info["is_success"]
                    else:
                        still.append(i)
                alive = still
        q_net.train(was_training)
        return EvaluationResult(len(self.envs), int(successes), float(lengths.mean()), float(returns.mean()))


class CurveCallback(BaseCallback):
    """Every ``every`` env steps, a greedy validation; the points are (env steps, result)."""

    def __init__(self, evaluate: GreedyEvaluator, every: int, points: list,
                 note: Callable[[int, float], None] | None = None) -> None:
        super().__init__()
        self.evaluate, self.every, self.points, self.note = evaluate, every, points, note

    def _on_step(self) -> bool:
        if self.num_timesteps % self.every == 0:
            result = self.evaluate(self.model.q_net)
            self.points.append((self.num_timesteps, result))
            if self.note:
                self.note(self.num_timesteps, result.success_rate)
        return True


def learn_with_curve(model: MazeDQN, spec: MazeSpec, steps: int, every: int, episodes: int, seed: int,
                     note: Callable[[int, float], None] | None = None) -> list[tuple[int, EvaluationResult]]:
    """Train ``steps`` env steps; validation success before training and every ``every`` steps."""
    evaluate = GreedyEvaluator(spec, episodes, seed)
    points = [(0, evaluate(model.q_net))]
    model.learn(steps, callback=CurveCallback(evaluate, every, points, note))
    if points[-1][0] != steps:
        points.append((steps, evaluate(model.q_net)))
    return points


__all__ = ["CurveCallback", "GreedyEvaluator", "MazeDQN", "build_dqn", "learn_with_curve", "set_layer_rates"]
