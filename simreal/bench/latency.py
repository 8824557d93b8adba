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
from pathlib import Path

import numpy as np

from .. import assets, pretrained
from ..envs import time_limited_grasp_env
from ..evaluation import EvaluationResult, evaluate
from ..learn.adapt import load_policy
from ..options import option
from ..policy.head import head_controller
from ..policy.hierarchical import HierarchicalPolicy
from ..policy.latent import OnlineEstimator
from ..sim import DomainRandomizer, Randomizer
from ..specs import DynamicsParams


@dataclass
class BenchLatencyConfig:
    """Grasp success against command delay (0-200 ms by default), policies side by side with Wilson intervals."""

    policy: str = option("panda_grasp_latency", "policy (shipped name or checkpoint folder): its head and, if it "
                                                "has one, its online adaptation (default: the shipped latency-robust "
                                                "policy)")
    baseline: str = option("panda_grasp", "a policy to compare with (the shipped one by default); empty = none")
    delays: str = option("0,1,2,3,4", "command delays in control steps (50 ms each), comma-separated")
    jitter: int = option(0, "extra delay of each command, drawn from 0 to this many steps")
    episodes: int = option(100, "seeded episodes per delay and column")
    seed: int = option(4_000_000, "seed of the first episode (the same episodes in every cell)")
    randomization: str = option("default", "randomization the delay is forced into")

    def delay_steps(self) -> list[int]:
        """``delays`` as whole control steps; ValueError naming the option otherwise."""
        try:
            return [int(d) for d in self.delays.split(",") if d.strip()]
        except ValueError:
            raise ValueError(f"--delays {self.delays!r}: expected comma-separated whole control steps") from None

    def policy_pairs(self) -> list[tuple[str, str]]:
        """(column label, name or folder) of the baseline and the policy; FileNotFoundError for one
        that is neither a checkpoint folder nor a shipped policy."""
        names = [name for name in (self.baseline, self.policy) if name]
        for name in names:
            if not Path(name).is_dir() and name not in pretrained.available():
                raise FileNotFoundError(f"policy {name!r}: no checkpoint folder or shipped policy of that name "
                                        "(`simreal list` names the shipped ones; `simreal train` writes "
                                        "runs/train/final)")
        return [("/".join(Path(name).parts[-2:]) if Path(name).is_dir() else name, name) for name in names]


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
