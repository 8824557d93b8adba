"""``AdaptRun``: what the rounds of one adaptation share (robot session, ledger, test).

A method's rounds ask the run for target data (through its session, which charges the
ledger), for fit settings, and to validate candidates; the run keeps the validation
trajectories, which later rounds fit on too (those steps are already paid for).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Protocol

import torch

from ...envs import EPISODE_STEPS
from ...episode_journal import EpisodeJournal
from ...policy.head import ControlHead
from ...policy.hierarchical import HierarchicalPolicy
from ...recording import Trajectory
from ..exploration import ExplorationConfig
from ..relabel import FitConfig, RelabeledData, relabel
from .collection_workers import collection_workers
from .config import HEAD_EPOCHS, HEAD_LEARNING_RATE, AdaptConfig
from .selection import Candidate
from .session import RobotFactory, TargetSession
from .validation import OPEN, PASSED, make_test, validate

# Budget kept back, per head to validate, when planning a round's collection: enough for
# the sequential test to fail a head that fails or to pass a good one.
VALIDATION_RESERVE_EPISODES = 4
# Share of the budget kept back for settling between the best heads when none passed.
SETTLE_SHARE = 0.1


class UnsupportedPolicy(ValueError):
    """The policy lacks what a method needs (``online`` without an adaptation module, say)."""


class FitDefaults(Protocol):
    epochs: int
    learning_rate: float


class AdaptRun:
    """One run's shared state: the target session, its ledger, the validation test."""

    def __init__(self, config: AdaptConfig, policy: HierarchicalPolicy, robot: RobotFactory,
                 defaults: FitDefaults, in_sim: float, note: Callable[[str], None], *, seed: int,
                 validation_seed: int, journal: EpisodeJournal | None = None, name: str = "adapt") -> None:
        self.config = config
        self.policy = policy
        self.defaults = defaults
        self.note = note
        self.seed = seed
        head = policy.head
        self.exploration = ExplorationConfig(joint_noise=(0.0, config.joint_noise), gain=(0.8, config.gain_max),
                                             random_action_prob=0.1, max_offset=head.config.max_joint_step)
        workers = (collection_workers(config.n_envs, config.target, policy, self.exploration)
                   if config.n_envs > 1 else None)
        self.session = TargetSession(robot, policy.act, config.budget, self.exploration, journal, name, workers)
        spec = self.session.robot.spec
        if spec.name != policy.spec.name or spec.dof != policy.spec.dof:
            self.session.close()
            raise ValueError(f"the target robot is a {spec.name} ({spec.dof} joints); the policy is for "
                             f"{policy.spec.name} ({policy.spec.dof} joints)")
        self.ledger = self.session.ledger
        self.test = make_test(config.validation, in_sim, config.validation_episodes, config.validation_error)
        self._seeds = itertools.count(validation_seed)
        self._pending: list[Trajectory] = []
        self.details: dict = {}  # what a method adds to the report's "adaptation" entry, by key

    @property
    def source_head(self) -> ControlHead:
        return self.policy.head

    def fit_config(self, fresh: bool) -> FitConfig:
        """The method's fit settings (or the config's overrides); a fresh head is a plain head (the
        plain head's defaults) and fits its normalisation."""
        cfg = self.config
        epochs, rate = (HEAD_EPOCHS, HEAD_LEARNING_RATE) if fresh else (self.defaults.epochs,
                                                                        self.defaults.learning_rate)
        return FitConfig(epochs=cfg.epochs or epochs, learning_rate=cfg.learning_rate or rate,
                         refit_normalization=fresh, freeze_layers=0 if fresh else cfg.freeze_layers,
                         layer_lr_decay=cfg.layer_lr_decay, best_epoch=cfg.early_stopping)

    def fresh_head(self) -> ControlHead:
        """A randomly initialised head like the source's, seeded by the run's seed alone."""
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            return ControlHead(self.policy.spec.dof, self.source_head.config)

    def reserve(self, heads: int) -> int:
        return VALIDATION_RESERVE_EPISODES * EPISODE_STEPS * heads

    def collection_share(self, heads: int) -> int:
        """Steps to collect this round, keeping the validation of ``heads`` heads affordable;
        0 when too little is left for a round worth fitting on."""
        keep = self.reserve(heads) + int(SETTLE_SHARE * self.ledger.budget)
        steps = min(self.config.round_steps, self.ledger.remaining - keep)
        return steps if steps >= max(1, self.config.round_steps // 4) else 0

    def collect(self, head: ControlHead, steps: int, seed: int) -> list[Trajectory]:
        return self.session.collect(head, steps, seed)

    def relabel(self, trajectories: Sequence[Trajectory]) -> RelabeledData:
        """Relabel ``trajectories`` together with the validation episodes run since the last call."""
        pending, self._pending = self._pending, []
        return relabel([*trajectories, *pending], self.policy.spec, self.source_head.config,
                       horizon=self.config.relabel_horizon)

    def validate(self, contenders: Sequence[Candidate]) -> Candidate | None:
        """Validate ``contenders`` one after the other (order them by promise) and return the
        first that passes; the rest are not run. None when none passed or the budget ran out."""
        for contender in contenders:
            verdict = validate(contender, self._episode, self.test, self._seeds)
            if contender.tally.episodes:
                contender.decided_at = self.ledger.total
            if verdict == PASSED:
                return contender
            if verdict == OPEN:  # the budget ran out
                return None
        return None

    def settle(self, contenders: Sequence[Candidate], max_episodes: int) -> None:
        """Validate ``contenders`` in turns on shared seeds with what is left of the budget,
        up to ``max_episodes`` each, so the selection can tell them apart."""
        while any(c.tally.episodes < max_episodes for c in contenders):
            seed = next(self._seeds)
            for contender in contenders:
                if contender.tally.episodes >= max_episodes:
                    continue
                outcome = self._episode(contender.head, seed)
                if outcome is None:
                    return
                contender.tally.add(*outcome)
                contender.decided_at = self.ledger.total

    def _episode(self, head: object, seed: int) -> tuple[bool, int] | None:
        """One validation episode (its trajectory kept for fitting), or None if unaffordable."""
        if not self.ledger.affords(EPISODE_STEPS):
            return None
        success, steps, trajectory = self.session.validation_episode(head, seed)
        self._pending.append(trajectory)
        return success, steps

    def safety_flags(self) -> dict[str, int]:
        return self.session.safety_flags()

    def close(self) -> None:
        self.session.close()
