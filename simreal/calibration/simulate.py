"""Replaying a whole recording under candidate dynamics, optionally on two worker processes.

A fit replays the recording dozens of times; trajectories are independent, so they are
spread over worker processes, each owning one simulated robot for its whole life. A
replay is deterministic in its dynamics, and a fit's stages often ask for the same
dynamics again (two scan orders share their first field's grid; a scan's end is scored
again as the next stage's start: 47 of heavy_payload's 282 requests), so each result is
kept for the Simulator's life and a repeated request costs nothing.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence

import numpy as np

from ..specs import DynamicsParams, RobotSpec, SceneSpec
from .replay import Replayer, Simulated, noise_free
from .trajectory_file import RecordedTrajectory

_worker: dict = {}
CACHE_SIZE = 512  # replays kept (about 0.3 MB each for 10 trajectories of 6 s)


def _start_worker(spec: RobotSpec, scene: SceneSpec, trajectories: Sequence[RecordedTrajectory]) -> None:
    _worker["replayer"] = Replayer(spec, scene)
    _worker["trajectories"] = trajectories


def _replay_one(task: tuple[int, DynamicsParams, int]) -> Simulated:
    index, dynamics, segment = task
    return _worker["replayer"].replay(_worker["trajectories"][index], dynamics, segment)


class Simulator:
    """Replays every trajectory of a recording; ``workers > 1`` uses a process pool.

    ``segment`` is the multiple-shooting length in control steps (0: whole episodes
    open loop), see :meth:`Replayer.replay`."""

    def __init__(self, spec: RobotSpec, scene: SceneSpec, trajectories: Sequence[RecordedTrajectory],
                 workers: int | None = None, segment: int = 0) -> None:
        self.trajectories = tuple(trajectories)
        self.segment = segment
        workers = min(workers or os.cpu_count() or 1, 2, len(self.trajectories))
        self._pool = None
        self._local: Replayer | None = None
        if workers > 1:
            context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
            self._pool = context.Pool(workers, _start_worker, (spec, scene, self.trajectories))
        else:
            self._local = Replayer(spec, scene)
        self.calls = 0  # replays actually run (repeats are served from the cache)
        self._cache: dict[DynamicsParams, list[Simulated]] = {}

    def run(self, dynamics: DynamicsParams) -> list[Simulated]:
        """Replay every trajectory under ``dynamics``, in order (a repeat comes from the cache)."""
        key = noise_free(dynamics)  # what the replay runs: noise levels do not change it
        if key not in self._cache:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))  # the oldest
            self._cache[key] = self._replay(key)
        return list(self._cache[key])

    def _replay(self, dynamics: DynamicsParams) -> list[Simulated]:
        self.calls += 1
        if self._pool is not None:
            # longest first keeps both workers busy to the end
            order = np.argsort([-len(t) for t in self.trajectories])
            results = self._pool.map(_replay_one, [(int(i), dynamics, self.segment) for i in order], chunksize=1)
            out: list[Simulated | None] = [None] * len(order)
            for i, sim in zip(order, results, strict=True):
                out[int(i)] = sim
            return out  # type: ignore[return-value]
        return [self._local.replay(t, dynamics, self.segment) for t in self.trajectories]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        if self._local is not None:
            self._local.close()
            self._local = None

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
