"""Closing the loop: a head adapted in the calibrated simulator, judged zero-shot on the target.

The fitted profile stands in for the target during adaptation (``learn.adapt``, simulated
transitions only: the target itself gave nothing but the calibration recording), and the
adapted head then runs on the real target; its success is compared with the source head's,
trained under the default randomization, on the same seeded target episodes. The gain is
what calibrating bought before a single target transition was spent on learning.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..envs import time_limited_grasp_env
from ..evaluation import EvaluationResult, evaluate
from ..learn.adapt import AdaptConfig, adapt, load_policy
from ..policy.head import head_controller
from ..policy.hierarchical import HierarchicalPolicy

EVAL_SEED = 3_000_000  # first seed of the target episodes both heads are judged on


@dataclass(frozen=True)
class ClosedLoop:
    """Success on the target of the source head and of the head adapted in the calibrated simulator."""

    target: str
    source: EvaluationResult
    calibrated: EvaluationResult

    @property
    def gain(self) -> float:
        return self.calibrated.success_rate - self.source.success_rate


def success_on(policy: HierarchicalPolicy, target: str | Path, episodes: int,
               seed: int = EVAL_SEED) -> EvaluationResult:
    """Seeded success of ``policy`` on a target profile (name or YAML path), randomization off."""
    env = time_limited_grasp_env(robot=policy.spec.name, target=str(target), controller=head_controller(policy.head),
                                 randomization=None)
    try:
        return evaluate(env, policy.act, episodes, seed)
    finally:
        env.close()


def close_the_loop(target: str | Path, fitted: str | Path, policy: str = "panda_grasp", budget: int = 5000,
                   episodes: int = 50, seed: int = 0) -> ClosedLoop:
    """Adapt ``policy``'s head against the ``fitted`` profile, then judge it and the source head on ``target``."""
    with tempfile.TemporaryDirectory() as tmp:
        config = AdaptConfig(policy=policy, target=str(fitted), budget=budget, seed=seed, eval_episodes=episodes,
                             from_scratch=False, out_dir=tmp)
        adapted = adapt(config).policy
    source = load_policy(policy)
    return ClosedLoop(str(target), success_on(source, target, episodes), success_on(adapted, target, episodes))
