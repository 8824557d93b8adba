"""``simreal bench latency``: grasp success against command delay, policies side by side.

Every condition runs the same seeded episodes under a randomization (the default one) with
the command delay forced to one value (and optionally jitter on top): a policy's control
head, and, for a policy with online adaptation, its online head with the adaptation
module in the loop (each simulated episode is a different robot, so no estimate is
carried from one episode to the next).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .. import assets
from ..envs import time_limited_grasp_env
from ..evaluation import EvaluationResult, evaluate
from ..learn.adapt import load_policy
from ..policy.head import head_controller
from ..policy.hierarchical import HierarchicalPolicy
from ..policy.latent import OnlineEstimator
from ..sim import DomainRandomizer, Randomizer
from ..specs import DynamicsParams


class FixedDelay:
    """Another randomizer's draw with the command delay (and jitter) set to fixed values."""

    def __init__(self, base: Randomizer, steps: int, jitter: int = 0) -> None:
        self.base, self.steps, self.jitter = base, steps, jitter

    def sample(self, rng: np.random.Generator) -> DynamicsParams:
        return replace(self.base.sample(rng), latency_steps=self.steps, latency_jitter=self.jitter)


@dataclass(frozen=True)
class LatencyRow:
    """One delay: success per column (column name -> result)."""

    delay_steps: int
    delay_ms: float
    results: dict[str, EvaluationResult]


def columns(policy: HierarchicalPolicy, label: str) -> dict[str, Callable]:
    """The low levels a policy can be benched with: its head, and its online head if it has one."""
    out = {f"{label}: head": lambda: head_controller(policy.head)}
    if policy.online is not None:
        online = policy.online
        out[f"{label}: online"] = lambda: online.controller_factory(OnlineEstimator(online.adaptation, carry=False))
    return out


def measure(policies: Sequence[tuple[str, str]], delays: Sequence[int], jitter: int, episodes: int, seed: int,
            randomization: str = "default", progress: Callable[[str], None] | None = None) -> list[LatencyRow]:
    """Success of every column at every delay; ``policies`` are (label, name or folder) pairs."""
    note = progress or (lambda message: None)
    loaded = [(label, load_policy(name)) for label, name in policies]
    period = assets.scene_spec("tabletop").physics.control_period
    rows = []
    for steps in delays:
        results = {}
        for label, policy in loaded:
            base = DomainRandomizer(assets.randomization_spec(randomization), policy.spec.dof)
            for column, controller in columns(policy, label).items():
                note(f"{steps * period * 1000:.0f} ms: {column}")
                env = time_limited_grasp_env(robot=policy.spec.name, randomization=FixedDelay(base, steps, jitter),
                                             controller=controller())
                results[column] = evaluate(env, policy.act, episodes, seed)
                env.close()
        rows.append(LatencyRow(steps, steps * period * 1000, results))
    return rows
