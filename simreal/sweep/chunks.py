"""An evaluation split into chunks of seeded episodes, run as sweep trials, merged exactly.

Episode ``i`` of an evaluation is seeded ``seed + i`` and depends on that seed alone (a
reset restores the robot and the scene), so the episodes can run in any process. Each
chunk is an ``evaluate`` trial over consecutive seeds returning every episode's outcome;
merging the outcomes in seed order gives the success count, Wilson interval and mean
length and return of the run in one piece, bit for bit.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..evaluation import EpisodeOutcome, EvaluationResult, summarize
from .runner import Progress, Trial, TrialResult, run_sweep


def chunk_seeds(seed: int, episodes: int, chunks: int) -> list[tuple[int, int]]:
    """``episodes`` consecutive seeds from ``seed`` as at most ``chunks`` (first seed, count)
    pieces of nearly equal size, in seed order."""
    if episodes < 1 or chunks < 1:
        raise ValueError(f"episodes and chunks must be at least 1, got {episodes} and {chunks}")
    chunks = min(chunks, episodes)
    bounds = [episodes * k // chunks for k in range(chunks + 1)]
    return [(seed + a, b - a) for a, b in itertools.pairwise(bounds)]


@dataclass(frozen=True)
class ChunkedEvaluation:
    """The merged result over the chunks that ran (None if none did) and every chunk's result."""

    result: EvaluationResult | None
    chunks: list[TrialResult] = field(default_factory=list)

    @property
    def failures(self) -> list[TrialResult]:
        return [c for c in self.chunks if not c.ok]


def evaluate_in_chunks(options: Mapping[str, Any], episodes: int, seed: int, backend: str, workers: int,
                       ray_address: str | None = None, progress: Progress | None = None) -> ChunkedEvaluation:
    """Evaluate (``options``: the evaluate trial's other options) over ``episodes`` seeds from
    ``seed``, one chunk per worker; a chunk that fails is kept with its error."""
    trials = [Trial("evaluate", {**options, "seed": first, "episodes": count})
              for first, count in chunk_seeds(seed, episodes, workers)]
    results = run_sweep(trials, backend, workers, ray_address, progress)
    outcomes = [EpisodeOutcome(**o) for r in results if r.ok for o in r.result["outcomes"]]
    return ChunkedEvaluation(summarize(outcomes) if outcomes else None, results)


__all__ = ["ChunkedEvaluation", "chunk_seeds", "evaluate_in_chunks"]
