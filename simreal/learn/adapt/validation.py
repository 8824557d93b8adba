"""Validation on the target: how many episodes a head needs before the answer is clear.

A validation test reads a head's tally of validation episodes (successes out of
episodes) and says whether the head has *passed* (its success is at or above the
threshold, 90 % of in-sim by default), has *failed*, or is still *open*. Two tests:

- ``sequential`` (the default): a curtailed sequential binomial test. A head passes as
  soon as its episodes show, with confidence 1 - ``error``, that its success is above
  the threshold (exact one-sided bound), and fails as soon as that can no longer happen
  within ``max_episodes`` even if every episode left succeeds. At a 90 % threshold and
  ``error`` 0.05 a head passes after 29 successes in a row and fails at its first
  failure of the first 30: a head at the threshold passes one time in twenty or less,
  a failing head costs one or two episodes.
- ``fixed``: exactly ``episodes`` episodes, then passed if the success rate reaches the
  threshold (the 30-episode validation the toolkit used before; its cost is the
  comparison the sequential test is measured against).

``validate`` runs one head's validation episodes until its test decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from scipy.stats import beta

from ...evaluation import wilson_interval
from .config import RECOVERY

PASSED, FAILED, OPEN = "passed", "failed", "open"


@dataclass
class Tally:
    """Validation episodes of one head: successes, episodes and the control steps they took."""

    successes: int = 0
    episodes: int = 0
    steps: int = 0

    def add(self, success: bool, steps: int) -> None:
        self.successes += int(success)
        self.episodes += 1
        self.steps += steps

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.episodes) if self.episodes else (0.0, 1.0)

    def to_json(self) -> dict:
        return {"successes": self.successes, "episodes": self.episodes, "steps": self.steps,
                "success_rate": self.success_rate, "interval_95": list(self.interval)}


class ValidationTest(Protocol):
    threshold: float

    def decide(self, tally: Tally) -> str:
        """PASSED, FAILED or OPEN for this tally."""
        ...

    def describe(self) -> str: ...


def lower_bound(successes: int, episodes: int, error: float) -> float:
    """Exact (Clopper-Pearson) one-sided lower confidence bound, level 1 - ``error``, on a
    success probability seen ``successes`` times in ``episodes``."""
    if successes <= 0:
        return 0.0
    return float(beta.ppf(error, successes, episodes - successes + 1))


@dataclass(frozen=True)
class SequentialTest:
    """Pass once the episodes show success above ``threshold`` with confidence 1 - ``error``
    (exact binomial bound); fail as soon as that is out of reach within ``max_episodes``."""

    threshold: float
    error: float = 0.1
    max_episodes: int = 30

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold < 1.0:
            raise ValueError(f"the threshold must be in [0, 1), got {self.threshold}")
        if not 0.0 < self.error < 0.5:
            raise ValueError(f"the error rate must be in (0, 0.5), got {self.error}")

    def decide(self, tally: Tally) -> str:
        if lower_bound(tally.successes, tally.episodes, self.error) > self.threshold:
            return PASSED
        left = max(0, self.max_episodes - tally.episodes)
        if lower_bound(tally.successes + left, tally.episodes + left, self.error) <= self.threshold:
            return FAILED  # even all remaining episodes succeeding would not show it
        return OPEN

    def describe(self) -> str:
        return (f"sequential test: success above {self.threshold:.2f} with {1 - self.error:.0%} confidence, "
                f"at most {self.max_episodes} episodes")


@dataclass(frozen=True)
class FixedEpisodes:
    """``episodes`` validation episodes, then passed if the success rate reaches the threshold."""

    threshold: float
    episodes: int = 30

    def decide(self, tally: Tally) -> str:
        if tally.episodes < self.episodes:
            return OPEN
        return PASSED if tally.success_rate >= self.threshold else FAILED

    def describe(self) -> str:
        return f"{self.episodes} validation episodes, passed at success >= {self.threshold:.2f}"


def sequential_test(in_sim: float, episodes: int, error: float) -> SequentialTest:
    return SequentialTest(RECOVERY * in_sim, error, episodes)


def fixed_test(in_sim: float, episodes: int, error: float) -> FixedEpisodes:
    return FixedEpisodes(RECOVERY * in_sim, episodes)


VALIDATION_TESTS: dict[str, Callable[[float, int, float], ValidationTest]] = {
    "sequential": sequential_test,
    "fixed": fixed_test,
}


def make_test(kind: str, in_sim: float, episodes: int, error: float = 0.05) -> ValidationTest:
    """The validation test ``kind`` (see module docstring) for a policy of ``in_sim`` success."""
    if kind not in VALIDATION_TESTS:
        raise ValueError(f"unknown validation {kind!r}; available: {', '.join(VALIDATION_TESTS)}")
    if episodes < 1:
        raise ValueError(f"validation episodes must be at least 1, got {episodes}")
    return VALIDATION_TESTS[kind](in_sim, episodes, error)


class Contender(Protocol):
    tally: Tally
    verdict: str

    @property
    def head(self) -> object: ...


Episode = Callable[[object, int], tuple[bool, int] | None]


def validate(contender: Contender, episode: Episode, test: ValidationTest, seeds: Iterator[int]) -> str:
    """Run validation episodes of ``contender`` until ``test`` decides; returns (and sets) its verdict.

    ``episode(head, seed)`` runs one validation episode, or returns None when the budget
    cannot pay for one (the verdict then stays OPEN). Every episode has a fresh seed.
    """
    contender.verdict = test.decide(contender.tally)
    while contender.verdict == OPEN:
        outcome = episode(contender.head, next(seeds))
        if outcome is None:
            break
        contender.tally.add(*outcome)
        contender.verdict = test.decide(contender.tally)
    return contender.verdict
