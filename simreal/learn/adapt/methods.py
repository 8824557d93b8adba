"""The adaptation methods, one table entry each.

A method is a name, a one-line summary, its fit defaults and a function that runs its
rounds on an ``AdaptRun`` and returns every candidate it trained (the source head
first). Adding a method is adding one entry to ``METHODS``; ``adapt()`` and the CLI read
the table.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ...policy.progressive import ProgressiveHead
from ...policy.residual import ResidualHead
from .config import HEAD_EPOCHS, HEAD_LEARNING_RATE
from .rounds import adapted_learner, ppo_rounds, relabel_rounds, scratch_learner, source_candidate
from .run import AdaptRun
from .selection import Candidate


@dataclass(frozen=True)
class Method:
    """An adaptation method: ``run`` trains candidates on an AdaptRun and returns them all."""

    name: str
    summary: str
    run: Callable[[AdaptRun], list[Candidate]]
    epochs: int = 40
    learning_rate: float = 3e-4


def _with_scratch(run: AdaptRun, head: torch.nn.Module) -> list[Candidate]:
    """Relabeling rounds for ``head`` and, if configured, a head from scratch on the same data."""
    learners = [adapted_learner(run, head)]
    if run.config.scratch_candidate:
        learners.append(scratch_learner(run))
    return relabel_rounds(run, learners, source_candidate(run))


def _relabel(run: AdaptRun) -> list[Candidate]:
    return _with_scratch(run, copy.deepcopy(run.source_head))


def _adapter(kind: type[torch.nn.Module]) -> Callable[[AdaptRun], list[Candidate]]:
    def run_adapter(run: AdaptRun) -> list[Candidate]:
        with torch.random.fork_rng():  # the adapter's initialisation depends on the seed alone
            torch.manual_seed(run.seed)
            head = kind(copy.deepcopy(run.source_head))
        return _with_scratch(run, head)

    return run_adapter


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("relabel", "fine-tune the whole head on relabeled target data", _relabel, HEAD_EPOCHS,
           HEAD_LEARNING_RATE),
    Method("residual", "a zero-initialised residual MLP over the frozen source head", _adapter(ResidualHead),
           15, 1e-3),
    Method("progressive", "a new column with lateral links from the frozen source column",
           _adapter(ProgressiveHead), 15, 1e-3),
    Method("finetune-rl", "PPO on the head with the grasp reward (the RL baseline)", ppo_rounds, 0, 1e-4),
)}


def _from_scratch(run: AdaptRun) -> list[Candidate]:
    start = Candidate("scratch r0", "scratch", 0, run.fresh_head())
    return relabel_rounds(run, [scratch_learner(run)], start)


# Not a method of ``adapt`` (nothing transfers): the baseline every method is compared with, and
# the family bench's reach check. A random head, collecting with itself, refitted each round.
FROM_SCRATCH = Method("from-scratch", "a randomly initialised head learnt on the target alone", _from_scratch)


def method_named(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown adaptation method {name!r}; available: {', '.join(METHODS)}")
    return METHODS[name]
