"""Worker processes for collecting experience: each is set up once and then runs tasks.

Collection splits into tasks that depend on their own seeds alone (an episode, a chunk of
episodes), so they can run in any process and be gathered in task order: the data are
then those of the same tasks run one after the other, whatever the number of workers.
A worker keeps what its setup built (an env, a robot connection) from task to task.
Workers are spawned (nothing is inherited from this process) and use one torch thread.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from ..robot_reference import is_endpoint
from ..specs import SpecError

Task = Callable[[Any], Any]
_task: list[Task] = []  # in a worker: the function its setup returned


def check_n_envs(n_envs: Any, source: str, target: str = "") -> None:
    """``n_envs`` must be a whole number >= 1, and 1 for a robot behind the bridge (there is
    one robot: episodes cannot run on it in several processes at once)."""
    if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
        raise SpecError(source, "n_envs", n_envs, "a whole number of environments, at least 1")
    if n_envs > 1 and is_endpoint(target):
        raise SpecError(source, "n_envs", n_envs, f"1 for {target}: a robot behind the bridge is one robot, so "
                                                  "vectorized collection applies to simulated targets only")


def _start(setup: Callable[..., Task], args: tuple) -> None:
    import torch

    torch.set_num_threads(1)
    _task.append(setup(*args))


def _run(payload: Any) -> tuple[Any, float]:
    import time

    start = time.process_time()
    result = _task[0](payload)
    return result, time.process_time() - start


class EpisodeWorkers:
    """``n`` processes, each running ``setup(*args)`` once; the function it returns runs
    every task sent to that worker. ``setup`` and the tasks must be picklable.
    ``cpu_s`` adds up the CPU seconds the workers spent on the tasks done so far."""

    def __init__(self, n: int, setup: Callable[..., Task], *args: Any) -> None:
        self.n = n
        self.cpu_s = 0.0
        self._pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                                         initargs=(setup, args))

    def submit(self, payload: Any) -> Future:
        """A future of the task's result."""
        done: Future = Future()

        def finished(future: Future) -> None:
            try:
                result, cpu = future.result()
            except BaseException as error:  # the task's exception, or a worker that died
                done.set_exception(error)
                return
            self.cpu_s += cpu
            done.set_result(result)

        self._pool.submit(_run, payload).add_done_callback(finished)
        return done

    def map(self, payloads: Iterable[Any]) -> Iterator[Any]:
        """Every payload's result, in payload order, each as soon as it and those before it are done."""
        futures = [self.submit(p) for p in payloads]
        for future in futures:
            yield future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def identity(function: Task) -> Task:
    """A ``setup`` for workers that keep nothing: every task runs ``function``."""
    return function


__all__ = ["EpisodeWorkers", "check_n_envs", "identity"]
