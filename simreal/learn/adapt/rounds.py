"""The rounds of an adaptation: collect on the target, fit candidates, validate them.

Relabeling rounds (every supervised method): the source head is validated first; if it
passes there is nothing to adapt and the run stops. Otherwise each round collects
target steps (plus exploration), each learner's share with its own latest head, so the
pooled data cover both what the source head does and what a head from scratch does
(at first a random head: wide motions the source head never makes); the shares follow
how likely each learner's latest head is the best (``collection_shares``). The steps are
relabeled together with the validation episodes run since, every learner is fitted on
all the data so far (a head adapted from the source and a head from scratch), and the
new candidates are validated, lowest held-out loss first. The run stops when one
passes; when the budget cannot pay for another round, what is left settles between
the most promising heads.

PPO rounds (the RL baseline) train the head with the grasp reward instead and validate
a snapshot per round the same way.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ...episode_journal import head_digest
from ..finetune_rl import HeadPPO, rollout_steps
from ..relabel import FitConfig, RelabeledData, fit_head
from .run import AdaptRun
from .selection import Candidate


@dataclass
class Learner:
    """A head fitted round after round on a run's target data.

    ``restart`` holds the weights every fit starts from (a head from scratch refits its
    normalisation and restarts each round); None continues from the previous round.
    ``collector`` is the head that collects the learner's share of the next round: its
    latest fit, or before the first one the head it starts from.
    """

    origin: str
    head: torch.nn.Module
    fit: FitConfig
    restart: dict | None = None
    collector: torch.nn.Module | None = None
    latest: Candidate | None = None

    def __post_init__(self) -> None:
        if self.collector is None:
            self.collector = copy.deepcopy(self.head).eval()

    def fit_round(self, data: RelabeledData, round_: int, seed: int) -> Candidate:
        if self.restart is not None:
            self.head.load_state_dict(self.restart)
        metrics = fit_head(self.head, data, self.fit, seed=seed)
        self.collector = copy.deepcopy(self.head).eval()
        self.latest = Candidate(f"{self.origin} r{round_}", self.origin, round_, self.collector,
                                samples=len(data), held_out_loss=metrics["validation_loss"])
        return self.latest


MIN_SHARE = 50  # control steps: a smaller share of a round goes to the other learners
THOMPSON_DRAWS = 2000


def collection_shares(learners: Sequence[Learner], steps: int, rng: np.random.Generator) -> list[int]:
    """Split a round's ``steps`` between learners by the probability that each one's latest
    head is the best (Thompson: Beta posteriors of their validation tallies; a learner not
    yet validated counts as unknown), so a learner whose heads keep failing collects less."""
    tallies = [learner.latest.tally if learner.latest is not None else None for learner in learners]
    draws = np.column_stack([rng.beta(1 + (t.successes if t else 0), 1 + (t.episodes - t.successes if t else 0),
                                      THOMPSON_DRAWS) for t in tallies])
    chance = np.bincount(draws.argmax(axis=1), minlength=len(learners)) / THOMPSON_DRAWS
    chance[chance * steps < MIN_SHARE] = 0.0
    chance /= chance.sum()
    bounds = np.round(np.cumsum(np.concatenate(([0.0], chance))) * steps).astype(int)
    return [int(b - a) for a, b in itertools.pairwise(bounds)]


def adapted_learner(run: AdaptRun, head: torch.nn.Module) -> Learner:
    """A learner starting from ``head`` (the source head, or an adapter around it)."""
    start = copy.deepcopy(head.state_dict()) if run.config.refit_from_start else None
    return Learner("adapted", head, run.fit_config(fresh=False), start)


def scratch_learner(run: AdaptRun) -> Learner:
    head = run.fresh_head()
    return Learner("scratch", head, run.fit_config(fresh=True), copy.deepcopy(head.state_dict()))


def source_candidate(run: AdaptRun) -> Candidate:
    return Candidate("source", "source", 0, run.source_head)


def relabel_rounds(run: AdaptRun, learners: list[Learner], start: Candidate) -> list[Candidate]:
    """Run relabeling rounds (module docstring); returns every candidate, ``start`` first."""
    candidates = [start]
    run.note(f"validating the {start.name} head")
    if run.validate([start]) is not None:
        return candidates
    data = None
    for round_ in itertools.count(1):
        steps = run.collection_share(len(learners))
        if not steps:
            break
        shares = collection_shares(learners, steps, np.random.default_rng([run.seed, round_]))
        run.note(f"round {round_}: collecting {steps} target steps, shared {shares} between the learners")
        trajectories = []
        for i, (learner, share) in enumerate(zip(learners, shares, strict=True)):
            if share:
                trajectories += run.collect(learner.collector, share, run.seed + 10_000 * round_ + 1000 * i)
        new = run.relabel(trajectories)
        data = new if data is None else data.extend(new)
        run.note(f"round {round_}: fitting {len(learners)} head(s) on {len(data)} target samples")
        # one seed for every learner: the same held-out split, so their held-out losses compare
        fitted = sorted((learner.fit_round(data, round_, run.seed + round_) for learner in learners),
                        key=lambda c: c.held_out_loss)
        candidates += fitted
        run.note(f"round {round_}: validating {', '.join(c.name for c in fitted)}, lowest held-out loss first")
        if run.validate(fitted) is not None:
            return candidates
    settle(run, candidates)
    return candidates


SETTLE_CONTENDERS = 3


def settle(run: AdaptRun, candidates: list[Candidate]) -> None:
    """No head passed: spend the rest of the budget on the few most promising (by smoothed
    validation success), in turns on shared seeds, so the selection rests on more episodes."""
    def promise(c: Candidate) -> float:
        return (c.tally.successes + 1) / (c.tally.episodes + 2)

    contenders = sorted(candidates, key=promise, reverse=True)[:SETTLE_CONTENDERS]
    run.note(f"no head passed; settling between {', '.join(c.name for c in contenders)}")
    run.settle(contenders, max(c.tally.episodes for c in contenders) + run.config.validation_episodes)


def ppo_rounds(run: AdaptRun) -> list[Candidate]:
    """PPO on the head from the source weights, a validated snapshot per round."""
    start = source_candidate(run)
    candidates = [start]
    run.note("validating the source head")
    if run.validate([start]) is not None:
        return candidates
    learning_rate = run.config.learning_rate or run.defaults.learning_rate
    robot = run.session.learner_robot()
    ppo = HeadPPO(run.policy, robot, run.seed, chunk=run.config.round_steps, learning_rate=learning_rate)
    robot.judge = ppo.succeeded
    chunk = rollout_steps(run.config.round_steps)
    used = 0
    try:
        for round_ in itertools.count(1):
            if not run.ledger.affords(chunk + run.reserve(1)):
                break
            run.note(f"PPO round {round_}: {chunk} target steps")
            robot.begin_round(head_digest(ppo.export()))
            steps = ppo.learn(chunk)
            robot.end_round()
            run.ledger.charge("collection", steps)
            used += steps
            candidate = Candidate(f"adapted r{round_}", "adapted", round_, ppo.export(), samples=used)
            candidates.append(candidate)
            if run.validate([candidate]) is not None:
                break
    finally:
        ppo.close()
    return candidates
