"""Replaying a recording's trajectories under candidate dynamics, optionally on two worker processes.

A calibration replays trajectories hundreds of times; they are independent, so they are
spread over worker processes, each owning one simulated robot for its whole life. A replay
is deterministic in its dynamics, and stages often ask for the same dynamics again (a
scan's end is the next stage's start), so each trajectory's result is kept for the
Simulator's life and a repeated request costs nothing.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence


from ..specs import DynamicsParams, RobotSpec, SceneSpec
from .replay import Replayer, Simulated, noise_free
from .trajectory_file import RecordedTrajectory

_worker: dict = {}
CACHE_SIZE = 4096  # trajectory replays kept (about 30 kB each for 6 s)


def _start_worker(spec: RobotSpec, scene: SceneSpec, trajectories: Sequence[RecordedTrajectory]) -> None:
    _worker["replayer"] = Replayer(spec, scene)
    _worker["trajectories"] = trajectories


def _replay_one(task: tuple[int, DynamicsParams, int, int]) -> Simulated:
    index, dynamics, segment, seed = task
    return _worker["replayer"].replay(_worker["trajectories"][index], dynamics, segment, seed)


class Simulator:
    """Replays every trajectory of a recording; ``workers > 1`` uses a process pool.

    ``segment`` is the multiple-shooting length in control steps (0: whole episodes
    open loop), see :meth:`Replayer.replay`."""

    def __init__(self, spec: RobotSpec, scene: SceneSpec, trajectories: Sequence[RecordedTrajectory],
                 workers: int | None = None, segment: int = 0) -> None:
        self.trajectories = tuple(trajectories)
        self.segment, self.spec, self.scene = segment, spec, scene
        workers = min(workers or os.cpu_count() or 1, 2, len(self.trajectories))
        self._pool = None
        self._local: Replayer | None = None
        if workers > 1:
            context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
            self._pool = context.Pool(workers, _start_worker, (spec, scene, self.trajectories))
        self.calls = 0  # replay requests that ran anything (repeats are served from the cache)
        self._cache: dict[tuple[DynamicsParams, int, int, int], Simulated] = {}

    def run(self, dynamics: DynamicsParams, indices: Sequence[int] | None = None,
            segment: int | None = None, seed: int = 0) -> list[Simulated]:
        """Replay the trajectories ``indices`` (default: all) under ``dynamics``, in order, in
        ``segment``-step pieces (default: the simulator's), the robot reset with ``seed`` (it
        draws what the dynamics leave to chance, a jittering delay); a repeat comes from the cache."""
        noise_free_dynamics = noise_free(dynamics)  # what the replay runs: noise levels do not change it
        chosen = tuple(range(len(self.trajectories))) if indices is None else tuple(int(i) for i in indices)
        segment = self.segment if segment is None else segment
        keys = [(noise_free_dynamics, i, segment, seed) for i in chosen]
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing:
            self.calls += 1
            for key, sim in zip(missing, self._replay(missing), strict=True):
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.pop(next(iter(self._cache)))  # the oldest
                self._cache[key] = sim
        return [self._cache[k] for k in keys]

    def _replay(self, keys: list[tuple]) -> list[Simulated]:
        tasks = [(i, dynamics, segment, seed) for dynamics, i, segment, seed in keys]
        if self._pool is not None and len(tasks) > 1:
            # longest first keeps both workers busy to the end
            order = sorted(range(len(tasks)), key=lambda k: -len(self.trajectories[tasks[k][0]]))
            results = self._pool.map(_replay_one, [tasks[k] for k in order], chunksize=1)
            found = dict(zip(order, results, strict=True))
            return [found[k] for k in range(len(tasks))]
        if self._local is None:
            self._local = Replayer(self.spec, self.scene)
        return [self._local.replay(self.trajectories[i], d, s, seed) for i, d, s, seed in tasks]

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

