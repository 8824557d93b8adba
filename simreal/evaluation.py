"""Seeded evaluation of a policy on an env, with Wilson confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

Policy = Callable[[np.ndarray], np.ndarray]


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95 % for z = 1.96)."""
    if trials <= 0:
        raise ValueError("trials must be positive")
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class EvaluationResult:
    """Outcome of ``episodes`` seeded episodes: success rate, its 95 % Wilson interval,
    mean episode length (steps) and mean return."""

    episodes: int
    successes: int
    mean_length: float
    mean_return: float

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.episodes)

    def describe(self) -> str:
        low, high = self.interval
        return f"{self.success_rate:.1%} [{low:.1%}, {high:.1%}] over {self.episodes} episodes"


@dataclass(frozen=True)
class EpisodeOutcome:
    """One evaluated episode: its seed, whether it succeeded, its length (steps) and return."""

    seed: int
    success: bool
    length: int
    total_return: float


def summarize(outcomes: Sequence[EpisodeOutcome]) -> EvaluationResult:
    """The result of these episodes, in their order (so a run split into chunks of seeds and
    merged in seed order gives exactly the numbers of the run in one piece)."""
    if not outcomes:
        return EvaluationResult(0, 0, math.nan, math.nan)
    return EvaluationResult(len(outcomes), sum(o.success for o in outcomes),
                            float(np.mean([o.length for o in outcomes])),
                            float(np.mean([o.total_return for o in outcomes])))


def run_episodes(env: gym.Env, policy: Policy, seeds: Iterable[int],
                 observe: Callable[[int], None] | None = None) -> list[EpisodeOutcome]:
    """One episode per seed; success is ``info["is_success"]`` at the episode's last step.
    ``observe(episode)`` (if given) is called after every reset and every step with the
    episode's index, e.g. to record frames; it does not change the rollout."""
    note = observe or (lambda episode: None)
    outcomes = []
    for episode, seed in enumerate(seeds):
        obs, _ = env.reset(seed=seed)
        note(episode)
        done, length, total = False, 0, 0.0
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            note(episode)
            done = terminated or truncated
            length += 1
            total += float(reward)
        outcomes.append(EpisodeOutcome(seed, bool(info.get("is_success", False)), length, total))
    return outcomes


def evaluate(env: gym.Env, policy: Policy, episodes: int, seed: int = 0,
             observe: Callable[[int], None] | None = None) -> EvaluationResult:
    """Run ``episodes`` episodes with seeds ``seed, seed + 1, ...`` (see :func:`run_episodes`)."""
    return summarize(run_episodes(env, policy, range(seed, seed + episodes), observe))
