"""Candidate heads and the choice between them, on held-out target episodes.

Every head a run trains becomes a ``Candidate`` next to the source head: the heads
adapted from the source, and the heads learnt from scratch on the same target data.
Each is validated on target episodes it was not trained on (fresh seeds). The run keeps
the head that passed the validation test; when none passed within the budget, the one
with the highest 95 % lower confidence bound on its validation success. Ties go to the
smaller change: the source head, then a head adapted from it, then one from scratch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from .validation import OPEN, PASSED, Tally, ValidationTest

ORIGINS = ("source", "adapted", "scratch")  # also the preference on ties


@dataclass(eq=False)
class Candidate:
    """A head a run may keep: where it comes from, what it was fitted on, how it validated.

    ``samples`` is the number of relabeled target steps it was fitted on and
    ``held_out_loss`` its fit's loss on held-out samples of them (None for the source
    head): the run validates the most promising first. ``decided_at`` is the run's
    total of target steps when its validation ended.
    """

    name: str
    origin: str
    round: int
    head: torch.nn.Module
    samples: int = 0
    held_out_loss: float | None = None
    tally: Tally = field(default_factory=Tally)
    verdict: str = OPEN
    decided_at: int | None = None

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise ValueError(f"unknown candidate origin {self.origin!r}; one of {', '.join(ORIGINS)}")

    def to_json(self) -> dict:
        return {"name": self.name, "origin": self.origin, "round": self.round, "samples": self.samples,
                "held_out_loss": self.held_out_loss,
                "verdict": self.verdict, "decided_at_steps": self.decided_at, "validation": self.tally.to_json()}


@dataclass(frozen=True)
class Selection:
    """The kept candidate and, in words, why it won."""

    winner: Candidate
    reason: str


def rank_key(candidate: Candidate) -> tuple:
    """Sort key, best first: lower bound, then more episodes, the smaller change, the later round."""
    return (-candidate.tally.interval[0], -candidate.tally.episodes, ORIGINS.index(candidate.origin),
            -candidate.round)


def _record(candidate: Candidate) -> str:
    t = candidate.tally
    return f"{candidate.name} {t.successes}/{t.episodes}"


def select(candidates: Sequence[Candidate], test: ValidationTest) -> Selection:
    """The head to keep (see module docstring), with the reason in one sentence."""
    if not candidates:
        raise ValueError("no candidate to select from")
    others = "; ".join(_record(c) for c in candidates)
    passed = [c for c in candidates if c.verdict == PASSED]
    if passed:
        winner = passed[0]
        return Selection(winner, f"{winner.name} passed the validation ({test.describe()}) with "
                                 f"{winner.tally.successes}/{winner.tally.episodes} successes; all: {others}")
    winner = min(candidates, key=rank_key)
    low = winner.tally.interval[0]
    return Selection(winner, f"no head passed the validation ({test.describe()}) within the budget; "
                             f"{winner.name} has the highest 95 % lower bound on its validation success "
                             f"({low:.2f}); all: {others}")
