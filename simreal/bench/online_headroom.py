"""``simreal bench online``: what online adaptation gains on a family, against its privileged bound.

The same seeded episodes of a target family run in simulation (every episode a different
robot) with three low levels under the policy's high level:

* ``head``: the policy's control head, what a zero-shot deployment runs;
* ``online, true latent``: the online head fed the encoder's latent of the episode's own
  dynamics. Only a simulator knows them, so this is the most the adaptation module could
  give if its estimate were exact;
* ``online``: the online head with the adaptation module estimating the latent from the
  recent history, as ``simreal adapt --method online`` runs it on a robot.

Episodes are paired (same robot, same object placement), so besides each success rate the
table counts the episodes a column wins and loses against the head. When the privileged
column does not beat the head, the latent carries nothing the low level can use on that
family: a better adaptation module cannot help there, and what the failing robots lack is
out of a low-level correction's reach (drives too weak to hold the arm, a grip that cannot
hold the object, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from ..envs import time_limited_grasp_env
from ..evaluation import EpisodeOutcome, EvaluationResult, run_episodes, summarize
from ..families import FamilyRandomizer
from ..learn.adapt import load_policy
from ..learn.adapt.online import require_module
from ..options import option
from ..policy.head import head_controller
from ..policy.hierarchical import HierarchicalPolicy
from ..policy.latent import LatentEncoder, OnlineEstimator

HEAD, TRUE, ONLINE = "head", "online, true latent", "online"


@dataclass
class BenchOnlineConfig:
    """Success on a target family of the head, the online method, and the online head given the true latent."""

    policy: str = option("panda_grasp_latency", "policy with online adaptation (shipped name or checkpoint folder)")
    family: str = option("broad", "target family (a shipped family name or a family YAML)")
    episodes: int = option(100, "seeded episodes per column (the same robots in every column)")
    seed: int = option(5_000_000, "seed of the first episode")


@dataclass(frozen=True)
class Column:
    """One low level's episodes, and how they compare with the head's, episode by episode."""

    name: str
    result: EvaluationResult
    wins: int  # episodes this column grasped and the head did not
    losses: int  # episodes the head grasped and this column did not


class TrueLatent(gym.Wrapper):
    """Sets the online controller's latent to the encoding of each episode's dynamics."""

    def __init__(self, env: gym.Env, encoder: LatentEncoder) -> None:
        super().__init__(env)
        self.encoder = encoder

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        out = self.env.reset(**kwargs)
        grasp = self.env.unwrapped
        grasp.controller.latent = self.encoder.encode(grasp.dynamics)
        return out


def _episodes(policy: HierarchicalPolicy, family: str, controller: Callable, episodes: int, seed: int,
              encoder: LatentEncoder | None = None) -> list[EpisodeOutcome]:
    env = time_limited_grasp_env(robot=policy.spec.name, randomization=FamilyRandomizer(family, policy.spec.dof),
                                 controller=controller)
    if encoder is not None:
        env = TrueLatent(env, encoder)
    try:
        return run_episodes(env, policy.act, range(seed, seed + episodes))
    finally:
        env.close()


def _column(name: str, outcomes: list[EpisodeOutcome], head: list[EpisodeOutcome]) -> Column:
    mine, base = np.array([o.success for o in outcomes]), np.array([o.success for o in head])
    return Column(name, summarize(outcomes), int(np.sum(mine & ~base)), int(np.sum(base & ~mine)))


def measure(policy_name: str, family: str, episodes: int, seed: int,
            progress: Callable[[str], None] | None = None) -> list[Column]:
    """The three columns over the same ``episodes`` robots of ``family``; ValueError naming the
    policy if it has no online adaptation module."""
    note = progress or (lambda message: None)
    policy = load_policy(policy_name)
    require_module(policy, f"policy {policy_name!r}")
    online = policy.online
    note(HEAD)
    head = _episodes(policy, family, head_controller(policy.head), episodes, seed)
    note(TRUE)
    true = _episodes(policy, family, head_controller(online.head), episodes, seed, encoder=online.encoder)
    note(ONLINE)
    estimated = _episodes(policy, family, online.controller_factory(OnlineEstimator(online.adaptation, carry=False)),
                          episodes, seed)
    return [_column(HEAD, head, head), _column(TRUE, true, head), _column(ONLINE, estimated, head)]


__all__ = ["BenchOnlineConfig", "Column", "TrueLatent", "measure"]
