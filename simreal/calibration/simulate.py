"""Replaying a whole recording under candidate dynamics, optionally on two worker processes.

A fit replays the recording dozens of times; trajectories are independent, so they are
spread over worker processes, each owning one simulated robot for its whole life.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence

import numpy as np

from ..specs import DynamicsParams, RobotSpec, SceneSpec
from .replay import Replayer, Simulated
from .trajectory_file import RecordedTrajectory

_worker: dict = {}


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
        self.calls = 0

    def run(self, dynamics: DynamicsParams) -> list[Simulated]:
        """Replay every trajectory under ``dynamics``, in order."""
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
